import assert from 'node:assert/strict'
import fc from 'fast-check'
import { DOC_N_MAX } from '../src/constants.ts'
import { InvalidRecordError } from '../src/errors.ts'
import { asBusinessDay, asStoreId, asTillNo, docNoOf, nextBusinessDay, parseDocNo, parseTillId, TILL_NO_MAX, tillIdOf, type BusinessDay, type StoreId } from '../src/ids.ts'
import { check } from './helpers/seed.ts'

const storeArb = fc.stringMatching(/^[A-Z][A-Z0-9]{0,15}$/).map(s => s as StoreId)
const tillArb = fc.integer({ min: 1, max: TILL_NO_MAX })
const nArb = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: DOC_N_MAX }), fc.constant(DOC_N_MAX))

describe('ids', () => {
  describe('till ids and document numbers', () => {
    it('tillIdOf / parseTillId round trip', () => {
      check(fc.property(storeArb, tillArb, (store, till) => {
        const id = tillIdOf(store, till)
        assert.equal(id, `${store}-${till}`)
        assert.deepStrictEqual(parseTillId(id), { store, till })
      }), 300)
    })

    it('docNoOf / parseDocNo round trip, up to DOC_N_MAX', () => {
      check(fc.property(storeArb, tillArb, nArb, (store, till, n) => {
        const docNo = docNoOf(store, till, n)
        assert.equal(docNo, `${store}-${till}-${n}`)
        assert.deepStrictEqual(parseDocNo(docNo), { store, till, n })
      }), 300)
    })

    it('parseTillId rejects malformed till ids', () => {
      for (const bad of ['', 'S1', '-1', 'S1-', 's1-1', 'S1-0', 'S1-01', 'S1-1000', 'S1-1x', 'S1- 1', 'S1-+1', 'S1-1.0', 'S-1-1', '1S-1', 'ABCDEFGHIJKLMNOPQ-1', 'S1--1', 'S1-1e2']) {
        assert.throws(() => parseTillId(bad), InvalidRecordError, JSON.stringify(bad))
      }
      assert.deepStrictEqual(parseTillId('ABCDEFGHIJKLMNOP-999'), { store: 'ABCDEFGHIJKLMNOP', till: 999 })
    })

    it('parseDocNo rejects malformed document numbers', () => {
      for (const bad of ['', 'S1', 'S1-1', 'S1-1-', 'S1-1-0', 'S1-1-01', 'S1-1--1', 'S1-1-1.5', 'S1-1-1e3', 'S1-1- 1', 'S1-0-1', 's1-1-1', `S1-1-${DOC_N_MAX + 1}`, 'S1-1-99999999999999999999', 'S1-1-1-1', '1']) {
        assert.throws(() => parseDocNo(bad), InvalidRecordError, JSON.stringify(bad))
      }
    })

    it('docNoOf and tillIdOf reject what they could not parse back', () => {
      for (const n of [0, -1, 1.5, DOC_N_MAX + 1, NaN]) assert.throws(() => docNoOf('S1' as StoreId, 1, n), InvalidRecordError, String(n))
      for (const till of [0, 1000, 1.5, -1]) assert.throws(() => tillIdOf('S1' as StoreId, till), InvalidRecordError, String(till))
      for (const store of ['', 's1', 'S-1', '1S', 'S'.repeat(17)]) assert.throws(() => tillIdOf(store as StoreId, 1), InvalidRecordError, store)
    })

    it('asStoreId and asTillNo refuse other types', () => {
      assert.throws(() => asStoreId(1), InvalidRecordError)
      assert.throws(() => asStoreId(null), InvalidRecordError)
      assert.throws(() => asTillNo('1'), InvalidRecordError)
      assert.equal(asTillNo(TILL_NO_MAX), TILL_NO_MAX)
    })
  })

  describe('business days', () => {
    it('asBusinessDay accepts real days and refuses the rest', () => {
      for (const good of ['2026-11-25', '2024-02-29', '2000-02-29', '2026-12-31', '2026-01-01']) assert.equal(asBusinessDay(good), good)
      for (const bad of ['2026-02-29', '2100-02-29', '2026-02-30', '2026-04-31', '2026-13-01', '2026-00-10', '2026-01-00', '2026-01-32', '2026-1-05', '26-01-05', ' 2026-01-05', '2026-01-05 ', '2026-01-05T00:00Z', '2026/01/05', '２０２６-01-05', '']) {
        assert.throws(() => asBusinessDay(bad), InvalidRecordError, JSON.stringify(bad))
      }
      assert.throws(() => asBusinessDay(20260105), InvalidRecordError)
      assert.throws(() => asBusinessDay(undefined), InvalidRecordError)
    })

    it('nextBusinessDay crosses months, years and leap days', () => {
      const cases: Array<[string, string]> = [
        ['2026-11-25', '2026-11-26'],
        ['2026-01-31', '2026-02-01'],
        ['2026-04-30', '2026-05-01'],
        ['2026-02-28', '2026-03-01'],
        ['2024-02-28', '2024-02-29'],
        ['2024-02-29', '2024-03-01'],
        ['2000-02-28', '2000-02-29'],
        ['2100-02-28', '2100-03-01'],
        ['2026-12-31', '2027-01-01'],
        ['1999-12-31', '2000-01-01']
      ]
      for (const [day, next] of cases) assert.equal(nextBusinessDay(asBusinessDay(day)), next, day)
    })

    it('nextBusinessDay is a valid day, exactly one calendar day on (property)', () => {
      const dayArb = fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2999, 11, 30) }).map(ms => new Date(ms).toISOString().slice(0, 10) as BusinessDay)
      check(fc.property(dayArb, day => {
        const next = nextBusinessDay(day)
        assert.equal(asBusinessDay(next), next)
        assert.equal(Date.parse(`${next}T00:00:00Z`) - Date.parse(`${day}T00:00:00Z`), 86_400_000)
        assert.ok(next > day)
      }), 300)
    })
  })
})

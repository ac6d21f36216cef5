import assert from 'node:assert/strict'
import { encode as cborEncode, rfc8949EncodeOptions } from 'cborg'
import fc from 'fast-check'
import { canonicalDecode, canonicalEncode, type Canonical } from '../src/canonical.ts'
import { LINES_MAX, TAX_RATES_MAX } from '../src/constants.ts'
import { openEntry } from '../src/entry.ts'
import { seal } from '../src/envelope.ts'
import { InvalidRecordError, MalformedError } from '../src/errors.ts'
import { encodeRecord, validateRecord, type Close, type TillRecord } from '../src/records.ts'
import { close, hexOf, stockIn, thrown, till1 } from './helpers/fixtures.ts'
import { check } from './helpers/seed.ts'

// Tests mutate records freely, as a peer could.
type Loose = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

interface Rule {
  name: string
  base: () => TillRecord
  mutate: (r: Loose) => void
  /** The rule's own message, so a case cannot pass by tripping some other rule. */
  message: RegExp
  /** The mutation changes `kind`, so the envelope's kind no longer matches its body (MalformedError on the peer path). */
  changesKind?: boolean
}

const rules: Rule[] = [
  // header, both kinds
  { name: 'an unknown field', base: stockIn, mutate: r => { r.note = 'hi' }, message: /stockIn\.note is not a known field/ },
  { name: 'an unknown field (close)', base: close, mutate: r => { r.discountCents = 0 }, message: /close\.discountCents is not a known field/ },
  { name: 'a missing field', base: stockIn, mutate: r => { delete r.replenishmentId }, message: /stockIn\.replenishmentId is missing/ },
  { name: 'a missing field (close)', base: close, mutate: r => { delete r.refundsCents }, message: /close\.refundsCents is missing/ },
  { name: 'a missing header field', base: close, mutate: r => { delete r.prevHash }, message: /close\.prevHash is missing/ },
  { name: 'an unknown kind', base: close, mutate: r => { r.kind = 'refund' }, message: /unknown record kind/, changesKind: true },
  { name: 'no kind', base: close, mutate: r => { delete r.kind }, message: /unknown record kind/, changesKind: true },
  { name: 'version 2', base: close, mutate: r => { r.v = 2 }, message: /v must be in 1\.\.1/ },
  { name: 'a lower-case store id', base: stockIn, mutate: r => { r.store = 's1' }, message: /store id must match/ },
  { name: 'a store id with a dash', base: stockIn, mutate: r => { r.store = 'S-1' }, message: /store id must match/ },
  { name: 'till 0', base: stockIn, mutate: r => { r.till = 0 }, message: /till number must be 1\.\.999/ },
  { name: 'till 1000', base: close, mutate: r => { r.till = 1000 }, message: /till number must be 1\.\.999/ },
  { name: 'a business day that does not exist (2026-02-30)', base: close, mutate: r => { r.businessDay = '2026-02-30' }, message: /no such day/ },
  { name: 'a business day 2026-02-29 (not a leap year)', base: stockIn, mutate: r => { r.businessDay = '2026-02-29' }, message: /no such day/ },
  { name: 'a business day in month 13', base: stockIn, mutate: r => { r.businessDay = '2026-13-01' }, message: /no such day/ },
  { name: 'a business day not in YYYY-MM-DD form', base: stockIn, mutate: r => { r.businessDay = '2026-1-05' }, message: /YYYY-MM-DD/ },
  { name: 'a business day with a time', base: stockIn, mutate: r => { r.businessDay = '2026-11-25T00:00' }, message: /YYYY-MM-DD/ },
  { name: 'seq 0', base: close, mutate: r => { r.seq = 0 }, message: /seq must be in 1\.\./ },
  { name: 'seq beyond SEQ_MAX', base: close, mutate: r => { r.seq = 2 ** 40 + 1 }, message: /seq must be in 1\.\./ },
  { name: 'seq as a string', base: close, mutate: r => { r.seq = '2' }, message: /seq must be an integer/ },
  { name: 'seq 1 with a non-genesis prevHash', base: close, mutate: r => { r.seq = 1 }, message: /seq 1 must have the genesis prevHash/ },
  { name: 'seq 1 with one non-zero prevHash byte', base: stockIn, mutate: r => { r.prevHash = new Uint8Array(32); r.prevHash[31] = 1 }, message: /genesis prevHash/ },
  { name: 'a 31-byte prevHash', base: close, mutate: r => { r.prevHash = new Uint8Array(31) }, message: /prevHash must be 32 bytes/ },
  { name: 'a prevHash that is not bytes', base: close, mutate: r => { r.prevHash = 'ab'.repeat(32) }, message: /prevHash must be 32 bytes/ },
  { name: 'a negative atMs', base: close, mutate: r => { r.atMs = -1 }, message: /atMs must be in 0\.\./ },

  // StockIn lines
  { name: 'a negative received qty', base: stockIn, mutate: r => { r.received[0].qty = -1 }, message: /received\[0\]\.qty must be in 0\.\./ },
  { name: 'a negative shipped qty', base: stockIn, mutate: r => { r.shipped[1].qty = -5 }, message: /shipped\[1\]\.qty must be in 0\.\./ },
  { name: 'a zero received qty', base: stockIn, mutate: r => { r.received[1].qty = 0 }, message: /received\[1\]\.qty must not be 0/ },
  { name: 'a zero shipped qty', base: stockIn, mutate: r => { r.shipped[0].qty = 0 }, message: /shipped\[0\]\.qty must not be 0/ },
  { name: 'a qty beyond QTY_MAX', base: stockIn, mutate: r => { r.received[0].qty = 1e9 + 1 }, message: /received\[0\]\.qty must be in/ },
  { name: 'unsorted skus', base: stockIn, mutate: r => { r.received.reverse() }, message: /received must be sorted by key with no repeats/ },
  { name: 'duplicate skus', base: stockIn, mutate: r => { r.received = [{ sku: 'BREAD-1', qty: 1 }, { sku: 'BREAD-1', qty: 2 }] }, message: /received must be sorted by key with no repeats/ },
  { name: 'a sku with a space', base: stockIn, mutate: r => { r.received[0].sku = 'BREAD 1' }, message: /received\[0\]\.sku must match/ },
  { name: 'a sku of 41 chars', base: stockIn, mutate: r => { r.received = [{ sku: 'A'.repeat(41), qty: 1 }] }, message: /received\[0\]\.sku must match/ },
  { name: 'a line with an extra field', base: stockIn, mutate: r => { r.received[0].priceCents = 100 }, message: /received\[0\]\.priceCents is not a known field/ },
  { name: 'a line without qty', base: stockIn, mutate: r => { delete r.shipped[0].qty }, message: /shipped\[0\]\.qty is missing/ },
  { name: 'lines that are a map', base: stockIn, mutate: r => { r.received = { 'BREAD-1': 1 } }, message: /received must be a list/ },
  { name: `more than LINES_MAX (${LINES_MAX}) lines`, base: stockIn, mutate: r => { r.received = Array.from({ length: LINES_MAX + 1 }, (_, i) => ({ sku: `S${String(i).padStart(5, '0')}`, qty: 1 })) }, message: new RegExp(`received has ${LINES_MAX + 1} items, at most ${LINES_MAX}`) },
  { name: 'a bad replenishment id', base: stockIn, mutate: r => { r.replenishmentId = 'R 1' }, message: /replenishmentId must match/ },

  // Close
  { name: 'saleCount + refundCount above docFirst..docLast', base: close, mutate: r => { r.saleCount = 5 }, message: /saleCount \+ refundCount must equal/ },
  { name: 'saleCount + refundCount below docFirst..docLast', base: close, mutate: r => { r.refundCount = 0 }, message: /saleCount \+ refundCount must equal/ },
  { name: 'docLast moved without the counts', base: close, mutate: r => { r.docLast = 6 }, message: /saleCount \+ refundCount must equal/ },
  { name: 'docLast below docFirst - 1', base: close, mutate: r => { r.docFirst = 10; r.docLast = 8; r.saleCount = 0; r.refundCount = 0 }, message: /docLast must be in 9\.\./ },
  { name: 'docFirst 0', base: close, mutate: r => { r.docFirst = 0 }, message: /docFirst must be in 1\.\./ },
  { name: 'a negative saleCount', base: close, mutate: r => { r.saleCount = -1; r.refundCount = 6 }, message: /saleCount must be in 0\.\./ },
  { name: 'takings above net + tax', base: close, mutate: r => { r.takingsCents.cash += 1 }, message: /takings 3341 do not equal net sales \+ tax 3340/ },
  { name: 'takings below net + tax', base: close, mutate: r => { r.tax[1].taxCents += 1 }, message: /takings 3340 do not equal net sales \+ tax 3341/ },
  { name: 'takings that balance only without a tax line', base: close, mutate: r => { r.tax.pop() }, message: /do not equal net sales \+ tax/ },
  { name: 'an unknown tender', base: close, mutate: r => { r.takingsCents.cheque = 0 }, message: /takingsCents\.cheque is not a known field/ },
  { name: 'a missing tender', base: close, mutate: r => { delete r.takingsCents.card; r.takingsCents.cash = 3340 }, message: /takingsCents\.card is missing/ },
  { name: 'takings beyond MONEY_MAX', base: close, mutate: r => { r.takingsCents.card = 1e13 + 1 }, message: /takingsCents\.card must be in/ },
  { name: 'unsorted tax rates', base: close, mutate: r => { r.tax.reverse() }, message: /tax must be sorted by key with no repeats/ },
  { name: 'duplicate tax rates', base: close, mutate: r => { r.tax[1].rateBp = 0 }, message: /tax must be sorted by key with no repeats/ },
  { name: 'a tax rate above 100%', base: close, mutate: r => { r.tax[1].rateBp = 10_001 }, message: /tax\[1\]\.rateBp must be in 0\.\.10000/ },
  { name: 'a tax line with an extra field', base: close, mutate: r => { r.tax[0].name = 'zero' }, message: /tax\[0\]\.name is not a known field/ },
  { name: `more than TAX_RATES_MAX (${TAX_RATES_MAX}) tax rates`, base: close, mutate: r => { r.tax = Array.from({ length: TAX_RATES_MAX + 1 }, (_, i) => ({ rateBp: i, netCents: 0, taxCents: 0 })) }, message: /tax has 17 items, at most 16/ },
  { name: 'negative refunds', base: close, mutate: r => { r.refundsCents = -250 }, message: /refundsCents must be in 0\.\./ },
  { name: 'cash counted beyond the money range', base: close, mutate: r => { r.cashCountedCents = -1e13 - 1 }, message: /cashCountedCents must be in -10000000000000\.\./ },
  { name: 'a zero consumed qty', base: close, mutate: r => { r.consumed[1].qty = 0 }, message: /consumed\[1\]\.qty must not be 0/ },
  { name: 'unsorted consumed skus', base: close, mutate: r => { r.consumed.reverse() }, message: /consumed must be sorted/ },
  { name: 'duplicate consumed skus', base: close, mutate: r => { r.consumed[1].sku = 'BREAD-1' }, message: /consumed must be sorted/ },
  { name: 'a member that is not a phone number', base: close, mutate: r => { r.points[0].member = '07700900001' }, message: /points\[0\]\.member must match/ },
  { name: 'zero points', base: close, mutate: r => { r.points[0].points = 0 }, message: /points\[0\]\.points must be in 1\.\./ },
  { name: 'unsorted members', base: close, mutate: r => { r.points.reverse() }, message: /points must be sorted/ },
  { name: 'duplicate members', base: close, mutate: r => { r.points[1].member = r.points[0].member }, message: /points must be sorted/ }
]

function mutated (rule: Rule): Loose {
  const r = rule.base() as unknown as Loose
  rule.mutate(r)
  return r
}

/** A correctly signed envelope around bytes of our choosing: what a buggy or hostile till could send. */
function signedByTill (kind: 'stockIn' | 'close', value: unknown): Uint8Array {
  return seal(kind, canonicalEncode(value as Canonical), till1)
}

describe('records: StockIn and Close', () => {
  describe('valid records', () => {
    for (const [name, make] of [['StockIn', stockIn], ['Close', close]] as const) {
      it(`a ${name} validates and round trips through its canonical bytes`, () => {
        const record = make()
        const bytes = encodeRecord(record)
        assert.deepStrictEqual(validateRecord(canonicalDecode(bytes)), record)
        assert.equal(hexOf(bytes), hexOf(canonicalEncode(record as unknown as Canonical)))
      })
    }

    it('a Close whose takings equal the sum of the tax lines\' net + tax, with refunds netted out', () => {
      const c = close({ takingsCents: { cash: -100, card: 0 }, tax: [{ rateBp: 2000, netCents: -84, taxCents: -16 }], refundsCents: 100 })
      assert.equal(validateRecord(canonicalDecode(encodeRecord(c))).kind, 'close')
    })

    it('a Close for a day without documents (docLast = docFirst - 1, nothing taken)', () => {
      const c = close({ docFirst: 42, docLast: 41, saleCount: 0, refundCount: 0, takingsCents: { cash: 0, card: 0 }, tax: [], refundsCents: 0, consumed: [], points: [] })
      assert.deepStrictEqual(validateRecord(canonicalDecode(encodeRecord(c))), c)
    })

    it('consumed stock may be negative (refunded goods back on the shelf); StockIn lines may be empty', () => {
      assert.doesNotThrow(() => encodeRecord(close({ consumed: [{ sku: 'A', qty: -3 }] })))
      assert.doesNotThrow(() => encodeRecord(stockIn({ shipped: [], received: [] })))
    })

    it(`exactly TAX_RATES_MAX (${TAX_RATES_MAX}) tax rates and LINES_MAX (${LINES_MAX}) lines are allowed`, () => {
      const tax = Array.from({ length: TAX_RATES_MAX }, (_, i) => ({ rateBp: i * 100, netCents: 100, taxCents: i }))
      const total = tax.reduce((s, l) => s + l.netCents + l.taxCents, 0)
      assert.doesNotThrow(() => validateRecord(close({ tax, takingsCents: { cash: total, card: 0 } }) as unknown as Canonical))
      const received = Array.from({ length: LINES_MAX }, (_, i) => ({ sku: `S${String(i).padStart(5, '0')}`, qty: 1 }))
      assert.doesNotThrow(() => validateRecord(stockIn({ received }) as unknown as Canonical))
    })

    it('any balanced Close is valid, and moving any cent of takings makes it invalid (property)', () => {
      const closeArb = fc.record({
        rates: fc.uniqueArray(fc.integer({ min: 0, max: 10_000 }), { maxLength: TAX_RATES_MAX }),
        amounts: fc.array(fc.tuple(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: -1e8, max: 1e8 })), { minLength: TAX_RATES_MAX, maxLength: TAX_RATES_MAX }),
        cashShare: fc.integer({ min: -1e9, max: 1e9 }),
        docFirst: fc.integer({ min: 1, max: 1e9 }),
        saleCount: fc.nat({ max: 10_000 }),
        refundCount: fc.nat({ max: 1_000 }),
        delta: fc.integer({ min: -1e6, max: 1e6 }).filter(d => d !== 0)
      })
      check(fc.property(closeArb, ({ rates, amounts, cashShare, docFirst, saleCount, refundCount, delta }) => {
        const tax = [...rates].sort((a, b) => a - b).map((rateBp, i) => ({ rateBp, netCents: amounts[i]![0], taxCents: amounts[i]![1] }))
        const total = tax.reduce((s, l) => s + l.netCents + l.taxCents, 0)
        const c = close({ tax, takingsCents: { cash: cashShare, card: total - cashShare }, docFirst, docLast: docFirst + saleCount + refundCount - 1, saleCount, refundCount })
        assert.deepStrictEqual(validateRecord(canonicalDecode(encodeRecord(c))), c)
        const unbalanced: Close = { ...c, takingsCents: { cash: c.takingsCents.cash + delta, card: c.takingsCents.card } }
        assert.throws(() => encodeRecord(unbalanced), InvalidRecordError)
      }), 200)
    })
  })

  describe('each rule rejects with InvalidRecordError: when signing, and when a peer sends it signed', () => {
    for (const rule of rules) {
      it(rule.name, () => {
        const bad = mutated(rule)
        // 1. the validator
        const err = thrown(() => validateRecord(bad as Canonical))
        assert.ok(err instanceof InvalidRecordError, `${err.name}: ${err.message}`)
        assert.match(err.message, rule.message)
        // 2. a till never signs what it would reject
        const onSign = thrown(() => encodeRecord(bad as TillRecord))
        assert.ok(onSign instanceof InvalidRecordError, `${onSign.name}: ${onSign.message}`)
        // 3. a correctly signed envelope around it is still refused on opening
        const kind = rule.base().kind
        const onOpen = thrown(() => openEntry(signedByTill(kind, bad)))
        if (rule.changesKind === true) {
          assert.ok(onOpen instanceof MalformedError, `${onOpen.name}: ${onOpen.message}`)
        } else {
          assert.ok(onOpen instanceof InvalidRecordError, `${onOpen.name}: ${onOpen.message}`)
          assert.match(onOpen.message, rule.message)
        }
      })
    }
  })

  describe('a float in a money, quantity or sequence field is MalformedError', () => {
    const floats: Array<[string, () => TillRecord]> = [
      ['takings that still balance (1000.5 + 2339.5 = 3340)', () => close({ takingsCents: { cash: 1000.5, card: 2339.5 } })],
      ['a tax line', () => close({ tax: [{ rateBp: 0, netCents: 500.25, taxCents: -0.25 }, { rateBp: 2000, netCents: 2367, taxCents: 473 }] })],
      ['refundsCents', () => close({ refundsCents: 250.5 })],
      ['a received qty', () => stockIn({ received: [{ sku: 'BREAD-1', qty: 1.5 }] })],
      ['seq', () => close({ seq: 2.5 })]
    ]
    for (const [name, make] of floats) {
      it(`${name}: the encoder refuses it`, () => {
        assert.throws(() => encodeRecord(make()), MalformedError)
      })
      it(`${name}: a signed body carrying the float is refused on opening`, () => {
        const record = make()
        const body = cborEncode(record, rfc8949EncodeOptions) // a CBOR encoder that does write floats
        assert.throws(() => openEntry(seal(record.kind, body, till1)), MalformedError)
      })
    }

    it('even a float with an integral value (3340.0 as a CBOR float) in a signed body', () => {
      const body = canonicalEncode(close() as unknown as Canonical)
      // cash 1000 is 19 03e8; the same value as a half float is f9 63d0. Same value, different bytes: refused.
      const i = Buffer.from(body).indexOf(Buffer.from('646361736819' + '03e8', 'hex'))
      assert.ok(i > 0)
      const floatBody = Buffer.concat([body.subarray(0, i + 5), Buffer.from('f963d0', 'hex'), body.subarray(i + 8)])
      assert.equal(floatBody.length, body.length)
      assert.throws(() => openEntry(seal('close', new Uint8Array(floatBody), till1)), MalformedError)
    })
  })

  it('encodeRecord does not depend on the order fields were set in', () => {
    const c = close()
    const reversed = Object.fromEntries(Object.entries(c).reverse()) as unknown as Close
    assert.equal(hexOf(encodeRecord(reversed)), hexOf(encodeRecord(c)))
  })
})

/**
 * A settlement file read whichever its kind (the report's CSV, a bank's camt.053), keyed per
 * processor reference; and `openCents`: what each exception leaves in the processor's card
 * clearing, so that the books' clearing (every approval in, every settled gross and every
 * reported loss out) equals the sum over the open exceptions, for any settlement (property).
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  lineKeys, openCents, payoutEntries, readSettlementFile, reconcile, settleDay, SettlementFileError, toCamt053, toSettlementCsv,
  type Booked, type SettlementLine, type TillPayment
} from '../src/index.ts'
import { fcParams } from './helpers/fc.ts'

const NOW = Date.parse('2026-03-05T12:00:00Z')
const DAY = '2026-03-03'
const bookings: Booked[] = [
  { processorRef: 'PSP1', paymentId: 'S1-1-aaaaaaaa-P1', kind: 'payment', grossCents: 7900, paymentMethod: 'visa', bookingDay: DAY },
  { processorRef: 'PSP2', paymentId: 'S1-1-aaaaaaaa-P2', kind: 'refund', grossCents: -2000, paymentMethod: 'visa', bookingDay: DAY }
]

describe('settlement files', () => {
  it('reads the report and the bank\'s statement of one day to the same lines, each file keyed by its bytes', () => {
    const report = settleDay(bookings, DAY, { currency: 'EUR', feeBp: 150 })
    const csv = new TextEncoder().encode(toSettlementCsv(report))
    const xml = new TextEncoder().encode(toCamt053({ version: '001.08', messageId: 'M1', statementId: 'S1', account: 'DE89370400440532013000', currency: 'EUR', createdAt: `${DAY}T23:00:00Z`, entries: payoutEntries(report) }))
    const a = readSettlementFile(csv, { currency: 'EUR' })
    const b = readSettlementFile(xml, { currency: 'EUR' })
    assert.deepEqual([a.kind, b.kind, a.day, b.day], ['csv', 'camt053', DAY, DAY])
    assert.notEqual(a.id, b.id)
    const strip = (ls: SettlementLine[]): unknown => ls.map(l => [l.processorRef, l.paymentId, l.type, l.grossCents, l.feeCents, l.netCents]).sort()
    assert.deepEqual(strip(b.lines), strip(a.lines))
    assert.deepEqual(b.payouts.map(p => p.amountCents), [report.lines.reduce((n, l) => n + l.netCents, 0)])
    assert.equal(readSettlementFile(csv, { currency: 'EUR' }).id, a.id, 'the same bytes, the same id')
    assert.throws(() => readSettlementFile(xml, { currency: 'EUR', account: 'GB29NWBK60161331926819' }), SettlementFileError)
    assert.throws(() => readSettlementFile(new Uint8Array([0xff, 0xfe, 0x00]), { currency: 'EUR' }), /not UTF-8/)
    assert.throws(() => readSettlementFile(new TextEncoder().encode('   '), { currency: 'EUR' }), /empty/)
  })

  it('keys a reference listed twice in one file as #2', () => {
    const l = (ref: string): SettlementLine => ({ line: 1, type: 'Settled', processorRef: ref, paymentId: 'P', paymentMethod: '', bookingDay: DAY, grossCents: 1, feeCents: 0, netCents: 1, batch: 'B', payoutId: 'B' })
    assert.deepEqual(lineKeys([l('A'), l('B'), l('A'), l('A')]), ['A', 'B', 'A#2', 'A#3'])
    // Money going back under the payment's own reference (some processors' refunds and chargebacks), a fee line: keys of their own.
    const back = { ...l('A'), type: 'Chargeback' as const, grossCents: -1, netCents: -1 }
    const fee = { ...l('F'), type: 'Fee' as const, paymentId: null, grossCents: 0, feeCents: 5, netCents: -5 }
    assert.deepEqual(lineKeys([l('A'), back, fee, back]), ['A', 'A~neg', 'F~fee', 'A~neg#2'])
  })

  it('the books\' card clearing equals Σ openCents over the exceptions, for any approvals and settlement (property)', () => {
    const fault = fc.constantFrom('ok', 'ok', 'dropped', 'cent', 'twice', 'late', 'late_settled', 'expired', 'timing', 'chargeback')
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: -20_000, max: 50_000 }).filter(x => x !== 0), fault), { maxLength: 40 }), fc.array(fc.integer({ min: -9_999, max: 9_999 }), { maxLength: 5 }), fc.nat({ max: 500 }), (spec, strangers, fee) => {
      const payments: TillPayment[] = []
      const lines: SettlementLine[] = []
      let n = 0
      const line = (paymentId: string | null, grossCents: number, type: SettlementLine['type'] = grossCents < 0 ? 'Refunded' : 'Settled'): SettlementLine => ({ line: ++n, type, processorRef: `R${n}`, paymentId, paymentMethod: '', bookingDay: DAY, grossCents, feeCents: 0, netCents: grossCents, batch: 'B', payoutId: 'B' })
      // The books: every approval a Close reports, less what Closes report lost, less every settled (non-chargeback, non-fee) gross.
      let clearing = 0
      spec.forEach(([amount, f], i) => {
        const id = `P${i}`
        const lost = f === 'late' || f === 'late_settled' || f === 'expired'
        payments.push({ paymentId: id, till: 'S1-1', day: f === 'timing' ? '2026-03-05' : '2026-03-02', amountCents: amount, status: f === 'late' || f === 'late_settled' ? 'late_declined' : f === 'expired' ? 'stored' : 'approved', ...(f === 'expired' ? { forwardByMs: NOW - 1 } : {}) })
        clearing += amount - (lost ? amount : 0)
        const settle = (gross: number, type?: SettlementLine['type']): void => { lines.push(line(id, gross, type)); if (type !== 'Chargeback') clearing -= gross }
        if (f === 'ok' || f === 'twice' || f === 'late_settled' || f === 'chargeback') settle(amount)
        if (f === 'twice') settle(amount)
        if (f === 'cent') settle(amount + 1)
        if (f === 'chargeback') settle(-Math.abs(amount), 'Chargeback')
      })
      strangers.forEach((amount, k) => { if (amount !== 0) { lines.push(line(`Q${k}`, amount)); clearing -= amount } })
      if (fee > 0) lines.push({ ...line(null, 0, 'Fee'), feeCents: fee, netCents: -fee })
      const r = reconcile({ payments, lines, throughDay: '2026-03-04', settlementLagDays: 1, nowMs: NOW })
      assert.equal(r.exceptions.reduce((s, e) => s + openCents(e), 0), clearing)
    }), fcParams())
  })
})

/**
 * Reconciliation as a pure function: the exceptions planted in a settlement (a line dropped,
 * changed by a cent, settled twice, a payment no till made, a chargeback, a fee), a late
 * decline and an expired stored payment are found exactly; any order of either side gives the
 * same result; every approval is matched or listed as exactly one exception (property).
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { reconcile, type ReconcileException, type SettlementLine, type TillPayment } from '../src/index.ts'
import { fcParams } from './helpers/fc.ts'

const NOW = Date.parse('2026-03-05T12:00:00Z')
let n = 0
const pay = (id: string, amountCents: number, extra: Partial<TillPayment> = {}): TillPayment => ({ paymentId: id, till: 'S1-1', docNo: `S1-1-${id}`, day: '2026-03-02', amountCents, status: 'approved', ...extra })
const line = (paymentId: string | null, grossCents: number, extra: Partial<SettlementLine> = {}): SettlementLine => ({
  line: ++n, type: grossCents < 0 ? 'Refunded' : 'Settled', processorRef: `PSP${n}`, paymentId, paymentMethod: 'visa', bookingDay: '2026-03-03', grossCents, feeCents: 0, netCents: grossCents, batch: 'B1', payoutId: 'PO1', ...extra
})
const kinds = (xs: ReconcileException[]): Array<[string, string | undefined]> => xs.map(x => [x.kind, x.paymentId])

describe('reconcile', () => {
  it('finds exactly the planted exceptions', () => {
    const payments = [
      pay('P1', 1250), pay('P2', 4000), pay('P3', 990), pay('P4', 2000), pay('P5', -500),
      pay('P6', 700, { status: 'late_declined' }),
      pay('P7', 300, { status: 'stored', forwardByMs: NOW - 1 }),
      pay('P8', 300, { status: 'stored', forwardByMs: NOW + 1 }),
      pay('P9', 450, { day: '2026-03-03' })
    ]
    const lines = [
      line('P1', 1250),
      line('P2', 4001), // changed by a cent
      // P3 dropped
      line('P4', 2000), line('P4', 2000), // settled twice
      line('P5', -500),
      line('PX', 999), // no till made it
      line('P1', -1250, { type: 'Chargeback' }),
      line(null, 0, { type: 'Fee', feeCents: 150, netCents: -150 })
    ]
    const r = reconcile({ payments, lines, throughDay: '2026-03-03', settlementLagDays: 1, nowMs: NOW })
    assert.equal(r.matched, 3, 'P1, P4 and P5')
    assert.deepEqual(kinds(r.exceptions), [
      ['missing_in_settlement', 'P3'], ['missing_at_till', 'PX'], ['amount_mismatch', 'P2'], ['duplicate', 'P4'],
      ['late_decline', 'P6'], ['expired', 'P7'], ['chargeback', 'P1'], ['fee', undefined], ['timing', 'P8'], ['timing', 'P9']
    ])
    const mismatch = r.exceptions.find(x => x.kind === 'amount_mismatch')
    assert.deepEqual(mismatch, { kind: 'amount_mismatch', paymentId: 'P2', till: 'S1-1', docNo: 'S1-1-P2', expectedCents: 4000, processorRef: mismatch?.processorRef, settledCents: 4001 })
    assert.deepEqual(r.settled, { grossCents: 1250 + 4001 + 2000 + 2000 - 500 + 999 - 1250, feeCents: 150, netCents: 1250 + 4001 + 2000 + 2000 - 500 + 999 - 1250 - 150 })
  })

  it('any order of approvals and lines, the same result; every approval matched or exactly one exception (property)', () => {
    // Payments with planted faults: the settlement derived from them, the faults known.
    const fault = fc.constantFrom('ok', 'ok', 'ok', 'dropped', 'cent', 'twice', 'late', 'expired')
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: -20_000, max: 50_000 }).filter(x => x !== 0), fault), { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 9_999 }), { maxLength: 5 }), fc.nat(), (spec, strangers, seed) => {
      const payments: TillPayment[] = []
      const lines: SettlementLine[] = []
      const planted: Array<[string, string | undefined]> = []
      spec.forEach(([amount, f], i) => {
        const id = `P${String(i).padStart(3, '0')}`
        payments.push(pay(id, amount, f === 'late' ? { status: 'late_declined' } : f === 'expired' ? { status: 'stored', forwardByMs: NOW - 1 } : {}))
        if (f === 'ok' || f === 'twice') lines.push(line(id, amount))
        if (f === 'twice') { lines.push(line(id, amount)); planted.push(['duplicate', id]) }
        if (f === 'cent') { lines.push(line(id, amount + 1)); planted.push(['amount_mismatch', id]) }
        if (f === 'dropped') planted.push(['missing_in_settlement', id])
        if (f === 'late') planted.push(['late_decline', id])
        if (f === 'expired') planted.push(['expired', id])
      })
      strangers.forEach((amount, k) => { const id = `Q${k}`; lines.push(line(id, amount)); planted.push(['missing_at_till', id]) })
      const input = { throughDay: '2026-03-04', settlementLagDays: 1, nowMs: NOW }
      const r = reconcile({ ...input, payments, lines })
      assert.deepEqual(r.exceptions.map(x => [x.kind, x.paymentId]).sort(), [...planted].sort())
      // Each approval: matched, or in exactly one exception about it (a duplicate line is about the extra line, the approval itself matched).
      const about = new Map<string, number>()
      for (const x of r.exceptions) if (x.kind !== 'duplicate' && x.kind !== 'missing_at_till' && x.paymentId !== undefined) about.set(x.paymentId, (about.get(x.paymentId) ?? 0) + 1)
      assert.ok([...about.values()].every(c => c === 1))
      assert.equal(r.matched + about.size, payments.length)
      // Shuffled (a deterministic shuffle from the seed): the same result.
      const shuffle = <T>(xs: T[]): T[] => xs.map((x, i) => ({ x, k: (i * 2654435761 + seed) % 4294967296 })).sort((a, b) => a.k - b.k).map(y => y.x)
      assert.deepEqual(reconcile({ ...input, payments: shuffle(payments), lines: shuffle(lines).reverse() }), r)
    }), fcParams())
  })
})

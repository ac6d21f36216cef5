/**
 * A processor's day: what it captured that day, settled in one batch with fees, paid out in
 * one transfer. Pure: the embedded processor keeps the payments, this makes the day's lines,
 * its settlement report (settlementCsv.ts) and its bank statement entry (camt053.ts).
 */
import type { BankEntry } from './camt053.ts'
import { batchesOf, type SettlementFile, type SettlementLine } from './settlementCsv.ts'

/** What the processor booked: a payment (gross > 0), a refund (< 0), a chargeback (< 0). */
export interface Booked { processorRef: string, paymentId: string, kind: 'payment' | 'refund' | 'chargeback', grossCents: number, paymentMethod: string, bookingDay: string }

/** The fee on a gross, in basis points, rounded half up to a whole minor unit (refunds and chargebacks carry none). */
export function feeOf (grossCents: number, feeBp: number): number {
  if (grossCents <= 0) return 0
  return Math.floor((grossCents * feeBp + 5_000) / 10_000)
}

/** The day's batch: every booking of `day`, in the processor's reference order, with its fee. */
export function settleDay (bookings: Iterable<Booked>, day: string, o: { currency: string, feeBp: number }): SettlementFile {
  const batch = `B${day.replaceAll('-', '')}`
  const payoutId = `PO${day.replaceAll('-', '')}`
  const lines: SettlementLine[] = [...bookings].filter(b => b.bookingDay === day).sort((a, b) => a.processorRef < b.processorRef ? -1 : a.processorRef > b.processorRef ? 1 : 0).map((b, i) => {
    const feeCents = b.kind === 'payment' ? feeOf(b.grossCents, o.feeBp) : 0
    return {
      line: i + 2,
      type: b.kind === 'payment' ? 'Settled' : b.kind === 'refund' ? 'Refunded' : 'Chargeback',
      processorRef: b.processorRef,
      paymentId: b.paymentId,
      paymentMethod: b.paymentMethod,
      bookingDay: day,
      grossCents: b.grossCents,
      feeCents,
      netCents: b.grossCents - feeCents,
      batch,
      payoutId
    }
  })
  return { currency: o.currency, lines, batches: batchesOf(lines) }
}

/** The bank's entries for a settled day: one credit (or debit) per payout, its transactions the lines. */
export function payoutEntries (file: SettlementFile): BankEntry[] {
  return file.batches.map(b => ({
    amountCents: b.netCents,
    bookingDay: b.bookingDay,
    status: 'BOOK',
    ref: b.payoutId,
    batch: { count: b.lines, totalCents: b.netCents },
    transactions: file.lines.filter(l => l.batch === b.batch).map(l => ({ processorRef: l.processorRef, paymentId: l.paymentId, netCents: l.netCents, grossCents: l.grossCents, feeCents: l.feeCents }))
  }))
}

/**
 * Reconciliation: what the tills approved matched against what the processor settled, as a
 * pure function of the two sets (any order of either, the same result). Each approval is either
 * matched or listed as exactly one exception; each settlement line not explained by an approval
 * is an exception of its own. Keys: our payment id (the merchant reference: an offline payment
 * has no processor reference until it is forwarded), then the processor's reference.
 *
 * Exceptions:
 * - `missing_in_settlement`: approved, due in this file's settlements, not in it.
 * - `timing`: approved or stored, not yet due (its day plus the processor's settlement lag is
 *   after the file's last booking day; a stored payment within its forwarding deadline). HQ
 *   names a till's payments not yet due in one `timing` line (`count` of them, no payment id)
 *   when the rest of the till's settled lines match its due Closes' totals (HqSettlements).
 * - `missing_at_till`: settled, but no till approved it.
 * - `amount_mismatch`: settled for another gross than the till approved.
 * - `duplicate`: settled again (every line after the first for one payment).
 * - `late_decline`: taken offline, declined when forwarded: the sale stands, the money never came.
 * - `expired`: stored past its forwarding deadline, never forwarded: never charged.
 * - `chargeback`: the processor took a settled payment back.
 * - `fee`: a fee line not tied to a payment (explained, and posted to fees).
 */
import { PaymentsError } from './errors.ts'
import type { SettlementLine } from './settlementCsv.ts'

/** A card or wallet payment as the till's signed log has it. */
export interface TillPayment {
  paymentId: string
  till: string
  docNo?: string
  /** The business day of the sale it paid for. */
  day: string
  /** Gross, in minor units: positive a payment, negative a refund. */
  amountCents: number
  /** approved: online, or stored and forwarded and approved; stored: not yet forwarded; late_declined: declined when forwarded. */
  status: 'approved' | 'stored' | 'late_declined'
  processorRef?: string
  /** Stored payments: the deadline to forward it by (ms since the epoch). */
  forwardByMs?: number
}

export type ExceptionKind = 'missing_in_settlement' | 'missing_at_till' | 'amount_mismatch' | 'duplicate' | 'late_decline' | 'expired' | 'chargeback' | 'fee' | 'timing'
export const EXCEPTION_KINDS: readonly ExceptionKind[] = ['missing_in_settlement', 'missing_at_till', 'amount_mismatch', 'duplicate', 'late_decline', 'expired', 'chargeback', 'fee', 'timing']

export interface ReconcileException {
  kind: ExceptionKind
  paymentId?: string
  processorRef?: string
  till?: string
  docNo?: string
  /** What the till approved (gross). */
  expectedCents?: number
  /** What the processor settled (gross; a fee line: the fee). */
  settledCents?: number
  /** A `timing` line for several payments of one till not yet due, named by no payment id: how many. */
  count?: number
}

export interface ReconcileInput {
  payments: Iterable<TillPayment>
  lines: Iterable<SettlementLine>
  /** The last business day the settlements cover: payments of days up to this less the lag are due. */
  throughDay: string
  /** Days the processor takes to settle a day's payments (a payment of day D is in settlements by D + lag). */
  settlementLagDays: number
  /** Now, for forwarding deadlines. */
  nowMs: number
}

export interface Reconciliation {
  matched: number
  exceptions: ReconcileException[]
  /** Settled lines' totals, for the books: gross, fees, net. */
  settled: { grossCents: number, feeCents: number, netCents: number }
}

function addDays (day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + n)
  return d.toISOString().slice(0, 10)
}

/** The last day whose payments are due in settlements through `throughDay` (a payment of day D is settled by D + lag). */
export function dueThrough (throughDay: string, settlementLagDays: number): string {
  return addDays(throughDay, -settlementLagDays)
}

const byLine = (a: SettlementLine, b: SettlementLine): number =>
  a.processorRef < b.processorRef ? -1 : a.processorRef > b.processorRef ? 1 : a.grossCents - b.grossCents || a.line - b.line

/** The canonical order of exceptions: by kind, then payment id, then processor reference. */
export function compareExceptions (a: ReconcileException, b: ReconcileException): number {
  const k = EXCEPTION_KINDS.indexOf(a.kind) - EXCEPTION_KINDS.indexOf(b.kind)
  if (k !== 0) return k
  const pa = a.paymentId ?? ''
  const pb = b.paymentId ?? ''
  if (pa !== pb) return pa < pb ? -1 : 1
  const ra = a.processorRef ?? ''
  const rb = b.processorRef ?? ''
  if (ra !== rb) return ra < rb ? -1 : 1
  const sa = a.settledCents ?? 0
  const sb = b.settledCents ?? 0
  if (sa !== sb) return sa - sb
  // HQ's lines of payments not yet due name a till and no payment.
  const ta = a.till ?? ''
  const tb = b.till ?? ''
  return ta < tb ? -1 : ta > tb ? 1 : 0
}

/** Match approvals to settlement lines (see the file's comment). Pure; any order in, the same out. */
export function reconcile (input: ReconcileInput): Reconciliation {
  const r = new Reconciler(input)
  for (const p of input.payments) r.addPayment(p)
  for (const l of input.lines) r.addLine(l)
  return r.result()
}

/** Per payment: its approval, and the settled lines naming it (the one that counts: the smallest reference). */
interface Slot { p: TillPayment, ref: string | null, gross: number, line: number, extra: SettlementLine[] | null }

/**
 * The same matching, fed a line at a time: the payments first (what the tills approved), then
 * the settlement lines in any order (streamed from a file of any size). Memory is the payments
 * and the exceptions, never the lines: 1,000,000 lines reconcile in the space of their payments.
 */
export class Reconciler {
  readonly #o: Omit<ReconcileInput, 'payments' | 'lines'>
  readonly #slots = new Map<string, Slot>()
  readonly #exceptions: ReconcileException[] = []
  /** Lines naming payments no till approved, by payment id. */
  readonly #strangers = new Map<string, SettlementLine[]>()
  readonly settled = { grossCents: 0, feeCents: 0, netCents: 0 }
  #linesSeen = false

  constructor (o: Omit<ReconcileInput, 'payments' | 'lines'>) {
    this.#o = { throughDay: o.throughDay, settlementLagDays: o.settlementLagDays, nowMs: o.nowMs }
  }

  addPayment (p: TillPayment): void {
    if (this.#linesSeen) throw new Error('Reconciler: every payment comes before the first line')
    // One payment id is one payment (the till numbers them); a second record of it is the same one.
    if (!this.#slots.has(p.paymentId)) this.#slots.set(p.paymentId, { p, ref: null, gross: 0, line: 0, extra: null })
  }

  addLine (l: SettlementLine): void {
    this.#linesSeen = true
    this.settled.grossCents += l.grossCents
    this.settled.feeCents += l.feeCents
    this.settled.netCents += l.netCents
    if (!Number.isSafeInteger(this.settled.grossCents) || !Number.isSafeInteger(this.settled.feeCents) || !Number.isSafeInteger(this.settled.netCents)) {
      throw new PaymentsError(`the settled total passes ${Number.MAX_SAFE_INTEGER} minor units: not a settlement of payments`)
    }
    if (l.type === 'Fee' || l.paymentId === null) {
      this.#exceptions.push({ kind: 'fee', processorRef: l.processorRef, settledCents: l.feeCents })
      return
    }
    const slot = this.#slots.get(l.paymentId)
    if (l.type === 'Chargeback') {
      const p = slot?.p
      this.#exceptions.push({ kind: 'chargeback', paymentId: l.paymentId, processorRef: l.processorRef, settledCents: l.grossCents, ...(p !== undefined ? { till: p.till, ...(p.docNo !== undefined ? { docNo: p.docNo } : {}), expectedCents: p.amountCents } : {}) })
      return
    }
    if (slot === undefined) {
      const list = this.#strangers.get(l.paymentId)
      if (list === undefined) this.#strangers.set(l.paymentId, [l])
      else list.push(l)
      return
    }
    if (slot.ref === null) {
      slot.ref = l.processorRef
      slot.gross = l.grossCents
      slot.line = l.line
      return
    }
    // Settled again: the line that counts is the first in reference order, whatever the file's order.
    const current: SettlementLine = { ...l, processorRef: slot.ref, grossCents: slot.gross, line: slot.line }
    const [first, other] = byLine(l, current) < 0 ? [l, current] : [current, l]
    slot.ref = first.processorRef
    slot.gross = first.grossCents
    slot.line = first.line
    ;(slot.extra ??= []).push(other)
  }

  /** The reconciliation of everything added. */
  result (): Reconciliation {
    const exceptions = [...this.#exceptions]
    const due = dueThrough(this.#o.throughDay, this.#o.settlementLagDays)
    let matched = 0
    for (const [paymentId, slot] of this.#slots) {
      const p = slot.p
      const at = { paymentId, till: p.till, ...(p.docNo !== undefined ? { docNo: p.docNo } : {}), expectedCents: p.amountCents }
      for (const l of slot.extra ?? []) exceptions.push({ kind: 'duplicate', ...at, processorRef: l.processorRef, settledCents: l.grossCents })
      if (p.status === 'late_declined') {
        exceptions.push({ kind: 'late_decline', ...at, ...(slot.ref !== null ? { processorRef: slot.ref, settledCents: slot.gross } : {}) })
        continue
      }
      if (slot.ref === null) {
        if (p.status === 'stored') exceptions.push({ kind: (p.forwardByMs ?? Number.POSITIVE_INFINITY) < this.#o.nowMs ? 'expired' : 'timing', ...at })
        else exceptions.push({ kind: p.day > due ? 'timing' : 'missing_in_settlement', ...at, ...(p.processorRef !== undefined ? { processorRef: p.processorRef } : {}) })
        continue
      }
      if (slot.gross !== p.amountCents) {
        exceptions.push({ kind: 'amount_mismatch', ...at, processorRef: slot.ref, settledCents: slot.gross })
        continue
      }
      matched++
    }
    // Settled for payments no till has.
    for (const [paymentId, lines] of this.#strangers) {
      for (const l of lines) exceptions.push({ kind: 'missing_at_till', paymentId, processorRef: l.processorRef, settledCents: l.grossCents })
    }
    exceptions.sort(compareExceptions)
    return { matched, exceptions, settled: { ...this.settled } }
  }
}

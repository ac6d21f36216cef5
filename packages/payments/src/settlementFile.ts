/**
 * A settlement file as HQ imports it, whichever kind: the processor's settlement report
 * (CSV, settlementCsv.ts) or a bank's statement (camt.053 001.02 or 001.08, camt053.ts),
 * read into the same lines (what reconciliation matches) and payouts (what reached the bank).
 * The kind is told from the bytes (XML starts with `<`), never from a file name.
 *
 * A bank's statement carries each payout's transactions (`NtryDtls/TxDtls`) with our payment
 * id, the processor's reference, gross, fee and net, so a camt.053 alone reconciles payment
 * by payment; it cannot tell a refund from a chargeback (both are a negative gross), so its
 * negative lines are `Refunded` here, and a processor's report naming one a chargeback wins
 * in the books.
 */
import { createHash } from 'node:crypto'
import { parseCamt053 } from './camt053.ts'
import { SettlementFileError } from './errors.ts'
import type { ExceptionKind, ReconcileException } from './reconcile.ts'
import { parseSettlementCsv, type SettlementLine } from './settlementCsv.ts'

/** A payout the bank's statement shows arriving. */
export interface Payout { ref: string, amountCents: number, bookingDay: string }

export interface ImportedFile {
  /** SHA-256 of the file's bytes, hex: a file imported twice is the same file. */
  id: string
  kind: 'csv' | 'camt053'
  currency: string
  /** The last booking day in the file (its day, for reconciliation: payments up to it are due). */
  day: string
  lines: SettlementLine[]
  payouts: Payout[]
}

export function fileIdOf (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * Read a settlement file of either kind, in `currency` (the books'); `account`: if given, a
 * bank statement of another account is refused. Throws SettlementFileError, naming the line
 * and column (CSV) or the element (camt.053), and the file is taken whole or not at all.
 */
export function readSettlementFile (bytes: Uint8Array, expect: { currency: string, account?: string }): ImportedFile {
  const id = fileIdOf(bytes)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new SettlementFileError('the file is not UTF-8 text')
  }
  const body = text.replace(/^\uFEFF/, '').trimStart()
  if (body === '') throw new SettlementFileError('the file is empty')
  if (body.startsWith('<')) {
    const s = parseCamt053(text, expect.account !== undefined ? { currency: expect.currency, account: expect.account } : { currency: expect.currency })
    const lines: SettlementLine[] = []
    const byRef = new Map<string, Payout>()
    s.entries.forEach((e, i) => {
      // An entry's reference, else its place in this statement: a payout is known by it. A
      // payout's credits and debits in two entries under one reference (001.02) are one payout.
      const ref = e.ref ?? `${s.statementId}#${i + 1}`
      const seen = byRef.get(ref)
      if (seen === undefined) byRef.set(ref, { ref, amountCents: e.amountCents, bookingDay: e.bookingDay })
      else byRef.set(ref, { ...seen, amountCents: seen.amountCents + e.amountCents, bookingDay: seen.bookingDay > e.bookingDay ? seen.bookingDay : e.bookingDay })
      for (const t of e.transactions) {
        lines.push({
          line: lines.length + 1,
          type: t.paymentId === null ? 'Fee' : t.grossCents < 0 ? 'Refunded' : 'Settled',
          processorRef: t.processorRef,
          paymentId: t.paymentId,
          paymentMethod: '',
          bookingDay: e.bookingDay,
          grossCents: t.grossCents,
          feeCents: t.feeCents,
          netCents: t.netCents,
          batch: ref,
          payoutId: ref
        })
      }
    })
    const payouts = [...byRef.values()]
    return { id, kind: 'camt053', currency: s.currency, day: lastDay([...lines.map(l => l.bookingDay), ...payouts.map(p => p.bookingDay)]), lines, payouts }
  }
  const f = parseSettlementCsv(text, expect.currency)
  return { id, kind: 'csv', currency: f.currency, day: lastDay(f.lines.map(l => l.bookingDay)), lines: f.lines, payouts: [] }
}

function lastDay (days: readonly string[]): string {
  if (days.length === 0) throw new SettlementFileError('the file settles nothing: no line and no payout')
  let last = days[0] as string
  for (const d of days) if (d > last) last = d
  return last
}

/**
 * Each line's key at its processor: the processor's reference, with `~neg` for money going
 * back (a refund, a chargeback: some processors give those the original payment's reference)
 * and `~fee` for a fee line; and for the same key again in one file (a line the processor
 * listed twice, paid twice) `#2`, `#3`, … in file order. So the report and the bank's
 * statement of one day name the same lines alike (a bank cannot tell a refund from a
 * chargeback, but both go back: `~neg`).
 */
export function lineKeys (lines: readonly SettlementLine[]): string[] {
  const seen = new Map<string, number>()
  return lines.map(l => {
    const base = l.type === 'Fee' || l.paymentId === null ? `${l.processorRef}~fee` : l.grossCents < 0 ? `${l.processorRef}~neg` : l.processorRef
    const n = (seen.get(base) ?? 0) + 1
    seen.set(base, n)
    return n === 1 ? base : `${base}#${n}`
  })
}

/**
 * What an exception leaves in the processor's card clearing account: the books put every
 * approval a Close reports there and take out every settled line's gross and every loss a
 * Close reports, so the clearing balance is the sum of this over the open exceptions.
 */
export function openCents (e: ReconcileException): number {
  const expected = e.expectedCents ?? 0
  const settled = e.settledCents ?? 0
  const open: Record<ExceptionKind, number> = {
    missing_in_settlement: expected,
    timing: expected,
    missing_at_till: -settled,
    duplicate: -settled,
    amount_mismatch: expected - settled,
    // Reported lost by a Close (out of clearing); settled all the same, it is in clearing's credit.
    late_decline: -settled,
    expired: -settled,
    // Neither goes through clearing: a chargeback is a loss, a fee line a fee.
    chargeback: 0,
    fee: 0
  }
  return open[e.kind]
}

/**
 * The compact effect of one till entry on the books: everything Books needs to fold it,
 * un-fold it after a fork, and rebuild its journal transaction, and nothing more.
 *
 * Books keeps one summary per folded entry instead of the entry (whose bytes and decoded
 * record are many times larger). Stock and loyalty lines are packed as integer pairs into
 * one plain array, with SKUs and members replaced by small interned ids. Quantities and
 * points are bounded by the protocol (|qty| ≤ 10^9), so every element is a 32-bit integer
 * (asserted), which V8 stores unboxed in the array itself. A plain array measured ~130
 * bytes per entry smaller than an Int32Array, whose ArrayBuffer carries its own overhead.
 */
import { invariant, type BusinessDay, type EntryHash, type SkuQty, type TillId, type TillRecord } from '@tillbooks/protocol'
import {
  closeAmounts, closeDescription, closePostings, makeTransaction, stockInAmounts, stockInDescription, stockInPostings,
  type CloseAmounts, type CostCents, type StockInAmounts, type Transaction
} from './journal.ts'
import { bug } from './bug.ts'

export interface CloseSummary extends CloseAmounts {
  kind: 'close'
  day: BusinessDay
  refundsCents: number
  saleCount: number
  refundCount: number
  docFirst: number
  docLast: number
  /** `consumedLines` (skuId, qty) pairs, then (memberId, points) pairs. */
  lines: readonly number[]
  consumedLines: number
}

export interface StockInSummary extends StockInAmounts {
  kind: 'stockIn'
  day: BusinessDay
  replenishmentId: string
  /** (skuId, qty) pairs of what was received. */
  lines: readonly number[]
}

export type Summary = CloseSummary | StockInSummary

/** Strings to small dense ids and back. Ids are internal only: never in any output. */
export class Interner {
  readonly #ids = new Map<string, number>()
  readonly #names: string[] = []

  id (name: string): number {
    let id = this.#ids.get(name)
    if (id === undefined) {
      id = this.#names.length
      invariant(id <= 0x7fffffff, 'interner full')
      this.#names.push(name)
      this.#ids.set(name, id)
    }
    return id
  }

  name (id: number): string {
    const name = this.#names[id]
    if (name === undefined) bug(`no interned name ${id}`)
    return name
  }

  get size (): number { return this.#names.length }
}

/**
 * One shared instance per distinct string: a business day or an order id repeated in many
 * summaries is stored once rather than once per decoded record.
 */
export class StringPool {
  readonly #strings = new Map<string, string>()

  get<T extends string> (s: T): T {
    const pooled = this.#strings.get(s)
    if (pooled !== undefined) return pooled as T
    this.#strings.set(s, s)
    return s
  }
}

export interface SummaryContext {
  costCents: CostCents
  skus: Interner
  members: Interner
  strings: StringPool
}

const EMPTY_LINES: readonly number[] = Object.freeze([])

function packInto (out: number[], at: number, id: number, qty: number): void {
  if ((qty | 0) !== qty) bug(`quantity ${qty} does not fit 32 bits`)
  out[at] = id
  out[at + 1] = qty
}

/** (skuId, qty) pairs of `lines`, with room for `extra` more pairs after them. */
function packSkuLines (lines: readonly SkuQty[], skus: Interner, extra: number): number[] {
  const total = lines.length + extra
  // One shared empty array: a day without lines costs nothing.
  if (total === 0) return EMPTY_LINES as number[]
  const out = new Array<number>(total * 2).fill(0)
  lines.forEach((l, i) => { packInto(out, i * 2, skus.id(l.sku), l.qty) })
  return out
}

/**
 * The summary of a verified record. Pure apart from interning. Throws (via the cost
 * function or an assertion) before anything is stored, so a failure changes nothing.
 */
export function summarise (record: TillRecord, ctx: SummaryContext): Summary {
  if (record.kind === 'stockIn') {
    return {
      kind: 'stockIn',
      day: ctx.strings.get(record.businessDay),
      replenishmentId: ctx.strings.get(record.replenishmentId),
      ...stockInAmounts(record, ctx.costCents),
      lines: packSkuLines(record.received, ctx.skus, 0)
    }
  }
  const lines = packSkuLines(record.consumed, ctx.skus, record.points.length)
  record.points.forEach((p, i) => { packInto(lines, (record.consumed.length + i) * 2, ctx.members.id(p.member), p.points) })
  // Built field by field, not spread (a rebuild summarises millions of Closes); the amounts a
  // Close has only now and then stay absent when it has none.
  const a = closeAmounts(record, ctx.costCents)
  const summary: CloseSummary = {
    kind: 'close',
    day: ctx.strings.get(record.businessDay),
    cashCents: a.cashCents,
    cardCents: a.cardCents,
    netCents: a.netCents,
    taxCents: a.taxCents,
    cashCountedCents: a.cashCountedCents,
    cogsCents: a.cogsCents,
    refundsCents: record.refundsCents,
    saleCount: record.saleCount,
    refundCount: record.refundCount,
    docFirst: record.docFirst,
    docLast: record.docLast,
    lines,
    consumedLines: record.consumed.length
  }
  if (a.cardByProcessor !== undefined) summary.cardByProcessor = a.cardByProcessor
  if (a.lossesByProcessor !== undefined) summary.lossesByProcessor = a.lossesByProcessor
  if (a.pointsEarnedCents !== undefined) summary.pointsEarnedCents = a.pointsEarnedCents
  if (a.pointsRedeemedCents !== undefined) summary.pointsRedeemedCents = a.pointsRedeemedCents
  if (a.pointsCancelledCents !== undefined) summary.pointsCancelledCents = a.pointsCancelledCents
  return summary
}

/** The journal transaction of a folded entry, through the same rules as `entryTransaction`. */
export function summaryTransaction (summary: Summary, tillId: TillId, seq: number, hash: EntryHash): Transaction {
  if (summary.kind === 'close') {
    return makeTransaction(hash, summary.day, closeDescription(tillId, seq, summary.docFirst, summary.docLast), closePostings(summary))
  }
  return makeTransaction(hash, summary.day, stockInDescription(tillId, seq, summary.replenishmentId), stockInPostings(summary))
}

/**
 * The double-entry journal: which postings each record makes.
 *
 * A transaction is a set of postings whose amounts sum to exactly 0 (debit positive,
 * credit negative). Every rule here is a pure function of its input, and the rules are
 * written once, over small "amounts" structures, so that the journal built from a record
 * (`closeTransaction`) and the journal Books rebuilds from its compact per-entry summary
 * are the same code, to the posting.
 *
 * Valuation: stock moves at standard cost, `qty × costCents(sku, day)`, the cost in force on
 * the record's own business day, with the cost function supplied by the caller (the
 * catalogue). It must be a pure function for the lifetime of a set of books: a cost of a day
 * that changed between two folds would make the books depend on the order records arrived
 * in (so a cost change takes effect from a day no record has yet been booked for).
 */
import {
  asBusinessDay, ID_RE, InvalidRecordError, int, invariant, POINT_VALUE_CENTS, sortedUnique, SKU_RE, str,
  type BusinessDay, type Close, type Entry, type Replenishment, type SkuQty, type StockIn, type StoreId, type TillId
} from '@tillbooks/protocol'
import { ACCOUNTS, type Account } from './accounts.ts'
import { addCents, assertCents, mulCents, negCents, subCents } from './money.ts'
import { bug } from './bug.ts'

export interface Posting {
  account: Account
  /** Debit positive, credit negative. Never 0 (zero postings are left out). */
  amountCents: number
  /**
   * A sub-account under `account` (the processor, under card clearing and payouts due): the
   * export writes `account:sub`; the account's balance includes it.
   */
  sub?: string
}

/** Sub-account names: plain, export-safe (the protocol's processor names). */
export const SUB_ACCOUNT_RE = /^[a-z][a-z0-9_-]{0,31}$/

export interface Transaction {
  /** Deterministic: the entry hash for a till record, `repl:<id>`, `opening:<id>`. */
  id: string
  /** The business day the record is for (not the wall clock at HQ). */
  date: BusinessDay
  description: string
  postings: Posting[]
}

/** Standard cost of one unit of a stocked SKU on a business day, in cents. Must be pure; see the file comment. */
export type CostCents = (sku: string, day: BusinessDay) => number

const SAFE_TEXT_RE = /^[^\r\n;|)]*$/

/**
 * Build a transaction: drops zero postings and asserts the rest balance. An unbalanced
 * transaction can only come from a bug in the rules below, never from input (the Close's
 * own arithmetic is checked by the protocol before it gets here), so it throws loudly.
 */
export function makeTransaction (id: string, date: BusinessDay, description: string, postings: readonly Posting[]): Transaction {
  // Ids and descriptions go into hledger text: a line break, ';' (comment), '|' (payee
  // separator) or ')' (end of code) would change how the journal parses.
  if (!(id.length > 0 && SAFE_TEXT_RE.test(id))) bug(`transaction id not export-safe: ${id}`)
  if (!SAFE_TEXT_RE.test(description)) bug(`description not export-safe: ${description}`)
  const kept: Posting[] = []
  let balanceCents = 0
  for (const p of postings) {
    assertCents(p.amountCents, `posting to ${p.account}`)
    if (p.sub !== undefined && !SUB_ACCOUNT_RE.test(p.sub)) bug(`sub-account not export-safe: ${p.sub}`)
    balanceCents = addCents(balanceCents, p.amountCents)
    if (p.amountCents !== 0) kept.push(p.sub === undefined ? { account: p.account, amountCents: p.amountCents } : { account: p.account, amountCents: p.amountCents, sub: p.sub })
  }
  if (balanceCents !== 0) bug(`transaction ${id} does not balance: postings sum to ${balanceCents} cents`)
  return { id, date, description, postings: kept }
}

/** Standard cost of `sku`, checked: a cost that is not a whole, non-negative number of cents is a catalogue bug. */
export function unitCostCents (costCents: CostCents, sku: string, day: BusinessDay): number {
  const cost = costCents(sku, day)
  if (!(Number.isSafeInteger(cost) && cost >= 0)) bug(`cost of ${sku} on ${day} must be a non-negative integer of cents, is ${String(cost)}`)
  return cost
}

/** Σ qty × cost over stock lines (qty may be negative: stock returned). */
export function valueLinesCents (lines: readonly SkuQty[], costCents: CostCents, day: BusinessDay): number {
  let total = 0
  for (const l of lines) total = addCents(total, mulCents(l.qty, unitCostCents(costCents, l.sku, day)))
  return total
}

// ---------------------------------------------------------------------------------------
// Close (end of day)

/** What a Close posts, reduced to its amounts. */
export interface CloseAmounts {
  cashCents: number
  cardCents: number
  /** Σ tax[].netCents: net sales after refunds, excluding VAT. */
  netCents: number
  /** Σ tax[].taxCents. */
  taxCents: number
  cashCountedCents: number
  /** Σ consumed.qty × cost. */
  cogsCents: number
  /** Card takings through a processor, per processor (sorted; absent when none): part of cardCents. */
  cardByProcessor?: ReadonlyArray<readonly [string, number]>
  /** Late declines and expired stored payments this Close reports, per processor (sorted; absent when none). */
  lossesByProcessor?: ReadonlyArray<readonly [string, number]>
  /** Points earned by members, at their redemption value (absent when none). */
  pointsEarnedCents?: number
  /** Points redeemed as a tender, net of redemptions refunds gave back (absent when none). */
  pointsRedeemedCents?: number
  /** Points earned earlier and cancelled by refunds before they vested (absent when none). */
  pointsCancelledCents?: number
}

/** Sum amounts per processor, sorted by processor name; undefined when there are none. */
function perProcessor (items: ReadonlyArray<{ processor: string, amountCents: number }>): Array<readonly [string, number]> | undefined {
  if (items.length === 0) return undefined
  const m = new Map<string, number>()
  for (const i of items) m.set(i.processor, addCents(m.get(i.processor) ?? 0, i.amountCents))
  return [...m].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
}

export function closeAmounts (record: Close, costCents: CostCents): CloseAmounts {
  let netCents = 0
  let taxCents = 0
  for (const t of record.tax) {
    netCents = addCents(netCents, t.netCents)
    taxCents = addCents(taxCents, t.taxCents)
  }
  const a: CloseAmounts = {
    cashCents: record.takingsCents.cash,
    cardCents: record.takingsCents.card,
    netCents,
    taxCents,
    cashCountedCents: record.cashCountedCents,
    cogsCents: valueLinesCents(record.consumed, costCents, record.businessDay)
  }
  addOptionalAmounts(a, record)
  return a
}

/**
 * The amounts a Close has only now and then, set on `a` when present (absent otherwise), in
 * this order. Assigned rather than spread: a rebuild summarises millions of Closes.
 */
function addOptionalAmounts (a: CloseAmounts, record: Close): void {
  const cardByProcessor = record.payments === undefined ? undefined : perProcessor(record.payments)
  if (cardByProcessor !== undefined) a.cardByProcessor = cardByProcessor
  const losses = record.lateDeclines === undefined && record.expired === undefined ? undefined : perProcessor([...(record.lateDeclines ?? []), ...(record.expired ?? [])])
  if (losses !== undefined) a.lossesByProcessor = losses
  const earned = nonZero(pointsValueCents(record.points))
  if (earned !== undefined) a.pointsEarnedCents = earned
  const redeemed = record.redeemed === undefined ? undefined : nonZero(record.redeemed.reduce((n, l) => addCents(n, l.amountCents), 0))
  if (redeemed !== undefined) a.pointsRedeemedCents = redeemed
  const cancelled = record.pointsCancelled === undefined ? undefined : nonZero(pointsValueCents(record.pointsCancelled))
  if (cancelled !== undefined) a.pointsCancelledCents = cancelled
}

/** Points at their redemption value, in cents. */
function pointsValueCents (lines: ReadonlyArray<{ points: number }>): number {
  let points = 0
  for (const l of lines) points = addCents(points, l.points)
  return mulCents(points, POINT_VALUE_CENTS)
}

function nonZero (n: number): number | undefined {
  return n === 0 ? undefined : n
}

/** Counted minus expected cash: positive when the drawer is over, negative when short. */
export function cashOverShortCents (a: Pick<CloseAmounts, 'cashCountedCents' | 'cashCents'>): number {
  return subCents(a.cashCountedCents, a.cashCents)
}

/**
 * The day's sales:
 *   Dr cash drawer      cash takings          (may be negative: a day of cash refunds)
 *   Dr card clearing    card takings
 *   Cr sales            Σ net
 *   Cr VAT payable      Σ tax
 * The drawer count, so the drawer account moves by what was counted, not what was rung up:
 *   Dr cash drawer / Cr cash over short   (counted − cash takings; reversed when short)
 * The stock the day used up, at standard cost:
 *   Dr cost of goods sold / Cr store inventory
 * Card takings through a processor go to its own clearing sub-account (the rest, recorded
 * without one, to card clearing itself). Card money reported lost in this Close (late
 * declines, stored payments expired) leaves the processor's clearing for card losses:
 *   Dr card losses / Cr card clearing:<processor>
 * Members' points are a liability at their redemption value from the day they are earned
 * (the retailer owes them), and points redeemed pay for sales like a tender:
 *   Dr loyalty points expense / Cr points liability   (earned − cancelled by refunds)
 *   Dr points liability                               (redeemed: part of the takings)
 */
export function closePostings (a: CloseAmounts): Posting[] {
  const overCents = cashOverShortCents(a)
  let viaProcessorsCents = 0
  const card: Posting[] = []
  for (const [processor, cents] of a.cardByProcessor ?? []) {
    viaProcessorsCents = addCents(viaProcessorsCents, cents)
    card.push({ account: ACCOUNTS.cardClearing, amountCents: cents, sub: processor })
  }
  for (const [processor, cents] of a.lossesByProcessor ?? []) {
    card.push({ account: ACCOUNTS.cardLosses, amountCents: cents }, { account: ACCOUNTS.cardClearing, amountCents: negCents(cents), sub: processor })
  }
  const points: Posting[] = []
  if (a.pointsRedeemedCents !== undefined) points.push({ account: ACCOUNTS.pointsLiability, amountCents: a.pointsRedeemedCents })
  const accruedCents = subCents(a.pointsEarnedCents ?? 0, a.pointsCancelledCents ?? 0)
  if (a.pointsEarnedCents !== undefined || a.pointsCancelledCents !== undefined) {
    points.push({ account: ACCOUNTS.loyaltyExpense, amountCents: accruedCents }, { account: ACCOUNTS.pointsLiability, amountCents: negCents(accruedCents) })
  }
  return [
    { account: ACCOUNTS.cashDrawer, amountCents: a.cashCents },
    { account: ACCOUNTS.cardClearing, amountCents: subCents(a.cardCents, viaProcessorsCents) },
    ...card,
    { account: ACCOUNTS.sales, amountCents: negCents(a.netCents) },
    { account: ACCOUNTS.vatPayable, amountCents: negCents(a.taxCents) },
    { account: ACCOUNTS.cashDrawer, amountCents: overCents },
    { account: ACCOUNTS.cashOverShort, amountCents: negCents(overCents) },
    { account: ACCOUNTS.costOfGoodsSold, amountCents: a.cogsCents },
    { account: ACCOUNTS.storeInventory, amountCents: negCents(a.cogsCents) },
    ...points
  ]
}

export function closeDescription (tillId: TillId, seq: number, docFirst: number, docLast: number): string {
  const docs = docLast >= docFirst ? `docs ${tillId}-${docFirst}..${tillId}-${docLast}` : 'no docs'
  return `close ${tillId} #${seq} ${docs}`
}

export function closeTransaction (entry: Entry, costCents: CostCents): Transaction {
  const r = entry.record
  invariant(r.kind === 'close', 'closeTransaction needs a Close')
  return makeTransaction(entry.hash, r.businessDay, closeDescription(entry.tillId, r.seq, r.docFirst, r.docLast), closePostings(closeAmounts(r, costCents)))
}

// ---------------------------------------------------------------------------------------
// StockIn (morning delivery)

export interface StockInAmounts {
  /** Σ received × cost: what reached the shelves. */
  receivedCents: number
  /** Σ shipped × cost: what left the warehouse (and sits in transit until now). */
  shippedCents: number
}

export function stockInAmounts (record: StockIn, costCents: CostCents): StockInAmounts {
  return { receivedCents: valueLinesCents(record.received, costCents, record.businessDay), shippedCents: valueLinesCents(record.shipped, costCents, record.businessDay) }
}

/** Shipped − received, at cost: positive is a loss (short delivery, damage), negative an over-delivery. */
export function shrinkageCents (a: StockInAmounts): number {
  return subCents(a.shippedCents, a.receivedCents)
}

/**
 *   Dr store inventory    received × cost
 *   Dr stock shrinkage    (shipped − received) × cost   (a credit when over-delivered)
 *   Cr goods in transit   shipped × cost
 * Transit is cleared at what was shipped, so it nets to 0 per order once the store counts
 * the delivery in, and any difference is visible in one account.
 */
export function stockInPostings (a: StockInAmounts): Posting[] {
  return [
    { account: ACCOUNTS.storeInventory, amountCents: a.receivedCents },
    { account: ACCOUNTS.shrinkage, amountCents: shrinkageCents(a) },
    { account: ACCOUNTS.inTransit, amountCents: negCents(a.shippedCents) }
  ]
}

export function stockInDescription (tillId: TillId, seq: number, replenishmentId: string): string {
  return `stock in ${tillId} #${seq} order ${replenishmentId}`
}

export function stockInTransaction (entry: Entry, costCents: CostCents): Transaction {
  const r = entry.record
  invariant(r.kind === 'stockIn', 'stockInTransaction needs a StockIn')
  return makeTransaction(entry.hash, r.businessDay, stockInDescription(entry.tillId, r.seq, r.replenishmentId), stockInPostings(stockInAmounts(r, costCents)))
}

/** The transaction of any till entry. */
export function entryTransaction (entry: Entry, costCents: CostCents): Transaction {
  return entry.record.kind === 'close' ? closeTransaction(entry, costCents) : stockInTransaction(entry, costCents)
}

// ---------------------------------------------------------------------------------------
// Replenishment order (HQ-signed dispatch)

/** Dr goods in transit / Cr warehouse inventory, at cost. */
export function replenishmentPostings (valueCents: number): Posting[] {
  return [
    { account: ACCOUNTS.inTransit, amountCents: valueCents },
    { account: ACCOUNTS.warehouseInventory, amountCents: negCents(valueCents) }
  ]
}

export function replenishmentTxId (orderId: string): string {
  return `repl:${orderId}`
}

export function replenishmentDescription (orderId: string, store: StoreId): string {
  return `replenishment ${orderId} to ${store}`
}

export function replenishmentTransaction (order: Replenishment, costCents: CostCents): Transaction {
  return replenishmentTransactionAt(order.id, order.store, order.businessDay, valueLinesCents(order.lines, costCents, order.businessDay))
}

/** A replenishment order's transaction from its value at cost (what a checkpoint keeps of it). */
export function replenishmentTransactionAt (orderId: string, store: StoreId, day: BusinessDay, valueCents: number): Transaction {
  return makeTransaction(replenishmentTxId(orderId), day, replenishmentDescription(orderId, store), replenishmentPostings(valueCents))
}

// ---------------------------------------------------------------------------------------
// Opening balance

/** Dr warehouse inventory / Cr opening equity, at cost. */
export function openingStockPostings (valueCents: number): Posting[] {
  return [
    { account: ACCOUNTS.warehouseInventory, amountCents: valueCents },
    { account: ACCOUNTS.openingEquity, amountCents: negCents(valueCents) }
  ]
}

export function openingStockTxId (id: string): string {
  return `opening:${id}`
}

export function openingStockDescription (id: string): string {
  return `opening stock ${id}`
}

/**
 * Stock lines given by HQ's operators (not signed by a till): sorted by SKU, every SKU once,
 * quantities positive. Returns a sorted copy; throws InvalidRecordError on bad input.
 */
export function normaliseStockLines (lines: readonly SkuQty[], path = 'lines'): SkuQty[] {
  const copy = lines.map((l, i) => ({ sku: str(l.sku, `${path}[${i}].sku`, SKU_RE), qty: int(l.qty, `${path}[${i}].qty`, 1) }))
  copy.sort((a, b) => a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0)
  return sortedUnique(copy, l => l.sku, path)
}

/** Check an opening balance's id, day and lines (HQ operators' input): throws InvalidRecordError. */
export function checkOpeningStock (id: string, date: BusinessDay | string, lines: readonly SkuQty[]): { id: string, day: BusinessDay, lines: SkuQty[] } {
  if (!ID_RE.test(id)) throw new InvalidRecordError(`opening stock id must match ${ID_RE}`)
  return { id, day: asBusinessDay(date), lines: normaliseStockLines(lines) }
}

/** The opening stock held in the warehouse on `date`, as a transaction; `id` defaults to the date. */
export function openingStock (lines: readonly SkuQty[], date: BusinessDay | string, costCents: CostCents, id: string = date): Transaction {
  const checked = checkOpeningStock(id, date, lines)
  return makeTransaction(openingStockTxId(id), checked.day, openingStockDescription(id), openingStockPostings(valueLinesCents(checked.lines, costCents, checked.day)))
}

// ---------------------------------------------------------------------------------------
// Settlement (a processor's settlement report, a bank's statement)

/** One settled line as the books take it: keyed by the processor's reference. */
export interface SettledLine {
  /** The processor's reference (unique per line at one processor). */
  ref: string
  /** settled: a payment or refund the processor settled; chargeback: taken back; fee: a fee of its own. */
  kind: 'settled' | 'chargeback' | 'fee'
  grossCents: number
  feeCents: number
  netCents: number
}

/** A payout the bank's statement shows arriving from the processor. */
export interface BankPayout { ref: string, amountCents: number }

/** An imported settlement file, reduced to what the books post: its id is the file's hash. */
export interface Settlement {
  id: string
  processor: string
  /** The last booking day the file covers. */
  day: BusinessDay
  lines: readonly SettledLine[]
  payouts: readonly BankPayout[]
}

/**
 * A settled line:
 *   Cr card clearing:<processor>   gross     (settled: what the tills' Closes put there)
 *   Dr card losses                 −gross    (chargeback: gross is negative)
 *   Dr card fees                   fee
 *   Dr card payouts due:<processor> net      (the processor owes it until the bank shows it)
 * A fee line: Dr card fees −net / Cr payouts due (its net is negative).
 */
export function settledLinePostings (processor: string, l: SettledLine): Posting[] {
  if (l.netCents !== subCents(l.grossCents, l.feeCents)) bug(`settled line ${l.ref}: net ${l.netCents} is not gross ${l.grossCents} less fee ${l.feeCents}`)
  // A fee line is all fee, whichever column a file puts it in (a report: fee X; a bank: gross −X): never clearing.
  if (l.kind === 'fee') {
    return [
      { account: ACCOUNTS.cardFees, amountCents: negCents(l.netCents) },
      { account: ACCOUNTS.cardPayoutsDue, amountCents: l.netCents, sub: processor }
    ]
  }
  return [
    l.kind === 'chargeback'
      ? { account: ACCOUNTS.cardLosses, amountCents: negCents(l.grossCents) }
      : { account: ACCOUNTS.cardClearing, amountCents: negCents(l.grossCents), sub: processor },
    { account: ACCOUNTS.cardFees, amountCents: l.feeCents },
    { account: ACCOUNTS.cardPayoutsDue, amountCents: l.netCents, sub: processor }
  ]
}

/** A payout in the bank: Dr bank / Cr card payouts due:<processor>. */
export function payoutPostings (processor: string, p: BankPayout): Posting[] {
  return [
    { account: ACCOUNTS.bank, amountCents: p.amountCents },
    { account: ACCOUNTS.cardPayoutsDue, amountCents: negCents(p.amountCents), sub: processor }
  ]
}

export function settlementTxId (id: string): string {
  return `settlement:${id.slice(0, 16)}`
}

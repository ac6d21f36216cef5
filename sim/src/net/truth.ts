/**
 * The launcher's ground truth: every sale it posted to a till's HTTP API (lines, tenders,
 * member, the total the till answered), every replenishment it dispatched, every drawer count
 * it declared at close. The Oracle turns that into the books HQ should hold with its own
 * arithmetic; nothing here reads HQ's books or a till's records.
 */
import { Oracle, type OracleBooks, type OracleProduct, type TruthDay } from '../Oracle.ts'
import type { Prng } from '../Prng.ts'

export interface Line { sku: string, qty: number }
export interface TenderIn { type: 'cash' | 'card', amountCents: number }

export interface CatalogueItem { sku: string, priceCents: number, taxRateBp: number }

export interface PostedSale {
  tillId: string
  day: string
  docNo: string
  lines: Line[]
  tenders: TenderIn[]
  member: string | null
  expectedTotalCents: number
  answeredTotalCents: number
  cardCents: number
}

export const MEMBERS: readonly string[] = Array.from({ length: 24 }, (_, i) => `+4477009${String(10_000 + i * 7919).slice(-5)}`)

/** The total of a basket at tax-inclusive shelf prices. */
export function basketTotal (prices: ReadonlyMap<string, number>, lines: readonly Line[]): number {
  let total = 0
  for (const l of lines) {
    const p = prices.get(l.sku)
    if (p === undefined) throw new Error(`unknown sku ${l.sku}`)
    total += l.qty * p
  }
  return total
}

/** A random basket and tenders (card, cash with change, or split), drawn from `p`. */
export function drawSale (p: Prng, sellable: readonly string[], prices: ReadonlyMap<string, number>, memberRate = 0.2): { lines: Line[], tenders: TenderIn[], member: string | null, total: number, cardCents: number } {
  const lines = p.sample(sellable, p.int(1, 3)).sort().map(sku => ({ sku, qty: p.int(1, 3) }))
  const total = basketTotal(prices, lines)
  const member = p.chance(memberRate) ? p.pick(MEMBERS) : null
  const mode = p.int(0, 99)
  let tenders: TenderIn[]
  if (mode < 50) {
    tenders = [{ type: 'card', amountCents: total }]
  } else if (mode < 85) {
    tenders = [{ type: 'cash', amountCents: total + (p.chance(0.5) ? p.int(1, 2_000) : 0) }]
  } else if (mode < 92 || total < 2) {
    tenders = [] // no tenders: paid in cash, exact
  } else {
    const card = Math.floor(total / 2)
    tenders = [{ type: 'card', amountCents: card }, { type: 'cash', amountCents: total - card + p.int(0, 500) }]
  }
  const cardCents = tenders.filter(t => t.type === 'card').reduce((s, t) => s + t.amountCents, 0)
  return { lines, tenders, member, total, cardCents }
}

export class GroundTruth {
  readonly days = new Map<string, TruthDay>()
  readonly sales: PostedSale[] = []
  readonly dispatched: Array<{ id: string, store: string, day: string, lines: Line[] }> = []
  readonly opening: Line[] = []
  /** Every document number each till slot issued, in the order answered (for G1). */
  readonly docNos = new Map<string, string[]>()
  /** Sales whose answered total differed from the shelf-price total. */
  readonly totalMismatches: PostedSale[] = []
  /** Which tills confirmed each order with a StockIn. */
  readonly confirmations = new Map<string, string[]>()

  day (store: string, tillId: string, businessDay: string): TruthDay {
    const key = `${tillId}|${businessDay}`
    let d = this.days.get(key)
    if (d === undefined) {
      d = { store, tillId, businessDay, delivery: null, sales: [], cashCountedCents: null, closeCounts: true, stockInCounts: true }
      this.days.set(key, d)
    }
    return d
  }

  recordSale (store: string, s: PostedSale): void {
    this.sales.push(s)
    if (s.answeredTotalCents !== s.expectedTotalCents) this.totalMismatches.push(s)
    const list = this.docNos.get(s.tillId) ?? []
    list.push(s.docNo)
    this.docNos.set(s.tillId, list)
    this.day(store, s.tillId, s.day).sales.push({ kind: 'sale', lines: s.lines, cardCents: s.cardCents, member: s.member })
  }

  /** Cash the drawer should hold from the day's sales (what the driver will declare as counted, before any miscount). */
  cashTakings (tillId: string, businessDay: string): number {
    let cash = 0
    for (const s of this.sales) if (s.tillId === tillId && s.day === businessDay) cash += s.expectedTotalCents - s.cardCents
    return cash
  }

  recordDelivery (store: string, tillId: string, businessDay: string, replenishmentId: string): boolean {
    const order = this.dispatched.find(o => o.id === replenishmentId)
    if (order === undefined) return false
    this.confirmations.set(replenishmentId, [...(this.confirmations.get(replenishmentId) ?? []), tillId])
    // The daemon's StockIn confirms the order as shipped (the HTTP API has no "received" override).
    this.day(store, tillId, businessDay).delivery = { shipped: order.lines, received: order.lines }
    return true
  }

  /** Card money the day's Close will report lost: a payment stored offline and declined when forwarded before the close. */
  recordCardLoss (store: string, tillId: string, businessDay: string, amountCents: number): void {
    const d = this.day(store, tillId, businessDay)
    d.cardLossesCents = (d.cardLossesCents ?? 0) + amountCents
  }

  recordClose (store: string, tillId: string, businessDay: string, cashCountedCents: number): void {
    this.day(store, tillId, businessDay).cashCountedCents = cashCountedCents
  }

  /** The books HQ should hold. */
  books (products: readonly OracleProduct[]): OracleBooks {
    return new Oracle(products).books([...this.days.values()], this.dispatched, this.opening)
  }
}

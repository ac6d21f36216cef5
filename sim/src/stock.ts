/**
 * Stock that follows demand, so the demo's books read as a business: the warehouse opens with
 * what the run is expected to ship, each till's shelf is filled to a par level of a few days'
 * expected use at 06:00 (what it sold since the last delivery, and what a short delivery left
 * out), and the warehouse ships no more than it holds. Demand is worked out from the
 * simulator's own sales draws and the catalogue's recipes, not measured, so it costs no
 * randomness and a run replays from its seed.
 */
import type { Catalogue } from '@tillbooks/catalogue'
import type { SkuQty } from '@tillbooks/protocol'
import type { TruthDay } from './Oracle.ts'

/** A till's shelf is filled up to this many days of its expected use (it sells more some days than others). */
export const PAR_DAYS = 3
/** The warehouse opens with the run's expected shipments and this share more (deliveries are not all alike). */
export const OPENING_MARGIN = 0.25
/** A sale's lines: 1 to this many distinct sellable products (Simulation#sale draws them). */
export const SALE_LINES_MAX = 3
/** A line's quantity: 1 to this many (Simulation#sale draws it). */
export const LINE_QTY_MAX = 3

/**
 * Expected stocked units one till uses a day, by stocked sku: `salesPerDayMax` sales at most
 * (uniform from 1), each of 1..SALE_LINES_MAX distinct sellable products at 1..LINE_QTY_MAX,
 * every recipe exploded to its stocked leaves.
 */
export function dailyUse (catalogue: Catalogue, sellable: readonly string[], salesPerDayMax: number): Map<string, number> {
  const salesPerDay = (1 + salesPerDayMax) / 2
  const linesPerSale = Math.min((1 + SALE_LINES_MAX) / 2, sellable.length)
  const qtyPerLine = (1 + LINE_QTY_MAX) / 2
  const perSku = salesPerDay * (linesPerSale / sellable.length) * qtyPerLine
  const use = new Map<string, number>()
  for (const sku of sellable) {
    for (const leaf of catalogue.explode(sku, 1)) use.set(leaf.sku, (use.get(leaf.sku) ?? 0) + perSku * leaf.qty)
  }
  return use
}

/** Each till's par level, by stocked sku (whole units). */
export function parLevels (use: ReadonlyMap<string, number>): Map<string, number> {
  return new Map([...use].map(([sku, u]) => [sku, Math.ceil(PAR_DAYS * u)]))
}

/** The warehouse's opening stock: every till filled to par once, then its expected use for every day, and the margin. */
export function openingStock (stocked: readonly string[], use: ReadonlyMap<string, number>, tills: number, days: number): SkuQty[] {
  const par = parLevels(use)
  return stocked.map(sku => ({ sku, qty: Math.ceil(tills * ((par.get(sku) ?? 0) + days * (use.get(sku) ?? 0)) * (1 + OPENING_MARGIN)) }))
}

/**
 * What each till has on its shelf, by stocked sku: deliveries as received, less what it sold,
 * plus what came back over it, every recipe exploded to its stocked leaves. Products the
 * catalogue does not know (made up at a store) are the store's own, not the warehouse's, and
 * pass by. The simulator keeps one as it runs (a customer takes only what is there); `onShelf`
 * makes one again from the truth alone, to check it.
 */
export class Shelves {
  readonly #catalogue: Catalogue
  readonly #known: ReadonlySet<string>
  readonly #byTill = new Map<string, Map<string, number>>()

  constructor (catalogue: Catalogue) {
    this.#catalogue = catalogue
    this.#known = new Set(catalogue.products().map(p => p.sku))
  }

  /** A till's shelf (undefined: nothing ever came to it). */
  of (tillId: string): ReadonlyMap<string, number> | undefined { return this.#byTill.get(tillId) }

  /** Every till's shelf. */
  all (): Map<string, Map<string, number>> { return this.#byTill }

  /** Goods received (stocked skus, as counted in). */
  receive (tillId: string, lines: readonly SkuQty[]): void {
    for (const l of lines) this.#add(tillId, l.sku, l.qty)
  }

  /** Products coming back over the till (a refund or a return). */
  putBack (tillId: string, lines: readonly SkuQty[]): void { this.#move(tillId, lines, 1) }

  /** Products going out with a customer: taken off as they are, nothing capped (`take` caps). */
  remove (tillId: string, lines: readonly SkuQty[]): void { this.#move(tillId, lines, -1) }

  /**
   * What a customer can take off the shelf of what they want: each line at most what its stocked
   * leaves allow once the lines before it are taken, a line with none left dropped; products the
   * catalogue does not know pass as they are. What is returned is taken off the shelf (`putBack`
   * gives it back if the sale does not happen).
   */
  take (tillId: string, wanted: readonly SkuQty[]): SkuQty[] {
    const shelf = this.#byTill.get(tillId)
    const out: SkuQty[] = []
    for (const l of wanted) {
      if (!this.#known.has(l.sku)) { out.push({ ...l }); continue }
      let qty = l.qty
      for (const leaf of this.#catalogue.explode(l.sku, 1)) qty = Math.min(qty, Math.floor(Math.max(0, shelf?.get(leaf.sku) ?? 0) / leaf.qty))
      if (qty <= 0) continue
      const line = { sku: l.sku, qty }
      this.#move(tillId, [line], -1)
      out.push(line)
    }
    return out
  }

  #move (tillId: string, lines: readonly SkuQty[], sign: 1 | -1): void {
    for (const l of lines) {
      if (!this.#known.has(l.sku)) continue
      for (const leaf of this.#catalogue.explode(l.sku, l.qty)) this.#add(tillId, leaf.sku, sign * leaf.qty)
    }
  }

  #add (tillId: string, sku: string, qty: number): void {
    let shelf = this.#byTill.get(tillId)
    if (shelf === undefined) this.#byTill.set(tillId, shelf = new Map())
    shelf.set(sku, (shelf.get(sku) ?? 0) + qty)
  }
}

/** Every till's shelf made again from what happened (the simulator's truth), as `Shelves` counts it. */
export function onShelf (days: Iterable<TruthDay>, catalogue: Catalogue): Map<string, Map<string, number>> {
  const shelves = new Shelves(catalogue)
  for (const d of days) {
    shelves.receive(d.tillId, d.delivery?.received ?? [])
    for (const s of d.sales) {
      if (s.kind === 'sale') shelves.remove(d.tillId, s.lines)
      else shelves.putBack(d.tillId, s.lines)
    }
  }
  return shelves.all()
}

/** A till's delivery: each stocked sku up to par, as far as the warehouse holds it (taken from `warehouse`). */
export function replenishment (shelf: ReadonlyMap<string, number> | undefined, par: ReadonlyMap<string, number>, warehouse: Map<string, number>): SkuQty[] {
  const lines: SkuQty[] = []
  for (const [sku, level] of [...par].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) {
    const qty = Math.min(level - (shelf?.get(sku) ?? 0), warehouse.get(sku) ?? 0)
    if (qty <= 0) continue
    warehouse.set(sku, (warehouse.get(sku) ?? 0) - qty)
    lines.push({ sku, qty })
  }
  return lines
}

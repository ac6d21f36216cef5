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
 * What each till has on its shelf, by stocked sku, from what happened (the simulator's truth):
 * deliveries as received, less what it sold, plus what came back over it. Products the
 * catalogue does not know (made up at a store) are the store's own, not the warehouse's.
 */
export function onShelf (days: Iterable<TruthDay>, catalogue: Catalogue): Map<string, Map<string, number>> {
  const known = new Set(catalogue.products().map(p => p.sku))
  const out = new Map<string, Map<string, number>>()
  for (const d of days) {
    let shelf = out.get(d.tillId)
    if (shelf === undefined) out.set(d.tillId, shelf = new Map())
    const add = (sku: string, qty: number): void => { shelf.set(sku, (shelf.get(sku) ?? 0) + qty) }
    for (const l of d.delivery?.received ?? []) add(l.sku, l.qty)
    for (const s of d.sales) {
      const sign = s.kind === 'sale' ? -1 : 1
      for (const l of s.lines) {
        if (!known.has(l.sku)) continue
        for (const leaf of catalogue.explode(l.sku, l.qty)) add(leaf.sku, sign * leaf.qty)
      }
    }
  }
  return out
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

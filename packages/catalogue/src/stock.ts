/**
 * Quantities of stocked skus: what a sale consumes, what a day's Close reports.
 *
 * Lists of `{ sku, qty }` are always sorted by sku with no repeats and no zeros: the shape
 * the protocol requires of a Close's `consumed`, so one set of quantities has one encoding.
 */
import { PRODUCTS_MAX, STOCK_QTY_MAX } from './constants.ts'
import { InvalidQuantityError, LimitExceededError, quote } from './errors.ts'

/** A quantity of one sku, in its stock unit. Negative when stock comes back (a refund). */
export interface SkuQty {
  readonly sku: string
  readonly qty: number
}

/** Sort order of skus: by UTF-16 code unit, as the protocol's `sortedUnique` compares (skus are ASCII). */
export function bySku (a: { readonly sku: string }, b: { readonly sku: string }): number {
  return a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0
}

/**
 * `qty` units of something that uses `unitQty` of a stocked sku per unit.
 * Both are at most STOCK_QTY_MAX, so the float product is exact whenever it is within the limit
 * (and rounding cannot carry a larger product back inside it): one comparison suffices.
 */
export function scaleQty (unitQty: number, qty: number, sku: string): number {
  const scaled = unitQty * qty
  if (Math.abs(scaled) > STOCK_QTY_MAX) throw new LimitExceededError(`${qty} × ${unitQty} of ${sku} is beyond ${STOCK_QTY_MAX} units, more than a Close can carry`)
  return scaled
}

export interface StockTallyInit {
  /** Distinct skus held; default PRODUCTS_MAX (a catalogue cannot consume more). */
  skusMax?: number
}

/**
 * A running sum of stock quantities: a sale's lines, or a till's whole business day.
 *
 * @example
 * ```ts
 * const day = new StockTally()
 * for (const sale of sales) day.add(sale.consumed)
 * close.consumed = day.lines()
 * ```
 */
export class StockTally {
  readonly #qty = new Map<string, number>()
  readonly #skusMax: number

  constructor (init: StockTallyInit = {}) {
    this.#skusMax = init.skusMax ?? PRODUCTS_MAX
  }

  /** Add quantities (a sku may repeat). Each running total must stay within ±STOCK_QTY_MAX; on error nothing is added. */
  add (lines: readonly SkuQty[]): void {
    // Check every line before changing anything, so a refused add leaves the tally as it was.
    const next = new Map<string, number>()
    for (const { sku, qty } of lines) {
      if (!Number.isSafeInteger(qty) || Math.abs(qty) > STOCK_QTY_MAX) throw new InvalidQuantityError(`${sku}: qty must be an integer in ±${STOCK_QTY_MAX}, is ${quote(qty)}`)
      const total = (next.get(sku) ?? this.#qty.get(sku) ?? 0) + qty
      if (Math.abs(total) > STOCK_QTY_MAX) throw new LimitExceededError(`${sku}: running total ${total} is beyond ${STOCK_QTY_MAX} units, more than a Close can carry`)
      next.set(sku, total)
    }
    let size = this.#qty.size
    for (const sku of next.keys()) if (!this.#qty.has(sku)) size++
    if (size > this.#skusMax) throw new LimitExceededError(`tally would hold ${size} skus, at most ${this.#skusMax}`)
    for (const [sku, total] of next) this.#qty.set(sku, total)
  }

  /** The totals, sorted by sku, without the ones that came back to 0. */
  lines (): SkuQty[] {
    const out: SkuQty[] = []
    for (const [sku, qty] of this.#qty) if (qty !== 0) out.push({ sku, qty })
    return out.sort(bySku)
  }
}

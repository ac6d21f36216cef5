/**
 * Pricing a sale: what the customer pays, the tax in it per rate, and the stock it uses up.
 *
 * Tax is worked out as a receipt does: once per rate over the receipt's gross at that rate,
 * not per line (per-line rounding would drift from the printed receipt by a cent per line).
 * The net is what is left, so net + tax = gross exactly, for every rate and for the sale.
 */
import type { Catalogue } from './catalogue.ts'
import { SALE_CENTS_MAX, SALE_LINE_QTY_MAX, SALE_LINES_MAX } from './constants.ts'
import { InvalidQuantityError, InvalidSaleError, InvalidSkuError, LimitExceededError, NotSellableError, quote, UnknownSkuError } from './errors.ts'
import { StockTally, type SkuQty } from './stock.ts'
import { splitInclusiveCents } from './tax.ts'
import { int, list } from './validate.ts'

/** A line as rung up: positive qty sold, negative qty refunded. */
export interface SaleLine {
  readonly sku: string
  readonly qty: number
}

/** A line with its price, as printed on the receipt. */
export interface PricedLine {
  readonly sku: string
  readonly name: string
  readonly qty: number
  readonly unitPriceCents: number
  /** unitPriceCents × qty, tax included. */
  readonly grossCents: number
  readonly taxRateBp: number
}

/** One tax rate's share of a sale: netCents + taxCents = grossCents. */
export interface TaxRateTotal {
  readonly rateBp: number
  readonly grossCents: number
  readonly netCents: number
  readonly taxCents: number
}

export interface PricedSale {
  /** What the customer pays (negative: what they get back). The sum of the lines' grossCents and of perRate's grossCents. */
  readonly totalCents: number
  /** One entry per tax rate on the sale, sorted by rateBp. */
  readonly perRate: TaxRateTotal[]
  /** Stocked skus consumed, exploded through recipes, sorted by sku, without zeros: the shape a Close's `consumed` takes. */
  readonly consumed: SkuQty[]
  /** The sale's lines in the order given, priced. */
  readonly lines: PricedLine[]
}

/**
 * Price `lines` from `catalogue`. A sku may appear on several lines; lines may mix sales
 * and refunds (an exchange). Throws a CatalogueError naming the line for an unknown or
 * unsellable sku, a qty that is not a non-zero integer within ±SALE_LINE_QTY_MAX, or a
 * sale beyond SALE_LINES_MAX lines or ±SALE_CENTS_MAX.
 */
export function priceSale (catalogue: Catalogue, lines: readonly SaleLine[]): PricedSale {
  const items = list(lines, 'lines', SALE_LINES_MAX, InvalidSaleError)
  if (items.length === 0) throw new InvalidSaleError('a sale needs at least one line')
  const priced = items.map((item, i) => priceLine(catalogue, item, `lines[${i}]`))

  // Sums in BigInt: 1,000 lines of 1e14 cents each would pass 2^53 before the limit check could see it.
  const grossByRate = new Map<number, bigint>()
  for (const line of priced) grossByRate.set(line.taxRateBp, (grossByRate.get(line.taxRateBp) ?? 0n) + BigInt(line.grossCents))
  const perRate = [...grossByRate].sort(([a], [b]) => a - b).map(([rateBp, gross]) => {
    const { grossCents, netCents, taxCents } = splitInclusiveCents(withinSale(gross, `gross at ${rateBp} bp`), rateBp)
    return { rateBp, grossCents, netCents, taxCents }
  })
  const totalCents = withinSale(priced.reduce((sum, line) => sum + BigInt(line.grossCents), 0n), 'total')

  const consumed = new StockTally()
  for (const line of priced) consumed.add(catalogue.explode(line.sku, line.qty))
  return { totalCents, perRate, consumed: consumed.lines(), lines: priced }
}

function priceLine (catalogue: Catalogue, item: unknown, path: string): PricedLine {
  if (item === null || typeof item !== 'object') throw new InvalidSaleError(`${path} must be an object { sku, qty }`)
  const { sku, qty } = item as { sku?: unknown, qty?: unknown }
  if (typeof sku !== 'string') throw new InvalidSkuError(`${path}.sku must be a string, is ${quote(sku)}`)
  if (!catalogue.has(sku)) throw new UnknownSkuError(sku, path)
  const product = catalogue.get(sku)
  if (!product.sellable) throw new NotSellableError(sku, path)
  const units = int(qty, `${path}.qty`, -SALE_LINE_QTY_MAX, SALE_LINE_QTY_MAX, InvalidQuantityError)
  if (units === 0) throw new InvalidQuantityError(`${path}.qty must not be 0 (leave the line out)`)
  return {
    sku,
    name: product.name,
    qty: units,
    unitPriceCents: product.priceCents,
    // At most PRICE_CENTS_MAX × SALE_LINE_QTY_MAX = 1e14: exact in a double. `+ 0` turns the -0 of a free item refunded into 0.
    grossCents: product.priceCents * units + 0,
    taxRateBp: product.taxRateBp
  }
}

function withinSale (cents: bigint, what: string): number {
  if (cents > BigInt(SALE_CENTS_MAX) || cents < -BigInt(SALE_CENTS_MAX)) throw new LimitExceededError(`sale ${what} of ${cents} cents is beyond ±${SALE_CENTS_MAX}`)
  return Number(cents)
}

/**
 * Limits of a catalogue and of one sale. Every one is checked before the value is used.
 *
 * Some of them mirror the wire format in @tillbooks/protocol, because what a till prices
 * and explodes ends up in its signed Close: we refuse here what HQ would refuse there.
 */

/** A sku: the same rule as the protocol's SKU_RE (a test keeps the two equal). */
export const SKU_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/

/** Recipe levels below a product (a stocked product is 0, a recipe of stocked products 1). Bounds the work of one explosion. */
export const BOM_DEPTH_MAX = 8
/** Products in one catalogue (a garden centre chain lists ~50,000). */
export const PRODUCTS_MAX = 100_000
/** Lines in one product's recipe. */
export const RECIPE_LINES_MAX = 64
/** Distinct stocked skus that one unit of a product may consume, through all its recipe levels. */
export const EXPLODED_SKUS_MAX = 256
/** Characters in a product name (a receipt line, a till button). */
export const NAME_CHARS_MAX = 80

/** Tax rate in basis points: 10_000 is 100 %. The protocol's Close carries rates 0..10_000. */
export const TAX_RATE_BP_MAX = 10_000
/** Distinct tax rates in one catalogue: a Close carries at most 16 (the protocol's TAX_RATES_MAX). */
export const TAX_RATES_MAX = 16

/** One item's shelf price: ten million currency units. */
export const PRICE_CENTS_MAX = 1_000_000_000
/** One unit's standard cost, rolled up through its recipe or not. */
export const COST_CENTS_MAX = 1_000_000_000
/** One recipe line's quantity, in the component's stock unit. */
export const RECIPE_QTY_MAX = 1_000_000
/** Any quantity of one stocked sku we produce: per unit, per sale, per day. Equals the protocol's limit on a consumed line. */
export const STOCK_QTY_MAX = 1_000_000_000

/** Lines in one sale. */
export const SALE_LINES_MAX = 1_000
/** Units on one sale line, either way (a refund is negative). */
export const SALE_LINE_QTY_MAX = 100_000
/** The gross of one sale, and of each of its tax rates, either way: the protocol's bound on money in a Close. */
export const SALE_CENTS_MAX = 10_000_000_000_000

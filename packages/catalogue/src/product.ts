/**
 * A product, as the catalogue holds it, and the plain data it is read from.
 *
 * Every product is one of two kinds, and `stocked` says which:
 * - stocked (no recipe): counted on the shelf in its own stock unit (a piece, a gram, a
 *   centilitre); selling one consumes exactly itself. These are the leaves HQ values at
 *   standard cost.
 * - made to order (a recipe): made of other products, which may themselves have recipes.
 *   Selling one consumes its recipe's stocked leaves; it is never counted itself.
 *
 * Money is integer cents, tax rates are integer basis points, quantities are integers in
 * the component's stock unit: nothing here is ever a fraction.
 */
import { COST_CENTS_MAX, NAME_CHARS_MAX, PRICE_CENTS_MAX, RECIPE_QTY_MAX, TAX_RATE_BP_MAX } from './constants.ts'
import { DuplicateSkuError, InvalidProductError } from './errors.ts'
import { bool, fields, int, list, sku as skuOf, text } from './validate.ts'

/** One component of a recipe: `qty` of `sku`'s stock unit per unit of the product made. */
export interface RecipeLine {
  readonly sku: string
  readonly qty: number
}

/** A product as the catalogue holds it: validated, normalised, frozen. */
export interface Product {
  readonly sku: string
  /** As printed on receipts. */
  readonly name: string
  /** Shelf price of one unit, tax included. */
  readonly priceCents: number
  /** The tax rate included in priceCents, in basis points (2000 = 20 %). */
  readonly taxRateBp: number
  /** Standard cost of one unit. For a recipe, exactly its components' standard costs rolled up. */
  readonly costCents: number
  /** True: counted on the shelf, no recipe. False: made to order from its recipe. */
  readonly stocked: boolean
  /** False for ingredients and packaging that are only consumed through recipes (milk by the centilitre). */
  readonly sellable: boolean
  /** Present exactly when the product is not stocked. */
  readonly recipe?: readonly RecipeLine[]
}

/** A product as written in catalogue data (a `.ts` module, JSON from HQ). */
export interface ProductData {
  sku: string
  name: string
  priceCents: number
  taxRateBp: number
  costCents: number
  stocked: boolean
  /** Absent means true. Prices of products that are not sellable are never charged; write 0. */
  sellable?: boolean
  recipe?: readonly RecipeLine[]
}

/** What a Catalogue is built from. */
export interface CatalogueData {
  products: readonly ProductData[]
}

const REQUIRED = ['sku', 'name', 'priceCents', 'taxRateBp', 'costCents', 'stocked'] as const
const OPTIONAL = ['sellable', 'recipe'] as const

/**
 * Check one product's own fields (not yet whether its components exist: that needs the whole catalogue).
 * `path` names it in errors, e.g. `products[3]`.
 */
export function validateProduct (value: unknown, path: string, recipeLinesMax: number): Product {
  const o = fields(value, path, REQUIRED, OPTIONAL)
  const sku = skuOf(o.sku, `${path}.sku`)
  const at = `${path} (${sku})`
  const stocked = bool(o.stocked, `${at}.stocked`)
  const recipe = o.recipe === undefined ? undefined : recipeOf(o.recipe, `${at}.recipe`, recipeLinesMax)
  // One flag and one optional list could disagree; refuse rather than guess which one was meant.
  if (stocked && recipe !== undefined) throw new InvalidProductError(`${at} is stocked but has a recipe: a stocked product consumes only itself. Remove the recipe, or set stocked: false to make it to order`)
  if (!stocked && recipe === undefined) throw new InvalidProductError(`${at} is not stocked and has no recipe: a product made to order needs a recipe`)
  const product: Product = {
    sku,
    name: text(o.name, `${at}.name`, NAME_CHARS_MAX),
    priceCents: int(o.priceCents, `${at}.priceCents`, 0, PRICE_CENTS_MAX),
    taxRateBp: int(o.taxRateBp, `${at}.taxRateBp`, 0, TAX_RATE_BP_MAX),
    costCents: int(o.costCents, `${at}.costCents`, 0, COST_CENTS_MAX),
    stocked,
    sellable: o.sellable === undefined ? true : bool(o.sellable, `${at}.sellable`),
    ...(recipe === undefined ? {} : { recipe })
  }
  return Object.freeze(product)
}

function recipeOf (value: unknown, path: string, linesMax: number): readonly RecipeLine[] {
  const items = list(value, path, linesMax)
  if (items.length === 0) throw new InvalidProductError(`${path} is empty: a recipe needs at least one component`)
  const seen = new Set<string>()
  const lines = items.map((item, i) => {
    const o = fields(item, `${path}[${i}]`, ['sku', 'qty'])
    const sku = skuOf(o.sku, `${path}[${i}].sku`)
    // Two lines for one component would be summed by some readers and not others: one line each.
    if (seen.has(sku)) throw new DuplicateSkuError(`${path}[${i}].sku: ${sku} is already in this recipe; put its whole quantity on one line`)
    seen.add(sku)
    // Zero would be a line that does nothing; a negative one would make stock out of a sale.
    return Object.freeze({ sku, qty: int(o.qty, `${path}[${i}].qty`, 1, RECIPE_QTY_MAX) })
  })
  return Object.freeze(lines)
}

/** The plain data of a product, as it would be written (sellable left out when true). */
export function productData (p: Product): ProductData {
  return {
    sku: p.sku,
    name: p.name,
    priceCents: p.priceCents,
    taxRateBp: p.taxRateBp,
    costCents: p.costCents,
    stocked: p.stocked,
    ...(p.sellable ? {} : { sellable: false }),
    ...(p.recipe === undefined ? {} : { recipe: p.recipe.map(l => ({ sku: l.sku, qty: l.qty })) })
  }
}

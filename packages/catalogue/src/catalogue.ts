/**
 * The Catalogue: every product a till may sell or consume, checked as a whole.
 *
 * Built once from plain data and immutable after: every check (formats, duplicates, missing
 * components, cycles, depth, costs) happens in the constructor, so a Catalogue that exists
 * is a valid one, and each product's explosion is worked out there once for all sales.
 */
import { buildBoms, type Bom } from './bom.ts'
import { BOM_DEPTH_MAX, EXPLODED_SKUS_MAX, PRODUCTS_MAX, RECIPE_LINES_MAX, STOCK_QTY_MAX, TAX_RATES_MAX } from './constants.ts'
import { DuplicateSkuError, InvalidProductError, InvalidQuantityError, LimitExceededError, UnknownSkuError } from './errors.ts'
import { productData, validateProduct, type CatalogueData, type Product } from './product.ts'
import { bySku, scaleQty, type SkuQty } from './stock.ts'
import { fields, int, list } from './validate.ts'

/** Limits, each defaulting to its constant in constants.ts. */
export interface CatalogueInit {
  /** Default BOM_DEPTH_MAX. */
  bomDepthMax?: number
  /** Default PRODUCTS_MAX. */
  productsMax?: number
  /** Default RECIPE_LINES_MAX. */
  recipeLinesMax?: number
  /** Default EXPLODED_SKUS_MAX. */
  explodedSkusMax?: number
}

export class Catalogue {
  /** By sku. */
  readonly #products: ReadonlyMap<string, Product>
  readonly #boms: ReadonlyMap<string, Bom>
  readonly #sorted: readonly Product[]
  readonly #stockedSkus: readonly string[]

  /** Validates `data` completely; throws a CatalogueError that names the product and field at fault. */
  constructor (data: CatalogueData, init: CatalogueInit = {}) {
    const productsMax = init.productsMax ?? PRODUCTS_MAX
    const recipeLinesMax = init.recipeLinesMax ?? RECIPE_LINES_MAX
    const limits = { bomDepthMax: init.bomDepthMax ?? BOM_DEPTH_MAX, explodedSkusMax: init.explodedSkusMax ?? EXPLODED_SKUS_MAX }

    const items = list(fields(data, 'catalogue', ['products']).products, 'products', productsMax)
    // Kept in input order too, so every error names the product by its index in the data.
    const inOrder = items.map((item, i) => validateProduct(item, `products[${i}]`, recipeLinesMax))
    const products = new Map<string, Product>()
    inOrder.forEach((product, i) => {
      if (products.has(product.sku)) throw new DuplicateSkuError(`products[${i}].sku: ${product.sku} is already in the catalogue`)
      products.set(product.sku, product)
    })
    inOrder.forEach((product, i) => product.recipe?.forEach((line, j) => {
      if (!products.has(line.sku)) throw new UnknownSkuError(line.sku, `products[${i}] (${product.sku}).recipe[${j}]`)
    }))
    const rates = new Set(inOrder.map(p => p.taxRateBp))
    if (rates.size > TAX_RATES_MAX) throw new LimitExceededError(`catalogue has ${rates.size} tax rates, at most ${TAX_RATES_MAX} (a Close carries no more)`)

    const boms = buildBoms(products, limits)
    // A declared cost that disagrees with its recipe would value the same sale two ways; refuse it and say what it should be.
    inOrder.forEach((product, i) => {
      const rolledUpCents = boms.get(product.sku)?.costCents
      if (product.costCents !== rolledUpCents) {
        throw new InvalidProductError(`products[${i}] (${product.sku}).costCents is ${product.costCents}, but its recipe costs ${rolledUpCents} at standard cost: set it to ${rolledUpCents}`)
      }
    })

    this.#products = products
    this.#boms = boms
    this.#sorted = Object.freeze(inOrder.sort(bySku))
    this.#stockedSkus = Object.freeze(this.#sorted.filter(p => p.stocked).map(p => p.sku))
  }

  /** Number of products. */
  get size (): number {
    return this.#products.size
  }

  has (sku: string): boolean {
    return this.#products.has(sku)
  }

  /** The product; throws UnknownSkuError. */
  get (sku: string): Product {
    const product = this.#products.get(sku)
    if (product === undefined) throw new UnknownSkuError(sku, 'catalogue')
    return product
  }

  /** Every product, sorted by sku. */
  products (): readonly Product[] {
    return this.#sorted
  }

  /** The skus counted on shelves (products without a recipe), sorted: what HQ holds inventory of. */
  stockedSkus (): readonly string[] {
    return this.#stockedSkus
  }

  /** Standard cost of one unit: a stocked product's own, a recipe's rolled up from its stocked leaves. Throws UnknownSkuError. */
  costCents (sku: string): number {
    return this.get(sku).costCents
  }

  /**
   * The stocked skus that `qty` units of `sku` consume, multiplied through every recipe level,
   * sorted by sku. Negative `qty` (a refund) gives the same quantities negated: stock comes back.
   * `qty` 0 consumes nothing. A lookup in the table built at construction, one multiply per leaf.
   */
  explode (sku: string, qty: number): SkuQty[] {
    const bom = this.#boms.get(sku)
    if (bom === undefined) throw new UnknownSkuError(sku, 'explode')
    int(qty, 'explode qty', -STOCK_QTY_MAX, STOCK_QTY_MAX, InvalidQuantityError)
    if (qty === 0) return []
    return bom.unit.map(leaf => ({ sku: leaf.sku, qty: scaleQty(leaf.qty, qty, leaf.sku) }))
  }

  /** The catalogue as plain data, products sorted by sku: `new Catalogue(c.toData())` is the same catalogue. */
  toData (): CatalogueData {
    return { products: this.#sorted.map(productData) }
  }
}

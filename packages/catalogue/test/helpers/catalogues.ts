/** Catalogue data for tests: small builders, random acyclic catalogues, and an independent explosion. */
import fc from 'fast-check'
import type { CatalogueData, ProductData, RecipeLine, SkuQty } from '../../src/index.ts'

/** A stocked product with defaults for whatever the test does not care about. */
export function stocked (sku: string, fields: Partial<ProductData> = {}): ProductData {
  return { sku, name: sku, priceCents: 100, taxRateBp: 2000, costCents: 10, stocked: true, ...fields }
}

/** A product made to order; costCents defaults to 0, so pass the rolled-up cost when the test builds a Catalogue. */
export function madeOf (sku: string, recipe: RecipeLine[], fields: Partial<ProductData> = {}): ProductData {
  return { sku, name: sku, priceCents: 500, taxRateBp: 1000, costCents: 0, stocked: false, recipe, ...fields }
}

/**
 * The explosion worked out the slow, obvious way: recurse through the raw data, multiply as
 * you go, no memo, no precomputed table. The auditor the Catalogue's answers are checked against.
 */
export function explodeByHand (data: CatalogueData, sku: string, qty: number): SkuQty[] {
  const bySku = new Map(data.products.map(p => [p.sku, p]))
  const totals = new Map<string, number>()
  const walk = (s: string, q: number): void => {
    const p = bySku.get(s)
    if (p === undefined) throw new Error(`no ${s}`)
    if (p.recipe === undefined) totals.set(s, (totals.get(s) ?? 0) + q)
    else for (const line of p.recipe) walk(line.sku, q * line.qty)
  }
  walk(sku, qty)
  return [...totals].filter(([, q]) => q !== 0).map(([s, q]) => ({ sku: s, qty: q })).sort((a, b) => a.sku < b.sku ? -1 : 1)
}

/** Rolled-up standard cost, the slow way (for building valid random catalogues). */
function costByHand (products: readonly ProductData[], sku: string): number {
  const p = products.find(x => x.sku === sku)
  if (p === undefined) throw new Error(`no ${sku}`)
  return p.recipe === undefined ? p.costCents : p.recipe.reduce((sum, l) => sum + l.qty * costByHand(products, l.sku), 0)
}

const rateBp = fc.constantFrom(0, 550, 1000, 2000, 2100, 10_000)

/**
 * Valid catalogues with 1..6 stocked products and 0..8 recipes. Recipe k may use any stocked
 * product and any recipe before it, so the bills of materials are acyclic and at most 8 deep
 * by construction, and nest, share components, and mix tax rates.
 * Sizes are kept so the worst case stays inside the limits: a recipe uses at most 6 units of
 * what it is made of, so one unit consumes at most 6^8 ≈ 1.7e6 of a leaf, costing < 1e9 cents.
 */
export const arbCatalogueData: fc.Arbitrary<CatalogueData> = fc.record({
  leaves: fc.array(fc.record({ priceCents: fc.integer({ min: 0, max: 100_000 }), taxRateBp: rateBp, costCents: fc.integer({ min: 0, max: 500 }) }), { minLength: 1, maxLength: 6 }),
  recipes: fc.array(fc.record({
    priceCents: fc.integer({ min: 0, max: 100_000 }),
    taxRateBp: rateBp,
    lines: fc.array(fc.record({ pick: fc.nat(), qty: fc.integer({ min: 1, max: 2 }) }), { minLength: 1, maxLength: 3 })
  }), { maxLength: 8 })
}).map(({ leaves, recipes }) => {
  const products: ProductData[] = leaves.map((l, i) => stocked(`leaf-${i}`, l))
  recipes.forEach((r, k) => {
    const lines = new Map<string, number>()
    for (const { pick, qty } of r.lines) {
      const sku = (products[pick % products.length] as ProductData).sku
      lines.set(sku, (lines.get(sku) ?? 0) + qty)
    }
    const recipe = [...lines].map(([sku, qty]) => ({ sku, qty }))
    const product = madeOf(`made-${k}`, recipe, { priceCents: r.priceCents, taxRateBp: r.taxRateBp })
    products.push({ ...product, costCents: recipe.reduce((sum, l) => sum + l.qty * costByHand(products, l.sku), 0) })
  })
  return { products }
})

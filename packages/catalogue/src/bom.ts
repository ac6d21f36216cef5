/**
 * Bills of materials: in what order to cost products, and what one unit of each consumes.
 *
 * Worked out once per catalogue, components before the products made of them, so that
 * exploding a sale is a table lookup and one multiply per stocked leaf, however deep the
 * recipes nest: a till explodes a whole day of sales without walking a recipe twice.
 */
import { COST_CENTS_MAX, STOCK_QTY_MAX } from './constants.ts'
import { BomCycleError, BomTooDeepError, invariant, LimitExceededError } from './errors.ts'
import type { Product } from './product.ts'
import { bySku, type SkuQty } from './stock.ts'

/** What one unit of a product is made of, all the way down. */
export interface Bom {
  /** Stocked skus one unit consumes, sorted by sku, each qty ≥ 1. A stocked product consumes itself × 1. */
  readonly unit: readonly SkuQty[]
  /** Recipe levels below the product: 0 when stocked. */
  readonly depth: number
  /** Standard cost of one unit: a stocked product's own, a recipe's components' rolled up exactly. */
  readonly costCents: number
}

export interface BomLimits {
  bomDepthMax: number
  explodedSkusMax: number
}

/**
 * Every sku, each after all of its components (a post-order depth-first walk).
 * Throws BomCycleError with the cycle's path if a recipe contains itself, however far down.
 * Iterative, so a long chain cannot overflow the call stack before the depth check sees it.
 * Components must exist (checked by the caller); skus are visited in sorted order, so the
 * result, and the cycle reported, do not depend on the order products were listed in.
 */
export function componentsFirst (products: ReadonlyMap<string, Product>): string[] {
  const done = new Set<string>()
  const open = new Set<string>()
  const order: string[] = []
  for (const root of [...products.keys()].sort()) {
    if (done.has(root)) continue
    const stack: Array<{ sku: string, next: number }> = [{ sku: root, next: 0 }]
    open.add(root)
    // Each sku is pushed once and each recipe line followed once: bounded by the catalogue's size.
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as { sku: string, next: number }
      const recipe = products.get(frame.sku)?.recipe ?? []
      const line = recipe[frame.next]
      if (line === undefined) {
        stack.pop()
        open.delete(frame.sku)
        done.add(frame.sku)
        order.push(frame.sku)
        continue
      }
      frame.next++
      if (done.has(line.sku)) continue
      if (open.has(line.sku)) {
        const from = stack.findIndex(f => f.sku === line.sku)
        throw new BomCycleError([...stack.slice(from).map(f => f.sku), line.sku])
      }
      invariant(products.has(line.sku), `component ${line.sku} was checked to exist`)
      open.add(line.sku)
      stack.push({ sku: line.sku, next: 0 })
    }
  }
  invariant(order.length === products.size, 'every product is ordered exactly once')
  return order
}

/** The Bom of every product. Throws on a cycle, on recipes nested too deep, or on quantities or costs beyond the limits. */
export function buildBoms (products: ReadonlyMap<string, Product>, limits: BomLimits): Map<string, Bom> {
  const boms = new Map<string, Bom>()
  /** The component through which each product reaches its depth: walked to report a too-deep chain. */
  const deepestComponent = new Map<string, string>()
  for (const sku of componentsFirst(products)) {
    const product = products.get(sku)
    invariant(product !== undefined, `${sku} is a product`)
    if (product.recipe === undefined) {
      boms.set(sku, Object.freeze({ unit: Object.freeze([Object.freeze({ sku, qty: 1 })]), depth: 0, costCents: product.costCents }))
      continue
    }
    // Depth first: a recipe nested too deep is reported as such, whatever else is wrong with it.
    let depth = 0
    for (const line of product.recipe) {
      const component = boms.get(line.sku)
      invariant(component !== undefined, `${line.sku} is costed before ${sku}`)
      if (component.depth + 1 > depth) {
        depth = component.depth + 1
        deepestComponent.set(sku, line.sku)
      }
    }
    if (depth > limits.bomDepthMax) throw new BomTooDeepError(chainOf(sku, deepestComponent), limits.bomDepthMax)
    const unit = new Map<string, number>()
    // Costs are summed in BigInt: 64 lines of qty 1e6 × cost 1e9 pass 2^53 before the limit check could see it.
    let costCents = 0n
    for (const line of product.recipe) {
      const component = boms.get(line.sku) as Bom
      for (const leaf of component.unit) {
        // Each term is at most STOCK_QTY_MAX × RECIPE_QTY_MAX (exact in a double), and the sum is checked at every step.
        const qty = (unit.get(leaf.sku) ?? 0) + leaf.qty * line.qty
        if (qty > STOCK_QTY_MAX) throw new LimitExceededError(`one ${sku} consumes more than ${STOCK_QTY_MAX} units of ${leaf.sku}`)
        unit.set(leaf.sku, qty)
      }
      costCents += BigInt(line.qty) * BigInt(component.costCents)
    }
    if (unit.size > limits.explodedSkusMax) throw new LimitExceededError(`one ${sku} consumes ${unit.size} distinct stocked skus, at most ${limits.explodedSkusMax}`)
    if (costCents > BigInt(COST_CENTS_MAX)) throw new LimitExceededError(`one ${sku} costs ${costCents} cents at standard cost, at most ${COST_CENTS_MAX}`)
    const lines = [...unit].map(([leaf, qty]) => Object.freeze({ sku: leaf, qty })).sort(bySku)
    boms.set(sku, Object.freeze({ unit: Object.freeze(lines), depth, costCents: Number(costCents) }))
  }
  return boms
}

/** The chain from `sku` down its deepest components to a stocked sku. */
function chainOf (sku: string, deepestComponent: ReadonlyMap<string, string>): string[] {
  const chain = [sku]
  // A cycle was ruled out, so the walk ends; the bound is a second guard.
  for (let next = deepestComponent.get(sku); next !== undefined && chain.length <= deepestComponent.size + 1; next = deepestComponent.get(next)) chain.push(next)
  return chain
}

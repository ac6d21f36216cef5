/**
 * Expected failures: bad catalogue data, or a bad sale or query from a client.
 * Every one is a CatalogueError, so a till's HTTP API can answer all of them with a 400
 * and the message. Bugs of our own are assertions instead (`invariant`).
 */

/** The base of every expected failure in this package. */
export class CatalogueError extends Error {
  override name = 'CatalogueError'
}

/** A sku that does not match SKU_RE, or is not a string. */
export class InvalidSkuError extends CatalogueError {
  override name = 'InvalidSkuError'
}

/** Two products with the same sku, or one component twice in a recipe. */
export class DuplicateSkuError extends CatalogueError {
  override name = 'DuplicateSkuError'
}

/** A well-formed sku that the catalogue does not have. */
export class UnknownSkuError extends CatalogueError {
  override name = 'UnknownSkuError'
  readonly sku: string

  constructor (sku: string, where: string) {
    super(`${where}: unknown sku ${quote(sku)}`)
    this.sku = sku
  }
}

/** A recipe that, followed down, contains its own product. */
export class BomCycleError extends CatalogueError {
  override name = 'BomCycleError'
  /** The skus around the cycle, first repeated last: `['a', 'b', 'a']`. */
  readonly cycle: readonly string[]

  constructor (cycle: readonly string[]) {
    super(`bill of materials has a cycle: ${cycle.join(' → ')}`)
    this.cycle = cycle
  }
}

/** A product whose recipes nest deeper than the depth limit. */
export class BomTooDeepError extends CatalogueError {
  override name = 'BomTooDeepError'
  /** The deepest chain of recipes, from the product down to a stocked sku. */
  readonly path: readonly string[]

  constructor (path: readonly string[], depthMax: number) {
    super(`bill of materials of ${quote(path[0] ?? '')} is ${path.length - 1} levels deep, at most ${depthMax}: ${path.join(' → ')}`)
    this.path = path
  }
}

/** A product field that breaks the rules: not an integer, negative, missing, inconsistent. */
export class InvalidProductError extends CatalogueError {
  override name = 'InvalidProductError'
}

/** A sale that is not a non-empty list of `{ sku, qty }` lines. */
export class InvalidSaleError extends CatalogueError {
  override name = 'InvalidSaleError'
}

/** A quantity that is not an integer, is 0 on a sale line, or is out of range. */
export class InvalidQuantityError extends CatalogueError {
  override name = 'InvalidQuantityError'
}

/** An amount of money or a tax rate that is not an integer in range. */
export class InvalidAmountError extends CatalogueError {
  override name = 'InvalidAmountError'
}

/** A sku that exists but is only consumed through recipes (an ingredient), not sold. */
export class NotSellableError extends CatalogueError {
  override name = 'NotSellableError'
  readonly sku: string

  constructor (sku: string, where: string) {
    super(`${where}: ${quote(sku)} is not sold on its own (it is an ingredient of recipes)`)
    this.sku = sku
  }
}

/** Within the rules, but beyond one of the limits in constants.ts. */
export class LimitExceededError extends CatalogueError {
  override name = 'LimitExceededError'
}

/** A programmer error: an invariant of our own is broken. Crash loudly. */
export function invariant (condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`invariant broken: ${message}`)
}

/** Untrusted text in an error message: quoted, and cut short so a huge input cannot bloat logs. */
export function quote (value: unknown): string {
  // Only strings, numbers and booleans are shown: anything else is named by its type (String() of an object can throw).
  const text = typeof value === 'string' ? value : (typeof value === 'number' || typeof value === 'boolean') ? String(value) : `<${value === null ? 'null' : typeof value}>`
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)
}

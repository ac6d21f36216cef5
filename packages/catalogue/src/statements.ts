/**
 * Catalogue statements: what HQ and stores say about products, one signed statement at a
 * time, each kept under a key derived from its own content (so two writers never overwrite
 * each other, and a clash is found by reading, not lost by merging). This file is the
 * statements as plain data and their checks; signing and the document are elsewhere
 * (crdt's catalogue document). `foldCatalogue` (fold.ts) turns a set of them into the
 * catalogue in force on a day and the clashes a person must look at.
 *
 * Who may say what (checked by whoever verifies the signature, before the fold):
 * - HQ: `product` (a product's own fields from a business day), `price`, `cost` (from a day),
 *   `withdraw` (from a day), `resolve` (a person's decision on a clash).
 * - A store's till: `invent` (a product made up at the store, sellable at once, offline),
 *   under a sku of the store's own: `<store>.<till>.<n>`.
 */
import { COST_CENTS_MAX, NAME_CHARS_MAX, PRICE_CENTS_MAX, RECIPE_LINES_MAX, RECIPE_QTY_MAX, SKU_RE, TAX_RATE_BP_MAX } from './constants.ts'
import { InvalidProductError } from './errors.ts'
import { isGtin } from './gtin.ts'
import { bool, fields, int, list, sku as skuOf, text } from './validate.ts'

/** A business day, YYYY-MM-DD. */
export type Day = string
const DAY_RE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/
/** A statement's id: the hex digest of its signed bytes (given by whoever read it). */
export type StatementId = string
const ID_RE = /^[0-9a-f]{16,64}$/
/** What an edit may name in `prev`: a statement, or one item's part of a `products` batch (`<id>.<item><d|p|c>`). */
const PREV_RE = /^[0-9a-f]{16,64}(\.[0-9]{1,4}[dpc])?$/
/** Product rows in one `products` statement (a signed envelope is at most 64 KiB). */
export const BATCH_ITEMS_MAX = 512
const STORE_RE = /^[A-Z][A-Z0-9]{0,15}$/
/** Statements an edit names as the ones it replaces (it saw them). */
export const PREV_MAX = 16

export type Author = { kind: 'hq' } | { kind: 'store', store: string }

interface Common {
  id: StatementId
  author: Author
  /** When it was said (the signer's clock): orders clashes for people, never the fold's result. */
  atMs: number
}

/** A product's own fields: everything but its price and cost. */
export interface ProductFields {
  sku: string
  name: string
  gtin?: string
  taxRateBp: number
  stocked: boolean
  sellable: boolean
  recipe?: ReadonlyArray<{ sku: string, qty: number }>
}

/** HQ: a product's own fields, in force from `from`. */
export interface ProductStatement extends Common, ProductFields {
  type: 'product'
  from: Day
  /** The statements of this sku's fields this one replaces, when it was made knowing them. */
  prev: readonly StatementId[]
}

/** HQ: the shelf price from `from`. */
export interface PriceStatement extends Common { type: 'price', sku: string, priceCents: number, from: Day, prev: readonly StatementId[] }
/** HQ: the standard cost from `from` (stocked products; a recipe's is rolled up). */
export interface CostStatement extends Common { type: 'cost', sku: string, costCents: number, from: Day, prev: readonly StatementId[] }
/** HQ: the product is no longer sold from `from`. */
export interface WithdrawStatement extends Common { type: 'withdraw', sku: string, from: Day }

/** A store's till: a product it made up, sellable at once. */
export interface InventStatement extends Common {
  type: 'invent'
  sku: string
  name: string
  gtin?: string
  priceCents: number
  taxRateBp: number
  costCents: number
  from: Day
}

/**
 * HQ: many products at once (an import), from `from`: per item, what a `product`, a `price`
 * and a `cost` statement would say. One signature for hundreds of rows: a 50,000-product
 * catalogue is ~100 statements, not 150,000. The fold reads each item's parts as statements
 * of their own, with ids `<id>.<item>d` (its fields), `.p` (price), `.c` (cost).
 */
export interface ProductsStatement extends Common {
  type: 'products'
  from: Day
  items: ReadonlyArray<ProductFields & { priceCents?: number, costCents?: number, prev: readonly StatementId[] }>
}

export type Decision = 'same' | 'distinct' | 'withdraw'

/** HQ: a person's decision on a clash, from `from`. */
export interface ResolveStatement extends Common {
  type: 'resolve'
  conflict: string
  decision: Decision
  /** `same`: the sku the others become aliases of; `distinct` on a GTIN clash: the one that keeps the GTIN. */
  canonical?: string
  from: Day
}

export type Statement = ProductStatement | PriceStatement | CostStatement | WithdrawStatement | InventStatement | ResolveStatement | ProductsStatement

const TYPES: Record<Statement['type'], { hq: boolean, required: string[], optional: string[] }> = {
  product: { hq: true, required: ['sku', 'name', 'taxRateBp', 'stocked', 'sellable', 'from', 'prev'], optional: ['gtin', 'recipe'] },
  price: { hq: true, required: ['sku', 'priceCents', 'from', 'prev'], optional: [] },
  cost: { hq: true, required: ['sku', 'costCents', 'from', 'prev'], optional: [] },
  withdraw: { hq: true, required: ['sku', 'from'], optional: [] },
  invent: { hq: false, required: ['sku', 'name', 'priceCents', 'taxRateBp', 'costCents', 'from'], optional: ['gtin'] },
  resolve: { hq: true, required: ['conflict', 'decision', 'from'], optional: ['canonical'] },
  products: { hq: true, required: ['items', 'from'], optional: [] }
}

/** The sku prefix a store's inventions must carry. */
export function storeSkuPrefix (store: string): string {
  return `${store}.`
}

/**
 * A statement's content (without id, author, atMs) checked field by field: what a writer
 * signs and what a reader accepts. Throws InvalidProductError naming the field.
 */
export function checkStatement (value: unknown, author: Author, path = 'statement'): Omit<Statement, 'id' | 'author' | 'atMs'> {
  const typeName = (value as { type?: unknown } | null)?.type
  const spec = typeof typeName === 'string' && Object.hasOwn(TYPES, typeName) ? TYPES[typeName as Statement['type']] : undefined
  if (spec === undefined) throw new InvalidProductError(`${path}.type must be one of ${Object.keys(TYPES).join(', ')}`)
  if (spec.hq !== (author.kind === 'hq')) throw new InvalidProductError(`${path}: a ${String(typeName)} statement is ${spec.hq ? 'HQ\'s' : 'a store\'s'} to make, not ${author.kind === 'hq' ? 'HQ\'s' : `store ${author.store}'s`}`)
  const o = fields(value, path, ['type', ...spec.required], spec.optional)
  const from = day(o.from, `${path}.from`)
  const out: Record<string, unknown> = { type: typeName, from }
  if ('sku' in o) out.sku = skuOf(o.sku, `${path}.sku`)
  if ('name' in o) out.name = text(o.name, `${path}.name`, NAME_CHARS_MAX)
  if (o.gtin !== undefined) {
    if (typeof o.gtin !== 'string' || !isGtin(o.gtin)) throw new InvalidProductError(`${path}.gtin must be a GTIN-8, -12, -13 or -14 with a right check digit`)
    out.gtin = o.gtin
  }
  if ('taxRateBp' in o) out.taxRateBp = int(o.taxRateBp, `${path}.taxRateBp`, 0, TAX_RATE_BP_MAX)
  if ('priceCents' in o) out.priceCents = int(o.priceCents, `${path}.priceCents`, 0, PRICE_CENTS_MAX)
  if ('costCents' in o) out.costCents = int(o.costCents, `${path}.costCents`, 0, COST_CENTS_MAX)
  if ('stocked' in o) out.stocked = bool(o.stocked, `${path}.stocked`)
  if ('sellable' in o) out.sellable = bool(o.sellable, `${path}.sellable`)
  if ('prev' in o) out.prev = ids(o.prev, `${path}.prev`)
  if (o.recipe !== undefined) {
    out.recipe = list(o.recipe, `${path}.recipe`, RECIPE_LINES_MAX).map((l, i) => {
      const x = fields(l, `${path}.recipe[${i}]`, ['sku', 'qty'])
      return { sku: skuOf(x.sku, `${path}.recipe[${i}].sku`), qty: int(x.qty, `${path}.recipe[${i}].qty`, 1, RECIPE_QTY_MAX) }
    })
  }
  if (typeName === 'product' && (out.stocked === true) === (out.recipe !== undefined)) throw new InvalidProductError(`${path}: a stocked product has no recipe, and a product made to order has one`)
  if (typeName === 'invent' && author.kind === 'store' && !(out.sku as string).startsWith(storeSkuPrefix(author.store))) {
    throw new InvalidProductError(`${path}.sku: store ${author.store} invents skus of its own (${storeSkuPrefix(author.store)}…), not ${out.sku as string}`)
  }
  if (typeName === 'products') {
    const skus = new Set<string>()
    out.items = list(o.items, `${path}.items`, BATCH_ITEMS_MAX).map((item, i) => {
      const at = `${path}.items[${i}]`
      const x = fields(item, at, ['sku', 'name', 'taxRateBp', 'stocked', 'sellable', 'prev'], ['gtin', 'recipe', 'priceCents', 'costCents'])
      const { priceCents, costCents, ...own } = x
      // An item's own fields are those of a product statement, checked the same way.
      const p = checkStatement({ ...own, type: 'product', from }, author, at) as unknown as Record<string, unknown>
      delete p.type
      delete p.from
      if (skus.has(p.sku as string)) throw new InvalidProductError(`${at}.sku: ${p.sku as string} is already in this statement`)
      skus.add(p.sku as string)
      return {
        ...p,
        ...(priceCents !== undefined ? { priceCents: int(priceCents, `${at}.priceCents`, 0, PRICE_CENTS_MAX) } : {}),
        ...(costCents !== undefined ? { costCents: int(costCents, `${at}.costCents`, 0, COST_CENTS_MAX) } : {})
      }
    })
  }
  if (typeName === 'resolve') {
    if (typeof o.conflict !== 'string' || !ID_RE.test(o.conflict)) throw new InvalidProductError(`${path}.conflict must be a conflict id`)
    out.conflict = o.conflict
    if (o.decision !== 'same' && o.decision !== 'distinct' && o.decision !== 'withdraw') throw new InvalidProductError(`${path}.decision must be same, distinct or withdraw`)
    out.decision = o.decision
    if (o.canonical !== undefined) out.canonical = skuOf(o.canonical, `${path}.canonical`)
    if (o.decision === 'same' && o.canonical === undefined) throw new InvalidProductError(`${path}.canonical: "same" names the product the others become`)
  }
  return out as unknown as Omit<Statement, 'id' | 'author' | 'atMs'>
}

/** A whole statement as read back (id, author and time included), checked. */
export function statementOf (value: { id: unknown, author: unknown, atMs: unknown, content: unknown }, path = 'statement'): Statement {
  if (typeof value.id !== 'string' || !ID_RE.test(value.id)) throw new InvalidProductError(`${path}.id must be a statement id`)
  const author = authorOf(value.author, `${path}.author`)
  const atMs = int(value.atMs, `${path}.atMs`, 0, Number.MAX_SAFE_INTEGER)
  return { ...checkStatement(value.content, author, path), id: value.id, author, atMs } as Statement
}

function authorOf (v: unknown, path: string): Author {
  const o = fields(v, path, ['kind'], ['store'])
  if (o.kind === 'hq' && o.store === undefined) return { kind: 'hq' }
  if (o.kind === 'store' && typeof o.store === 'string' && STORE_RE.test(o.store)) return { kind: 'store', store: o.store }
  throw new InvalidProductError(`${path} must be HQ or a store`)
}

function day (v: unknown, path: string): Day {
  if (typeof v !== 'string' || !DAY_RE.test(v)) throw new InvalidProductError(`${path} must be a business day, YYYY-MM-DD`)
  return v
}

function ids (v: unknown, path: string): StatementId[] {
  return list(v, path, PREV_MAX).map((x, i) => {
    if (typeof x !== 'string' || !PREV_RE.test(x)) throw new InvalidProductError(`${path}[${i}] must be a statement id`)
    return x
  })
}

export { SKU_RE }

/**
 * The catalogue in force on a business day, and the clashes a person must look at: a pure,
 * deterministic fold over a set of verified statements (statements.ts). Any order, any
 * duplicates, the same result on every replica, so every till and HQ agree without asking.
 *
 * What is in force for a sku on day D, per field group (its own fields; its price; its cost):
 * the statements with `from` <= D, the latest `from` wins, and an edit that names another in
 * `prev` replaces it. Two left at once are a clash (`concurrent-edit` between HQ's edits,
 * `sku-collision` when a store's invention is involved), shown to people; until resolved the
 * one with the smallest id is in force, the same everywhere. A withdrawal takes a product off
 * from its day, unless a later statement of its fields puts it back.
 *
 * Clashes, found by reading (nothing is ever lost by merging):
 * - `gtin-duplicate`: two live products under one GTIN. Blocking: the GTIN scans as neither.
 * - `sku-collision`: two definitions of one sku by different authors (two tills of a store
 *   that made up the same sku, or a store's sku that HQ also defines).
 * - `possible-duplicate`: the same name, normalised (advisory).
 * - `concurrent-edit`: two HQ edits of one field group neither saw.
 * A clash's id is a digest of its kind and what it involves, so a new product joining a clash
 * (a third store using the GTIN) is a new clash, open again.
 *
 * Resolutions (HQ's `resolve`, in force from their day): `same` makes the other products
 * aliases of `canonical` (sold and counted as it from then on; sales already made stay as
 * they are); `distinct` dismisses the clash (on a GTIN clash, only `canonical` keeps the
 * GTIN); `withdraw` withdraws every product in it but `canonical`.
 */
import { createHash } from 'node:crypto'
import { componentsFirst } from './bom.ts'
import { COST_CENTS_MAX } from './constants.ts'
import type { CatalogueData, Product, ProductData } from './product.ts'
import type { Author, CostStatement, ProductFields, Day, InventStatement, PriceStatement, ProductsStatement, ProductStatement, ResolveStatement, Statement, StatementId } from './statements.ts'

export type ConflictKind = 'gtin-duplicate' | 'sku-collision' | 'possible-duplicate' | 'concurrent-edit'

export interface FoldedProduct extends ProductFields {
  priceCents: number
  costCents: number
  /** Made up at a store and not (yet) taken over by HQ. */
  provisional?: true
  /** The store that made it up. */
  store?: string
  withdrawn?: true
  /** Sold and counted as this sku (a `same` resolution). */
  aliasOf?: string
}

export interface Conflict {
  id: string
  kind: ConflictKind
  products: Array<{ sku: string, store: string | null, name: string, gtin: string | null }>
  /** The newest of the statements that make it (ms since the epoch, the signers' clocks). */
  openedAt: number
  /** The statements involved, by id. */
  statements: StatementId[]
}

export interface FoldedCatalogue {
  day: Day
  /** Every product defined by D, by sku (withdrawn and aliased ones included, marked). */
  products: Map<string, FoldedProduct>
  /** sku → the sku it is sold and counted as. */
  aliases: Map<string, string>
  /** Open clashes, by kind then id. */
  conflicts: Conflict[]
  /** GTIN → the one live product that scans as it (GTINs in an open gtin-duplicate are not here). */
  gtins: Map<string, string>
}

interface Candidate { id: StatementId, from: Day, prev: readonly StatementId[], atMs: number, author: Author, statement: Statement }

/** The statements in force among `list`: latest `from`, less those replaced by another's `prev`; more than one is a clash. */
function inForce (list: Candidate[], day: Day): Candidate[] {
  const due = list.filter(c => c.from <= day)
  if (due.length === 0) return []
  const latest = due.reduce((m, c) => c.from > m ? c.from : m, '')
  const replaced = new Set(due.flatMap(c => c.prev))
  const left = due.filter(c => c.from === latest && !replaced.has(c.id))
  return left.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

function digest (...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32)
}

/** A product name as compared for `possible-duplicate`: case, accents, spacing and punctuation ignored. */
export function normalisedName (name: string): string {
  return name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '')
}

function storeOf (a: Author): string | null {
  return a.kind === 'store' ? a.store : null
}

/** What resolutions have decided so far: kept from their day on. */
interface Effects {
  aliases: Map<string, string>
  dismissed: Set<string>
  /** GTIN → the one sku that keeps it (`distinct` on a GTIN clash). */
  gtinKept: Map<string, string>
  withdrawn: Set<string>
}

/** The statements, deduplicated and grouped for `inForce`. */
interface Indexed {
  groups: Map<string, Candidate[]>
  skus: string[]
  resolutions: ResolveStatement[]
}

/**
 * A `products` statement read as the statements of its items' parts: a product, a price, a
 * cost each, ids `<id>.<item>d|p|c`, the batch's author, time and day, the item's `prev`.
 */
export function partsOf (s: ProductsStatement): Array<ProductStatement | PriceStatement | CostStatement> {
  const out: Array<ProductStatement | PriceStatement | CostStatement> = []
  s.items.forEach((item, i) => {
    const common = { author: s.author, atMs: s.atMs, from: s.from, prev: item.prev, sku: item.sku }
    const { priceCents, costCents, prev: _prev, ...fields } = item
    out.push({ ...fields, ...common, id: `${s.id}.${i}d`, type: 'product' })
    if (priceCents !== undefined) out.push({ ...common, id: `${s.id}.${i}p`, type: 'price', priceCents })
    if (costCents !== undefined) out.push({ ...common, id: `${s.id}.${i}c`, type: 'cost', costCents })
  })
  return out
}

/** Every statement, `products` batches read as their parts (what an edit may name in `prev`). */
export function expandStatements (statements: Iterable<Statement>): Statement[] {
  const out: Statement[] = []
  for (const s of statements) {
    if (s.type === 'products') out.push(...partsOf(s))
    else out.push(s)
  }
  return out
}

function indexed (statements: Iterable<Statement>): Indexed {
  const byId = new Map<StatementId, Statement>()
  for (const s of statements) byId.set(s.id, s)
  const groups = new Map<string, Candidate[]>()
  const add = (key: string, s: Statement, from: Day, prev: readonly StatementId[]): void => {
    const list = groups.get(key) ?? []
    list.push({ id: s.id, from, prev, atMs: s.atMs, author: s.author, statement: s })
    groups.set(key, list)
  }
  const resolutions: ResolveStatement[] = []
  const skus = new Set<string>()
  for (const s of [...byId.values()].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) {
    switch (s.type) {
      case 'product': add(`def:${s.sku}`, s, s.from, s.prev); skus.add(s.sku); break
      case 'invent': add(`def:${s.sku}`, s, s.from, []); skus.add(s.sku); break
      case 'price': add(`price:${s.sku}`, s, s.from, s.prev); break
      case 'cost': add(`cost:${s.sku}`, s, s.from, s.prev); break
      case 'withdraw': add(`withdraw:${s.sku}`, s, s.from, []); break
      case 'resolve': resolutions.push(s); break
      case 'products':
        for (const part of partsOf(s)) {
          if (part.type === 'product') { add(`def:${part.sku}`, part, part.from, part.prev); skus.add(part.sku) } else add(`${part.type}:${part.sku}`, part, part.from, part.prev)
        }
        break
    }
  }
  resolutions.sort((a, b) => a.from < b.from ? -1 : a.from > b.from ? 1 : a.id < b.id ? -1 : 1)
  return { groups, skus: [...skus].sort(), resolutions }
}

/**
 * Fold `statements` (verified; any order, any duplicates) into the catalogue in force on `day`.
 * A resolution decides the clash it names as the catalogue stood on its own day (what the
 * person saw), and what it decided holds from then on; one naming a clash that was not open
 * on its day changes nothing.
 */
export function foldCatalogue (statements: Iterable<Statement>, day: Day): FoldedCatalogue {
  const ix = indexed(statements)
  const effects: Effects = { aliases: new Map(), dismissed: new Set(), gtinKept: new Map(), withdrawn: new Set() }
  const due = ix.resolutions.filter(r => r.from <= day)
  for (let i = 0; i < due.length;) {
    const on = (due[i] as ResolveStatement).from
    const open = new Map(stateOn(ix, on, effects).conflicts.map(c => [c.id, c]))
    for (; i < due.length && (due[i] as ResolveStatement).from === on; i++) decide(due[i] as ResolveStatement, open, effects)
  }
  return stateOn(ix, day, effects)
}

/** What a resolution decides about the clash it names, if that clash is open. */
function decide (r: ResolveStatement, open: Map<string, Conflict>, effects: Effects): void {
  const c = open.get(r.conflict)
  if (c === undefined) return
  const involved = c.products.map(p => p.sku)
  if (r.canonical !== undefined && !involved.includes(r.canonical)) return
  if (r.decision === 'same' && r.canonical !== undefined) {
    for (const sku of involved) if (sku !== r.canonical) effects.aliases.set(sku, r.canonical)
  } else if (r.decision === 'distinct') {
    effects.dismissed.add(c.id)
    if (c.kind === 'gtin-duplicate' && r.canonical !== undefined) effects.gtinKept.set(c.products[0]?.gtin ?? '', r.canonical)
  } else if (r.decision === 'withdraw') {
    for (const sku of involved) if (sku !== r.canonical) effects.withdrawn.add(sku)
  }
}

/** The definitions of `sku` in force on `day`, the one that counts first: HQ's, then the smallest id (the same everywhere while a clash is open). */
function definitionsOn (ix: Indexed, sku: string, day: Day): Candidate[] {
  const defs = inForce(ix.groups.get(`def:${sku}`) ?? [], day)
  return defs.sort((a, b) => (a.author.kind === 'hq' ? 0 : 1) - (b.author.kind === 'hq' ? 0 : 1) || (a.id < b.id ? -1 : 1))
}

/** The cost of `sku` on `day` given its definition in force (as `foldCatalogue` gives it). */
function costOn (ix: Indexed, def: Candidate, sku: string, day: Day): number {
  const d = def.statement as ProductStatement | InventStatement
  const e = inForce((ix.groups.get(`cost:${sku}`) ?? []).filter(c => c.from >= def.from || d.type === 'product'), day)[0]
  if (e !== undefined) return (e.statement as CostStatement).costCents
  return d.type === 'invent' ? d.costCents : 0
}

/** Lookups `costsOf` remembers before it starts again (a rebuild asks for a few skus on many days). */
const COST_MEMO_MAX = 100_000

/**
 * The standard cost of a sku on a business day, as `foldCatalogue(statements, day)` would give
 * it, without folding the whole catalogue for each day: what HQ's books cost each Close and
 * StockIn with. `undefined` for a sku not defined on that day (a store's invention whose
 * statement has not arrived yet: the record waits for it rather than be costed at a guess).
 */
export function costsOf (statements: Iterable<Statement>): (sku: string, day: Day) => number | undefined {
  const ix = indexed(statements)
  // By day, then sku: no key string built per lookup (a rebuild asks ~20 times per record).
  // `null` is a sku not defined that day, remembered too.
  let memo = new Map<string, Map<string, number | null>>()
  let size = 0
  return (sku, day) => {
    let onDay = memo.get(day)
    const known = onDay?.get(sku)
    if (known !== undefined) return known ?? undefined
    const def = definitionsOn(ix, sku, day)[0]
    const cost = def === undefined ? undefined : costOn(ix, def, sku, day)
    if (size >= COST_MEMO_MAX) {
      memo = new Map()
      onDay = undefined
      size = 0
    }
    if (onDay === undefined) {
      onDay = new Map()
      memo.set(day, onDay)
    }
    onDay.set(sku, cost ?? null)
    size++
    return cost
  }
}

/** The day before any business day: what a base catalogue is in force from. */
const BASE_DAY = '0001-01-01'
const baseId = (n: number): StatementId => n.toString(16).padStart(64, '0')

/**
 * `statements` over a base catalogue (the built-in demo one): the base is in force until HQ
 * first says what its own products are, and from that day on only the products HQ names
 * again are (the rest are withdrawn then). So the days sold on the base keep its prices and
 * costs after the retailer's own catalogue comes in, and every replica, given the same
 * statements, reads the same catalogue. The base's statements are made here, never signed
 * or stored: their ids are all zeros but the last digits, below any real statement's.
 */
export function withBase (statements: Iterable<Statement>, base: CatalogueData): Statement[] {
  const all = [...statements]
  let firstHqDay: Day | undefined
  const named = new Set<string>()
  for (const s of all) {
    if (s.author.kind !== 'hq' || (s.type !== 'product' && s.type !== 'products')) continue
    if (firstHqDay === undefined || s.from < firstHqDay) firstHqDay = s.from
    if (s.type === 'product') named.add(s.sku)
    else for (const item of s.items) named.add(item.sku)
  }
  const hq = { kind: 'hq' as const }
  const items = base.products.map(p => ({
    sku: p.sku, name: p.name, taxRateBp: p.taxRateBp, stocked: p.stocked, sellable: p.sellable !== false,
    ...(p.recipe !== undefined ? { recipe: p.recipe.map(l => ({ sku: l.sku, qty: l.qty })) } : {}),
    priceCents: p.priceCents, costCents: p.costCents, prev: []
  }))
  const out: Statement[] = [{ id: baseId(0), author: hq, atMs: 0, type: 'products', from: BASE_DAY, items }]
  if (firstHqDay !== undefined) {
    let n = 1
    for (const p of base.products) if (!named.has(p.sku)) out.push({ id: baseId(n++), author: hq, atMs: 0, type: 'withdraw', sku: p.sku, from: firstHqDay })
  }
  return [...out, ...all]
}

/** The catalogue on `day`, with what resolutions have decided so far, and its open clashes. */
function stateOn (ix: Indexed, day: Day, effects: Effects): FoldedCatalogue {
  const raw: Conflict[] = []
  const products = new Map<string, FoldedProduct>()
  const defined = new Map<string, Candidate>()
  for (const sku of ix.skus) {
    const defs = definitionsOn(ix, sku, day)
    const def = defs[0]
    if (def === undefined) continue
    if (defs.length > 1) {
      const kind: ConflictKind = defs.every(d => d.statement.type === 'product') ? 'concurrent-edit' : 'sku-collision'
      raw.push(conflictOf(kind, defs.map(d => d.statement as ProductStatement | InventStatement), defs.map(d => d.id), [...defs.map(d => d.id)]))
    }
    const d = def.statement as ProductStatement | InventStatement
    const p: FoldedProduct = d.type === 'invent'
      ? { sku, name: d.name, ...(d.gtin !== undefined ? { gtin: d.gtin } : {}), priceCents: d.priceCents, taxRateBp: d.taxRateBp, costCents: d.costCents, stocked: true, sellable: true, provisional: true, store: storeOf(d.author) ?? '' }
      : { sku, name: d.name, ...(d.gtin !== undefined ? { gtin: d.gtin } : {}), priceCents: 0, taxRateBp: d.taxRateBp, costCents: 0, stocked: d.stocked, sellable: d.sellable, ...(d.recipe !== undefined ? { recipe: d.recipe } : {}) }
    for (const field of ['price', 'cost'] as const) {
      const edits = inForce((ix.groups.get(`${field}:${sku}`) ?? []).filter(c => c.from >= def.from || d.type === 'product'), day)
      const e = edits[0]
      if (e === undefined) continue
      if (edits.length > 1) raw.push(conflictOf('concurrent-edit', [d], edits.map(x => x.id), [field, ...edits.map(x => x.id)], Math.max(...edits.map(x => x.atMs))))
      if (field === 'price') p.priceCents = (e.statement as { priceCents: number }).priceCents
    }
    // One rule for the cost, here and in the books' `costsOf`.
    p.costCents = costOn(ix, def, sku, day)
    // An HQ product with no price in force yet is not for sale.
    if (d.type === 'product' && (ix.groups.get(`price:${sku}`) ?? []).every(c => c.from > day)) p.sellable = false
    const withdrawal = inForce(ix.groups.get(`withdraw:${sku}`) ?? [], day)[0]
    if ((withdrawal !== undefined && withdrawal.from >= def.from) || effects.withdrawn.has(sku)) p.withdrawn = true
    products.set(sku, p)
    defined.set(sku, def)
  }
  // An alias of an alias is an alias of the last one (a chain, never a loop: each `same` points into its clash).
  const aliases = new Map<string, string>()
  for (const [sku] of effects.aliases) {
    let to = effects.aliases.get(sku) as string
    for (let hops = 0; effects.aliases.has(to) && hops < effects.aliases.size; hops++) to = effects.aliases.get(to) as string
    if (!products.has(sku)) continue
    aliases.set(sku, to)
    ;(products.get(sku) as FoldedProduct).aliasOf = to
  }
  for (const [gtin, keeper] of effects.gtinKept) {
    for (const p of products.values()) if (p.gtin === gtin && p.sku !== keeper) delete p.gtin
  }
  const conflicts = clashesAmong(products, defined, raw).filter(c => !effects.dismissed.has(c.id))
  const blocked = new Set(conflicts.filter(c => c.kind === 'gtin-duplicate').map(c => c.products[0]?.gtin ?? ''))
  const gtins = new Map<string, string>()
  for (const p of products.values()) if (live(p) && p.gtin !== undefined && !blocked.has(p.gtin)) gtins.set(p.gtin, p.sku)
  return { day, products, aliases, conflicts, gtins }
}

function live (p: FoldedProduct): boolean {
  return p.withdrawn !== true && p.aliasOf === undefined
}

/** Every clash: those of the definitions (raw), then GTIN and name clashes among live products. */
function clashesAmong (products: Map<string, FoldedProduct>, defined: Map<string, Candidate>, raw: Conflict[]): Conflict[] {
  const out = [...raw]
  for (const [kind, keyOf] of [['gtin-duplicate', (p: FoldedProduct) => p.gtin], ['possible-duplicate', (p: FoldedProduct) => normalisedName(p.name) || undefined]] as const) {
    const groups = new Map<string, FoldedProduct[]>()
    for (const p of products.values()) {
      const key = live(p) ? keyOf(p) : undefined
      if (key === undefined) continue
      groups.set(key, [...(groups.get(key) ?? []), p])
    }
    for (const [key, ps] of [...groups].sort((a, b) => a[0] < b[0] ? -1 : 1)) {
      if (ps.length < 2) continue
      // A GTIN clash is also a name clash most of the time: list it once, as the blocking one.
      if (kind === 'possible-duplicate' && out.some(c => c.kind === 'gtin-duplicate' && ps.every(p => c.products.some(x => x.sku === p.sku)))) continue
      const defs = ps.map(p => defined.get(p.sku) as Candidate)
      out.push({
        id: digest(kind, key, ...ps.map(p => p.sku).sort()),
        kind,
        products: ps.map(p => ({ sku: p.sku, store: p.store ?? null, name: p.name, gtin: p.gtin ?? null })).sort((a, b) => a.sku < b.sku ? -1 : 1),
        openedAt: Math.max(...defs.map(d => d.atMs)),
        statements: defs.map(d => d.id).sort()
      })
    }
  }
  const order: ConflictKind[] = ['gtin-duplicate', 'sku-collision', 'concurrent-edit', 'possible-duplicate']
  return out.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || (a.id < b.id ? -1 : 1))
}

function conflictOf (kind: ConflictKind, defs: Array<ProductStatement | InventStatement>, ids: StatementId[], key: string[], openedAt?: number): Conflict {
  return {
    id: digest(kind, ...key),
    kind,
    products: defs.map(d => ({ sku: d.sku, store: storeOf(d.author), name: d.name, gtin: d.gtin ?? null })).sort((a, b) => a.sku < b.sku || (a.sku === b.sku && (a.store ?? '') < (b.store ?? '')) ? -1 : 1),
    openedAt: openedAt ?? Math.max(...defs.map(d => d.atMs)),
    statements: [...ids].sort()
  }
}

/**
 * What a till sells on the fold's day: the live products as catalogue data (each recipe's cost
 * rolled up from its components', as the Catalogue requires). A product whose recipe names a
 * product that is not live is left out with it.
 */
export function catalogueDataFor (folded: FoldedCatalogue): CatalogueData {
  const liveProducts = new Map<string, Product>()
  for (const p of folded.products.values()) {
    if (!live(p)) continue
    liveProducts.set(p.sku, { sku: p.sku, name: p.name, priceCents: p.priceCents, taxRateBp: p.taxRateBp, costCents: p.costCents, stocked: p.stocked, sellable: p.sellable, ...(p.recipe !== undefined ? { recipe: p.recipe } : {}) })
  }
  // Drop, until none is left, any product made of something not live.
  for (let changed = true; changed;) {
    changed = false
    for (const [sku, p] of liveProducts) {
      if (p.recipe?.some(l => !liveProducts.has(l.sku)) === true) { liveProducts.delete(sku); changed = true }
    }
  }
  const cost = new Map<string, number>()
  const out: ProductData[] = []
  for (const sku of componentsFirst(liveProducts)) {
    const p = liveProducts.get(sku) as Product
    let cents = p.costCents
    if (p.recipe !== undefined) {
      cents = 0
      for (const l of p.recipe) cents += (cost.get(l.sku) as number) * l.qty
      if (cents > COST_CENTS_MAX) continue
    }
    cost.set(sku, cents)
    out.push({ sku, name: p.name, priceCents: p.priceCents, taxRateBp: p.taxRateBp, costCents: cents, stocked: p.stocked, ...(p.sellable ? {} : { sellable: false }), ...(p.recipe !== undefined ? { recipe: p.recipe.map(l => ({ ...l })) } : {}) })
  }
  return { products: out.sort((a, b) => a.sku < b.sku ? -1 : 1) }
}

/**
 * HQ's side of the catalogue: its replica of the catalogue document (crdt's CatalogueDoc),
 * kept in HQ's LevelDB, and what an operator does with it: import the retailer's CSV, export
 * it, read the products and the clashes, resolve a clash. Every change is a statement HQ
 * signs with its root key; nothing is ever overwritten.
 *
 * An import turns the rows that change anything into `products` statements (hundreds of rows
 * each, one signature) that make the catalogue say what each row says from the effective day:
 * the product's own fields, its price, its cost; a row that already says so adds nothing
 * (`unchanged`), so importing the same file twice changes nothing.
 * The file is taken whole or not at all: any error refuses it, and nothing is written.
 *
 * On disk: `g!doc`, the document's `save()`, written (fsync'd) after each import or resolution.
 * While nothing has been imported, the catalogue is the built-in demo one (`demoCatalogueData`).
 */
import { CatalogueDoc } from '@tillbooks/crdt'
import {
  BATCH_ITEMS_MAX, CatalogueError, demoCatalogueData, expandStatements, PREV_MAX, foldCatalogue, parseCatalogueCsv, toCatalogueCsv,
  type Conflict, type CsvError, type Day, type FoldedCatalogue, type ProductData, type Statement
} from '@tillbooks/catalogue'
import { OversizedError, signStatement, statementIdOf, type Canonical, type Signer } from '@tillbooks/protocol'
import type { KvStore } from '../storage/KvStore.ts'

export const CATALOGUE_DOC_KEY = 'g!doc'

export interface ImportResult { imported: number, unchanged: number, errors: CsvError[] }

/** A resolution naming a clash that is not open, or a canonical product not in it. */
export class ResolutionError extends Error {
  override name = 'ResolutionError'
}

export interface CatalogueView {
  products: Array<{ sku: string, name: string, gtin?: string, priceCents: number, taxRateBp: number, provisional?: true, withdrawn?: true, aliasOf?: string, store?: string }>
  aliases: Record<string, string>
  heads: string[]
}

export class HqCatalogue {
  readonly #store: KvStore
  readonly #root: Signer
  #doc: CatalogueDoc | null = null
  /** One import or resolution at a time: each reads the fold, then writes on it. */
  #tail: Promise<unknown> = Promise.resolve()

  constructor (c: { store: KvStore, root: Signer }) {
    this.#store = c.store
    this.#root = c.root
  }

  /** Load the document from HQ's store (the store is open). */
  async load (): Promise<void> {
    const bytes = await this.#store.get(CATALOGUE_DOC_KEY)
    this.#doc?.free()
    this.#doc = bytes === undefined ? CatalogueDoc.create(this.#root.publicKey) : CatalogueDoc.load(bytes, this.#root.publicKey)
  }

  close (): void {
    this.#doc?.free()
    this.#doc = null
  }

  get doc (): CatalogueDoc {
    if (this.#doc === null) throw new Error('HqCatalogue is not loaded')
    return this.#doc
  }

  /** Whether the retailer's own catalogue is in (else the demo one is in force). */
  get imported (): boolean {
    return this.doc.size > 0
  }

  fold (day: Day): FoldedCatalogue {
    return foldCatalogue(this.doc.statements(), day)
  }

  /** The products in force on `day` (withdrawn and aliased ones too, marked), and the document's heads. */
  view (day: Day): CatalogueView {
    if (!this.imported) {
      return { products: demoCatalogueData().products.map(p => ({ sku: p.sku, name: p.name, priceCents: p.priceCents, taxRateBp: p.taxRateBp })), aliases: {}, heads: this.doc.getHeads() }
    }
    const f = this.fold(day)
    const products = [...f.products.values()].sort((a, b) => a.sku < b.sku ? -1 : 1).map(p => ({
      sku: p.sku,
      name: p.name,
      ...(p.gtin !== undefined ? { gtin: p.gtin } : {}),
      priceCents: p.priceCents,
      taxRateBp: p.taxRateBp,
      ...(p.provisional === true ? { provisional: true as const } : {}),
      ...(p.withdrawn === true ? { withdrawn: true as const } : {}),
      ...(p.aliasOf !== undefined ? { aliasOf: p.aliasOf } : {}),
      ...(p.store !== undefined ? { store: p.store } : {})
    }))
    return { products, aliases: Object.fromEntries([...f.aliases].sort()), heads: this.doc.getHeads() }
  }

  conflicts (day: Day): Conflict[] {
    return this.imported ? this.fold(day).conflicts : []
  }

  /** The catalogue in force on `day` as the retailer's CSV (the demo one until something is imported). */
  exportCsv (day: Day): string {
    if (!this.imported) return toCatalogueCsv(demoCatalogueData().products)
    const f = this.fold(day)
    const products: Array<ProductData & { gtin?: string }> = []
    for (const p of f.products.values()) {
      if (p.withdrawn === true || p.aliasOf !== undefined) continue
      products.push({ sku: p.sku, name: p.name, ...(p.gtin !== undefined ? { gtin: p.gtin } : {}), priceCents: p.priceCents, taxRateBp: p.taxRateBp, costCents: p.costCents, stocked: p.stocked, ...(p.sellable ? {} : { sellable: false }), ...(p.recipe !== undefined ? { recipe: p.recipe.map(l => ({ ...l })) } : {}) })
    }
    return toCatalogueCsv(products)
  }

  /** Import a CSV file from `effective` on: the statements it takes, signed and written in one fsync'd batch, or the file's errors. */
  async importCsv (text: string, effective: Day, nowMs: number): Promise<ImportResult> {
    return await this.#oneAtATime(async () => {
      const parsed = parseCatalogueCsv(text)
      if (parsed.errors.length > 0) return { imported: 0, unchanged: 0, errors: parsed.errors }
      const current = this.fold(effective)
      const sameDayIds = sameDay(expandStatements(this.doc.statements()), effective)
      const items: Canonical[] = []
      let unchanged = 0
      for (const row of parsed.products) {
        const was = current.products.get(row.sku)
        const sellable = row.sellable !== false
        const same = was !== undefined && was.provisional !== true && was.withdrawn !== true && was.aliasOf === undefined &&
          was.name === row.name && was.gtin === row.gtin && was.taxRateBp === row.taxRateBp && was.stocked === row.stocked &&
          was.sellable === sellable && JSON.stringify(was.recipe ?? null) === JSON.stringify(row.recipe ?? null) &&
          (!sellable || was.priceCents === row.priceCents) && (!row.stocked || was.costCents === row.costCents)
        if (same) { unchanged++; continue }
        // The row whole (its fields, price and cost), replacing what the same day said of it.
        items.push({
          sku: row.sku,
          name: row.name,
          ...(row.gtin !== undefined ? { gtin: row.gtin } : {}),
          taxRateBp: row.taxRateBp,
          stocked: row.stocked,
          sellable,
          ...(row.recipe !== undefined ? { recipe: row.recipe.map(l => ({ sku: l.sku, qty: l.qty })) } : {}),
          // A product HQ defines has no price until one is said: an unsold one (no price in the file) gets none.
          ...(sellable ? { priceCents: row.priceCents } : {}),
          ...(row.stocked ? { costCents: row.costCents } : {}),
          prev: (sameDayIds.get(row.sku) ?? []).sort().slice(-PREV_MAX)
        })
      }
      // Hundreds of rows to a signed statement (one signature, one Automerge op), each under
      // the envelope's size bound: a batch that does not fit is split in two.
      const statements: Uint8Array[] = []
      const sign = (batch: Canonical[]): void => {
        try {
          statements.push(signStatement(this.#root, { author: { kind: 'hq' }, atMs: nowMs, content: { type: 'products', from: effective, items: batch } }))
        } catch (err) {
          if (!(err instanceof OversizedError) || batch.length === 1) throw err
          sign(batch.slice(0, batch.length >> 1))
          sign(batch.slice(batch.length >> 1))
        }
      }
      for (let k = 0; k < items.length; k += BATCH_ITEMS_MAX) sign(items.slice(k, k + BATCH_ITEMS_MAX))
      const imported = items.length
      for (const s of statements) this.doc.add(s)
      if (statements.length > 0) await this.#persist()
      return { imported, unchanged, errors: [] }
    })
  }

  /** Sign a person's decision on an open clash. Throws ResolutionError if the clash is not open on `day`, or `canonical` is not in it. */
  async resolve (r: { conflict: string, decision: 'same' | 'distinct' | 'withdraw', canonical?: string }, day: Day, nowMs: number): Promise<{ conflict: Conflict, statement: string }> {
    return await this.#oneAtATime(async () => {
      const open = this.conflicts(day).find(c => c.id === r.conflict)
      if (open === undefined) throw new ResolutionError(`no open clash ${String(r.conflict).slice(0, 64)} on ${day}`)
      if (r.canonical !== undefined && !open.products.some(p => p.sku === r.canonical)) throw new ResolutionError(`${r.canonical} is not one of the clash's products (${open.products.map(p => p.sku).join(', ')})`)
      if (r.decision === 'same' && r.canonical === undefined) throw new ResolutionError('"same" needs canonical: the product the others become')
      let bytes: Uint8Array
      try {
        bytes = signStatement(this.#root, { author: { kind: 'hq' }, atMs: nowMs, content: { type: 'resolve', conflict: r.conflict, decision: r.decision, ...(r.canonical !== undefined ? { canonical: r.canonical } : {}), from: day } })
      } catch (err) {
        throw new ResolutionError((err as Error).message)
      }
      try {
        this.doc.add(bytes)
      } catch (err) {
        if (err instanceof CatalogueError) throw new ResolutionError(err.message)
        throw err
      }
      await this.#persist()
      return { conflict: open, statement: statementIdOf(bytes) }
    })
  }

  async #persist (): Promise<void> {
    await this.#store.batch([{ type: 'put', key: CATALOGUE_DOC_KEY, value: this.doc.save() }], { sync: true })
  }

  async #oneAtATime<T> (work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work, work)
    this.#tail = run.then(() => {}, () => {})
    return await run
  }
}

/** The ids of the statements (and batch parts) from `from`, by sku: what an import's row replaces (it saw them). */
function sameDay (all: Statement[], from: Day): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const s of all) {
    if (!('sku' in s) || s.from !== from) continue
    out.set(s.sku, [...(out.get(s.sku) ?? []), s.id])
  }
  return out
}


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
 * Stores' tills write into the same document (a product made up at a store) and sync it with
 * HQ (DocSync, screened by the document itself); `changed()` takes such changes in.
 *
 * On disk: `g!doc`, the document's `save()`, written (fsync'd) after each sync that brought
 * something, and before an import or resolution takes effect (one the disk refuses takes none).
 * Until HQ names products of its own, the catalogue is the built-in demo one
 * (`demoCatalogueData`), and it stays in force for the days before (catalogue's `withBase`).
 *
 * Costs: HQ's books cost each record with the cost in force on its business day (`costOf`).
 * So that a cost once used is never another, an import takes effect only from a day after
 * every business day HQ has booked (`bookedThrough`): a price or cost change never reaches
 * back into a day already closed.
 */
import { CatalogueDoc, readStatement } from '@tillbooks/crdt'
import {
  BATCH_ITEMS_MAX, CatalogueError, costsOf, demoCatalogueData, expandStatements, PREV_MAX, foldCatalogue, parseCatalogueCsv, toCatalogueCsv, withBase,
  type Conflict, type CsvError, type Day, type FoldedCatalogue, type ProductData, type Statement
} from '@tillbooks/catalogue'
import { OversizedError, signStatement, statementIdOf, type Canonical, type PublicKey, type Signer } from '@tillbooks/protocol'
import { OneAtATime } from '../OneAtATime.ts'
import type { KvStore } from '../storage/KvStore.ts'

export const CATALOGUE_DOC_KEY = 'g!doc'

export interface ImportResult { imported: number, unchanged: number, errors: CsvError[], effective?: Day }

/** A resolution naming a clash that is not open, or a canonical product not in it. */
export class ResolutionError extends Error {
  override name = 'ResolutionError'
}

export interface CatalogueView {
  products: Array<{ sku: string, name: string, gtin?: string, priceCents: number, taxRateBp: number, provisional?: true, withdrawn?: true, aliasOf?: string, store?: string }>
  aliases: Record<string, string>
  heads: string[]
}

/** Folds kept, by day, until the document changes. */
const FOLDS_KEPT_MAX = 8

interface Reading {
  all: Statement[]
  costOf: (sku: string, day: Day) => number | undefined
  folds: Map<Day, FoldedCatalogue>
  imported: boolean
  /** The demo products no longer in force since the retailer's own catalogue came in. */
  replaced: ReadonlySet<string>
}

/** An import from a day HQ has already booked records for. */
export class EffectiveDayError extends Error {
  override name = 'EffectiveDayError'
}

/** The day after `day` (YYYY-MM-DD). */
export function dayAfter (day: Day): Day {
  const d = new Date(`${day}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + 1)
  return d.toISOString().slice(0, 10)
}

export class HqCatalogue {
  readonly #store: KvStore
  readonly #root: Signer
  #doc: CatalogueDoc | null = null
  /** The statements over the demo base, and the cost lookup over them: made again after each change. */
  #read: Reading | null = null
  readonly #listeners: Array<() => void> = []
  /** One import or resolution at a time: each reads the fold, then writes on it. */
  readonly #serial = new OneAtATime()

  readonly #actorId: string | undefined
  /** A save failed since the last one that worked: the document holds changes the disk does not (or the disk may hold a write it refused). */
  #unsaved = false
  /** The first day of an import or resolution being saved now, or refused and not yet written over (costForBooks gives no cost from it on). */
  #changing: Changing | null = null

  /** `actorId`: the replica's Automerge actor (hex; default random each load): the simulator's comes from its seed. */
  constructor (c: { store: KvStore, root: Signer, actorId?: string }) {
    this.#store = c.store
    this.#root = c.root
    this.#actorId = c.actorId
  }

  /** Load the document from HQ's store (the store is open). */
  async load (): Promise<void> {
    const bytes = await this.#store.get(CATALOGUE_DOC_KEY)
    this.#doc?.free()
    this.#read = null
    const init = this.#actorId !== undefined ? { actorId: this.#actorId } : {}
    this.#doc = bytes === undefined ? CatalogueDoc.create(this.#root.publicKey, init) : CatalogueDoc.load(bytes, this.#root.publicKey, init)
  }

  close (): void {
    this.#doc?.free()
    this.#doc = null
  }

  get doc (): CatalogueDoc {
    if (this.#doc === null) throw new Error('HqCatalogue is not loaded')
    return this.#doc
  }

  #reading (): Reading {
    if (this.#read === null) {
      const own = this.doc.statements()
      const all = withBase(own, demoCatalogueData())
      const imported = own.some(x => x.author.kind === 'hq' && (x.type === 'products' || x.type === 'product'))
      const named = new Set<string>()
      for (const x of own) {
        if (x.type === 'product') named.add(x.sku)
        else if (x.type === 'products') for (const item of x.items) named.add(item.sku)
      }
      // The demo products the retailer's own catalogue replaced: not the retailer's, not listed.
      const replaced = new Set(imported ? demoCatalogueData().products.map(p => p.sku).filter(sku => !named.has(sku)) : [])
      this.#read = { all, costOf: costsOf(all), folds: new Map(), imported, replaced }
    }
    return this.#read
  }

  /** Whether the retailer's own catalogue is in (else the demo one is in force). */
  get imported (): boolean {
    return this.#reading().imported
  }

  /** The standard cost of `sku` in force on `day` (undefined: not defined that day). */
  costOf (sku: string, day: Day): number | undefined {
    return this.#reading().costOf(sku, day)
  }

  /**
   * The cost the books fold a record with (HqNode's `costCents`): `costOf`, but none for the skus
   * an import or resolution under way names (every sku for a resolution, and for the first
   * import), on the days it takes effect from, until it is in the document and on
   * disk, or refused and the document written over whatever the disk kept of it (`flush`). A
   * record of such a day waits for the catalogue (HqNode keeps it, and folds it when told), so it
   * is costed as a restart will cost it: with the import if it landed, without it if not. Without this, a record arriving while the import's save was under way would be
   * costed the old way on a day whose cost the import then changed.
   */
  costForBooks (sku: string, day: Day): number | undefined {
    const c = this.#changing
    if (c !== null && day >= c.from && (c.skus === null || c.skus.has(sku))) return undefined
    return this.costOf(sku, day)
  }

  /** Called after every change of the document (an import, a resolution, a sync). */
  onChange (fn: () => void): void {
    this.#listeners.push(fn)
  }

  /** The document took changes from a peer (DocSync): persist them and tell whoever reads the catalogue. */
  async changed (): Promise<void> {
    // Fsync'd before anyone is told: records waiting for a product fold once it is here, and
    // books must fold only what a restart finds again (a crash that lost the write left the
    // rebuilt books short of those records until the peer synced the product again: simulator
    // seed 3120, catalogueClash with diskFaults). Changes from a sync are rare (a catalogue
    // changes a few times a day), so the fsync costs little. A save that fails leaves the
    // document unsaved: `flush` (HQ calls it every few seconds) saves it once the disk works,
    // and only then is anyone told (telling at once, as before, folded records on a catalogue a
    // restart did not find: seed 3820; never telling left them waiting for good: seed 1000).
    await this.#oneAtATime(async () => { await this.#persist() })
  }

  /** Whether the document holds changes no save made durable yet (a save failed). */
  get unsaved (): boolean {
    return this.#unsaved
  }

  /** Save the document if a save failed since the last one that worked; whoever reads the catalogue is told then. False: the disk still fails. */
  async flush (): Promise<boolean> {
    if (!this.#unsaved) return true
    return await this.#oneAtATime(async () => {
      if (!this.#unsaved) return true
      try {
        await this.#persist()
        return true
      } catch {
        return false
      }
    })
  }

  /** The catalogue in force on `day` (kept for a few days until the document changes: a fold of a large catalogue takes a while). */
  fold (day: Day): FoldedCatalogue {
    const r = this.#reading()
    let f = r.folds.get(day)
    if (f === undefined) {
      f = foldCatalogue(r.all, day)
      if (r.folds.size >= FOLDS_KEPT_MAX) r.folds.delete(r.folds.keys().next().value as Day)
      r.folds.set(day, f)
    }
    return f
  }

  /** Whether `sku` is a stocked product on `day` (what opening stock and replenishment orders may name). */
  isStocked (sku: string, day: Day): boolean {
    const p = this.fold(day).products.get(sku)
    return p !== undefined && p.stocked && p.withdrawn !== true && this.costOf(sku, day) !== undefined
  }

  /** The products in force on `day` (withdrawn and aliased ones too, marked), and the document's heads. */
  view (day: Day): CatalogueView {
    const f = this.fold(day)
    const { replaced } = this.#reading()
    const products = [...f.products.values()].filter(p => !(p.withdrawn === true && replaced.has(p.sku))).sort((a, b) => a.sku < b.sku ? -1 : 1).map(p => ({
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
    return this.fold(day).conflicts
  }

  /** The catalogue in force on `day` as the retailer's CSV (the demo one until something is imported). */
  exportCsv (day: Day): string {
    const f = this.fold(day)
    const products: Array<ProductData & { gtin?: string }> = []
    for (const p of f.products.values()) {
      if (p.withdrawn === true || p.aliasOf !== undefined) continue
      products.push({ sku: p.sku, name: p.name, ...(p.gtin !== undefined ? { gtin: p.gtin } : {}), priceCents: p.priceCents, taxRateBp: p.taxRateBp, costCents: p.costCents, stocked: p.stocked, ...(p.sellable ? {} : { sellable: false }), ...(p.recipe !== undefined ? { recipe: p.recipe.map(l => ({ ...l })) } : {}) })
    }
    return toCatalogueCsv(products)
  }

  /**
   * Import a CSV file from `effective` on: the statements it takes, signed and written in one
   * fsync'd batch, or the file's errors. `bookedThrough`: the latest business day HQ's books
   * hold a record of; `effective` must come after it (EffectiveDayError).
   */
  async importCsv (text: string, effectiveIn: Day | ((bookedThrough: Day | null) => Day), nowMs: number, bookedIn: Day | null | (() => Day | null) = null): Promise<ImportResult> {
    return await this.#oneAtATime(async () => {
      // Read here, in turn: from here until the statements are in the document or refused, the
      // books cost no record of a day from `effective` on (costForBooks: they wait), so nothing
      // of those days is booked on the old costs.
      const bookedThrough = typeof bookedIn === 'function' ? bookedIn() : bookedIn
      const effective = typeof effectiveIn === 'function' ? effectiveIn(bookedThrough) : effectiveIn
      if (bookedThrough !== null && effective <= bookedThrough) {
        throw new EffectiveDayError(`an import from ${effective} would change prices and costs of days already booked (through ${bookedThrough}): import from ${dayAfter(bookedThrough)} or later`)
      }
      const parsed = parseCatalogueCsv(text)
      if (parsed.errors.length > 0) return { imported: 0, unchanged: 0, errors: parsed.errors, effective }
      // The first import names every product it keeps (the demo base is not the retailer's: what
      // the first import leaves out is withdrawn), later ones only what changes.
      const current = this.imported ? this.fold(effective) : foldCatalogue(this.doc.statements(), effective)
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
      if (statements.length > 0) await this.#addOwn(statements, effective)
      return { imported, unchanged, errors: [], effective }
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
        await this.#addOwn([bytes], day)
      } catch (err) {
        if (err instanceof CatalogueError) throw new ResolutionError(err.message)
        throw err
      }
      return { conflict: open, statement: statementIdOf(bytes) }
    })
  }

  /**
   * HQ's own statements (an import, a resolution, in force from `from`), on disk before they are
   * in the document anyone reads, folds or syncs: they are added to a copy, the copy is saved
   * with fsync, and only then are its changes merged into the document. A save the disk refuses
   * leaves the catalogue as it was: the caller is answered 503 and nothing took effect (before,
   * the statements stayed in the document, were read and synced at once, and HQ's periodic flush
   * saved them later: a refused import came into force all the same). Records of days from
   * `from` wait meanwhile (costForBooks). In turn (#oneAtATime).
   */
  async #addOwn (statements: readonly Uint8Array[], from: Day): Promise<void> {
    const next = CatalogueDoc.load(this.doc.save(), this.#root.publicKey, this.#actorId !== undefined ? { actorId: this.#actorId } : {})
    const before = this.#changing
    this.#changing = joinChanging(before, { from, skus: skusNamed(statements, this.#root.publicKey, this.imported) })
    let written = false
    try {
      for (const s of statements) next.add(s)
      written = true
      try {
        await this.#store.batch([{ type: 'put', key: CATALOGUE_DOC_KEY, value: next.save() }], { sync: true })
      } catch (err) {
        // A disk may yet keep a write it refused (and replay it at a restart): the next flush
        // writes the document over it, without the statements.
        this.#unsaved = true
        throw err
      }
      let why: string | null = null
      try {
        const report = this.doc.merge(next)
        if (report.rejected.length > 0) why = report.rejected[0]?.reason ?? 'a change was refused'
      } catch (err) {
        why = (err as Error).message
      }
      this.#read = null
      if (why === null && !next.getHeads().every(h => this.doc.hasChange(h))) why = 'its changes are not all in the document'
      if (why !== null) {
        // On disk, not in the document: the disk is made the document again (or by flush).
        await this.#persist().catch(() => {})
        throw new Error(`the catalogue could not take the change in: ${why}`)
      }
      // The disk holds the document as it was when copied, with the statements. Changes a sync
      // brought meanwhile (or a failed save left) are not on it yet: saved now, or by `flush`;
      // the statements are durable either way, so this call succeeds.
      if (sameHeads(this.doc.getHeads(), next.getHeads())) {
        this.#unsaved = false
        this.#changing = null
        for (const fn of this.#listeners) fn()
      } else {
        await this.#persist().catch(() => {})
      }
    } finally {
      next.free()
      // Nothing reached the disk (a statement refused): as before. Otherwise the books go on
      // waiting on those days until the document is on disk as it is (here, or by `flush`): a
      // refused write the disk kept anyway would put the import in force at a restart.
      if (!written) this.#changing = before
    }
  }

  async #persist (): Promise<void> {
    this.#read = null
    try {
      await this.#store.batch([{ type: 'put', key: CATALOGUE_DOC_KEY, value: this.doc.save() }], { sync: true })
    } catch (err) {
      // The document holds the changes in memory: saved by the next save or `flush`.
      this.#unsaved = true
      throw err
    }
    this.#unsaved = false
    this.#changing = null
    for (const fn of this.#listeners) fn()
  }

  async #oneAtATime<T> (work: () => Promise<T>): Promise<T> {
    return await this.#serial.run(work)
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

/** Days from `from` on, of the skus named (null: every sku), whose costs a change being saved may set. */
interface Changing { from: Day, skus: ReadonlySet<string> | null }

function joinChanging (a: Changing | null, b: Changing): Changing {
  if (a === null) return b
  return { from: a.from < b.from ? a.from : b.from, skus: a.skus === null || b.skus === null ? null : new Set([...a.skus, ...b.skus]) }
}

/**
 * The skus whose costs HQ's statements may change: those they name (a product's own cost; a
 * product's recipe does not cost anything, the Close lists stocked leaves). Every sku for a
 * resolution (it merges products) and for the first import (it withdraws every demo product it
 * leaves out).
 */
function skusNamed (statements: readonly Uint8Array[], rootKey: PublicKey, imported: boolean): ReadonlySet<string> | null {
  if (!imported) return null
  const skus = new Set<string>()
  for (const bytes of statements) {
    const s = readStatement(bytes, rootKey)
    if ('reason' in s) return null
    if (s.type === 'products') for (const item of s.items) skus.add(item.sku)
    else if (s.type === 'product') skus.add(s.sku)
    else return null
  }
  return skus
}

function sameHeads (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join()
}

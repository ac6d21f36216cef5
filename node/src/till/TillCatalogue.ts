/**
 * A till's replica of the catalogue (crdt's CatalogueDoc): what it sells, at what price, on
 * each business day, read offline; and the products the till makes up itself.
 *
 * - Read: the statements over the demo base (catalogue's `withBase`), folded for a day into
 *   the `Catalogue` a sale is priced with (O(1) per line: a map lookup), kept per day until
 *   the document changes. A sale is priced by what is in force on its own business day.
 * - Written: `invent` signs a store statement with the till's key and certificate (a sku of
 *   the store's own, `<store>.<till>.<n>`, numbered from what the document already holds: no
 *   counter of its own) and makes it durable before the product is sold.
 * - Synced: with HQ and the neighbours' tills by Automerge's sync protocol (DocSync, the
 *   document writable by both sides and screened by itself).
 *
 * On disk: `c!catalogue` in the till's `replicas/` LevelDB, the document's `save()`: fsync'd
 * after an invention, not after a sync (synced again if lost); and each product the till made
 * up, also in its own store (`i!<sku>`, beside its sales), put back into the replica on open.
 */
import { Catalogue, CatalogueError, catalogueDataFor, demoCatalogueData, foldCatalogue, withBase, type Day, type FoldedCatalogue } from '@tillbooks/catalogue'
import { CatalogueDoc } from '@tillbooks/crdt'
import { signStatement, type PublicKey, type Signer, type StoreId } from '@tillbooks/protocol'
import type { Logger } from '../components.ts'
import { prefixEnd, type KvStore } from '../storage/KvStore.ts'
import { OneAtATime } from '../OneAtATime.ts'
import { SaleRejectedError, TillStateError } from './errors.ts'

const DOC_KEY = 'c!catalogue'
/** Business days whose catalogue is kept built (today, yesterday's late close, a day ahead). */
const DAYS_KEPT_MAX = 4

/** What a till sells on a day: the Catalogue that prices a sale, and the skus now sold as another. */
export interface CatalogueOnDay {
  catalogue: Catalogue
  /** sku → the sku it is sold and counted as (a clash resolved `same`). */
  aliases: ReadonlyMap<string, string>
  folded: FoldedCatalogue
}

/** A product the till may sell on a day, as `GET /catalogue` lists it. */
export interface SellableProduct { sku: string, name: string, gtin?: string, priceCents: number, taxRateBp: number, provisional?: true }

export interface InventInput { name: string, gtin?: string, priceCents: number, taxRateBp: number, costCents?: number }

/** An invention the till refuses: its GTIN already scans as a product here. */
export class GtinInUseError extends TillStateError {
  override name = 'GtinInUseError'
}

export interface TillCatalogueInit {
  store: KvStore
  hqRootKey: PublicKey
  storeId: StoreId
  till: number
  signer: Signer
  /** The till's certificate (HQ-signed): a store statement carries it. */
  certificate: Uint8Array
  logger: Logger
  /** The replica's Automerge actor id (hex; default random): the simulator's are drawn from its seed, so a run replays. */
  actorId?: string
  /**
   * The till's own durable store (its sales journal's, opened): each product it makes up is
   * also kept there (`i!<sku>`), so a damaged or lost replica never loses the till's own
   * products, nor lets it number a new one as an old one.
   */
  ownStore?: KvStore
}

const OWN_PREFIX = 'i!'

export class TillCatalogue {
  readonly #o: TillCatalogueInit
  readonly #doc: CatalogueDoc
  readonly #days = new Map<Day, CatalogueOnDay>()
  /** One invention at a time: each numbers its sku from what the document holds. */
  readonly #oneAtATime = new OneAtATime()

  private constructor (o: TillCatalogueInit, doc: CatalogueDoc) {
    this.#o = o
    this.#doc = doc
  }

  /** The till's replica from its store (open), or a new one. */
  static async open (o: TillCatalogueInit): Promise<TillCatalogue> {
    const bytes = await o.store.get(DOC_KEY)
    let doc: CatalogueDoc
    try {
      const init = o.actorId !== undefined ? { actorId: o.actorId } : {}
      doc = bytes === undefined ? CatalogueDoc.create(o.hqRootKey, init) : CatalogueDoc.load(bytes, o.hqRootKey, init)
    } catch (err) {
      // Damaged on disk: start empty and take the catalogue again from HQ and the neighbours
      // (only this till's own unsynced inventions are lost; they are in its sales journal).
      o.logger.error({ err: (err as Error).message }, 'the catalogue on disk does not load: starting from an empty replica')
      doc = CatalogueDoc.create(o.hqRootKey, o.actorId !== undefined ? { actorId: o.actorId } : {})
    }
    // The till's own products, back in (a replica that lost them, or a new one): each is verified again.
    if (o.ownStore !== undefined) {
      for await (const [, bytes] of o.ownStore.entries({ gte: OWN_PREFIX, lt: prefixEnd(OWN_PREFIX) })) {
        try {
          doc.add(bytes)
        } catch (err) {
          o.logger.error({ err: (err as Error).message }, 'a product this till made up no longer verifies: left out')
        }
      }
    }
    return new TillCatalogue(o, doc)
  }

  get doc (): CatalogueDoc { return this.#doc }
  getHeads (): string[] { return this.#doc.getHeads() }

  close (): void {
    this.#doc.free()
  }

  /** The document took changes by sync: persist them, read it again. */
  async changed (): Promise<void> {
    this.#days.clear()
    await this.#o.store.batch([{ type: 'put', key: DOC_KEY, value: this.#doc.save() }], { sync: false })
  }

  /** What is sold on `day`. */
  on (day: Day): CatalogueOnDay {
    const hit = this.#days.get(day)
    if (hit !== undefined) return hit
    const folded = foldCatalogue(withBase(this.#doc.statements(), demoCatalogueData()), day)
    let catalogue: Catalogue
    try {
      catalogue = new Catalogue(catalogueDataFor(folded))
    } catch (err) {
      // The fold gives a valid catalogue by construction; if a limit still breaks (more tax
      // rates than a Close carries), say so loudly and sell from the base rather than not at all.
      if (!(err instanceof CatalogueError)) throw err
      this.#o.logger.error({ day, err: err.message }, 'the catalogue in force does not build: selling from the built-in one')
      catalogue = new Catalogue(demoCatalogueData())
    }
    const out = { catalogue, aliases: folded.aliases, folded }
    if (this.#days.size >= DAYS_KEPT_MAX) this.#days.delete(this.#days.keys().next().value as Day)
    this.#days.set(day, out)
    return out
  }

  /** The products sellable on `day` (what `GET /catalogue` lists). */
  sellable (day: Day): SellableProduct[] {
    const { catalogue, folded } = this.on(day)
    const out: SellableProduct[] = []
    for (const p of catalogue.products()) {
      if (!p.sellable) continue
      const f = folded.products.get(p.sku)
      out.push({
        sku: p.sku,
        name: p.name,
        ...(f?.gtin !== undefined && folded.gtins.get(f.gtin) === p.sku ? { gtin: f.gtin } : {}),
        priceCents: p.priceCents,
        taxRateBp: p.taxRateBp,
        ...(f?.provisional === true ? { provisional: true as const } : {})
      })
    }
    return out
  }

  /**
   * The sku a sale line names, as sold on `day`: by sku (an alias sold as its canonical
   * product) or by GTIN (a GTIN in an open clash scans as neither product).
   */
  skuOf (line: { sku?: string, gtin?: string }, day: Day): string {
    const { aliases, folded } = this.on(day)
    if (line.sku !== undefined) return aliases.get(line.sku) ?? line.sku
    const gtin = line.gtin ?? ''
    const sku = folded.gtins.get(gtin)
    if (sku !== undefined) return sku
    const clash = folded.conflicts.find(c => c.kind === 'gtin-duplicate' && c.products[0]?.gtin === gtin)
    if (clash !== undefined) throw new SaleRejectedError(`GTIN ${gtin} is claimed by ${clash.products.map(p => p.sku).join(' and ')} until HQ resolves the clash: sell by sku`)
    throw new SaleRejectedError(`no product scans as GTIN ${gtin}`)
  }

  /**
   * Make up a product at this store, sellable at once, offline: signed, durable, and synced to
   * HQ and the neighbours with the catalogue. Refused if its GTIN already scans as a product here.
   */
  async invent (input: InventInput, day: Day, nowMs: number): Promise<{ sku: string, provisional: true }> {
    return await this.#oneAtATime.run(async () => await this.#invent(input, day, nowMs))
  }

  async #invent (input: InventInput, day: Day, nowMs: number): Promise<{ sku: string, provisional: true }> {
    const { folded } = this.on(day)
    if (input.gtin !== undefined) {
      const holder = folded.gtins.get(input.gtin)
      if (holder !== undefined) throw new GtinInUseError(`GTIN ${input.gtin} already scans as ${holder}`)
    }
    const prefix = `${this.#o.storeId}.${this.#o.till}.`
    let last = 0
    for (const s of this.#doc.statements()) {
      if (s.type !== 'invent' || !s.sku.startsWith(prefix)) continue
      const n = Number(s.sku.slice(prefix.length))
      if (Number.isSafeInteger(n) && n > last) last = n
    }
    const sku = `${prefix}${last + 1}`
    let bytes: Uint8Array
    try {
      bytes = signStatement(this.#o.signer, {
        author: { kind: 'store', store: this.#o.storeId },
        atMs: Math.max(0, nowMs),
        cert: this.#o.certificate,
        content: {
          type: 'invent', sku, name: input.name, ...(input.gtin !== undefined ? { gtin: input.gtin } : {}),
          priceCents: input.priceCents, taxRateBp: input.taxRateBp, costCents: input.costCents ?? 0, from: day
        }
      })
      this.#doc.add(bytes)
    } catch (err) {
      throw new SaleRejectedError(`the product is refused: ${(err as Error).message}`)
    }
    this.#days.clear()
    // Its own store first (the one the till's sales are durable in): the product outlives the replica.
    await this.#o.ownStore?.batch([{ type: 'put', key: `${OWN_PREFIX}${sku}`, value: bytes }], { sync: true })
    await this.#o.store.batch([{ type: 'put', key: DOC_KEY, value: this.#doc.save() }], { sync: true })
    return { sku, provisional: true }
  }
}

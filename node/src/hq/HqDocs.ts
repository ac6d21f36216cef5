/**
 * The tills' logs as Automerge documents at HQ, loaded on demand into a bounded cache.
 *
 * HQ keeps each till's entries as the changes of the till's own log that carried them
 * (HqNode's log values), so a document made of them has the till's own history and heads.
 * HQ never loads one on its intake path (~35–40 KB of wasm memory and a decode per change
 * would cap it far below its intake rate, DESIGN.md): only a sync session or the API asks,
 * and at most `max` documents stay loaded, least recently used dropped first. A document is
 * dropped when HQ takes a new entry of its till, and made again at the next ask.
 *
 * Automerge itself is loaded at the first ask (hqDocument.ts), not with HQ.
 *
 * A dropped document is not freed here: a sync session may still be reading it (it holds
 * the log across awaits); the garbage collector frees its wasm memory once nothing does.
 */
import type { TillLog } from '@tillbooks/crdt'
import { DOC_LOAD_WAITERS_MAX, DOC_LOADS_MAX } from './constants.ts'
import type { TillId } from '@tillbooks/protocol'

export interface HqDocsInit {
  max: number
  /** Documents being made at once (DOC_LOADS_MAX): beyond, an ask is refused as busy. */
  loadsMax?: number
}

/** Too many documents being made at once: ask again later. */
export class DocsBusyError extends Error {
  override name = 'DocsBusyError'
}

export class HqDocs {
  readonly #max: number
  readonly #loadsMax: number
  readonly #docs = new Map<TillId, TillLog>()
  /** Loads under way, so two asks for one till make one document. */
  readonly #loading = new Map<TillId, Promise<TillLog | undefined>>()
  /** Tills changed while their document was being made: that document is not cached. */
  readonly #stale = new Set<TillId>()
  readonly counters = { hits: 0, loads: 0, dropped: 0 }
  /** Asks waiting for a load to finish (replicas: `wait`), first come first served. */
  readonly #waiters: Array<() => void> = []

  constructor (init: HqDocsInit) {
    if (!Number.isSafeInteger(init.max) || init.max < 1) throw new Error('HqDocs.max is a positive integer')
    this.#max = init.max
    this.#loadsMax = init.loadsMax ?? DOC_LOADS_MAX
  }

  /** Documents loaded now. */
  get size (): number { return this.#docs.size }

  /** The till's document: from the cache, or made from `logged()` (HQ's log values for it, seq order). */
  async get (tillId: TillId, logged: () => Promise<Uint8Array[]>, opts: { wait?: boolean } = {}): Promise<TillLog | undefined> {
    const hit = this.#docs.get(tillId)
    // A waiter woken by a finished load may find its document made already: the slot it would
    // have taken is free, so the next waiter is woken in its place.
    if (hit !== undefined || this.#loading.has(tillId)) this.#wakeIfFree()
    if (hit !== undefined) {
      this.counters.hits++
      this.#docs.delete(tillId)
      this.#docs.set(tillId, hit)
      return hit
    }
    const pending = this.#loading.get(tillId)
    if (pending !== undefined) return await pending
    // Making a document is work on HQ's main thread that anyone can ask for (am-sync is open):
    // a few at a time, so that asking for many tills in turn cannot crowd out the intake.
    if (this.#loading.size >= this.#loadsMax) {
      // Another HQ replica catching up waits its turn (a bounded queue); anyone else is told to ask again.
      if (opts.wait !== true || this.#waiters.length >= DOC_LOAD_WAITERS_MAX) throw new DocsBusyError(`${this.#loading.size} till documents are being made; ask again later`)
      await new Promise<void>(resolve => this.#waiters.push(resolve))
      return await this.get(tillId, logged, opts)
    }
    this.#stale.delete(tillId)
    const load = (async () => {
      const values = await logged()
      if (values.length === 0) return undefined
      this.counters.loads++
      // Loaded on the first ask: an HQ nobody syncs from never holds Automerge's wasm.
      const { documentOf } = await import('./hqDocument.ts')
      const doc = documentOf(tillId, values)
      if (!this.#stale.has(tillId)) {
        this.#docs.set(tillId, doc)
        if (this.#docs.size > this.#max) {
          this.#docs.delete(this.#docs.keys().next().value as TillId)
          this.counters.dropped++
        }
      }
      return doc
    })()
    this.#loading.set(tillId, load)
    try {
      return await load
    } finally {
      this.#loading.delete(tillId)
      this.#stale.delete(tillId)
      this.#waiters.shift()?.()
    }
  }

  #wakeIfFree (): void {
    if (this.#loading.size < this.#loadsMax) this.#waiters.shift()?.()
  }

  /** Drop every document (HQ rebuilt itself from its log). */
  clear (): void {
    this.counters.dropped += this.#docs.size
    this.#docs.clear()
    for (const tillId of this.#loading.keys()) this.#stale.add(tillId)
  }

  /** HQ took a new entry of `tillId`: its document, if loaded, is out of date. */
  changed (tillId: TillId): void {
    if (this.#docs.delete(tillId)) this.counters.dropped++
    if (this.#loading.has(tillId)) this.#stale.add(tillId)
  }
}


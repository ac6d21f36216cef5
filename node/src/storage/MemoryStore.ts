/**
 * An in-memory KvStore for the simulator that models what a crash does to a disk:
 * unsynced writes sit in a volatile cache and `crash()` drops them; a synced batch
 * makes everything written before it durable (as fsync does). `burn()` loses it all.
 */
import type { KvOp, KvRange, KvStore } from './KvStore.ts'

export class MemoryStore implements KvStore {
  #durable = new Map<string, Uint8Array | null>()
  /** Writes since the last sync, in order (null = deleted). */
  #volatile = new Map<string, Uint8Array | null>()
  #open = false
  /** Bumped by a crash, so an fsync that was in flight when the power went does nothing. */
  #epoch = 0
  readonly #syncDelay: (() => Promise<void>) | undefined

  /** `syncDelay` models the time an fsync takes (a virtual timer in the simulator). */
  constructor (opts: { syncDelay?: () => Promise<void> } = {}) {
    this.#syncDelay = opts.syncDelay
  }

  async open (): Promise<void> {
    this.#open = true
  }

  async close (): Promise<void> {
    this.#open = false
  }

  #check (): void {
    if (!this.#open) throw new Error('MemoryStore is not open')
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    this.#check()
    const v = this.#volatile.has(key) ? this.#volatile.get(key) : this.#durable.get(key)
    return v ?? undefined
  }

  async batch (ops: KvOp[], opts: { sync: boolean }): Promise<void> {
    this.#check()
    for (const op of ops) this.#volatile.set(op.key, op.type === 'put' ? (op.value ?? new Uint8Array()) : null)
    if (!opts.sync) return
    if (this.#syncDelay !== undefined) {
      const epoch = this.#epoch
      await this.#syncDelay()
      if (epoch !== this.#epoch) throw new Error('MemoryStore crashed during fsync')
    }
    this.#flush()
  }

  #flush (): void {
    for (const [k, v] of this.#volatile) this.#durable.set(k, v)
    this.#volatile.clear()
  }

  async * entries (range: KvRange): AsyncIterable<[string, Uint8Array]> {
    this.#check()
    const merged = new Map(this.#durable)
    for (const [k, v] of this.#volatile) merged.set(k, v)
    const keys = [...merged.keys()].filter(k => (range.gte === undefined || k >= range.gte) && (range.lt === undefined || k < range.lt)).sort()
    let n = 0
    for (const k of keys) {
      const v = merged.get(k)
      if (v === null || v === undefined) continue
      if (range.limit !== undefined && n >= range.limit) return
      n++
      yield [k, v]
    }
  }

  /** The machine lost power: unsynced writes are gone, the store is closed. */
  crash (): void {
    this.#epoch++
    this.#volatile.clear()
    this.#open = false
  }

  /** The machine burned: nothing is left. */
  burn (): void {
    this.#epoch++
    this.#volatile.clear()
    this.#durable.clear()
    this.#open = false
  }

  /** Entries on stable storage (for tests and invariant checks). */
  durableSize (): number {
    let n = 0
    for (const v of this.#durable.values()) if (v !== null) n++
    return n
  }
}

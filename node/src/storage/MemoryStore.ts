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
  /**
   * Every key of both maps (deleted ones too, as the maps keep them), sorted, and the keys
   * written since it was sorted: a scan merges those in (linear) rather than sorting the whole
   * store again, which made each range read cost a sort of every key (the simulator's HQ
   * replicas scan their stores many times a round). Null after a crash: rebuilt at the next scan.
   */
  #sorted: string[] | null = []
  #unsorted: string[] = []
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
    for (const op of ops) {
      if (!this.#volatile.has(op.key) && !this.#durable.has(op.key)) this.#unsorted.push(op.key)
      this.#volatile.set(op.key, op.type === 'put' ? (op.value ?? new Uint8Array()) : null)
    }
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
    // The range as it is now (a snapshot: writes during the scan are not seen), then yielded.
    const keys = this.#keys()
    const out: Array<[string, Uint8Array]> = []
    for (let i = range.gte === undefined ? 0 : lowerBound(keys, range.gte); i < keys.length; i++) {
      const k = keys[i] as string
      if (range.lt !== undefined && k >= range.lt) break
      const v = this.#volatile.has(k) ? this.#volatile.get(k) : this.#durable.get(k)
      if (v === null || v === undefined) continue
      if (range.limit !== undefined && out.length >= range.limit) break
      out.push([k, v])
    }
    yield * out
  }

  /** Every key, sorted: the keys written since the last scan merged in. */
  #keys (): string[] {
    if (this.#sorted === null) {
      this.#sorted = [...new Set([...this.#durable.keys(), ...this.#volatile.keys()])].sort()
      this.#unsorted = []
    }
    if (this.#unsorted.length > 0) {
      const added = this.#unsorted.sort()
      const old = this.#sorted
      const merged: string[] = new Array(old.length + added.length)
      let i = 0
      let j = 0
      let n = 0
      while (i < old.length || j < added.length) merged[n++] = j >= added.length || (i < old.length && (old[i] as string) < (added[j] as string)) ? old[i++] as string : added[j++] as string
      this.#sorted = merged
      this.#unsorted = []
    }
    return this.#sorted
  }

  /** The machine lost power: unsynced writes are gone, the store is closed. */
  crash (): void {
    this.#epoch++
    this.#volatile.clear()
    this.#sorted = null
    this.#open = false
  }

  /** The machine burned: nothing is left. */
  burn (): void {
    this.#epoch++
    this.#volatile.clear()
    this.#durable.clear()
    this.#sorted = []
    this.#unsorted = []
    this.#open = false
  }

  /** Entries on stable storage (for tests and invariant checks). */
  durableSize (): number {
    let n = 0
    for (const v of this.#durable.values()) if (v !== null) n++
    return n
  }
}

/** The first index in sorted `keys` whose key is ≥ `key`. */
function lowerBound (keys: readonly string[], key: string): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((keys[mid] as string) < key) lo = mid + 1
    else hi = mid
  }
  return lo
}

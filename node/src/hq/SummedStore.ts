/**
 * HQ's store, keeping for each kind of record replicas share a count and a sum of the records'
 * digests up to date as they are written (HqReplication's summary): a replica's round then
 * costs two small requests, not a scan and a hash of every certificate, order and member HQ
 * holds. The sums are moved by every batch, and written with it (`SUMS_KEY`, in the same
 * atomic batch), so a start reads them instead of scanning every record again (a year of
 * orders: ~2 s of a start). They are made by a scan (`initSums`) when the store holds none
 * that are sure: none yet (an older store), written for other kinds, or deleted because a
 * write went in without them — before `initSums`, or after a failed batch (which the disk may
 * yet replay: the sums in memory would not count it) — so the next start scans again.
 */
import { createHash } from 'node:crypto'
import { OneAtATime } from '../OneAtATime.ts'
import { compact, getMany, prefixEnd, type KvOp, type KvRange, type KvStore } from '../storage/KvStore.ts'

const MOD48 = 2 ** 48
/** The sums as of the last batch of summed records, with the kinds they are for (not itself a record of any kind). */
export const SUMS_KEY = 'zs'

/** A record's digest in a replicas' summary: the first 48 bits of SHA-256 over its key and value. */
export function recordDigest48 (key: string, value: Uint8Array): number {
  return parseInt(createHash('sha256').update(key).update('\n').update(value).digest('hex').slice(0, 12), 16)
}

export interface SummedKind { prefix: string, excludes?: string }

export class SummedStore implements KvStore {
  readonly #inner: KvStore
  #kinds: SummedKind[] | null = null
  #sums = new Map<string, { count: number, sum: number }>()
  /** A batch failed since initSums: the sums in memory may miss what the disk replays; the stored ones are deleted. */
  #suspect = false
  /** How the last initSums got the sums: read back, or by a scan. */
  #from: 'stored' | 'scan' | null = null
  /** Batches of summed records one at a time: each writes the sums it leaves, so each must start from the last one's. */
  readonly #summed = new OneAtATime()

  constructor (inner: KvStore) {
    this.#inner = inner
  }

  /** The kinds' first two characters: an entry's key (`e!…`, thousands per group commit) is passed over at once. */
  #heads = new Set<string>()

  #kindOf (key: string): SummedKind | undefined {
    if (!this.#heads.has(key.slice(0, 2))) return undefined
    return this.#kinds?.find(k => key.startsWith(k.prefix) && (k.excludes === undefined || !key.startsWith(k.excludes)))
  }

  /**
   * `kinds`' sums: read back if the store holds sure ones (and `rescan` is not asked: a start
   * after an older HQ version ran on the store, which wrote records without them), else by a
   * scan (then written, if the disk takes it); every batch after moves them. In turn with batches.
   */
  async initSums (kinds: SummedKind[], opts: { rescan?: boolean } = {}): Promise<void> {
    if (kinds.some(k => k.prefix.length < 2 || k.prefix.startsWith(SUMS_KEY))) throw new Error('bug: a summed kind\'s prefix is at least two characters, and not the sums\' key')
    await this.#summed.run(async () => { await this.#init(kinds, opts.rescan === true) })
  }

  async #init (kinds: SummedKind[], rescan: boolean): Promise<void> {
    const stored = rescan ? null : this.#readStored(kinds, await this.#inner.get(SUMS_KEY))
    this.#kinds = kinds
    this.#heads = new Set(kinds.map(k => k.prefix.slice(0, 2)))
    this.#suspect = false
    if (stored !== null) {
      this.#sums = stored
      this.#from = 'stored'
      return
    }
    this.#sums = new Map()
    for (const k of kinds) {
      let count = 0
      let sum = 0
      for await (const [key, value] of this.#inner.entries({ gte: k.prefix, lt: prefixEnd(k.prefix) })) {
        if (this.#kindOf(key) !== k) continue
        count++
        sum = (sum + recordDigest48(key, value)) % MOD48
      }
      this.#sums.set(k.prefix, { count, sum })
    }
    this.#from = 'scan'
    // Not fsync'd: lost in a crash, the next start scans again. A disk refusing it does not stop
    // the start (reads are served on a sick disk); the sums stored are deleted with later batches.
    try {
      await this.#inner.batch([{ type: 'put', key: SUMS_KEY, value: this.#encode(this.#sums) }], { sync: false })
    } catch {
      this.#suspect = true
    }
  }

  /** How the last initSums got its sums (for the start's log line and the tests). */
  get sumsFrom (): 'stored' | 'scan' | null { return this.#from }

  #signature (kinds: readonly SummedKind[]): string {
    return JSON.stringify(kinds.map(k => [k.prefix, k.excludes ?? null]))
  }

  #encode (sums: ReadonlyMap<string, { count: number, sum: number }>): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ v: 1, kinds: this.#signature(this.#kinds ?? []), sums: Object.fromEntries(sums) }))
  }

  /** The stored sums if they are for exactly `kinds` and well-formed; else null (scan). */
  #readStored (kinds: readonly SummedKind[], value: Uint8Array | undefined): Map<string, { count: number, sum: number }> | null {
    if (value === undefined) return null
    try {
      const o = JSON.parse(new TextDecoder().decode(value)) as { v?: unknown, kinds?: unknown, sums?: Record<string, { count?: unknown, sum?: unknown }> }
      if (o.v !== 1 || o.kinds !== this.#signature(kinds) || typeof o.sums !== 'object' || o.sums === null) return null
      const out = new Map<string, { count: number, sum: number }>()
      for (const k of kinds) {
        const x = o.sums[k.prefix]
        if (x === undefined) return null
        if (!Number.isSafeInteger(x.count) || (x.count as number) < 0 || !Number.isSafeInteger(x.sum) || (x.sum as number) < 0 || (x.sum as number) >= MOD48) return null
        out.set(k.prefix, { count: x.count as number, sum: x.sum as number })
      }
      return out
    } catch {
      return null
    }
  }

  /** Per kind (by prefix), the count and sum of its records; null before initSums. */
  sums (): Record<string, { count: number, sum: number }> | null {
    return this.#kinds === null ? null : Object.fromEntries([...this.#sums].map(([k, v]) => [k, { ...v }]))
  }

  async open (): Promise<void> { await this.#inner.open() }
  async close (): Promise<void> { await this.#inner.close() }
  async get (key: string): Promise<Uint8Array | undefined> { return await this.#inner.get(key) }
  async getMany (keys: readonly string[]): Promise<Array<Uint8Array | undefined>> { return await getMany(this.#inner, keys) }
  async compact (range: KvRange): Promise<void> { await compact(this.#inner, range) }
  entries (range: KvRange): AsyncIterable<[string, Uint8Array]> { return this.#inner.entries(range) }
  get batches (): KvStore['batches'] {
    const b = this.#inner.batches
    return b === undefined ? undefined : (range, size) => b.call(this.#inner, range, size)
  }

  async batch (ops: KvOp[], opts: { sync: boolean }): Promise<void> {
    if (ops.some(op => op.key === SUMS_KEY)) throw new Error('bug: the sums\' key is SummedStore\'s own')
    if (this.#kinds === null) {
      // Before initSums nothing is summed, and stored sums would miss this batch: in turn with
      // initSums, it deletes them, unless initSums ran meanwhile (then it is summed as any other).
      await this.#summed.run(async () => {
        if (this.#kinds === null) await this.#inner.batch([...ops, { type: 'del', key: SUMS_KEY }], opts)
        else await this.#route(ops, opts, true)
      })
      return
    }
    await this.#route(ops, opts, false)
  }

  /** A batch once the kinds are known: summed records in turn (`inTurn`: the caller holds the turn already). */
  async #route (ops: KvOp[], opts: { sync: boolean }, inTurn: boolean): Promise<void> {
    const tracked = ops.filter(op => this.#kindOf(op.key) !== undefined)
    if (tracked.length === 0) {
      // Stored sums no longer sure (a failed write since) go with any batch.
      await this.#inner.batch(this.#suspect ? [...ops, { type: 'del', key: SUMS_KEY }] : ops, opts)
      return
    }
    if (inTurn) await this.#summedBatch(ops, tracked, opts)
    else await this.#summed.run(async () => { await this.#summedBatch(ops, tracked, opts) })
  }

  async #summedBatch (ops: KvOp[], tracked: KvOp[], opts: { sync: boolean }): Promise<void> {
    // A key twice in one batch: the store keeps the last op, and so do the sums.
    const last = [...new Map(tracked.map(op => [op.key, op])).values()]
    // What each tracked key held before: a put over a record replaces its digest; a del removes it.
    const before = await Promise.all(last.map(async op => await this.#inner.get(op.key)))
    const sums = new Map([...this.#sums].map(([k, v]) => [k, { ...v }]))
    last.forEach((op, i) => {
      const kind = this.#kindOf(op.key) as SummedKind
      const s = sums.get(kind.prefix) ?? { count: 0, sum: 0 }
      const old = before[i]
      if (old !== undefined) { s.count--; s.sum = (s.sum - recordDigest48(op.key, old) + MOD48) % MOD48 }
      if (op.type === 'put' && op.value !== undefined) { s.count++; s.sum = (s.sum + recordDigest48(op.key, op.value)) % MOD48 }
      sums.set(kind.prefix, s)
    })
    const own: KvOp = this.#suspect ? { type: 'del', key: SUMS_KEY } : { type: 'put', key: SUMS_KEY, value: this.#encode(sums) }
    try {
      await this.#inner.batch([...ops, own], opts)
    } catch (err) {
      // In doubt: the disk may replay it (at a reopen), and the sums in memory would not count
      // it. From now on the stored sums are deleted with each batch: the next start scans.
      this.#suspect = true
      throw err
    }
    this.#sums = sums
  }
}

/**
 * HQ's store, keeping for each kind of record replicas share a count and a sum of the records'
 * digests up to date as they are written (HqReplication's summary): a replica's round then
 * costs two small requests, not a scan and a hash of every certificate, order and member HQ
 * holds. The sums are made once by a scan (`initSums`) and moved by every batch after it.
 */
import { createHash } from 'node:crypto'
import { prefixEnd, type KvOp, type KvRange, type KvStore } from '../storage/KvStore.ts'

const MOD48 = 2 ** 48

/** A record's digest in a replicas' summary: the first 48 bits of SHA-256 over its key and value. */
export function recordDigest48 (key: string, value: Uint8Array): number {
  return parseInt(createHash('sha256').update(key).update('\n').update(value).digest('hex').slice(0, 12), 16)
}

export interface SummedKind { prefix: string, excludes?: string }

export class SummedStore implements KvStore {
  readonly #inner: KvStore
  #kinds: SummedKind[] | null = null
  readonly #sums = new Map<string, { count: number, sum: number }>()

  constructor (inner: KvStore) {
    this.#inner = inner
  }

  /** The kinds' first two characters: an entry's key (`e!…`, thousands per group commit) is passed over at once. */
  #heads = new Set<string>()

  #kindOf (key: string): SummedKind | undefined {
    if (!this.#heads.has(key.slice(0, 2))) return undefined
    return this.#kinds?.find(k => key.startsWith(k.prefix) && (k.excludes === undefined || !key.startsWith(k.excludes)))
  }

  /** Scan the store once for `kinds`' sums; every batch after moves them. */
  async initSums (kinds: SummedKind[]): Promise<void> {
    this.#kinds = kinds
    this.#heads = new Set(kinds.map(k => k.prefix.slice(0, 2)))
    if (kinds.some(k => k.prefix.length < 2)) throw new Error('bug: a summed kind\'s prefix is at least two characters')
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
  }

  /** Per kind (by prefix), the count and sum of its records; null before initSums. */
  sums (): Record<string, { count: number, sum: number }> | null {
    return this.#kinds === null ? null : Object.fromEntries([...this.#sums].map(([k, v]) => [k, { ...v }]))
  }

  async open (): Promise<void> { await this.#inner.open() }
  async close (): Promise<void> { await this.#inner.close() }
  async get (key: string): Promise<Uint8Array | undefined> { return await this.#inner.get(key) }
  entries (range: KvRange): AsyncIterable<[string, Uint8Array]> { return this.#inner.entries(range) }
  get batches (): KvStore['batches'] {
    const b = this.#inner.batches
    return b === undefined ? undefined : (range, size) => b.call(this.#inner, range, size)
  }

  async batch (ops: KvOp[], opts: { sync: boolean }): Promise<void> {
    const tracked = this.#kinds === null ? [] : ops.filter(op => this.#kindOf(op.key) !== undefined)
    if (tracked.length === 0) {
      await this.#inner.batch(ops, opts)
      return
    }
    // What each tracked key held before: a put over a record replaces its digest; a del removes it.
    const before = await Promise.all(tracked.map(async op => await this.#inner.get(op.key)))
    await this.#inner.batch(ops, opts)
    tracked.forEach((op, i) => {
      const kind = this.#kindOf(op.key) as SummedKind
      const s = this.#sums.get(kind.prefix) ?? { count: 0, sum: 0 }
      const old = before[i]
      if (old !== undefined) { s.count--; s.sum = (s.sum - recordDigest48(op.key, old) + MOD48) % MOD48 }
      if (op.type === 'put' && op.value !== undefined) { s.count++; s.sum = (s.sum + recordDigest48(op.key, op.value)) % MOD48 }
      this.#sums.set(kind.prefix, s)
    })
  }
}

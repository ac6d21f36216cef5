/**
 * The logs of neighbouring stores' tills that this till keeps, so that a store that burns
 * can get its last close back from next door. A replica needs no trust in whoever pushed
 * it: every entry is checked for its own signature on the way in (so junk cannot fill the
 * disk cheaply), and whoever recovers from it checks it again against HQ's enrolment and
 * the hash chain. Forks are kept, as evidence.
 */
import { openEntry, rejectionOf, type Entry, type TillId } from '@tillbooks/protocol'
import { prefixEnd, type KvStore } from '../storage/KvStore.ts'

const PREFIX = 'r!'
const pad = (n: number): string => String(n).padStart(12, '0')
/** Tills one store keeps replicas of: k neighbour stores of a few dozen tills each, with room. */
export const REPLICA_TILLS_MAX = 4096
/** Entries kept per replicated till beyond its contiguous head (forks, out-of-order arrivals). */
const AHEAD_MAX = 1024

/** Per entry offered: kept, already held, or refused with a reason. */
export type ReplicaOutcome = { status: 'accepted' | 'duplicate', seq: number } | { status: 'rejected', code: string, reason: string }

export class Replicas {
  readonly #store: KvStore
  /** Per till, the highest contiguous seq held (1..n all present). */
  readonly #heads = new Map<TillId, number>()
  readonly #seqs = new Map<TillId, Set<number>>()
  readonly #keys = new Set<string>()

  constructor (store: KvStore) {
    this.#store = store
  }

  async open (): Promise<void> {
    await this.#store.open()
    for await (const [key] of this.#store.entries({ gte: PREFIX, lt: prefixEnd(PREFIX) })) {
      const [tillId, seq] = parseKey(key)
      this.#note(tillId, seq, key)
    }
  }

  async close (): Promise<void> {
    await this.#store.close()
  }

  /** Highest contiguous seq held per till. */
  heads (): Record<string, number> {
    return Object.fromEntries([...this.#heads].sort((a, b) => a[0] < b[0] ? -1 : 1))
  }

  head (tillId: TillId): number {
    return this.#heads.get(tillId) ?? 0
  }

  has (tillId: TillId): boolean {
    return this.#seqs.has(tillId)
  }

  /** Keep the entries whose own signature holds; everything else is refused with a reason. */
  async add (batch: Uint8Array[], notFor: TillId): Promise<ReplicaOutcome[]> {
    const out: ReplicaOutcome[] = []
    const ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
    for (const bytes of batch) {
      let entry: Entry
      try {
        entry = openEntry(bytes, { verify: true })
      } catch (err) {
        out.push({ status: 'rejected', ...rejectionOf(err) })
        continue
      }
      if (entry.tillId === notFor) {
        out.push({ status: 'rejected', code: 'INVALID', reason: `${entry.tillId} is this till: it does not keep a replica of itself` })
        continue
      }
      if (!this.#seqs.has(entry.tillId) && this.#seqs.size >= REPLICA_TILLS_MAX) {
        out.push({ status: 'rejected', code: 'OVERSIZED', reason: `replicas of ${REPLICA_TILLS_MAX} tills already kept` })
        continue
      }
      if (entry.record.seq > this.head(entry.tillId) + AHEAD_MAX) {
        out.push({ status: 'rejected', code: 'OVERSIZED', reason: `${entry.tillId} seq ${entry.record.seq} is too far ahead of the replica (${this.head(entry.tillId)})` })
        continue
      }
      const key = `${PREFIX}${entry.tillId}!${pad(entry.record.seq)}!${entry.hash}`
      if (this.#keys.has(key)) { out.push({ status: 'duplicate', seq: entry.record.seq }); continue }
      ops.push({ type: 'put', key, value: entry.bytes })
      this.#note(entry.tillId, entry.record.seq, key)
      out.push({ status: 'accepted', seq: entry.record.seq })
    }
    // Not fsync'd: a replica lost in a crash of the neighbour is pushed again by its owner.
    if (ops.length > 0) await this.#store.batch(ops, { sync: false })
    return out
  }

  /** Every entry held for the till with seq > afterSeq, in seq order (both sides of a fork). */
  async log (tillId: TillId, afterSeq: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    const prefix = `${PREFIX}${tillId}!`
    for await (const [, bytes] of this.#store.entries({ gte: `${prefix}${pad(afterSeq + 1)}`, lt: prefixEnd(prefix) })) out.push(bytes)
    return out
  }

  #note (tillId: TillId, seq: number, key: string): void {
    this.#keys.add(key)
    const seqs = this.#seqs.get(tillId) ?? new Set<number>()
    seqs.add(seq)
    this.#seqs.set(tillId, seqs)
    let head = this.#heads.get(tillId) ?? 0
    while (seqs.has(head + 1)) head++
    this.#heads.set(tillId, head)
  }
}

function parseKey (key: string): [TillId, number] {
  const parts = key.slice(PREFIX.length).split('!')
  return [parts[0] as TillId, Number(parts[1])]
}

/**
 * The signed card approvals of neighbouring stores' tills, kept beside their log replicas
 * (ReplicaDocs), so that HQ can still name a payment when the till that took it is gone: HQ
 * asks the till first and, when it cannot answer or answers only in part (a replacement after
 * a fire holds only its own), the tills that announced holding its replica. Nothing here is
 * trusted by HQ: each approval is signed by the till, and HQ checks the signature against the
 * keys it enrolled for that till and the result against the till's signed Closes.
 *
 * Kept: each approval whose own signature holds and that names the till it was fetched as, the
 * latest per payment (a stored payment's line, then nothing newer: the till keeps it), at most
 * REPLICA_APPROVALS_PER_TILL_MAX per till. On disk (the `replicas/` LevelDB, beside the logs):
 * `a!<tillId>!<paymentId>` the envelope, not fsync'd (a replica lost in a crash is fetched again).
 */
import { openApproval, type TillId } from '@tillbooks/protocol'
import { prefixEnd, type KvStore } from '../storage/KvStore.ts'
import { REPLICA_APPROVALS_PER_TILL_MAX, REPLICA_TILLS_MAX } from './constants.ts'

const PREFIX = 'a!'

export class ReplicaApprovals {
  readonly #store: KvStore
  readonly #perTillMax: number
  /** tillId → paymentId → { envelope, atMs } */
  readonly #byTill = new Map<string, Map<string, { bytes: Uint8Array, atMs: number }>>()

  constructor (store: KvStore, o: { perTillMax?: number } = {}) {
    this.#store = store
    this.#perTillMax = o.perTillMax ?? REPLICA_APPROVALS_PER_TILL_MAX
  }

  /** Load what the store holds (the store opened by its owner, ReplicaDocs). */
  async load (): Promise<number> {
    let n = 0
    for await (const [key, bytes] of this.#store.entries({ gte: PREFIX, lt: prefixEnd(PREFIX) })) {
      const [tillId] = key.slice(PREFIX.length).split('!')
      try {
        const { approval } = openApproval(bytes)
        if (approval.till !== tillId) continue
        this.#mapOf(tillId).set(approval.paymentId, { bytes, atMs: approval.atMs })
        n++
      } catch { /* a damaged value: fetched again */ }
    }
    return n
  }

  /** Take in approvals fetched as `tillId`'s: each checked; returns how many were new, and refused with why. */
  async add (tillId: TillId, envelopes: readonly Uint8Array[]): Promise<{ added: number, refused: string[] }> {
    const refused: string[] = []
    const puts: Array<{ type: 'put', key: string, value: Uint8Array }> = []
    if (!this.#byTill.has(tillId) && this.#byTill.size >= REPLICA_TILLS_MAX) return { added: 0, refused: [`approvals of ${REPLICA_TILLS_MAX} tills kept already`] }
    const map = this.#mapOf(tillId)
    for (const bytes of envelopes) {
      try {
        const { approval } = openApproval(bytes)
        if (approval.till !== tillId) throw new Error(`an approval of till ${approval.till}`)
        const had = map.get(approval.paymentId)
        if (had !== undefined && had.atMs >= approval.atMs) continue
        if (had === undefined && map.size >= this.#perTillMax) throw new Error(`${this.#perTillMax} approvals kept of ${tillId} already`)
        map.set(approval.paymentId, { bytes, atMs: approval.atMs })
        puts.push({ type: 'put', key: `${PREFIX}${tillId}!${approval.paymentId}`, value: bytes })
      } catch (err) {
        refused.push((err as Error).message)
      }
    }
    if (puts.length > 0) await this.#store.batch(puts, { sync: false })
    return { added: puts.length, refused }
  }

  /** The approvals kept of `tillId`, in payment id order. */
  of (tillId: string): Uint8Array[] {
    const map = this.#byTill.get(tillId)
    if (map === undefined) return []
    return [...map].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0).map(([, v]) => v.bytes)
  }

  has (tillId: string): boolean {
    return (this.#byTill.get(tillId)?.size ?? 0) > 0
  }

  #mapOf (tillId: string): Map<string, { bytes: Uint8Array, atMs: number }> {
    let m = this.#byTill.get(tillId)
    if (m === undefined) {
      m = new Map()
      this.#byTill.set(tillId, m)
    }
    return m
  }
}

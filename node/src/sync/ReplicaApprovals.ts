/**
 * The signed card approvals of neighbouring stores' tills, kept beside their log replicas
 * (ReplicaDocs), so that HQ can still name a payment when the till that took it is gone: HQ
 * asks the till first and, when it cannot answer or answers only in part (a replacement after
 * a fire holds only its own), the tills that announced holding its replica. Nothing here is
 * trusted by HQ: each approval is signed by the till, and HQ checks the signature against the
 * keys it enrolled for that till and the result against the till's signed Closes.
 *
 * Kept: each approval whose own signature holds, signed by the till that served it (the key of
 * its peer id, which must be the key signing that till's replicated log: a neighbour can hand
 * over only its own), naming the till it was fetched as; a key keeps one till's; the latest
 * per payment (a stored payment's line, then nothing newer: the till keeps it), at most
 * REPLICA_APPROVALS_PER_TILL_MAX per till. On disk (the `replicas/` LevelDB, beside the logs):
 * `a!<tillId>!<paymentId>` the envelope, not fsync'd (a replica lost in a crash is fetched again).
 */
import { openApproval, toHex, type TillId } from '@tillbooks/protocol'
import { prefixEnd, type KvStore } from '../storage/KvStore.ts'
import { REPLICA_APPROVALS_PER_TILL_MAX, REPLICA_TILLS_MAX } from './constants.ts'

const PREFIX = 'a!'

export class ReplicaApprovals {
  readonly #store: KvStore
  readonly #perTillMax: number
  /** tillId → paymentId → { envelope, atMs, its place in `#order` } */
  readonly #byTill = new Map<string, Map<string, { bytes: Uint8Array, atMs: number, at: number, signer: string }>>()
  /** Per till, envelopes in the order first kept (a newer approval of a payment takes its place): positions never move, so paging by position is stable. */
  readonly #order = new Map<string, Uint8Array[]>()
  /** Per signing key, the till it signs approvals of (one: a key is enrolled for one till). */
  readonly #tillOf = new Map<string, string>()

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
        const { approval, signer } = openApproval(bytes)
        if (approval.till !== tillId || (this.#tillOf.get(toHex(signer)) ?? tillId) !== tillId) continue
        this.#tillOf.set(toHex(signer), tillId)
        this.#keep(tillId, approval.paymentId, bytes, approval.atMs, toHex(signer))
        n++
      } catch { /* a damaged value: fetched again */ }
    }
    return n
  }

  /**
   * Take in approvals fetched as `tillId`'s from the till itself, whose key is `signerKey`
   * (its peer id's key): each checked — its signature, that key, that till; returns how many
   * were new, and those refused with why. A key keeps approvals of one till only.
   */
  async add (tillId: TillId, envelopes: readonly Uint8Array[], signerKey: Uint8Array): Promise<{ added: number, refused: string[] }> {
    const refused: string[] = []
    const puts: Array<{ type: 'put', key: string, value: Uint8Array }> = []
    if (!this.#byTill.has(tillId) && this.#byTill.size >= REPLICA_TILLS_MAX) return { added: 0, refused: [`approvals of ${REPLICA_TILLS_MAX} tills kept already`] }
    const key = toHex(signerKey)
    const claimed = this.#tillOf.get(key)
    if (claimed !== undefined && claimed !== tillId) return { added: 0, refused: [`this key's approvals are kept as ${claimed}'s`] }
    for (const bytes of envelopes) {
      try {
        const { approval, signer } = openApproval(bytes)
        if (approval.till !== tillId) throw new Error(`an approval of till ${approval.till}`)
        if (toHex(signer) !== key) throw new Error('not signed by the till that served it')
        const had = this.#byTill.get(tillId)?.get(approval.paymentId)
        if (had !== undefined && had.signer !== key) throw new Error(`payment ${approval.paymentId} is kept as signed by another key`)
        if (had !== undefined && had.atMs >= approval.atMs) continue
        if (had === undefined && (this.#byTill.get(tillId)?.size ?? 0) >= this.#perTillMax) throw new Error(`${this.#perTillMax} approvals kept of ${tillId} already`)
        this.#tillOf.set(key, tillId)
        this.#keep(tillId, approval.paymentId, bytes, approval.atMs, key)
        puts.push({ type: 'put', key: `${PREFIX}${tillId}!${approval.paymentId}`, value: bytes })
      } catch (err) {
        refused.push((err as Error).message)
      }
    }
    if (puts.length > 0) await this.#store.batch(puts, { sync: false })
    return { added: puts.length, refused }
  }

  /** The approvals kept of `tillId`, in the order first kept (stable positions: paged by position). Not to be changed by the caller. */
  of (tillId: string): readonly Uint8Array[] {
    return this.#order.get(tillId) ?? []
  }

  has (tillId: string): boolean {
    return (this.#byTill.get(tillId)?.size ?? 0) > 0
  }

  #keep (tillId: string, paymentId: string, bytes: Uint8Array, atMs: number, signer: string): void {
    let m = this.#byTill.get(tillId)
    let order = this.#order.get(tillId)
    if (m === undefined || order === undefined) {
      m = new Map()
      order = []
      this.#byTill.set(tillId, m)
      this.#order.set(tillId, order)
    }
    const had = m.get(paymentId)
    if (had !== undefined) {
      order[had.at] = bytes
      m.set(paymentId, { bytes, atMs, at: had.at, signer })
    } else {
      m.set(paymentId, { bytes, atMs, at: order.length, signer })
      order.push(bytes)
    }
  }
}

/**
 * The logs of neighbouring stores' tills that this till keeps, as Automerge documents
 * (TillLog), so that a store that burns can get its last close back from next door. They
 * arrive by Automerge's sync protocol (DocSync pulls them, screened) or as signed entries
 * pushed over the submit protocol, and are served to anyone: by sync, and as entries over
 * the log protocol (fire recovery). A replica needs no trust in whoever sent it: entries
 * pushed are checked for their own signature on the way in, and whoever recovers from a
 * replica checks it again against HQ's enrolment and the hash chain. Forks and forgeries
 * that came with a synced document are kept, as evidence; a replica's `seq` counts only
 * entries whose own signature holds.
 *
 * On disk (the till's `replicas/` LevelDB): `d!<tillId>` the document's `save()` after each
 * change, not fsync'd (a replica lost in a crash is synced again from its owner). A
 * directory of the layout before (`r!<tillId>!<seq>!<hash>`, one entry each) is migrated
 * on open, once.
 */
import { createHash } from 'node:crypto'
import { actorIdFor, TillLog, WrongTillError } from '@tillbooks/crdt'
import { openEntry, rejectionOf, toHex, type Entry, type PublicKey, type TillId } from '@tillbooks/protocol'
import { prefixEnd, type KvOp, type KvStore } from '../storage/KvStore.ts'
import { REPLICA_TILLS_MAX } from './constants.ts'
import type { SyncDocs } from './DocSync.ts'

const DOC_PREFIX = 'd!'
const LEGACY_PREFIX = 'r!'
/** Entries kept per replicated till beyond its contiguous head (forks, out-of-order arrivals). */
const AHEAD_MAX = 1024

/** Per entry offered: kept, already held, or refused with a reason. */
export type ReplicaOutcome = { status: 'accepted' | 'duplicate', seq: number } | { status: 'rejected', code: string, reason: string }

interface Replica {
  log: TillLog
  /** Seq of each stored envelope whose own signature holds (0: it does not), by SHA-256 of its bytes: each is checked once. */
  valid: Map<string, { seq: number, hash: string } | null>
  /** `<seq>:<entry hash>` of every entry whose own signature holds. */
  held: Set<string>
  head: number
}

export class ReplicaDocs implements Pick<SyncDocs, 'replicaFor' | 'changed'> {
  readonly #store: KvStore
  readonly #actorId: (tillId: TillId) => string
  readonly #replicas = new Map<TillId, Replica>()

  /** `self` is this till's own key: replicas are written under an actor of its own. */
  constructor (store: KvStore, self: PublicKey) {
    this.#store = store
    const tag = `replica:${toHex(self).slice(0, 32)}`
    this.#actorId = tillId => actorIdFor(tillId, tag)
  }

  /** Open the store; a replica that no longer loads (over a limit, damaged) is set aside and reported, not fatal. */
  async open (): Promise<{ unloadable: Array<{ tillId: string, reason: string }> }> {
    await this.#store.open()
    const unloadable: Array<{ tillId: string, reason: string }> = []
    for await (const [key, bytes] of this.#store.entries({ gte: DOC_PREFIX, lt: prefixEnd(DOC_PREFIX) })) {
      const tillId = key.slice(DOC_PREFIX.length) as TillId
      let log: TillLog
      try {
        log = TillLog.load(bytes, { actorId: this.#actorId(tillId) })
      } catch (err) {
        unloadable.push({ tillId, reason: (err as Error).message })
        continue
      }
      const r: Replica = { log, valid: new Map(), held: new Set(), head: 0 }
      this.#recount(r)
      this.#replicas.set(tillId, r)
    }
    await this.#migrate()
    return { unloadable }
  }

  async #migrate (): Promise<void> {
    const old: KvOp[] = []
    const entries: Uint8Array[] = []
    for await (const [key, bytes] of this.#store.entries({ gte: LEGACY_PREFIX, lt: prefixEnd(LEGACY_PREFIX) })) {
      old.push({ type: 'del', key })
      entries.push(bytes)
    }
    if (old.length === 0) return
    const touched = new Set<TillId>()
    for (const bytes of entries) {
      try {
        const e = openEntry(bytes, { verify: true })
        const r = this.#replica(e.tillId)
        if (r !== undefined) { r.log.ingest(e); touched.add(e.tillId) }
      } catch { /* kept only what verified before; anything else stays behind */ }
    }
    const ops: KvOp[] = [...touched].map(id => ({ type: 'put' as const, key: DOC_PREFIX + id, value: (this.#replicas.get(id) as Replica).log.save() }))
    for (const id of touched) this.#recount(this.#replicas.get(id) as Replica)
    await this.#store.batch([...ops, ...old], { sync: true })
  }

  async close (): Promise<void> {
    for (const r of this.#replicas.values()) r.log.free()
    this.#replicas.clear()
    await this.#store.close()
  }

  /** The store replicas live in (DocSync keeps its sync states there too). */
  get store (): KvStore { return this.#store }

  /** Highest contiguous seq held per till (entries whose own signature holds). */
  heads (): Record<string, number> {
    return Object.fromEntries([...this.#replicas].map(([id, r]) => [id, r.head] as const).sort((a, b) => a[0] < b[0] ? -1 : 1))
  }

  /** Each replica's head as an announcement gives it: till, seq and the entry's hash (to tell HQ where replicas live). */
  headsWithHash (): Array<{ tillId: string, seq: number, hash: string }> {
    const out: Array<{ tillId: string, seq: number, hash: string }> = []
    for (const [id, r] of this.#replicas) {
      if (r.head === 0) continue
      const at = `${r.head}:`
      for (const h of r.held) if (h.startsWith(at)) { out.push({ tillId: id, seq: r.head, hash: h.slice(at.length) }); break }
    }
    return out.sort((a, b) => a.tillId < b.tillId ? -1 : a.tillId > b.tillId ? 1 : 0)
  }

  /** The key that signed the replica's head entry (its signature checked when it was kept), if any. */
  async headSigner (tillId: TillId): Promise<Uint8Array | undefined> {
    const r = this.#replicas.get(tillId)
    if (r === undefined || r.head === 0) return undefined
    for (const bytes of await this.log(tillId, r.head - 1)) {
      const e = openEntry(bytes, { verify: false })
      if (e.seq === r.head && r.held.has(`${e.seq}:${e.hash}`)) return e.signer
    }
    return undefined
  }

  /** Per till: that seq and the document's Automerge heads (GET /replicas). */
  summary (): Record<string, { seq: number, heads: string[] }> {
    return Object.fromEntries([...this.#replicas].map(([id, r]) => [id, { seq: r.head, heads: r.log.getHeads() }] as const).sort((a, b) => a[0] < b[0] ? -1 : 1))
  }

  head (tillId: TillId): number {
    return this.#replicas.get(tillId)?.head ?? 0
  }

  has (tillId: TillId): boolean {
    return this.#replicas.has(tillId)
  }

  /** Whether the replica holds this very entry (an announced head): another entry at its seq, a fork or a forgery, does not count. */
  holds (tillId: TillId, seq: number, hash: string): boolean {
    return this.#replicas.get(tillId)?.held.has(`${seq}:${hash}`) ?? false
  }

  /** The replica's document, if kept. */
  doc (tillId: TillId): TillLog | undefined {
    return this.#replicas.get(tillId)?.log
  }

  replicaFor (tillId: TillId): TillLog | undefined {
    return this.#replica(tillId)?.log
  }

  async changed (tillId: TillId): Promise<void> {
    const r = this.#replicas.get(tillId)
    if (r === undefined) return
    this.#recount(r)
    await this.#store.batch([{ type: 'put', key: DOC_PREFIX + tillId, value: r.log.save() }], { sync: false })
  }

  /** Keep the pushed entries whose own signature holds; everything else is refused with a reason. */
  async add (batch: Uint8Array[], notFor: TillId): Promise<ReplicaOutcome[]> {
    const out: ReplicaOutcome[] = []
    const touched = new Set<TillId>()
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
      const r = this.#replica(entry.tillId)
      if (r === undefined) {
        out.push({ status: 'rejected', code: 'OVERSIZED', reason: `replicas of ${REPLICA_TILLS_MAX} tills already kept` })
        continue
      }
      if (entry.record.seq > r.head + AHEAD_MAX) {
        out.push({ status: 'rejected', code: 'OVERSIZED', reason: `${entry.tillId} seq ${entry.record.seq} is too far ahead of the replica (${r.head})` })
        continue
      }
      try {
        const added = r.log.ingest(entry)
        if (added === 'added') touched.add(entry.tillId)
        out.push({ status: added === 'added' ? 'accepted' : 'duplicate', seq: entry.record.seq })
      } catch (err) {
        if (err instanceof WrongTillError) throw err
        out.push({ status: 'rejected', code: 'OVERSIZED', reason: (err as Error).message })
      }
    }
    for (const id of touched) await this.changed(id)
    return out
  }

  /** Every entry held for the till with seq > afterSeq, in seq order (both sides of a fork, forgeries too: recovery judges them). */
  async log (tillId: TillId, afterSeq: number): Promise<Uint8Array[]> {
    const r = this.#replicas.get(tillId)
    if (r === undefined) return []
    const out: Uint8Array[] = []
    for (const bytes of r.log.entryBytes()) {
      try {
        if (openEntry(bytes, { verify: false }).seq > afterSeq) out.push(bytes)
      } catch { /* stored as evidence, not an entry at all: not served as one */ }
    }
    return out
  }

  #replica (tillId: TillId): Replica | undefined {
    let r = this.#replicas.get(tillId)
    if (r === undefined) {
      if (this.#replicas.size >= REPLICA_TILLS_MAX) return undefined
      r = { log: TillLog.create(tillId, { actorId: this.#actorId(tillId) }), valid: new Map(), held: new Set(), head: 0 }
      this.#replicas.set(tillId, r)
    }
    return r
  }

  /** The contiguous head over entries whose own signature holds (each checked once). */
  #recount (r: Replica): void {
    const seqs = new Set<number>()
    for (const bytes of r.log.entryBytes()) {
      const key = createHash('sha256').update(bytes).digest('hex')
      let v = r.valid.get(key)
      if (v === undefined) {
        try {
          const e = openEntry(bytes, { verify: true })
          v = { seq: e.seq, hash: e.hash }
        } catch {
          v = null
        }
        r.valid.set(key, v)
      }
      if (v !== null) {
        seqs.add(v.seq)
        r.held.add(`${v.seq}:${v.hash}`)
      }
    }
    let head = 0
    while (seqs.has(head + 1)) head++
    r.head = head
  }
}

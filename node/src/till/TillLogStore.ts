/**
 * The till's own log of record: its TillLog (an Automerge document, @tillbooks/crdt) kept
 * in the till's KvStore as Automerge's own storage units:
 *
 *   a!doc               a snapshot: `save()`, the whole document compacted
 *   a!chunk!<n, 12>     incremental chunks: `saveIncremental()`, one per append since the snapshot
 *
 * Loading concatenates the snapshot and the chunks in order (Automerge loads such a
 * concatenation as one document). An append writes one chunk, in the caller's batch (with
 * the till's state), fsync'd before the till answers. With LOG_CHUNKS_MAX chunks on disk
 * the next append compacts instead: the new snapshot and the deletion of every chunk it folds in,
 * one batch, so a crash leaves the old set or the new one, never a mix.
 *
 * A directory written before the log was a document (`l!<seq>` keys, one signed entry
 * each) is migrated on first start, once: every entry verified and appended to a new
 * document, the snapshot written and the old keys deleted in one batch.
 */
import { TillLog, tillActorOf } from '@tillbooks/crdt'
import { openEntry, toHex, type Entry, type PublicKey, type TillId } from '@tillbooks/protocol'
import { prefixEnd, type KvOp, type KvStore } from '../storage/KvStore.ts'

export const LOG_DOC_KEY = 'a!doc'
export const LOG_CHUNK_PREFIX = 'a!chunk!'
/** The layout before the log was a document: one signed entry per seq. */
export const LEGACY_LOG_PREFIX = 'l!'
/** Chunks kept beside the snapshot at most (~2 months of a till's records); the append after them compacts. */
export const LOG_CHUNKS_MAX = 128

const pad = (n: number): string => String(n).padStart(12, '0')

export interface LoadedLog {
  log: TillLog
  /** The verified entries, seq order. */
  entries: Entry[]
  /** Entries migrated from the old layout on this start (0 when there was nothing to migrate). */
  migrated: number
}

/** The till's actor id: derived from its key, so a replacement till (a new key) never reuses its predecessor's. */
export function tillActorId (tillId: TillId, key: PublicKey): string {
  return tillActorOf(tillId, key)
}

export class TillLogStore {
  readonly #store: KvStore
  readonly #tillId: TillId
  readonly #actorId: string
  /** Chunks on disk beside the snapshot; the next chunk's number. */
  #chunks: string[] = []
  #nextChunk = 1

  readonly #ownKey: PublicKey

  constructor (c: { store: KvStore, tillId: TillId, ownKey: PublicKey }) {
    this.#store = c.store
    this.#tillId = c.tillId
    this.#ownKey = c.ownKey
    this.#actorId = tillActorId(c.tillId, c.ownKey)
  }

  /** The log from disk (migrating the old layout once), every entry verified again on the way in. */
  async load (): Promise<LoadedLog> {
    const snapshot = await this.#store.get(LOG_DOC_KEY)
    this.#chunks = []
    const parts: Uint8Array[] = snapshot === undefined ? [] : [snapshot]
    for await (const [key, bytes] of this.#store.entries({ gte: LOG_CHUNK_PREFIX, lt: prefixEnd(LOG_CHUNK_PREFIX) })) {
      this.#chunks.push(key)
      parts.push(bytes)
    }
    const last = this.#chunks[this.#chunks.length - 1]
    this.#nextChunk = last === undefined ? 1 : Number(last.slice(LOG_CHUNK_PREFIX.length)) + 1
    if (parts.length === 0) return await this.#migrate()
    const log = TillLog.load(Buffer.concat(parts), { actorId: this.#actorId })
    if (log.tillId !== this.#tillId) throw new Error(`the log on disk is ${log.tillId}'s, not ${this.#tillId}'s`)
    // Our own log: verified when we signed each entry, checked again (signature, chain) here,
    // by who signed each: below a replacement's first seq a key HQ enrolled before ours, from
    // it on ours (the till holds no older certificates). verify() checks each signature once.
    const stored = log.entryBytes()
    const signers = new Map(stored.map(b => { const e = openEntry(b, { verify: false }); return [e.seq, e.signer] }))
    const report = log.verify((_t, seq) => signers.get(seq) ?? this.#ownKey)
    if (report.chain.length !== stored.length) throw new Error(`the till's own log on disk does not verify: ${report.stop?.reason ?? report.invalid[0]?.reason ?? 'entries outside the chain'}`)
    return { log, entries: [...report.chain], migrated: 0 }
  }

  async #migrate (): Promise<LoadedLog> {
    const log = TillLog.create(this.#tillId, { actorId: this.#actorId })
    const entries: Entry[] = []
    const old: KvOp[] = []
    for await (const [key, bytes] of this.#store.entries({ gte: LEGACY_LOG_PREFIX, lt: prefixEnd(LEGACY_LOG_PREFIX) })) {
      const e = openEntry(bytes, { verify: true })
      log.append(e)
      entries.push(e)
      old.push({ type: 'del', key })
    }
    // A new till writes nothing yet: its first append's chunk carries the genesis change too.
    if (old.length > 0) await this.#store.batch([{ type: 'put', key: LOG_DOC_KEY, value: log.save() }, ...old], { sync: true })
    return { log, entries, migrated: old.length }
  }

  /**
   * A replacement till's log, from a recovered chain (verified by the caller): with the
   * recovered document's own changes when they are given and carry exactly that chain (so
   * the log shares its history, and heads, with the neighbours' replicas), else the entries
   * appended anew. Returns the log and the ops that make it durable (one snapshot), for the
   * caller's batch; then `written(ops)`.
   */
  adopt (entries: Entry[], changes: Uint8Array[] | null): { log: TillLog, ops: KvOp[], withHistory: boolean } {
    const signers = new Map(entries.map(e => [e.seq, e.signer]))
    const keyFor = (_t: TillId, seq: number): PublicKey | undefined => signers.get(seq) ?? this.#ownKey
    if (changes !== null) {
      const log = TillLog.create(this.#tillId, { actorId: this.#actorId })
      const applied = log.applyChanges(changes)
      const report = log.verify(keyFor)
      if (applied.rejected.length === 0 && log.entryCount === entries.length && report.chain.length === entries.length && report.chain.every((e, i) => e.hash === entries[i]?.hash)) {
        return { log, ops: [{ type: 'put', key: LOG_DOC_KEY, value: log.save() }], withHistory: true }
      }
      log.free()
    }
    const log = TillLog.create(this.#tillId, { actorId: this.#actorId, keyFor })
    for (const e of entries) log.append(e)
    return { log, ops: [{ type: 'put', key: LOG_DOC_KEY, value: log.save() }], withHistory: false }
  }

  /**
   * The ops that make `log`'s latest appends durable: one chunk, or a compaction. The
   * caller writes them in its batch with `sync: true`, then calls `written(ops)`.
   */
  persistOps (log: TillLog): KvOp[] {
    if (this.#chunks.length >= LOG_CHUNKS_MAX) {
      return [{ type: 'put', key: LOG_DOC_KEY, value: log.save() }, ...this.#chunks.map(key => ({ type: 'del' as const, key }))]
    }
    return [{ type: 'put', key: `${LOG_CHUNK_PREFIX}${pad(this.#nextChunk)}`, value: log.saveIncremental() }]
  }

  /** Record what a batch of `persistOps` wrote. */
  written (ops: KvOp[]): void {
    for (const op of ops) {
      if (op.key === LOG_DOC_KEY) this.#chunks = []
      else if (op.key.startsWith(LOG_CHUNK_PREFIX) && op.type === 'put') {
        this.#chunks.push(op.key)
        this.#nextChunk++
      }
    }
  }

  /** Chunks beside the snapshot now (for tests and /status). */
  get chunks (): number {
    return this.#chunks.length
  }
}

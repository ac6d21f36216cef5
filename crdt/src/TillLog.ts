/**
 * TillLog: one till's signed, append-only, hash-chained log, kept as an Automerge document.
 *
 * Document shape (all of it made by the till's *genesis change*, see below):
 * ```
 * { tillId: "S1-1", v: 1, entries: { "<seq:12>:<entry hash>:<envelope digest>": <envelope bytes>, ... } }
 * ```
 * - Entries are the opaque signed envelope bytes (protocol's `Entry.bytes`), never records
 *   materialised as Automerge maps: a bytes value decodes ~16x faster than a 15-field map.
 * - One key per distinct envelope (entryKey.ts), so a fork (two records at one seq) keeps
 *   both records through any merge, as evidence.
 * - The CRDT accepts every well-formed entry; judgement (signature, enrolment, chain,
 *   forks) is `verify`, a pure function of the stored set. Only changes no honest TillLog
 *   writes are refused at the boundary (screen.ts).
 * - Genesis: every replica of a till starts from the same change (a fixed actor derived from
 *   the till id, time 0), so independently created replicas share one `entries` map; two
 *   replicas each creating their own map would conflict and one map would hide the other.
 * - Changes carry time 0: Automerge's wall-clock stamp is not needed (records carry their
 *   own `atMs`) and would make saved bytes differ between runs of the simulator.
 * - The log drives Automerge's document handle (`getBackend`) and never materialises the
 *   JS view of the document: measured on a year of entries, `A.change` cost 0.6–1 ms per
 *   append against 0.15–0.25 ms for put + commit, and `A.load` ~1.5x a plain load, while
 *   the JS view would keep a second copy of every entry in memory (HQ holds many logs).
 *
 * Verified head: `head()` is the head of the chain in the last report, kept while the
 * document is unchanged, extended by the till's own appends, and recomputed with the last
 * known `keyFor` after anything arrives from elsewhere. Call `verify(keyFor)` again after
 * the enrolment changes.
 */
import * as A from '@automerge/automerge'
import {
  ENTRY_BYTES_MAX, GENESIS_HASH, MalformedError, OversizedError, bytesEqual, invariant, openEntry, parseTillId,
  type BusinessDay, type Entry, type TillId
} from '@tillbooks/protocol'
import {
  APPLY_CHANGES_MAX, CHANGE_BYTES_MAX, CHANGE_ENTRIES_MAX, GENESIS_CACHE_MAX, LOG_BYTES_MAX, LOG_ENTRIES_MAX, PENDING_CHANGES_MAX
} from './constants.ts'
import { readEntryChange } from './entryChange.ts'
import { entryKey, keyOfBytes } from './entryKey.ts'
import { actorFrom, ENTRIES_OBJ_COUNTER, genesisActorOf } from './genesis.ts'
import { ChainBrokenError, ForkDetectedError, LogFullError, NotVerifiedError, OutOfOrderError, SyncRefusedError, UnenrolledError, WrongTillError } from './errors.ts'
import { screenChange, type ScreenContext } from './screen.ts'
import { pendingKeys, screenSyncMessage, updatePending, type Handle, type PendingChange } from './screenedSync.ts'
import { generate, receive, type SyncState } from './syncState.ts'
import { verifyEntries, type KeyFor, type LogHead, type LogReport, type OpenCache, type StoredEntry } from './verify.ts'

export interface TillLogInit {
  /**
   * This replica's Automerge actor id (even-length lower-case hex, 2..64 digits). Default:
   * random. The simulator uses `actorIdFor(tillId, replicaName)`. Two live replicas must
   * never share an actor id (Automerge would see two different changes with one seq).
   */
  actorId?: string
  /** The enrolment (protocol's `Enrolment.keyFor`): lets head() re-verify by itself and append check the signer. */
  keyFor?: KeyFor
  /** Default LOG_ENTRIES_MAX. */
  entriesMax?: number
  /** Default LOG_BYTES_MAX (load only). */
  logBytesMax?: number
  /** Default APPLY_CHANGES_MAX. */
  applyChangesMax?: number
  /** Default CHANGE_BYTES_MAX. */
  changeBytesMax?: number
  /** Default CHANGE_ENTRIES_MAX. */
  changeEntriesMax?: number
  /** Default PENDING_CHANGES_MAX. */
  pendingChangesMax?: number
}

/** What `applyChanges` and `merge` did with the changes they were given. */
export interface ApplyReport {
  /** Changes that passed the boundary check (including ones already held; Automerge ignores those). */
  accepted: number
  /** Changes refused (index into the input), with why. */
  rejected: { index: number, reason: string }[]
}

/** What a till needs to continue a log: e.g. a replacement till after a fire, from a recovered replica. */
export interface ResumePoint {
  nextSeq: number
  prevHash: Uint8Array
  /** The head's business day, null on an empty log. */
  lastBusinessDay: BusinessDay | null
  /** The next document number: the last Close's docLast + 1, or 1. */
  nextDocN: number
}

interface LogDoc {
  tillId: A.ImmutableString
  v: number
  entries: { [key: string]: Uint8Array }
}

interface Genesis { change: Uint8Array, hash: string, entriesObj: string, actor: string }


/**
 * A fresh, empty document: its JS root (needed by Automerge's sync functions only) and its
 * handle, through which everything else goes. It lives as long as we hold it (wasm-bindgen
 * frees it on GC, or `free()`).
 */
function newDoc (actor: string | undefined): { view: A.Doc<unknown>, am: Handle } {
  const view = A.init(actor === undefined ? undefined : { actor })
  return { view, am: A.getBackend(view) }
}

/** Automerge's sync state for one peer (syncState.ts: `initSyncState`, `decodeSyncState`). */
export type { SyncState }

interface Limits { entriesMax: number, applyChangesMax: number, changeBytesMax: number, changeEntriesMax: number, logBytesMax: number, pendingChangesMax: number }

const DOC_VERSION = 1
const ACTOR_RE = /^([0-9a-f]{2}){1,32}$/
const HEAD_RE = /^[0-9a-f]{64}$/
const genesisCache = new Map<TillId, Genesis>()

/** A deterministic actor id for one replica of a till's log (e.g. 'till', 'hq', 'neighbour:S2', 'till#2'). */
export function actorIdFor (tillId: TillId, replica: string): string {
  parseTillId(tillId)
  if (typeof replica !== 'string' || replica.length === 0 || replica.length > 64) throw new MalformedError('a replica name is 1..64 characters')
  return actorFrom('actor', tillId, replica)
}

/** The till's genesis change: the same bytes on every replica, for the same till. */
function genesisOf (tillId: TillId): Genesis {
  const hit = genesisCache.get(tillId)
  if (hit !== undefined) return hit
  const actor = genesisActorOf(tillId)
  const doc = A.change(A.init<LogDoc>({ actor }), { time: 0 }, d => {
    d.tillId = new A.ImmutableString(tillId)
    d.v = DOC_VERSION
    d.entries = {}
  })
  const change = A.getLastLocalChange(doc)
  const hash = A.getHeads(doc)[0]
  const entriesObj = A.getObjectId(doc, 'entries')
  invariant(change !== undefined && hash !== undefined && entriesObj !== null, 'genesis change made')
  // Readers without a document (entryChange.ts) name the map from the till id alone.
  invariant(entriesObj === `${ENTRIES_OBJ_COUNTER}@${actor}`, 'the entries map is the genesis change\'s third op')
  const genesis = { change, hash, entriesObj, actor }
  if (genesisCache.size >= GENESIS_CACHE_MAX) genesisCache.clear()
  genesisCache.set(tillId, genesis)
  return genesis
}

function checkActor (actorId: string | undefined, genesis: Genesis): string | undefined {
  if (actorId === undefined) return undefined
  if (typeof actorId !== 'string' || !ACTOR_RE.test(actorId)) throw new MalformedError('an actor id is even-length lower-case hex, 2..64 digits')
  if (actorId === genesis.actor) throw new MalformedError('the genesis actor id is reserved')
  return actorId
}

function headsKey (am: Handle): string {
  return am.getHeads().join(',')
}

function limitsOf (init: TillLogInit): Limits {
  const limits = {
    entriesMax: init.entriesMax ?? LOG_ENTRIES_MAX,
    applyChangesMax: init.applyChangesMax ?? APPLY_CHANGES_MAX,
    changeBytesMax: init.changeBytesMax ?? CHANGE_BYTES_MAX,
    changeEntriesMax: init.changeEntriesMax ?? CHANGE_ENTRIES_MAX,
    logBytesMax: init.logBytesMax ?? LOG_BYTES_MAX,
    pendingChangesMax: init.pendingChangesMax ?? PENDING_CHANGES_MAX
  }
  for (const [name, value] of Object.entries(limits)) invariant(Number.isSafeInteger(value) && value >= 1, `${name} is a positive integer`)
  return limits
}

function freeze (report: LogReport): LogReport {
  Object.freeze(report.chain)
  Object.freeze(report.forks)
  Object.freeze(report.invalid)
  Object.freeze(report.gaps)
  return Object.freeze(report)
}

const EMPTY_REPORT: LogReport = freeze({ chain: [], head: null, forks: [], invalid: [], gaps: [], stop: null })

export class TillLog {
  readonly tillId: TillId
  readonly #am: Handle
  readonly #genesis: Genesis
  readonly #limits: Limits
  #keyFor: KeyFor | undefined
  /** The last report and the document heads it was computed at. */
  #verified: { heads: string, report: LogReport } | undefined
  readonly #opened: OpenCache = new Map()
  #entryCount: number
  /** Bytes of the changes this replica holds, near enough (the bound on what sync may add). */
  #bytes = 0
  /** Hashes of changes taken in by sync and queued by Automerge for their dependencies. */
  readonly #pending = new Map<string, PendingChange>()

  private constructor (tillId: TillId, doc: { view: A.Doc<unknown>, am: Handle }, genesis: Genesis, init: TillLogInit) {
    const am = doc.am
    this.tillId = tillId
    this.#am = am
    this.#genesis = genesis
    this.#limits = limitsOf(init)
    this.#keyFor = init.keyFor
    this.#entryCount = am.keys(genesis.entriesObj).length
    this.#bytes = am.getChanges([]).reduce((n, c) => n + c.length, 0)
    if (this.#entryCount === 0) this.#verified = { heads: headsKey(am), report: EMPTY_REPORT }
  }

  /** A new, empty replica of `tillId`'s log. */
  static create (tillId: TillId, init: TillLogInit = {}): TillLog {
    parseTillId(tillId)
    const genesis = genesisOf(tillId)
    const doc = newDoc(checkActor(init.actorId, genesis))
    doc.am.applyChanges([genesis.change])
    return new TillLog(tillId, doc, genesis, init)
  }

  /**
   * A replica from `save()`'s bytes. Checks the document's shape (the till's genesis, one
   * entries map) but not its history: to take in a replica from a peer, merge it into a log
   * of your own (`TillLog.create(tillId).merge(TillLog.load(peerBytes))`), which screens it.
   */
  static load (bytes: Uint8Array, init: TillLogInit = {}): TillLog {
    if (!(bytes instanceof Uint8Array)) throw new MalformedError('a saved log is bytes')
    const logBytesMax = init.logBytesMax ?? LOG_BYTES_MAX
    if (bytes.length > logBytesMax) throw new LogFullError(`saved log is ${bytes.length} bytes, at most ${logBytesMax}`)
    if (init.actorId !== undefined && !ACTOR_RE.test(init.actorId)) throw new MalformedError('an actor id is even-length lower-case hex, 2..64 digits')
    const doc = newDoc(init.actorId)
    const am = doc.am
    try {
      am.loadIncremental(bytes)
    } catch (err) {
      throw new MalformedError(`not a saved Automerge document: ${(err as Error).message}`)
    }
    const ids = am.getAll('_root', 'tillId')
    const id = ids[0]
    if (ids.length !== 1 || id === undefined || id[0] !== 'str' || typeof id[1] !== 'string') throw new MalformedError('not a till log: no single tillId')
    let tillId: TillId
    try {
      parseTillId(id[1])
      tillId = id[1] as TillId
    } catch {
      throw new MalformedError('not a till log: bad tillId')
    }
    const genesis = genesisOf(tillId)
    checkActor(init.actorId, genesis)
    if (am.getChangeByHash(genesis.hash) === null) throw new MalformedError(`not a till log: no genesis change for ${tillId}`)
    const maps = am.getAll('_root', 'entries')
    if (maps.length !== 1 || maps[0]?.[1] !== genesis.entriesObj) throw new MalformedError('not a till log: the entries map is not the genesis one')
    // What was loaded is saved already: the next saveIncremental holds only what comes after.
    am.saveIncremental()
    const log = new TillLog(tillId, doc, genesis, init)
    if (log.#entryCount > log.#limits.entriesMax) throw new LogFullError(`saved log holds ${log.#entryCount} entries, at most ${log.#limits.entriesMax}`)
    return log
  }

  /** The whole document, compacted (Automerge's `save`): also marks everything as saved. */
  save (): Uint8Array {
    return this.#am.save()
  }

  /**
   * The changes since the last `save`, `saveIncremental` or load, as one chunk that
   * `load` accepts appended to the saved bytes (Automerge's `saveIncremental`): a till
   * persists an append as one small chunk rather than the whole document.
   */
  saveIncremental (): Uint8Array {
    return this.#am.saveIncremental()
  }

  /**
   * Release the document's memory now rather than when the garbage collector finds the
   * handle (Automerge lives in wasm memory, freed by a finalizer that may run late: a
   * process that opens thousands of logs in turn grows its wasm heap and slows down).
   * The log cannot be used after.
   */
  free (): void {
    this.#am.free()
  }

  /** This replica's Automerge actor id. */
  get actorId (): string {
    return this.#am.getActorId()
  }

  /** Distinct stored entries (chain, forks, forgeries). */
  get entryCount (): number {
    return this.#entryCount
  }

  /**
   * The owning till appends its next entry: signed (checked against the envelope's signer
   * and, when `keyFor` is known, against the enrolment), for this till, at seq head.seq + 1
   * with prevHash = head's hash, and not next to another validly-signed entry at that seq.
   * Throws WrongTillError, OutOfOrderError, ChainBrokenError, ForkDetectedError,
   * UnenrolledError, NotVerifiedError, or protocol's ForgedError/MalformedError/OversizedError.
   */
  append (entry: Entry): void {
    const bytes = entry.bytes
    if (!(bytes instanceof Uint8Array)) throw new MalformedError('an entry is bytes')
    if (bytes.length > ENTRY_BYTES_MAX) throw new OversizedError(`entry is ${bytes.length} bytes, at most ${ENTRY_BYTES_MAX}`)
    const opened = openEntry(bytes)
    if (opened.hash !== entry.hash) throw new MalformedError('entry.hash does not match its bytes')
    if (opened.tillId !== this.tillId) throw new WrongTillError(`entry of till ${opened.tillId} appended to the log of ${this.tillId}`)
    const seq = opened.record.seq
    if (this.#keyFor !== undefined) {
      const key = this.#keyFor(this.tillId, seq)
      if (key === undefined || !bytesEqual(key, opened.signer)) throw new UnenrolledError(`the entry's signer is not enrolled for ${this.tillId} at seq ${seq}`)
    }
    const report = this.#report()
    const expected = (report.head?.seq ?? 0) + 1
    if (seq !== expected) throw new OutOfOrderError(`seq ${seq} appended to ${this.tillId}, expected ${expected}`)
    const prevHash = report.chain[report.chain.length - 1]?.hashBytes ?? GENESIS_HASH
    if (!bytesEqual(opened.record.prevHash, prevHash)) throw new ChainBrokenError(`seq ${seq}'s prevHash is not the hash of seq ${seq - 1}`)
    if (report.stop !== null && report.stop.seq === expected && report.stop.code !== 'GAP') {
      throw new ForkDetectedError(`seq ${seq} of ${this.tillId} already holds another validly-signed entry: ${report.stop.reason}`)
    }
    const key = entryKey(seq, opened.hash, bytes)
    this.#opened.set(key, { bytes, result: opened })
    const known = this.#has(key)
    if (!known) this.#put(key, bytes)
    if (!known && report.stop === null) {
      // Nothing valid lay beyond the head, so the entry just extends the chain.
      this.#verified = { heads: headsKey(this.#am), report: freeze({ ...report, chain: [...report.chain, opened], head: { seq, hash: opened.hash } }) }
    }
  }

  /**
   * Store an entry received from anyone (a relay, a replica), as evidence even if it forks
   * or is forged: signatures are the caller's boundary check and `verify`'s, not this one's.
   * Refuses (throws) bytes that are not an entry envelope, oversized entries, entries of
   * another till and entries beyond the log's limits.
   */
  ingest (entry: Pick<Entry, 'bytes'>): 'added' | 'duplicate' {
    const { key, tillId } = keyOfBytes(entry.bytes)
    if (tillId !== this.tillId) throw new WrongTillError(`entry of till ${tillId} offered to the log of ${this.tillId}`)
    if (this.#has(key)) return 'duplicate'
    if (this.#entryCount >= this.#limits.entriesMax) throw new LogFullError(`log of ${this.tillId} holds ${this.#entryCount} entries, at most ${this.#limits.entriesMax}`)
    this.#put(key, entry.bytes)
    return 'added'
  }

  /** Take in every change of another replica of this till's log (screened like applyChanges). */
  merge (other: TillLog): ApplyReport {
    if (!(other instanceof TillLog)) throw new MalformedError('merge takes a TillLog')
    if (other.tillId !== this.tillId) throw new WrongTillError(`cannot merge the log of ${other.tillId} into the log of ${this.tillId}`)
    if (other === this) return { accepted: 0, rejected: [] }
    return this.#apply(this.#am.getChangesAdded(other.#am))
  }

  getHeads (): string[] {
    return this.#am.getHeads()
  }

  /** Changes a peer at `heads` lacks (all of them if it holds heads this replica has never seen). */
  getChangesSince (heads: string[]): Uint8Array[] {
    if (!Array.isArray(heads) || heads.some(h => typeof h !== 'string' || !HEAD_RE.test(h))) throw new MalformedError('heads are hex change hashes')
    return this.#am.getChanges(heads)
  }

  /**
   * Apply a peer's changes. Each is checked at the boundary (screen.ts) and refused if it is
   * not what an honest TillLog writes; the rest are applied (Automerge holds any whose
   * dependencies have not arrived). Throws LogFullError when over a limit.
   */
  applyChanges (changes: Uint8Array[]): ApplyReport {
    if (!Array.isArray(changes)) throw new MalformedError('changes are a list')
    if (changes.length > this.#limits.applyChangesMax) throw new LogFullError(`${changes.length} changes at once, at most ${this.#limits.applyChangesMax}`)
    return this.#apply(changes)
  }

  /**
   * The next Automerge sync message for the peer whose sync state is `state` (null: nothing
   * to say), and the state to keep for that peer. Automerge's own sync protocol
   * (`generateSyncMessage`); a state made with `initSyncState({ readOnly: true })` serves
   * this log without ever taking changes from the peer.
   */
  generateSyncMessage (state: SyncState): { state: SyncState, message: Uint8Array | null } {
    return { state, message: generate(this.#am, state) }
  }

  /**
   * Take in a peer's sync message, screened first: every change it carries (and every
   * change inside a whole-document chunk, which Automerge sends to a peer that has
   * nothing) is checked at the signed-entry boundary (screen.ts) before Automerge sees any
   * of it. One refused change refuses the whole message (SyncRefusedError): nothing of it
   * is applied and the caller drops the session. Returns the peer's new sync state and the
   * entries it added.
   */
  receiveSyncMessage (state: SyncState, message: Uint8Array): { state: SyncState, added: number } {
    const ctx: ScreenContext = { tillId: this.tillId, entriesObj: this.#genesis.entriesObj, genesisHash: this.#genesis.hash, ...this.#limits }
    const m = screenSyncMessage(this.#am, message, this.#limits, (change, decoded) => screenChange(change, ctx, decoded), key => this.#has(key), this.#pending)
    // Entries of changes that wait count too: they are in the log once their dependencies come.
    const entries = this.#entryCount + m.newKeys.size + pendingKeys(this.#pending)
    if (entries > this.#limits.entriesMax) throw new SyncRefusedError(`the log of ${this.tillId} would hold ${entries} entries, at most ${this.#limits.entriesMax}`)
    if (this.#bytes + m.appliedBytes > this.#limits.logBytesMax) throw new SyncRefusedError(`the log of ${this.tillId} would pass ${this.#limits.logBytesMax} bytes`)
    const before = this.#entryCount
    try {
      receive(this.#am, state, message)
    } catch (err) {
      throw new SyncRefusedError(`Automerge refused the message: ${(err as Error).message}`)
    }
    this.#entryCount = this.#am.keys(this.#genesis.entriesObj).length
    this.#bytes += m.appliedBytes
    updatePending(this.#am, this.#pending, m.screened)
    return { state, added: this.#entryCount - before }
  }

  /** Changes received and screened whose dependencies have not arrived yet (Automerge queues them; bounded). */
  get pendingChanges (): number {
    return this.#pending.size
  }

  /**
   * The changes of this document that put exactly the entries under `keys` (every op of each
   * one a put of one of them), in Automerge's order, genesis first; null when they are not
   * closed under their dependencies or do not put every key. A replacement till takes a
   * recovered log over with its history this way (TillNode.adoptRecoveredLog), so its
   * document and its neighbours' replicas share heads, and evidence stored beside the chain
   * (forks, forgeries) stays out of its own log.
   */
  changesPutting (keys: Iterable<string>): Uint8Array[] | null {
    const wanted = new Set(keys)
    const kept: Uint8Array[] = []
    const hashes = new Set<string>([this.#genesis.hash])
    const put = new Set<string>()
    for (const change of this.#am.getChanges([])) {
      const d = A.decodeChange(change)
      if (d.hash === this.#genesis.hash) { kept.push(change); continue }
      const ops = d.ops as Array<{ action: string, obj: string, key?: unknown }>
      if (ops.length === 0 || !ops.every(o => o.action === 'set' && o.obj === this.#genesis.entriesObj && typeof o.key === 'string' && wanted.has(o.key))) continue
      if (!d.deps.every(h => hashes.has(h))) return null
      hashes.add(d.hash)
      for (const o of ops) put.add(o.key as string)
      kept.push(change)
    }
    return put.size === wanted.size ? kept : null
  }

  /**
   * The Automerge change that put each of `keys` into this document, for the keys that one
   * change put on its own (as TillLog writes them): a till sends HQ its entries inside these
   * changes, so HQ keeps the till's own history and serves its document with the till's heads.
   * Read with the walk of entryChange.ts (Automerge's decodeChange where it is not sure).
   */
  changesOf (keys: Iterable<string>): Map<string, Uint8Array> {
    const wanted = new Set(keys)
    const out = new Map<string, Uint8Array>()
    if (wanted.size === 0) return out
    for (const change of this.#am.getChanges([])) {
      let key: string
      try {
        key = readEntryChange(change).key
      } catch {
        continue // the genesis change, or one of many ops: not one entry's
      }
      if (wanted.has(key)) out.set(key, change)
    }
    return out
  }

  /** The change of this replica's last local write (append or ingest), if any. */
  lastLocalChange (): Uint8Array | undefined {
    return this.#am.getLastLocalChange() ?? undefined
  }

  /** Head of the verified chain, or null if the log has none. See the class comment. */
  head (): LogHead | null {
    const head = this.#report().head
    return head === null ? null : { ...head }
  }

  /**
   * Every stored entry's bytes, sorted by key (by seq, then entry hash): one value per key.
   * (Only a document loaded from doctored bytes can hold two values under one key; `verify`
   * looks behind such keys, this does not.)
   */
  entryBytes (): Uint8Array[] {
    const out: Uint8Array[] = []
    for (const s of this.#stored()) if (s.bytes instanceof Uint8Array) out.push(s.bytes)
    return out
  }

  /**
   * Judge every stored entry against the enrolment (see verify.ts) and remember `keyFor`
   * for head() and append. The report is frozen; it is the same on every replica holding
   * the same entries.
   */
  verify (keyFor: KeyFor): LogReport {
    const heads = headsKey(this.#am)
    let stored = this.#stored()
    let report = verifyEntries(this.tillId, stored, keyFor, this.#opened)
    if (report.invalid.length > 0) {
      // A key holds one value unless a document loaded from doctored bytes made it conflict
      // (screening keeps conflicts out of merges and applied changes). Only a value that does
      // not match its key can hide a genuine one, so look behind the invalid keys only.
      const all = this.#stored(report.invalid.map(i => i.key))
      if (all.length > stored.length) {
        stored = all
        report = verifyEntries(this.tillId, stored, keyFor, this.#opened)
      }
    }
    freeze(report)
    if (this.#opened.size > stored.length) {
      const keys = new Set(stored.map(s => s.key))
      for (const key of this.#opened.keys()) if (!keys.has(key)) this.#opened.delete(key)
    }
    this.#keyFor = keyFor
    this.#verified = { heads, report }
    return report
  }

  #report (): LogReport {
    if (this.#verified !== undefined && this.#verified.heads === headsKey(this.#am)) return this.#verified.report
    if (this.#keyFor === undefined) throw new NotVerifiedError(`the log of ${this.tillId} holds entries from elsewhere; call verify(keyFor) first`)
    return this.verify(this.#keyFor)
  }

  #has (key: string): boolean {
    return this.#am.get(this.#genesis.entriesObj, key) !== undefined
  }

  #put (key: string, bytes: Uint8Array): void {
    // A plain Uint8Array copy: Automerge stores exactly these bytes, whatever view the caller held.
    this.#am.put(this.#genesis.entriesObj, key, new Uint8Array(bytes), 'bytes')
    this.#am.commit(null, 0)
    this.#entryCount++
  }

  /** Every key's value (the winner, if doctored bytes made a key conflict), plus every value of `allValuesOf`'s keys. */
  #stored (allValuesOf: string[] = []): StoredEntry[] {
    const obj = this.#genesis.entriesObj
    const map = this.#am.materialize(obj) as { [key: string]: unknown }
    const out: StoredEntry[] = []
    for (const key of Object.keys(map)) out.push({ key, bytes: map[key] })
    for (const key of allValuesOf) {
      const values = this.#am.getAll(obj, key)
      if (values.length > 1) for (const value of values) out.push({ key, bytes: value[1] })
    }
    return out
  }

  #apply (changes: Uint8Array[]): ApplyReport {
    const ctx: ScreenContext = { tillId: this.tillId, entriesObj: this.#genesis.entriesObj, genesisHash: this.#genesis.hash, ...this.#limits }
    const accepted: Uint8Array[] = []
    const rejected: ApplyReport['rejected'] = []
    const newKeys = new Set<string>()
    for (const [index, change] of changes.entries()) {
      const verdict = screenChange(change, ctx)
      if ('reason' in verdict) {
        rejected.push({ index, reason: verdict.reason })
        continue
      }
      accepted.push(change)
      for (const key of verdict.keys) if (!this.#has(key)) newKeys.add(key)
    }
    if (this.#entryCount + newKeys.size > this.#limits.entriesMax) {
      throw new LogFullError(`log of ${this.tillId} would hold ${this.#entryCount + newKeys.size} entries, at most ${this.#limits.entriesMax}`)
    }
    if (accepted.length > 0) {
      this.#am.applyChanges(accepted)
      this.#entryCount = this.#am.keys(this.#genesis.entriesObj).length
    }
    return { accepted: accepted.length, rejected }
  }
}

/** Where a till continues its log from a report's verified chain (fire recovery). */
export function resumePointOf (report: LogReport): ResumePoint {
  const last = report.chain[report.chain.length - 1]
  let nextDocN = 1
  for (let i = report.chain.length - 1; i >= 0; i--) {
    const record = (report.chain[i] as Entry).record
    if (record.kind === 'close') {
      nextDocN = record.docLast + 1
      break
    }
  }
  return {
    nextSeq: (last?.record.seq ?? 0) + 1,
    prevHash: last?.hashBytes ?? GENESIS_HASH,
    lastBusinessDay: last?.record.businessDay ?? null,
    nextDocN
  }
}

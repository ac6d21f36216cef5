/**
 * Head office: takes signed till entries from anyone (tills, relays, neighbours, email
 * backups), keeps the valid ones in a durable log and folds them into the books.
 *
 * Intake, per submitted batch:
 *   decode + validate and verify the signature (together, on the verifier's threads; an
 *   exact copy of an envelope verified before is not verified again) → enrolled signer?
 *   → already known? → signature good? → group commit (one fsync for everything queued)
 *   → fold → answer.
 * An entry is answered `accepted` only after the fsync that made it durable, so an
 * acknowledged entry survives any crash. The books are never persisted: on start they are
 * rebuilt from the log, and because Books is a pure fold over the *set* of entries the
 * rebuild equals what was there before the crash, to the cent.
 */
import { hash, randomBytes } from 'node:crypto'
import {
  canonicalDecode, canonicalEncode, Enrolment, ForgedError, issueCertificate, openCertificate, openReplenishment,
  envelopeLayout, rejectionOf, signingBytes, signReplenishment, tillIdOf, toHex,
  type BusinessDay, type Entry, type PublicKey, type Rejection, type Signer, type SkuQty, type StoreId, type TillId
} from '@tillbooks/protocol'
// The change reader alone: Automerge's wasm is loaded only when a document is asked for (HqDocs).
import type { TillLog } from '@tillbooks/crdt'
import { isAutomergeChunk } from '@tillbooks/crdt/entryChange'
import { Books, CheckpointWriter, HELD_ENTRIES_PER_TILL_MAX, readCheckpointItems, type AddOutcome, type BlockTable, type CheckpointItem } from '@tillbooks/ledger'
import type { NodeComponents } from '../components.ts'
import { checkLoggedVia, InlineVerifier, openVia, type LoggedCheck, type Opened, type Verifier } from '../verify/Verifier.ts'
import {
  AWAITING_CATALOGUE_MAX, CHECKPOINT_BASE_MIN_ITEMS, CHECKPOINT_INTERVAL_MS, CHECKPOINT_PENDING_MAX, CHECKPOINT_RECORDS_EVERY, CHECKPOINT_SEGMENT_BYTES, CHECKPOINT_SEGMENTS_MAX,
  CHECKPOINT_COMPACT_SLICE_ENTRIES, CHECKPOINTS_KEPT, COMMIT_BATCH_MAX, DOCS_CACHED_MAX, FOLD_THREADS_FROM_ENTRIES, IN_DOUBT_KEPT_MAX, REJECTIONS_KEPT_MAX,
  SUBMIT_BATCH_MAX
} from './constants.ts'
import { HqDocs } from './HqDocs.ts'
import { foldOnThreads } from './FoldThreads.ts'
import { envelopeOf, loggedEntry, reverifiedLoggedEntry } from './loggedEntry.ts'
import {
  ARRIVAL_NEXT_KEY, arrivalKey, CERT_PREFIX, certKey, ENTRY_PREFIX, entryKey, entryRange, OPENING_PREFIX, ORDER_ARRIVAL_NEXT_KEY, orderArrivalKey, REPLENISHMENT_PREFIX, replenishmentKey, SETTLEMENT_PREFIX
} from './keys.ts'
import { arrivalsAfter, certificateDigest, certificateSegment, checkpointOps, loadCheckpoint, pruneCheckpoints, segmentRef, type Manifest, type SegmentRef } from './Checkpoints.ts'
import { readSettlementFile, SettlementFileError, type ImportedFile } from '@tillbooks/payments'
import { OneAtATime } from '../OneAtATime.ts'
import { SettledLines, type PlannedSettlement, type SettlementFileMeta } from './SettledLines.ts'
import { TillSeqs } from './TillSeqs.ts'
import { compact, diskErrorCode, prefixEnd, scanBatches, type KvOp } from '../storage/KvStore.ts'

/**
 * 16 bytes of SHA-256 over the exact envelope bytes: collision-safe for dedup, small in
 * memory (22 characters of base64url, a string of its own rather than a slice that would
 * keep the whole digest's string alive).
 */
function envelopeIdOf (bytes: Uint8Array): string {
  return hash('sha256', bytes, 'buffer').toString('base64url', 0, 16)
}

/** A settlement file as the log keeps it (`s!<id>`: the processor and the file's bytes), read. */
function settlementRecord (value: Uint8Array, currency: string): { processor: string, file: ImportedFile } {
  const o = canonicalDecode(value) as unknown as { processor: string, file: Uint8Array }
  return { processor: o.processor, file: readSettlementFile(o.file, { currency }) }
}

/** HQ cannot take this batch now; the caller keeps it and sends it again later. */
export class HqBusyError extends Error {
  override name = 'HqBusyError'
}

/**
 * Busy because of some of the batch's entries alone (`busy`: their indexes), not HQ's state:
 * the rest may go in without them. A caller that can split its batch (a replica's pull) sends
 * the rest again, and those later.
 */
export class EntriesBusyError extends HqBusyError {
  override name = 'EntriesBusyError'
  readonly busy: readonly number[]
  constructor (message: string, busy: readonly number[]) {
    super(message)
    this.busy = busy
  }
}

/** Busy because a till of the batch holds the most entries HQ cannot fold yet (heldEntriesPerTillMax). */
export class HeldLimitBusyError extends EntriesBusyError {
  override name = 'HeldLimitBusyError'
}

/** Busy because as many entries as HQ keeps already wait for the catalogue, and some of the batch's (`busy`) would too. */
export class CatalogueBusyError extends EntriesBusyError {
  override name = 'CatalogueBusyError'
}

/** An HQ record from another replica that does not verify, or contradicts what this HQ holds. */
export class ReplicaRecordError extends Error {
  override name = 'ReplicaRecordError'
}

/** The records HQ replicas share, by their key prefix in the log (till entries travel by Automerge sync). */
export const REPLICATED_PREFIXES = [CERT_PREFIX, REPLENISHMENT_PREFIX, OPENING_PREFIX, SETTLEMENT_PREFIX] as const

/** Per-till sums of entry hashes are kept mod 2^48 (exact in a double). */
const TILL_SUM_MODULUS = 2 ** 48

/** Enrolling a key that would disown entries HQ already holds. */
export class EnrolmentConflictError extends Error {
  override name = 'EnrolmentConflictError'
}

export type SubmitStatus = 'accepted' | 'duplicate' | 'rejected'

export interface SubmitOutcome {
  status: SubmitStatus
  tillId?: TillId
  seq?: number
  hash?: string
  /** 'pending' when accepted but held until the till's earlier entries arrive. */
  folded?: boolean
  code?: Rejection['code']
  reason?: string
}

export interface HqInit {
  /** HQ's root key pair: it signs certificates and replenishment orders. */
  root: Signer
  /**
   * Standard unit cost of a stocked sku in force on a business day (the catalogue's), for
   * valuing inventory and cost of goods sold; `undefined` for a sku not (yet) defined that day:
   * a record that names one waits, logged, until the catalogue defines it (`catalogueChanged`).
   * Pure for what it defines: a cost once given for a day is never another.
   */
  costCents: (sku: string, day: BusinessDay) => number | undefined
  verifier?: Verifier
  /** Re-verify every signature when rebuilding from the log (default true). */
  rebuildVerify?: boolean
  /**
   * At start, fold the newest valid checkpoint and the log after it (`checkpoint`, the
   * default), or the whole log, ignoring checkpoints (`full`).
   */
  rebuild?: 'checkpoint' | 'full'
  /**
   * Threads a whole-log rebuild folds on (FoldThreads.ts): each decodes, checks and folds whole
   * tills, HQ's thread restores their books as a checkpoint's. 0 (the default): HQ's thread folds.
   */
  rebuildThreads?: number
  /** ... used only when the log holds at least this many arrivals (FOLD_THREADS_FROM_ENTRIES). */
  rebuildThreadsFromEntries?: number
  /** A fold thread sends its books every this many entries (FOLD_FLUSH_ENTRIES; small in tests, to send many). */
  rebuildThreadsFlushEntries?: number
  /** A checkpoint is due after this many entries logged since the last (CHECKPOINT_RECORDS_EVERY). */
  checkpointRecordsEvery?: number
  /** ... or when any entry was logged since the last and this long has passed (CHECKPOINT_INTERVAL_MS). */
  checkpointIntervalMs?: number
  /** Bytes of one checkpoint segment, about (CHECKPOINT_SEGMENT_BYTES). */
  checkpointSegmentBytes?: number
  /** A new base once the incremental checkpoints hold this many entries and as many as the base (CHECKPOINT_BASE_MIN_ITEMS). */
  checkpointBaseMinItems?: number
  submitBatchMax?: number
  commitBatchMax?: number
  /** Till documents HQ keeps loaded for sync and the API (DOCS_CACHED_MAX). */
  docsCachedMax?: number
  /** Entries waiting for the catalogue, at most (AWAITING_CATALOGUE_MAX). */
  awaitingCatalogueMax?: number
  /**
   * Entries of one till HQ holds unfolded (behind a gap, or evidence of a fork) before it
   * answers busy to a batch bringing one more that could not fill its chain (default
   * HELD_ENTRIES_PER_TILL_MAX; see #checkHeldRoom).
   */
  heldEntriesPerTillMax?: number
}

export interface HqCounters {
  accepted: number
  duplicates: number
  rejected: number
  rejectedByCode: Record<string, number>
  commits: number
  /** Group commits the store failed (a disk error): their entries were answered busy, none folded. */
  diskErrors: number
  /** Entries of a failed commit written again, and folded, with a later one (their tills were answered busy). */
  inDoubtFolded: number
  /** Batches answered busy because a till held the most entries HQ cannot fold yet (heldEntriesPerTillMax). */
  heldLimitBusy: number
}

/** The entries one submit call sends to the log, with one promise for all of them. */
interface CommitGroup {
  entries: Entry[]
  /** What the log keeps for each entry: the change of the till's log that carried it, or its envelope. */
  logged: Uint8Array[]
  envelopeIds: string[]
  /** Each entry's outcome, set when its batch is durable and it is folded (an Error: the fold threw). */
  outcomes: Array<SubmitOutcome | Error>
  done: Promise<void>
  resolve: () => void
  reject: (err: Error) => void
  /** How many of its entries may wait for the catalogue once folded (in HQ's #awaitingInFlight until it lands). */
  mayWait: number
}

function newGroup (): CommitGroup {
  let resolve!: () => void
  let reject!: (err: Error) => void
  const done = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  return { entries: [], logged: [], envelopeIds: [], outcomes: [], done, resolve, reject, mayWait: 0 }
}

/** Orders kept per store for tills asking at opening: a few weeks is plenty. */
const ORDERS_SERVED_MAX = 32

/** Entries read back from the log per step of a rebuild. */
const REBUILD_BATCH = 1024
/** Batches being opened on the verifier's threads at once during a re-verifying rebuild. */
const REBUILD_OPENS_IN_FLIGHT = 4

/** The values of `keys`, read from the store in batches of REBUILD_BATCH (a key the store lacks: the log is corrupt). */
async function * fetchedBatches (store: NodeComponents['store'], keys: readonly string[]): AsyncIterable<Array<[string, Uint8Array]>> {
  for (let i = 0; i < keys.length; i += REBUILD_BATCH) {
    const slice = keys.slice(i, i + REBUILD_BATCH)
    const values = await Promise.all(slice.map(k => store.get(k)))
    yield slice.map((k, j) => {
      const v = values[j]
      if (v === undefined) throw new Error(`HQ log corrupt: ${k} is named by a checkpoint or an arrival but is not in the log`)
      return [k, v]
    })
  }
}

/** What verifies the root signature of a certificate or an order (HQ-signed envelopes). */
/**
 * A root-signed value of HQ's log as a signature to check, read by its fields' offsets (no
 * decoding: the caller opens it next, and refuses it unless it is of `kind` and signed by
 * the root key), its message made under `kind`'s domain tag.
 */
function rootSignedVerifyItem (bytes: Uint8Array, kind: 'cert' | 'replenishment'): { signature: Uint8Array, message: Uint8Array, publicKey: PublicKey } {
  const l = envelopeLayout(bytes)
  return { signature: bytes.subarray(l.sigStart, l.sigStart + 64), message: signingBytes(kind, bytes.subarray(l.bodyStart, l.bodyEnd)), publicKey: bytes.subarray(l.signerStart, l.signerStart + 32) as PublicKey }
}

/** What a start replayed from the log, and the wall time of each phase (the store's open included in `ms`). */
export interface RebuildSummary {
  entries: number
  certificates: number
  replenishments: number
  ms: number
  phaseMs: { open: number, certificates: number, orders: number, entries: number }
  /** How the entries were folded: from a checkpoint (its watermark, items replayed, entries read from the log after or beside it), or the whole log. */
  from: { checkpoint: { watermark: number, items: number, segments: number, readFromLog: number, ordersReadFromLog?: number, certificatesVouched?: number }, skipped: string[] } | { log: 'whole', skipped: string[] }
}

/** What one checkpoint wrote. */
export interface CheckpointSummary {
  watermark: number
  base: boolean
  items: number
  segments: number
  bytes: number
  ms: number
  /** Of `ms`, the longest the event loop was held (the synchronous step: the sums, each till's block copied into segments). */
  syncMs: number
}

/** An entry logged since the last checkpoint: it goes into the next one. */
interface PendingEntry { tillId: TillId, seq: number, hashBytes: Uint8Array }

export class HqNode {
  readonly rootKey: PublicKey
  readonly #root: Signer
  readonly #components: NodeComponents
  readonly #init: HqInit
  readonly #verifier: Verifier
  /** The last order or opening being written (see #oneAtATime). */
  #adminTail: Promise<void> = Promise.resolve()
  #enrolment: Enrolment
  #books: Books
  #queue: CommitGroup[] = []
  readonly #docs: HqDocs
  #flushing: Promise<void> | null = null
  #started = false
  /** Hashes written but not yet synced: a duplicate of one must wait for the same fsync. */
  #inFlight = new Map<string, Promise<void>>()
  #inFlightEnvelopes = new Set<string>()
  /** Entries in flight, and entries waiting for the catalogue, per till and seq (for the bound on entries held: see #heldRoom). */
  readonly #inFlightSeqs = new TillSeqs()
  readonly #awaitingSeqs = new TillSeqs()
  /**
   * Envelopes already verified and logged (a short digest of the exact bytes): those logged
   * since start, and those of earlier runs seen again since (see #admit).
   */
  #envelopes = new Set<string>()
  /** Per till, the highest seq in the log. */
  #maxSeq = new Map<TillId, number>()
  /**
   * Per till, the entries logged and a sum of their hashes (the first 48 bits of each, mod
   * 2^48): what replicas compare to find the tills whose logs differ (HqReplication).
   */
  #tillSums = new Map<TillId, { count: number, sum: number }>()
  /** Logged entries waiting for the catalogue to define a sku they name, by hash (#book). */
  #awaiting = new Map<string, Entry>()
  /**
   * Entries being made durable that may wait for the catalogue once folded: counted against
   * AWAITING_CATALOGUE_MAX with those waiting, so batches in flight at once cannot pass it
   * together (each group's `mayWait`, released when it lands).
   */
  #awaitingInFlight = 0
  #latestDay: BusinessDay | null = null
  /** The arrival number the next logged entry gets (keys.ts ARRIVAL_PREFIX). */
  #nextArrival = 1
  /** The highest arrival number whose batch is durable: a checkpoint's watermark. */
  #committedArrival = 0
  /** Entries logged since the last checkpoint, in arrival order (null: too many to track: the next checkpoint is a base). */
  #pendingCheckpoint: PendingEntry[] | null = []
  /** The order arrival number the next logged order gets (keys.ts ORDER_ARRIVAL_PREFIX), and the highest durable one. */
  #nextOrderArrival = 1
  #committedOrderArrival = 0
  /** Ids of the orders logged since the last checkpoint (null: too many to track: the next checkpoint is a base). */
  #pendingOrders: string[] | null = []
  /**
   * Orders whose write failed, by their arrival key → order key: the store may yet replay that
   * write, so the next write of orders, or of certificates adopted from a replica (#logOrders), deletes both (a checkpoint
   * must never claim an order arrival whose order the books lack; a start reads one it finds
   * after the checkpoint's, as the whole log would).
   */
  readonly #ordersInDoubt = new Map<string, string>()
  /** The hex SHA-256 of every certificate logged (what a checkpoint vouches for), and whether it grew since the last checkpoint's. */
  #certDigests = new Set<string>()
  #certsChanged = true
  /** The newest checkpoint's manifest (its segments are kept by the next incremental one), or null. */
  #manifest: Manifest | null = null
  #needBase = false
  /** Why no checkpoint may be written until HQ restarts, or null. */
  #checkpointsSuspended: string | null = null
  #checkpointing: Promise<CheckpointSummary | null> | null = null
  #lastCheckpointMs = 0
  /**
   * HQ-signed orders by store, newest business days last, indexed at start and on dispatch:
   * a till asking at opening must not cost a scan of every order ever sent. An order a
   * checkpoint brought has no bytes here until a till asks (read from the log then).
   */
  #orders = new Map<StoreId, Array<{ day: BusinessDay, id: string, bytes: Uint8Array | null }>>()
  readonly counters: HqCounters = { accepted: 0, duplicates: 0, rejected: 0, rejectedByCode: {}, commits: 0, diskErrors: 0, inDoubtFolded: 0, heldLimitBusy: 0 }
  /** Entries of failed commits, by hash: written again with the next commit (see #flushLoop). */
  #inDoubt = new Map<string, { entry: Entry, envelopeId: string, logged: Uint8Array }>()
  /** The last commit the store failed, and when (null: none since start): for /counters and /status. */
  lastDiskError: { atMs: number, code: string, entries: number } | null = null
  /**
   * Wall time spent per intake phase (they overlap across concurrent batches): for the
   * benchmark's split. `decodeMs` is this thread's own checks around the verifier (envelope
   * digests, enrolment, dedup); `verifyMs` waits for the verifier, which decodes, validates
   * and verifies (on worker threads with WorkerVerifier).
   */
  readonly timings = { decodeMs: 0, verifyMs: 0, commitMs: 0, foldMs: 0 }
  readonly rejections: Array<Rejection & { atMs: number, tillId?: string }> = []

  constructor (components: NodeComponents, init: HqInit) {
    this.#components = components
    this.#init = init
    this.#root = init.root
    this.rootKey = init.root.publicKey
    // A till's outbox sent in order, a batch at a time, must always fit the held bound's window.
    const heldMax = init.heldEntriesPerTillMax ?? HELD_ENTRIES_PER_TILL_MAX
    if (!(Number.isSafeInteger(heldMax) && heldMax >= (init.submitBatchMax ?? SUBMIT_BATCH_MAX))) {
      throw new Error(`heldEntriesPerTillMax (${heldMax}) must be an integer at least submitBatchMax (${init.submitBatchMax ?? SUBMIT_BATCH_MAX})`)
    }
    this.#verifier = init.verifier ?? new InlineVerifier()
    this.#enrolment = new Enrolment(this.rootKey)
    this.#books = this.#newBooks()
    this.#settled = new SettledLines(components.store, () => this.#books)
    this.#docs = new HqDocs({ max: init.docsCachedMax ?? DOCS_CACHED_MAX })
  }

  get books (): Books { return this.#books }
  /** The settled lines of the settlement files held: on disk, beside the files (SettledLines.ts). */
  #settled: SettledLines
  /** A settlement file whose write failed, as planned: in doubt until a write after it says whether the store kept it. */
  #settlementInDoubt: { id: string, planned: PlannedSettlement } | null = null
  /**
   * Settlement files imported (or adopted) one at a time, and readers that need the settled
   * lines held still: a turn of their own, so a reconciliation holding it (while it fetches
   * tills' approvals) keeps orders, openings and certificates waiting for nothing.
   */
  readonly #settlementTurn = new OneAtATime()

  /** The settled lines of the settlement files held (their totals per till; the lines on disk). */
  get settled (): SettledLines { return this.#settled }

  /** The distinct settled lines and payouts HQ holds (on disk: memory holds per file its sums, per till its totals). */
  get settledLines (): { held: number } {
    return { held: this.#settled.held }
  }

  #newBooks (): Books {
    return new Books({
      // On disk, beside the files (SettledLines): the books hold per file its sums.
      settledLines: 'caller',
      // Bounded before an entry is logged (#checkHeldRoom), never after: whatever is durable
      // folds, at intake as at a start, so the same log gives the same books in any order.
      heldEntriesPerTillMax: Number.MAX_SAFE_INTEGER,
      costCents: (sku, day) => {
        const cost = this.#init.costCents(sku, day)
        // #book folds only records every sku of which has a cost on its day.
        if (cost === undefined) throw new Error(`bug: ${sku} has no cost on ${day}, and a record naming it was folded`)
        return cost
      }
    })
  }

  /** The skus a record is costed by. */
  #skusOf (r: Entry['record']): SkuQty[] {
    return r.kind === 'close' ? r.consumed : [...r.received, ...r.shipped]
  }

  /** The first sku the entry names that has no cost on its business day, if any. */
  #uncosted (e: Entry): string | undefined {
    return this.#uncostedOf(this.#skusOf(e.record), e.record.businessDay)
  }

  /** The first of `lines`' skus with no cost for the books on `day`, if any. */
  #uncostedOf (lines: readonly SkuQty[], day: BusinessDay): string | undefined {
    return lines.find(l => this.#init.costCents(l.sku, day) === undefined)?.sku
  }

  /**
   * Before an order or opening stock is written: its day counts as booked (an import decided
   * after this takes effect later: it cannot change the costs this is folded with), and every sku
   * has a cost for the books on it, or HqBusyError (a catalogue import naming it is being saved,
   * or was refused and not yet written over: try again). Costed after the write as checked here.
   */
  #costable (day: BusinessDay, lines: readonly SkuQty[]): void {
    this.#booked(day)
    const missing = this.#uncostedOf(lines, day)
    if (missing !== undefined) throw new HqBusyError(`${missing} has no cost on ${day} for the books yet (a catalogue change naming it is being saved): try again`)
  }

  /** A day something was costed on: imports take effect after it (see `latestBookedDay`). */
  #booked (day: BusinessDay): void {
    if (this.#latestDay === null || day > this.#latestDay) this.#latestDay = day
  }

  /** Fold a logged entry into the books, or keep it waiting for the catalogue to define what it names. */
  #book (e: Entry): AddOutcome | 'awaiting' {
    const day = e.record.businessDay
    this.#booked(day)
    const unknown = this.#uncosted(e)
    if (unknown !== undefined) {
      if (!this.#awaiting.has(e.hash)) {
        this.#components.logger.warn({ tillId: e.tillId, seq: e.seq, sku: unknown, day }, 'entry names a sku the catalogue does not define on its day: logged, waiting for the catalogue')
        this.#awaiting.set(e.hash, e)
        this.#awaitingSeqs.add(e.tillId, e.seq)
      }
      return 'awaiting'
    }
    return this.#books.add(e)
  }

  /**
   * Entries logged but not yet in the books: they name a sku the catalogue did not define on
   * their day when they came (a store's new product whose statement had not reached HQ yet).
   */
  get awaitingCatalogue (): number { return this.#awaiting.size }

  /**
   * The latest business day anything was costed on (a till's record, a replenishment order,
   * opening stock): a cost from this day or before, if it changed now, would cost what is
   * already booked differently from what comes next. A record dated beyond tomorrow (a till
   * whose clock runs ahead) does not hold imports back: the day is capped at HQ's tomorrow.
   */
  get latestBookedDay (): BusinessDay | null {
    if (this.#latestDay === null) return null
    const tomorrow = new Date(this.#components.clock.nowMs() + 86_400_000).toISOString().slice(0, 10) as BusinessDay
    return this.#latestDay > tomorrow ? tomorrow : this.#latestDay
  }

  /** The catalogue changed: fold what waited for it and now has a cost for every sku. Returns how many. */
  catalogueChanged (): number {
    let folded = 0
    const waiting = [...this.#awaiting.values()].sort((a, b) => a.tillId < b.tillId ? -1 : a.tillId > b.tillId ? 1 : a.seq - b.seq)
    for (const e of waiting) {
      if (this.#uncosted(e) !== undefined) continue
      this.#awaiting.delete(e.hash)
      this.#awaitingSeqs.remove(e.tillId, e.seq)
      this.#books.add(e)
      folded++
    }
    if (folded > 0) this.#components.logger.info({ folded, waiting: this.#awaiting.size }, 'entries that waited for the catalogue are in the books')
    return folded
  }
  get enrolment (): Enrolment { return this.#enrolment }

  /** Open the store and rebuild enrolment and books from the log. Returns what was replayed. */
  async start (): Promise<RebuildSummary> {
    const t0 = performance.now()
    const { store } = this.#components
    await store.open()
    const phaseMs = { open: 0, certificates: 0, orders: 0, entries: 0 }
    let tPhase = performance.now()
    const endPhase = (phase: keyof typeof phaseMs): void => {
      const now = performance.now()
      phaseMs[phase] = now - tPhase
      tPhase = now
    }
    endPhase('open')
    this.#enrolment = new Enrolment(this.rootKey)
    this.#books = this.#newBooks()
    this.#awaiting = new Map()
    this.#awaitingSeqs.clear()
    this.#latestDay = null
    this.#envelopes = new Set()
    this.#maxSeq = new Map()
    this.#tillSums = new Map()
    this.#docs.clear()
    this.#orders = new Map()
    const verifyRoot = this.#init.rebuildVerify ?? true
    const next = await store.get(ARRIVAL_NEXT_KEY)
    this.#nextArrival = next === undefined ? 1 : Number(new TextDecoder().decode(next))
    if (!(Number.isSafeInteger(this.#nextArrival) && this.#nextArrival >= 1)) throw new Error(`HQ log corrupt: ${ARRIVAL_NEXT_KEY} is not an arrival number`)
    this.#committedArrival = this.#nextArrival - 1
    const nextOrder = await store.get(ORDER_ARRIVAL_NEXT_KEY)
    this.#nextOrderArrival = nextOrder === undefined ? 1 : Number(new TextDecoder().decode(nextOrder))
    if (!(Number.isSafeInteger(this.#nextOrderArrival) && this.#nextOrderArrival >= 1)) throw new Error(`HQ log corrupt: ${ORDER_ARRIVAL_NEXT_KEY} is not an order arrival number`)
    this.#committedOrderArrival = this.#nextOrderArrival - 1
    this.#pendingCheckpoint = []
    this.#pendingOrders = []
    this.#manifest = null
    this.#inDoubt.clear()
    this.#ordersInDoubt.clear()
    this.#checkpointsSuspended = null
    const { loaded, skipped } = (this.#init.rebuild ?? 'checkpoint') === 'checkpoint'
      ? await loadCheckpoint(store, this.rootKey, this.#nextArrival, this.#nextOrderArrival)
      : { loaded: null, skipped: [] }
    // Certificates: HQ signed them itself. Re-verifying, their signatures are checked in
    // batches on the verifier's threads (but those the checkpoint vouches for, by their hash);
    // trusting the log, not at all.
    let certificates = 0
    let certificatesVouched = 0
    const certChecks: Array<Promise<void>> = []
    const vouched = loaded?.certificates ?? new Set<string>()
    this.#certDigests = new Set()
    // Kept for fold threads, if a whole-log rebuild may use them (each enrols the tills itself).
    const keepCertificates = (this.#init.rebuildThreads ?? 0) > 0
    let certificateBytes: Uint8Array[] = []
    for await (const batch of scanBatches(store, { gte: CERT_PREFIX, lt: prefixEnd(CERT_PREFIX) }, REBUILD_BATCH)) {
      const unvouched: typeof batch = []
      for (const kv of batch) {
        const digest = certificateDigest(kv[1])
        // Only what is checked now or vouched for is vouched for next: a trusting start must not
        // launder a certificate altered on disk into the next checkpoint's segment.
        if (verifyRoot || vouched.has(digest)) this.#certDigests.add(digest)
        if (vouched.has(digest)) certificatesVouched++
        else unvouched.push(kv)
      }
      if (verifyRoot && unvouched.length > 0) certChecks.push(this.#checkRootSigned(unvouched, 'cert'))
      // Read as checked bytes both ways: our own log, and re-verifying, the body the root key signed.
      for (const [, bytes] of batch) {
        this.#enrolment.add(bytes, { verify: false, checked: true })
        if (keepCertificates) certificateBytes.push(bytes)
      }
      certificates += batch.length
    }
    // A checkpoint's certificate segment is written again once it lacks one (or none was read).
    this.#certsChanged = certificatesVouched < certificates && verifyRoot
    endPhase('certificates')
    for await (const [, bytes] of store.entries({ gte: OPENING_PREFIX, lt: prefixEnd(OPENING_PREFIX) })) {
      const o = canonicalDecode(bytes) as unknown as { date: BusinessDay, lines: SkuQty[] }
      this.#books.addOpeningStock(o.lines, o.date)
      this.#booked(o.date)
    }
    // Orders: those after the checkpoint's (its ORDER items bring the rest, below), or every one
    // when it holds none (a manifest from before orders were kept; the next checkpoint is a base).
    const ordersAfter = loaded?.manifest.orders
    let replenishments = 0
    const orderChecks: Array<Promise<void>> = []
    const orderBatches = ordersAfter !== undefined
      ? (async function * () {
          // An order logged twice under two numbers (written again after a failed write) is read once.
          const seen = new Set<string>()
          for await (const keys of arrivalsAfter(store, ordersAfter, REBUILD_BATCH, { orders: true })) {
            const fresh: string[] = []
            for (const k of keys) {
              if (seen.has(k)) continue
              seen.add(k)
              fresh.push(k)
            }
            yield * fetchedBatches(store, fresh)
          }
        })()
      : scanBatches(store, { gte: REPLENISHMENT_PREFIX, lt: prefixEnd(REPLENISHMENT_PREFIX) }, REBUILD_BATCH)
    for await (const batch of orderBatches) {
      // As certificates: HQ signed them; verified on the threads, or trusted.
      if (verifyRoot) orderChecks.push(this.#checkRootSigned(batch, 'replenishment'))
      for (const [, bytes] of batch) {
        // Read as checked bytes both ways: our own log, and re-verifying, the body the root key signed.
        const order = openReplenishment(bytes, this.rootKey, { verify: false, checked: true })
        this.#books.addReplenishment(order)
        this.#booked(order.businessDay)
        this.#indexOrder(order, bytes)
        if (ordersAfter !== undefined) this.#pendingOrders?.push(order.id)
      }
      replenishments += batch.length
    }
    // Settlement files: each file's sums and each till's totals, as written with the files; made
    // again from the files themselves for a log written before them, or a whole rebuild.
    this.#settled = new SettledLines(store, () => this.#books)
    this.#settlementInDoubt = null
    if (this.#init.rebuild === 'full' || !await this.#settled.restore()) {
      const currency = this.#books.currency
      const files = await this.#settled.rederive((async function * () {
        for await (const [, value] of store.entries({ gte: SETTLEMENT_PREFIX, lt: prefixEnd(SETTLEMENT_PREFIX) })) yield settlementRecord(value, currency)
      })())
      if (files > 0) this.#components.logger.info({ files, settledLines: this.#settled.held }, 'settled lines made again from the settlement files')
    }
    // No entry is folded under a certificate not yet verified. Their checks ran on the verifier's
    // threads while this thread read the orders; the orders' run on while the entries are read
    // (awaited before the books are called rebuilt: one that fails fails the rebuild).
    await Promise.all(certChecks)
    endPhase('orders')
    let entries = 0
    // Each distinct logged entry is noted once, however many ways it is reached (a checkpoint's
    // items, the log after its watermark, its references to the log).
    const fold = (e: Entry): void => {
      if (this.#books.contains(e.tillId, e.seq, e.hashBytes) || this.#awaiting.has(e.hash)) return
      this.#enrolment.check(e.tillId, e.seq, e.signer)
      this.#book(e)
      this.#noteSeq(e.tillId, e.seq)
      this.#noteLogged(e.tillId, e.hash)
      entries++
    }
    const verify = this.#init.rebuildVerify ?? true
    let from: RebuildSummary['from'] = { log: 'whole', skipped: [] }
    if (skipped.length > 0) this.#components.logger.warn({ skipped }, 'checkpoints passed over: the rebuild goes further back')
    if (loaded === null) {
      const whole = scanBatches(store, { gte: ENTRY_PREFIX, lt: prefixEnd(ENTRY_PREFIX) }, REBUILD_BATCH)
      const threads = this.#init.rebuildThreads ?? 0
      if (threads > 0 && this.#nextArrival - 1 >= (this.#init.rebuildThreadsFromEntries ?? FOLD_THREADS_FROM_ENTRIES)) {
        // Each till folded on a thread, its books restored here as a checkpoint's; what they
        // refer to (entries at or after a fork) read from the log again, as a checkpoint's.
        const refs = new Set<string>()
        const names = this.#books.checkpointNames
        await foldOnThreads(whole, {
          threads,
          verify,
          rootKey: this.rootKey,
          certificates: certificateBytes,
          costCents: (sku, day) => this.#init.costCents(sku, day),
          restore: (segments, table) => {
            for (const segment of segments) for (const item of readCheckpointItems(segment, names)) entries += this.#restoreItem(item, refs, table)
          },
          own: list => { for (const [key, bytes] of list) fold(loggedEntry(key, bytes)) },
          ...(this.#init.rebuildThreadsFlushEntries !== undefined ? { flushEntries: this.#init.rebuildThreadsFlushEntries } : {})
        })
        await this.#foldLogged(fetchedBatches(store, [...refs]), verify, fold)
      } else {
        await this.#foldLogged(whole, verify, fold)
      }
      certificateBytes = []
      from = { log: 'whole', skipped }
      // Nothing on disk covers the books yet: the next checkpoint holds every entry.
      this.#needBase = entries > 0
    } else {
      // The checkpoint's items, then what it refers to and what arrived after its watermark.
      const refs = new Set<string>()
      let items = 0
      const names = this.#books.checkpointNames
      for (const segment of loaded.segments) {
        for (const item of readCheckpointItems(segment, names)) {
          items += item.kind === 'block' ? item.folded : item.kind === 'ref' || item.kind === 'summary' ? 1 : 0
          entries += this.#restoreItem(item, refs)
        }
      }
      const readFromLog = refs.size
      await this.#foldLogged(fetchedBatches(store, [...refs]), verify, fold)
      const watermark = loaded.manifest.watermark
      let after = 0
      for await (const keys of arrivalsAfter(store, watermark, REBUILD_BATCH)) {
        after += keys.length
        await this.#foldLogged(fetchedBatches(store, keys), verify, e => {
          fold(e)
          this.#pendingCheckpoint?.push({ tillId: e.tillId, seq: e.seq, hashBytes: e.hashBytes })
        })
      }
      this.#manifest = loaded.manifest
      // A checkpoint without orders (from before they were kept): the next one holds them all.
      this.#needBase = ordersAfter === undefined && replenishments > 0
      from = { checkpoint: { watermark, items, segments: loaded.segments.length, readFromLog: readFromLog + after, ordersReadFromLog: replenishments, certificatesVouched }, skipped }
    }
    await Promise.all(orderChecks)
    this.#lastCheckpointMs = this.#components.clock.nowMs()
    endPhase('entries')
    this.#started = true
    return { entries, certificates, replenishments, ms: performance.now() - t0, phaseMs, from }
  }

  /**
   * Fold entries read back from the log: trusting it (every entry passed every check before
   * it was written and fsync'd: read as checked bytes with the hash its key holds, nothing to
   * wait for but the disk), or re-verifying (the verifier opens — decodes, validates, hashes,
   * verifies — a few batches on its threads while this thread folds the oldest and the disk
   * reads the next).
   */
  async #foldLogged (batches: AsyncIterable<Array<[string, Uint8Array]>>, verify: boolean, fold: (e: Entry) => void): Promise<void> {
    if (!verify) {
      for await (const batch of batches) {
        for (const [key, bytes] of batch) fold(loggedEntry(key, bytes))
      }
      return
    }
    // The threads answer verdicts and hashes only; this thread folds the bytes as a trusting
    // rebuild does once they pass (no entry built twice, nothing cloned between threads).
    const foldChecked = (batch: Array<[string, Uint8Array]>, check: LoggedCheck): void => {
      batch.forEach(([key, bytes], i) => { fold(reverifiedLoggedEntry(key, bytes, check.ok(i), check.hashes.subarray(i * 32, i * 32 + 32))) })
    }
    const checking: Array<{ batch: Array<[string, Uint8Array]>, check: Promise<LoggedCheck> }> = []
    for await (const batch of batches) {
      const check = checkLoggedVia(this.#verifier, batch.map(([, bytes]) => bytes))
      check.catch(() => {}) // observed below; never an unhandled rejection if a fold throws first
      checking.push({ batch, check })
      if (checking.length > REBUILD_OPENS_IN_FLIGHT) {
        const oldest = checking.shift() as { batch: Array<[string, Uint8Array]>, check: Promise<LoggedCheck> }
        foldChecked(oldest.batch, await oldest.check)
      }
    }
    for (const { batch, check } of checking) foldChecked(batch, await check)
  }

  /**
   * Bring one item of a base or incremental checkpoint — or of a fold thread's base, whose
   * blocks name `from`'s strings — into the books; a LOG REF is noted in `refs` for the caller
   * to read from the log. Returns the entries it brought in (a block's: its folded prefix).
   */
  #restoreItem (item: CheckpointItem, refs: Set<string>, from?: BlockTable): number {
    if (item.kind === 'order') {
      if (this.#books.restoreOrder(item) === 'folded') {
        this.#booked(item.day)
        this.#indexOrder({ store: item.store, businessDay: item.day, id: item.id }, null)
      }
      return 0
    }
    if (item.kind === 'ref') {
      refs.add(entryKey(item.tillId, item.seq, toHex(item.hash) as Entry['hash']))
      return 0
    }
    if (item.kind === 'summary') {
      // Nothing waits for the catalogue yet (references are read after every segment).
      if (this.#books.restore(item.tillId, item.store, item.seq, item.hash, item.prevHash, item.summary) === 'duplicate') return 0
      this.#booked(item.summary.day)
      this.#noteSeq(item.tillId, item.seq)
      this.#noteLoggedBytes(item.tillId, item.hash)
      return 1
    }
    // A base: a till's folded prefix at once (its sums come with the AGGREGATES item).
    const meta = this.#books.restoreBase(item, from)
    if (item.kind === 'block') {
      this.#noteSeq(item.tillId, item.folded)
      for (let i = 0; i < item.folded; i++) this.#noteLoggedBytes(item.tillId, item.hashes.subarray(i * 32, i * 32 + 6))
      return item.folded
    }
    if (meta !== null) {
      const m = JSON.parse(meta) as { latestDay: BusinessDay | null }
      if (m.latestDay !== null) this.#booked(m.latestDay)
    }
    return 0
  }

  #noteSeq (tillId: TillId, seq: number): void {
    const held = this.#maxSeq.get(tillId)
    if (held === undefined || seq > held) this.#maxSeq.set(tillId, seq)
  }

  /**
   * Whether a checkpoint is due: enough entries and orders since the last, or some and long
   * enough, or none written for the books yet. Never while entries of a failed commit are in doubt (the
   * store may replay them: a watermark past them would leave them out of a start's books).
   */
  get checkpointDue (): boolean {
    if (!this.#started || this.#checkpointing !== null || this.#inDoubt.size > 0 || this.#checkpointsSuspended !== null) return false
    const pending = this.#pendingCheckpoint
    const orders = this.#pendingOrders
    if (this.#needBase || pending === null || orders === null) return true
    const n = pending.length + orders.length
    if (n >= (this.#init.checkpointRecordsEvery ?? CHECKPOINT_RECORDS_EVERY)) return true
    // Certificates enrolled since: vouched for by a checkpoint (not re-verified at a start) once one is written.
    return (n > 0 || this.#certsChanged) && this.#components.clock.nowMs() - this.#lastCheckpointMs >= (this.#init.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS)
  }

  /** Entries logged since the last checkpoint (null: more than HQ tracks; the next is a base). */
  get checkpointPending (): number | null { return this.#pendingCheckpoint?.length ?? null }

  /**
   * Write a checkpoint of the books at the log's newest durable arrival: the entries logged
   * since the last one (incremental), or every entry (a base: the first, or when the
   * incremental segments outgrow the base). Off the intake path: a base yields to the event
   * loop between tills. Null when there is nothing new. One at a time.
   */
  checkpoint (): Promise<CheckpointSummary | null> {
    if (!this.#started) return Promise.reject(new Error('HQ is not started'))
    this.#checkpointing ??= this.#writeCheckpoint().finally(() => { this.#checkpointing = null })
    return this.#checkpointing
  }

  async #writeCheckpoint (): Promise<CheckpointSummary | null> {
    const t0 = performance.now()
    if (this.#inDoubt.size > 0) throw new HqBusyError(`${this.#inDoubt.size} entries of a failed commit are in doubt: a checkpoint waits until they are written again`)
    if (this.#checkpointsSuspended !== null) throw new HqBusyError(this.#checkpointsSuspended)
    const watermark = this.#committedArrival
    const pending = this.#pendingCheckpoint
    this.#pendingCheckpoint = []
    // Orders as entries: every one logged up to `ordersWatermark` is in the books now, and those
    // since the last checkpoint are `pendingOrders` (a base writes every order the books hold).
    const ordersWatermark = this.#committedOrderArrival
    const pendingOrders = this.#pendingOrders
    this.#pendingOrders = []
    const previous = this.#manifest
    const incItems = previous === null ? 0 : previous.segments.slice(previous.baseSegments).reduce((n, s) => n + s.items, 0)
    const baseItems = previous === null ? 0 : previous.segments.slice(0, previous.baseSegments).reduce((n, s) => n + s.items, 0)
    const base = this.#needBase || pending === null || pendingOrders === null || previous === null ||
      previous.segments.length >= CHECKPOINT_SEGMENTS_MAX || (incItems >= (this.#init.checkpointBaseMinItems ?? CHECKPOINT_BASE_MIN_ITEMS) && incItems >= baseItems)
    if (!base && (pending?.length ?? 0) === 0 && (pendingOrders?.length ?? 0) === 0 && !this.#certsChanged) {
      this.#lastCheckpointMs = this.#components.clock.nowMs()
      return null
    }
    // Every durable entry is in the books or waiting for the catalogue (#flushLoop folds in the
    // commit's own step). A base writes every till as it stands when reached (an entry in the
    // books now is in it then, as a summary or a reference) and a reference for each entry
    // waiting now; an incremental one, the entries logged since the last checkpoint.
    const rest = base ? [] : (pending ?? [])
    const awaiting = base ? [...this.#awaiting.values()] : []
    try {
      const segmentBytes = this.#init.checkpointSegmentBytes ?? CHECKPOINT_SEGMENT_BYTES
      // From here until the segments are finished nothing awaits (but a base's compaction): that span holds the event loop.
      let tSync = performance.now()
      const finished: Array<{ bytes: Uint8Array, items: number }> = []
      let w = new CheckpointWriter(this.#books.checkpointNames)
      const roll = (force: boolean): void => {
        if (w.items === 0 || (!force && w.size < segmentBytes)) return
        finished.push({ bytes: w.finish(), items: w.items })
        w = new CheckpointWriter(this.#books.checkpointNames)
      }
      if (base) {
        // First each till's summaries as a block, a few tills per turn of the event loop
        // (intake goes on; the books answer the same), so that the step below mostly copies.
        let sinceYield = 0
        for (const tillId of this.#books.tillIds()) {
          sinceYield += this.#books.compactTill(tillId)
          if (sinceYield >= CHECKPOINT_COMPACT_SLICE_ENTRIES) {
            sinceYield = 0
            await new Promise(resolve => setImmediate(resolve))
          }
        }
        // The books of this moment, in one synchronous step (the sums must be those of the
        // blocks): each till's folded prefix as a block — copied as compacted, only what was
        // folded since is encoded — then the sums and the block table.
        tSync = performance.now()
        this.#books.writeBase(() => { roll(false); return w }, JSON.stringify({ latestDay: this.#latestDay }))
        this.#books.writeCheckpointOrders(() => { roll(false); return w })
        // Waiting for the catalogue: read from the log again at start.
        for (const e of awaiting) w.logRef(e.tillId, e.seq, e.hashBytes)
      }
      for (const p of rest) {
        this.#books.writeCheckpointEntry(w, p.tillId, p.seq, p.hashBytes)
        roll(false)
      }
      if (!base) this.#books.writeCheckpointOrders(() => { roll(false); return w }, pendingOrders ?? [])
      roll(true)
      const syncMs = performance.now() - tSync
      // The segments are bytes of that moment now: hashed a few at a time, intake going on.
      const written: Array<{ ref: SegmentRef, bytes: Uint8Array }> = []
      // Ids unique to this checkpoint (two at one watermark — a retry — never overwrite each other's segments).
      const nonce = randomBytes(4).toString('hex')
      for (const f of finished) {
        written.push({ ref: segmentRef(`${String(watermark).padStart(12, '0')}.${nonce}.${String(written.length).padStart(6, '0')}`, f.bytes, f.items), bytes: f.bytes })
        if (written.length % 4 === 0) await new Promise(resolve => setImmediate(resolve))
      }
      const kept = base || previous === null ? [] : previous.segments
      // The certificates logged now (a set only growing): written again only once it grew.
      const certsChanged = this.#certsChanged || previous?.certificates === undefined
      let certificates = previous?.certificates
      const certificateWrite: Array<{ ref: SegmentRef, bytes: Uint8Array }> = []
      if (certsChanged) {
        const bytes = certificateSegment(this.#certDigests)
        const ref = segmentRef(`${String(watermark).padStart(12, '0')}.${nonce}.certificates`, bytes, bytes.length / 32)
        certificateWrite.push({ ref, bytes })
        certificates = ref
        // Set again by a certificate logged from now on, or by this checkpoint failing.
        this.#certsChanged = false
      }
      const manifest: Manifest = {
        v: 1,
        watermark,
        segments: [...kept, ...written.map(s => s.ref)],
        baseSegments: base ? written.length : previous?.baseSegments ?? 0,
        writtenAtMs: this.#components.clock.nowMs(),
        orders: ordersWatermark,
        ...(certificates !== undefined ? { certificates } : {})
      }
      const { segmentOps, manifestOp } = checkpointOps(this.#root, manifest, [...written, ...certificateWrite])
      const { store } = this.#components
      for (let i = 0; i < segmentOps.length; i += 8) await store.batch(segmentOps.slice(i, i + 8), { sync: false })
      // One fsync: the manifest, and with it every segment written before it.
      await store.batch([manifestOp], { sync: true })
      this.#manifest = manifest
      this.#needBase = false
      this.#lastCheckpointMs = this.#components.clock.nowMs()
      await pruneCheckpoints(store, CHECKPOINTS_KEPT)
      const summary = { watermark, base, items: written.reduce((n, s) => n + s.ref.items, 0), segments: written.length, bytes: written.reduce((n, s) => n + s.bytes.length, 0), ms: performance.now() - t0, syncMs }
      this.#components.logger.info(summary, 'checkpoint of the books written')
      return summary
    } catch (err) {
      // Nothing lost: the entries go into the next checkpoint (the log holds them meanwhile).
      if (pending === null || this.#pendingCheckpoint === null) this.#pendingCheckpoint = null
      else this.#pendingCheckpoint = this.#capped([...pending, ...this.#pendingCheckpoint])
      if (pendingOrders === null || this.#pendingOrders === null) this.#pendingOrders = null
      else this.#pendingOrders = this.#capped([...pendingOrders, ...this.#pendingOrders])
      if (base) this.#needBase = true
      this.#certsChanged = true
      this.#components.logger.warn({ err: (err as Error).message }, 'checkpoint not written; tried again later')
      throw err
    }
  }

  /** The pending list, or null once it passes CHECKPOINT_PENDING_MAX (the next checkpoint is then a base). */
  #capped<T> (list: T[]): T[] | null {
    return list.length > CHECKPOINT_PENDING_MAX ? null : list
  }

  /**
   * Verify the root signatures of a batch read back from the log, on the verifier's threads.
   * Every batch is in flight at once (the threads verify while this thread reads on); the
   * promise never rejects unobserved, and rejects if any signature fails: the log is corrupt.
   */
  #checkRootSigned (batch: Array<[string, Uint8Array]>, kind: 'cert' | 'replenishment'): Promise<void> {
    const what = kind === 'cert' ? 'certificate' : 'replenishment order'
    // A value too broken to read its fields fails as one whose signature fails.
    const items = batch.map(([key, bytes]) => {
      try {
        return rootSignedVerifyItem(bytes, kind)
      } catch (err) {
        throw new Error(`HQ log corrupt: ${what} ${key} does not open: ${(err as Error).message}`)
      }
    })
    const check = this.#verifier.verify(items).then(ok => {
      const bad = ok.indexOf(false)
      if (bad >= 0) throw new Error(`HQ log corrupt: ${what} ${batch[bad]?.[0] ?? ''} fails its signature`)
    })
    check.catch(() => {}) // observed by the caller's Promise.all
    return check
  }

  /**
   * Write orders (and `alsoWrite`) with one fsync, each with the next order arrival number (so
   * a checkpoint can say which orders it holds), and delete what failed writes of orders may
   * have left. Called in turn (#oneAtATime); returns the last number given (with no order, the
   * last given before: only #ordersLogged reads it, and not for no order). The caller folds the
   * orders, then calls #ordersLogged, in one step. Numbers a failed write took stay unused.
   */
  async #logOrders (orders: ReadonlyArray<{ key: string, value: Uint8Array }>, alsoWrite: KvOp[] = []): Promise<number> {
    const encoder = new TextEncoder()
    const ops: KvOp[] = [...alsoWrite]
    const writing = new Set(orders.map(o => o.key))
    const doubts = [...this.#ordersInDoubt]
    for (const [arrival, key] of doubts) {
      ops.push({ type: 'del', key: arrival })
      if (!writing.has(key)) ops.push({ type: 'del', key })
    }
    const numbered: Array<[string, string]> = []
    for (const o of orders) {
      const arrival = orderArrivalKey(this.#nextOrderArrival++)
      numbered.push([arrival, o.key])
      ops.push({ type: 'put', key: o.key, value: o.value }, { type: 'put', key: arrival, value: encoder.encode(o.key) })
    }
    if (orders.length > 0) ops.push({ type: 'put', key: ORDER_ARRIVAL_NEXT_KEY, value: encoder.encode(String(this.#nextOrderArrival)) })
    if (ops.length > 0) {
      try {
        await this.#components.store.batch(ops, { sync: true })
      } catch (err) {
        for (const [arrival, key] of numbered) this.#ordersInDoubt.set(arrival, key)
        throw err
      }
    }
    for (const [arrival] of doubts) this.#ordersInDoubt.delete(arrival)
    return this.#nextOrderArrival - 1
  }

  /** Orders up to arrival `last` are logged and folded (`ids`: those just logged): what the next checkpoint holds. */
  #ordersLogged (last: number, ids: readonly string[]): void {
    if (ids.length === 0) return
    this.#committedOrderArrival = Math.max(this.#committedOrderArrival, last)
    const pending = this.#pendingOrders
    for (const id of ids) pending?.push(id)
    this.#pendingOrders = pending === null ? null : this.#capped(pending)
  }

  /** Keep an order for the tills of its store to fetch at opening (the newest ORDERS_SERVED_MAX). */
  #indexOrder (order: { store: StoreId, businessDay: BusinessDay, id: string }, bytes: Uint8Array | null): void {
    let list = this.#orders.get(order.store)
    if (list === undefined) this.#orders.set(order.store, list = [])
    // Oldest first: placed from the newest end (orders come mostly day after day), no sort per order.
    let i = list.length
    while (i > 0) {
      const o = list[i - 1] as { day: BusinessDay, id: string }
      if (o.day < order.businessDay || (o.day === order.businessDay && o.id < order.id)) break
      i--
    }
    list.splice(i, 0, { day: order.businessDay, id: order.id, bytes })
    if (list.length > ORDERS_SERVED_MAX) list.splice(0, list.length - ORDERS_SERVED_MAX)
  }

  /** The signed orders a store's tills may ask for at opening, oldest business day first (those a checkpoint brought read from the log once). */
  async ordersFor (store: StoreId): Promise<Uint8Array[]> {
    const list = this.#orders.get(store) ?? []
    const missing = list.filter(o => o.bytes === null)
    if (missing.length > 0) {
      const values = await Promise.all(missing.map(async o => await this.#components.store.get(replenishmentKey(o.id))))
      missing.forEach((o, i) => {
        const v = values[i]
        if (v === undefined) throw new Error(`HQ log corrupt: order ${o.id}, in a checkpoint, is not in the log`)
        o.bytes = v
      })
    }
    return list.map(o => o.bytes as Uint8Array)
  }

  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#flushing
    await this.#components.store.close()
    await this.#verifier.close()
  }

  /** Enrol a till key for a till slot from `fromSeq` on; returns the signed certificate. */
  async enrol (c: { store: StoreId, till: number, tillKey: PublicKey, fromSeq?: number }, opts: { alsoWrite?: KvOp[] } = {}): Promise<Uint8Array> {
    this.#checkFromSeq(tillIdOf(c.store, c.till), c.fromSeq ?? 1)
    const signed = issueCertificate(this.#root, { store: c.store, till: c.till, tillKey: c.tillKey, fromSeq: c.fromSeq ?? 1, issuedAtMs: this.#components.clock.nowMs() })
    // `alsoWrite` lands in the certificate's own batch: the enrolment code it spends (access/EnrolmentCodes.ts).
    await this.#components.store.batch([{ type: 'put', key: certKey(signed.tillId, signed.cert.fromSeq, toHex(c.tillKey)), value: signed.bytes }, ...(opts.alsoWrite ?? [])], { sync: true })
    this.#enrolment.add(signed.bytes)
    this.#certLogged(signed.bytes)
    return signed.bytes
  }

  /** Enrol many tills with one fsync (a fleet roll-out). */
  async enrolMany (list: Array<{ store: StoreId, till: number, tillKey: PublicKey, fromSeq?: number }>): Promise<Uint8Array[]> {
    for (const c of list) this.#checkFromSeq(tillIdOf(c.store, c.till), c.fromSeq ?? 1)
    const signed = list.map(c => issueCertificate(this.#root, { store: c.store, till: c.till, tillKey: c.tillKey, fromSeq: c.fromSeq ?? 1, issuedAtMs: this.#components.clock.nowMs() }))
    await this.#components.store.batch(signed.map(sc => ({ type: 'put' as const, key: certKey(sc.tillId, sc.cert.fromSeq, toHex(sc.cert.tillKey)), value: sc.bytes })), { sync: true })
    for (const sc of signed) {
      this.#enrolment.add(sc.bytes)
      this.#certLogged(sc.bytes)
    }
    return signed.map(sc => sc.bytes)
  }

  /** A certificate is in the log: the next checkpoint vouches for it. */
  #certLogged (bytes: Uint8Array): void {
    const digest = certificateDigest(bytes)
    if (this.#certDigests.has(digest)) return
    this.#certDigests.add(digest)
    this.#certsChanged = true
  }

  /**
   * A new key may only take over above every seq HQ already holds for the slot: otherwise
   * entries HQ accepted under the old key would stop verifying, and a rebuild would
   * disagree with the books it replaced.
   */
  #checkFromSeq (tillId: TillId, fromSeq: number): void {
    const held = this.#maxSeq.get(tillId) ?? 0
    if (this.#enrolment.has(tillId) && fromSeq <= held) {
      throw new EnrolmentConflictError(`${tillId}: HQ already holds entries up to seq ${held}; a new key may start at ${held + 1} at the earliest (recover the log from HQ too)`)
    }
  }

  #noteLogged (tillId: TillId, hash: string): void {
    this.#addTillSum(tillId, parseInt(hash.slice(0, 12), 16))
  }

  /** #noteLogged from the hash's bytes: its first 48 bits, without making the hex text. */
  #noteLoggedBytes (tillId: TillId, hash: Uint8Array): void {
    let n = 0
    for (let i = 0; i < 6; i++) n = n * 256 + (hash[i] as number)
    this.#addTillSum(tillId, n)
  }

  #addTillSum (tillId: TillId, first48: number): void {
    const t = this.#tillSums.get(tillId) ?? { count: 0, sum: 0 }
    t.count++
    t.sum = (t.sum + first48) % TILL_SUM_MODULUS
    this.#tillSums.set(tillId, t)
  }

  /** Per till: the entries logged and the sum of their hashes (see #tillSums). Read-only. */
  get tillSums (): ReadonlyMap<TillId, { readonly count: number, readonly sum: number }> {
    return this.#tillSums
  }

  /**
   * An HQ record another replica holds, under its key in this log's layout (a certificate, a
   * replenishment order, opening stock, a settlement file): checked as if decided here (a
   * certificate or an order must verify under HQ's root key; its key must be the one its
   * content gives), written durably, and folded. The same record again: 'duplicate'. One
   * that contradicts what this HQ holds throws ReplicaRecordError, and nothing is written.
   */
  async adoptRecord (key: string, value: Uint8Array): Promise<'adopted' | 'duplicate'> {
    const prefix = key.slice(0, 2)
    try {
      if (prefix === CERT_PREFIX || prefix === REPLENISHMENT_PREFIX) {
        // One checker for certificates and orders: a page of one.
        const [outcome] = await this.adoptRecords([{ key, value }])
        if (outcome instanceof Error) throw outcome
        return outcome as 'adopted' | 'duplicate'
      }
      if (prefix === OPENING_PREFIX) {
        const o = canonicalDecode(value) as unknown as { date: BusinessDay, lines: SkuQty[] }
        if (key !== `${OPENING_PREFIX}${String(o?.date)}`) throw new ReplicaRecordError(`opening stock of ${String(o?.date)} under ${key}`)
        const held = await this.#components.store.get(key)
        if (held !== undefined) return 'duplicate'
        await this.openingStock(o.lines, o.date)
        return 'adopted'
      }
      if (prefix === SETTLEMENT_PREFIX) {
        const o = canonicalDecode(value) as unknown as { processor: string, file: Uint8Array }
        if (typeof o?.processor !== 'string' || !(o.file instanceof Uint8Array)) throw new ReplicaRecordError('a settlement record is { processor, file }')
        const file = readSettlementFile(o.file, { currency: this.#books.currency })
        if (key !== `${SETTLEMENT_PREFIX}${file.id}`) throw new ReplicaRecordError(`settlement file ${file.id} under ${key}`)
        return await this.importSettlement(o.file, file, o.processor) === 'folded' ? 'adopted' : 'duplicate'
      }
    } catch (err) {
      if (err instanceof ReplicaRecordError) throw err
      throw new ReplicaRecordError(`${key}: ${(err as Error).message}`)
    }
    throw new ReplicaRecordError(`${key} is not an HQ record replicas share`)
  }

  /**
   * adoptRecord for a page of records at once, certificates and orders written with one fsync
   * (a replica joining takes every certificate and order HQ ever made: one fsync each would take
   * minutes). Each outcome in order: 'adopted', 'duplicate', or the ReplicaRecordError that refused it.
   */
  async adoptRecords (items: Array<{ key: string, value: Uint8Array }>): Promise<Array<'adopted' | 'duplicate' | ReplicaRecordError>> {
    const out: Array<'adopted' | 'duplicate' | ReplicaRecordError> = new Array(items.length)
    const certs: Array<{ i: number, key: string, value: Uint8Array }> = []
    const orders: Array<{ i: number, key: string, value: Uint8Array, order: ReturnType<typeof openReplenishment> }> = []
    const refuse = (i: number, key: string, err: unknown): void => { out[i] = err instanceof ReplicaRecordError ? err : new ReplicaRecordError(`${key}: ${(err as Error).message}`) }
    for (const [i, { key, value }] of items.entries()) {
      try {
        if (key.startsWith(CERT_PREFIX)) {
          const sc = openCertificate(value, this.rootKey, { verify: true })
          const expected = certKey(sc.tillId, sc.cert.fromSeq, toHex(sc.cert.tillKey))
          if (key !== expected) throw new ReplicaRecordError(`certificate under ${key}: its content puts it under ${expected}`)
          if (await this.#components.store.get(key) !== undefined) { out[i] = 'duplicate'; continue }
          this.#checkFromSeq(sc.tillId, sc.cert.fromSeq)
          certs.push({ i, key, value })
        } else if (key.startsWith(REPLENISHMENT_PREFIX)) {
          const order = openReplenishment(value, this.rootKey, { verify: true })
          if (key !== replenishmentKey(order.id)) throw new ReplicaRecordError(`order ${order.id} under ${key}`)
          orders.push({ i, key, value, order })
        } else {
          out[i] = await this.adoptRecord(key, value)
        }
      } catch (err) {
        refuse(i, key, err)
      }
    }
    if (certs.length === 0 && orders.length === 0) return out
    await this.#oneAtATime(async () => {
      // Checked again in turn with every other order (an id reused with other content is refused).
      const fresh: typeof orders = []
      const ids = new Set<string>()
      for (const o of orders) {
        try {
          this.#costable(o.order.businessDay, o.order.lines)
          if (ids.has(o.order.id) || this.#books.checkReplenishment(o.order) === 'duplicate') { out[o.i] = 'duplicate'; continue }
          ids.add(o.order.id)
          fresh.push(o)
        } catch (err) {
          refuse(o.i, o.key, err)
        }
      }
      const last = await this.#logOrders(fresh.map(o => ({ key: o.key, value: o.value })), certs.map(c => ({ type: 'put' as const, key: c.key, value: c.value })))
      // Verified above (openCertificate): not again.
      for (const c of certs) {
        this.#enrolment.add(c.value, { verify: false, checked: true })
        this.#certLogged(c.value)
        out[c.i] = 'adopted'
      }
      const folded: string[] = []
      try {
        for (const o of fresh) {
          this.#books.addReplenishment(o.order)
          this.#booked(o.order.businessDay)
          this.#indexOrder(o.order, o.value)
          out[o.i] = 'adopted'
          folded.push(o.order.id)
        }
      } finally {
        // Those folded go into the next checkpoint even if a later one threw (their numbers are
        // the first ones of the batch); one logged but not folded must never be claimed by a
        // checkpoint, so none is written until HQ restarts (and folds it from the log, or stops).
        this.#ordersLogged(last - fresh.length + folded.length, folded)
        if (folded.length < fresh.length) this.#checkpointsSuspended = `order ${fresh[folded.length]?.order.id ?? ''} was logged but did not fold`
      }
    })
    return out
  }

  /** The highest seq HQ holds for a till (folded or pending). */
  heldSeq (tillId: TillId): number {
    return this.#maxSeq.get(tillId) ?? 0
  }

  /** Every entry HQ holds for a till, in seq order: HQ serves logs for recovery like any peer. */
  async tillLog (tillId: TillId): Promise<Uint8Array[]> {
    return (await this.#logged(tillId)).map(envelopeOf)
  }

  /** The entries HQ holds for a till with seq in (afterSeq, throughSeq], in seq order (both sides of a fork, if any). */
  async tillLogRange (tillId: TillId, afterSeq: number, throughSeq: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    if (throughSeq <= afterSeq) return out
    for await (const [, bytes] of this.#components.store.entries(entryRange(tillId, afterSeq, throughSeq))) out.push(envelopeOf(bytes))
    return out
  }

  /**
   * What HQ's log holds for a till, as it is, in seq order: the changes of the till's own log
   * that carried its entries, or the bare envelopes (what a fresh replica takes in, in bulk:
   * submitted as they are, they give it the till's own history). `bytesMax`: null once they
   * pass it (8 bytes of framing each counted), read no further.
   */
  async tillLogged (tillId: TillId, opts: { bytesMax?: number } = {}): Promise<Uint8Array[] | null> {
    return await this.#logged(tillId, opts.bytesMax)
  }

  /** The changes of the till's own log that carried entries HQ holds (not the bare envelopes), in seq order. */
  async tillChanges (tillId: TillId): Promise<Uint8Array[]> {
    return (await this.#logged(tillId)).filter(isAutomergeChunk)
  }

  /** What HQ's log holds for a till, in seq order: the changes of the till's log that carried its entries, or the bare envelopes. */
  async #logged (tillId: TillId): Promise<Uint8Array[]>
  /** With `bytesMax`: null once the values (8 bytes of framing each counted) pass it, read no further. */
  async #logged (tillId: TillId, bytesMax: number | undefined): Promise<Uint8Array[] | null>
  async #logged (tillId: TillId, bytesMax?: number): Promise<Uint8Array[] | null> {
    const out: Uint8Array[] = []
    const prefix = `${ENTRY_PREFIX}${tillId}!`
    let bytes = 0
    for await (const [, value] of this.#components.store.entries({ gte: prefix, lt: prefixEnd(prefix) })) {
      bytes += value.length + 8
      if (bytesMax !== undefined && bytes > bytesMax) return null
      out.push(value)
    }
    return out
  }

  /**
   * The till's log as HQ holds it, an Automerge document made of the till's own changes (so
   * its heads are the till's once both hold the same entries), plus, under HQ's own actor,
   * any entry that reached HQ without its change (a relay, an email backup). From a bounded
   * cache (HqDocs), never on the intake path; undefined when HQ holds nothing of the till.
   * Read-only to the caller: it is shared, and may be dropped from the cache at any time.
   * `wait`: when HQ is making as many documents as it may, wait for a turn rather than be told busy.
   */
  async tillDoc (tillId: TillId, opts: { wait?: boolean } = {}): Promise<TillLog | undefined> {
    return await this.#docs.get(tillId, async () => await this.#logged(tillId), opts)
  }

  /** Record opening stock in the warehouse (once, at the start of trading). */
  async openingStock (lines: SkuQty[], date: BusinessDay): Promise<void> {
    await this.#oneAtATime(async () => {
      // Refused (IdReusedError, InvalidRecordError) before anything is written: the log must
      // never hold an opening the books refused, in place of the one they hold.
      this.#costable(date, lines)
      if (this.#books.checkOpeningStock(lines, date) === 'duplicate') return
      await this.#components.store.batch([{ type: 'put', key: `${OPENING_PREFIX}${date}`, value: canonicalEncode({ date, lines: lines.map(l => ({ sku: l.sku, qty: l.qty })) }) }], { sync: true })
      this.#books.addOpeningStock(lines, date)
      this.#booked(date)
    })
  }

  /**
   * Orders and openings one at a time: each is checked against the books, written, then
   * folded, and two calls with one id must not both pass the check before either folds.
   */
  async #oneAtATime<T> (work: () => Promise<T>): Promise<T> {
    const run = this.#adminTail.then(work)
    this.#adminTail = run.then(() => {}, () => {})
    return await run
  }

  /**
   * Import a settlement file (read by the caller: `readSettlementFile`) for `processor`: kept
   * in the log by its hash (the file's bytes, fsync'd) and folded into the books. The same file
   * again changes nothing ('duplicate'); a file that contradicts one imported is refused
   * (SettlementConflictError) before anything is written.
   */
  async importSettlement (bytes: Uint8Array, file: ImportedFile, processor: string): Promise<'folded' | 'duplicate'> {
    return await this.#settlementTurn.run(async () => {
      await this.#settleDoubt()
      const known = this.#settled.files.get(file.id)
      if (known !== undefined && known.processor !== processor) throw new SettlementFileError(`this file was imported for processor ${known.processor}, not ${processor}`)
      if (known !== undefined) return 'duplicate'
      // Planned once against the lines held: checked before the write, folded as planned after
      // it; the file and what is made of it line by line in one fsync'd batch.
      const planned = await this.#settled.plan(file, processor)
      if (planned === 'duplicate') return 'duplicate'
      this.#settled.writing()
      try {
        await this.#components.store.batch([{ type: 'put', key: `${SETTLEMENT_PREFIX}${file.id}`, value: canonicalEncode({ processor, file: bytes }) }, ...planned.ops], { sync: true })
      } catch (err) {
        // The store may yet keep the batch (LevelDB replays it when opened again): what is made
        // of the file waits, as planned, for a write after it to say (#settleDoubt).
        this.#settlementInDoubt = { id: file.id, planned }
        this.#settled.inDoubt()
        throw err
      }
      planned.commit()
      // The file's bytes are one value of many MB: out of LevelDB's newest tables at once, or
      // every range scan that seeks in the one holding it reads them all (LevelStore.compact).
      const key = `${SETTLEMENT_PREFIX}${file.id}`
      try {
        await compact(this.#components.store, { gte: key, lt: `${key}\u0000` })
      } catch (err) {
        // Durable and booked already: a compaction refused (the store closing) only leaves scans
        // slower. LevelDB keeps an I/O error of its own compactions for the next write, which
        // meets it as any disk error (busy, the store opened again).
        this.#components.logger.warn({ fileId: file.id, err: (err as Error).message }, 'settlement file not compacted')
      }
      return 'folded'
    })
  }

  /**
   * A settlement file's write that failed, decided: a write now (the store opened again replays
   * the failed batch, or not), then the file read back. Kept, it is committed as it was planned
   * (the batch held the file and all that was made of it, and nothing settled was planned
   * since: imports wait for this); not kept, it is let go. Throws HqBusyError while the disk
   * takes no write.
   */
  async #settleDoubt (): Promise<void> {
    const d = this.#settlementInDoubt
    if (d === null) return
    try {
      await this.#components.store.batch([], { sync: true })
    } catch (err) {
      throw new HqBusyError(`a settlement file's write failed, and the disk takes no write yet (${(err as Error).message}): try again later`)
    }
    if (await this.#components.store.get(`${SETTLEMENT_PREFIX}${d.id}`) !== undefined) d.planned.commit()
    this.#settlementInDoubt = null
  }

  /** Settled lines as the store holds them: a settlement file whose write failed decided first (readers of SettledLines call this). */
  async settledSteady (): Promise<SettledLines> {
    return await this.whileSettled(async settled => settled)
  }

  /**
   * `read` with the settled lines held still: no file imported, adopted or in doubt while it
   * runs (imports wait). Never from inside an import (it waits for this), and `read` must not
   * import.
   */
  async whileSettled<T> (read: (settled: SettledLines) => Promise<T>): Promise<T> {
    return await this.#settlementTurn.run(async () => {
      await this.#settleDoubt()
      return await read(this.#settled)
    })
  }

  /** The settlement files imported, by id (their lines stay on disk). */
  get settlementFiles (): ReadonlyMap<string, SettlementFileMeta> {
    return this.#settled.files
  }

  /** A settlement file as it was imported (its bytes, and the processor it was imported for); undefined: not held. */
  async settlementFile (id: string): Promise<{ processor: string, file: ImportedFile } | undefined> {
    const value = await this.#components.store.get(`${SETTLEMENT_PREFIX}${id}`)
    return value === undefined ? undefined : settlementRecord(value, this.#books.currency)
  }

  /** Sign and book a replenishment dispatched from the warehouse; the order travels with the goods. */
  async dispatchReplenishment (r: { id: string, store: StoreId, businessDay: BusinessDay, lines: SkuQty[] }): Promise<Uint8Array> {
    // The wire form lists each sku once, sorted: normalise what the caller gave.
    const merged = new Map<string, number>()
    for (const l of r.lines) merged.set(l.sku, (merged.get(l.sku) ?? 0) + l.qty)
    const lines = [...merged].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0).map(([sku, qty]) => ({ sku, qty }))
    const bytes = signReplenishment(this.#root, { ...r, lines })
    const order = openReplenishment(bytes, this.rootKey, { verify: false })
    return await this.#oneAtATime(async () => {
      // An id reused with other content is refused (IdReusedError) before anything is written:
      // under the same key it would replace, in the log, the order the books hold. The same
      // order again signs to the same bytes (Ed25519 is deterministic): nothing to write.
      this.#costable(order.businessDay, order.lines)
      if (this.#books.checkReplenishment(order) === 'duplicate') return bytes
      const last = await this.#logOrders([{ key: replenishmentKey(r.id), value: bytes }])
      // In one step with noting it logged: a checkpoint taken at any await holds every order it claims.
      this.#books.addReplenishment(order)
      this.#booked(order.businessDay)
      this.#indexOrder(order, bytes)
      this.#ordersLogged(last, [order.id])
      return bytes
    })
  }

  /**
   * Take a batch of signed entries from anyone. Each gets an outcome; the promise resolves
   * once every accepted entry is durable. Never throws for bad input.
   */
  async submit (batch: Uint8Array[]): Promise<SubmitOutcome[]> {
    if (!this.#started) throw new Error('HQ is not started')
    const max = this.#init.submitBatchMax ?? SUBMIT_BATCH_MAX
    if (batch.length > max) {
      return batch.map(() => this.#reject({ code: 'OVERSIZED', reason: `batch of ${batch.length} entries, at most ${max}` }))
    }
    const t0 = performance.now()
    const outcomes: SubmitOutcome[] = new Array(batch.length)
    // The exact envelope, by digest: a copy of one verified before is not verified again
    // (a copy of a known record under another signature is verified like anything new).
    const envelopeIds: Array<string | undefined> = new Array(batch.length)
    const check: boolean[] = new Array(batch.length)
    for (let i = 0; i < batch.length; i++) {
      const b = batch[i]
      const id = b instanceof Uint8Array ? envelopeIdOf(b) : undefined
      envelopeIds[i] = id
      check[i] = id === undefined || !(this.#envelopes.has(id) || this.#inFlightEnvelopes.has(id))
    }
    const t1 = performance.now()
    this.timings.decodeMs += t1 - t0
    const opened = await openVia(this.#verifier, batch, check)
    const t2 = performance.now()
    this.timings.verifyMs += t2 - t1
    // Entries naming skus the catalogue does not define wait, logged, out of the books, at most
    // AWAITING_CATALOGUE_MAX of them with those in flight: a batch whose waits do not fit is
    // refused whole for now (the till keeps it and resends; an answer of `rejected` would make it
    // stop resending and lose its place in the chain). Far from the bound no sku is looked up
    // (the intake's hot path): every entry of the batch counts as one that may wait.
    const awaitingMax = this.#init.awaitingCatalogueMax ?? AWAITING_CATALOGUE_MAX
    let mayWait = opened.length
    if (this.#awaiting.size + this.#awaitingInFlight + opened.length > awaitingMax) {
      const waiting: number[] = []
      let first = ''
      for (const [i, o] of opened.entries()) {
        if (o.rejection !== undefined || this.#books.contains(o.entry.tillId, o.entry.seq, o.entry.hashBytes) || this.#awaiting.has(o.entry.hash)) continue
        const sku = this.#uncosted(o.entry)
        if (sku === undefined) continue
        if (waiting.length === 0) first = `${o.entry.tillId} seq ${o.entry.seq} names ${sku}`
        waiting.push(i)
      }
      if (waiting.length > 0 && this.#awaiting.size + this.#awaitingInFlight + waiting.length > awaitingMax) {
        const inFlight = this.#awaitingInFlight > 0 ? ` (and ${this.#awaitingInFlight} more may, being written)` : ''
        throw new CatalogueBusyError(`${this.#awaiting.size} entries already wait for the catalogue${inFlight} to define what they name, at most ${awaitingMax} (${first}${waiting.length > 1 ? `, and ${waiting.length - 1} more of the batch` : ''}): sync the catalogue, then resend`, waiting)
      }
      mayWait = waiting.length
    }
    const noRoom = this.#heldRoom(opened)
    const group = newGroup()
    // Counted before anything awaits (a batch checked after this one sees it); released when
    // the group lands (#flushLoop), or below if it never goes in.
    group.mayWait = mayWait
    this.#awaitingInFlight += mayWait
    const waits = new Set<Promise<void>>()
    // Where each committed entry's outcome goes.
    const at: number[] = []
    // Copies of an envelope that was in flight when this batch came in, so not verified,
    // and whose commit failed meanwhile: they are verified now, like anything new.
    const unchecked: Array<{ i: number, entry: Entry, logged: Uint8Array, envelopeId: string }> = []
    let queued = false
    let t3 = 0
    try {
      for (let i = 0; i < opened.length; i++) {
        const o = opened[i] as Opened
        if (o.rejection !== undefined) {
          outcomes[i] = this.#reject(o.rejection)
          continue
        }
        const entry = o.entry
        try {
          this.#enrolment.check(entry.tillId, entry.seq, entry.signer)
        } catch (err) {
          outcomes[i] = this.#reject(this.#rejectionFor(err))
          continue
        }
        const refused = noRoom.get(i)
        if (refused !== undefined) {
          outcomes[i] = { ...this.#reject(refused, entry.tillId), tillId: entry.tillId, seq: entry.seq, hash: entry.hash }
          continue
        }
        const envelopeId = envelopeIds[i] ?? envelopeIdOf(entry.bytes)
        const inFlight = this.#inFlight.get(entry.hash)
        if (this.#envelopes.has(envelopeId) || (inFlight !== undefined && this.#inFlightEnvelopes.has(envelopeId))) {
          outcomes[i] = this.#duplicate(entry, waits)
          continue
        }
        const logged = o.change ?? entry.bytes
        if (o.signature === null) unchecked.push({ i, entry, logged, envelopeId })
        else this.#admit(i, entry, logged, envelopeId, o.signature, outcomes, group, at, waits)
      }
      if (unchecked.length > 0) {
        const ok = await this.#verifier.verify(unchecked.map(u => this.#verifyItem(u.entry)))
        unchecked.forEach((u, k) => { this.#admit(u.i, u.entry, u.logged, u.envelopeId, ok[k] === true, outcomes, group, at, waits) })
      }
      t3 = performance.now()
      this.timings.decodeMs += t3 - t2
      if (group.entries.length > 0) {
        this.#queue.push(group)
        queued = true
        this.#flushing ??= this.#flushLoop()
      }
    } finally {
      if (!queued) this.#landedGroup(group)
    }
    if (queued) await group.done
    if (waits.size > 0) await Promise.all(waits)
    this.timings.commitMs += performance.now() - t3
    let failed: Error | undefined
    group.outcomes.forEach((o, k) => {
      if (o instanceof Error) failed ??= o
      else outcomes[at[k] as number] = o
    })
    if (failed !== undefined) throw failed
    return outcomes
  }

  /**
   * Entries HQ cannot fold yet (behind a gap in a till's chain, evidence of a fork, or waiting
   * for the catalogue) are bounded per till before any is logged, never after: the books fold
   * whatever is durable. Below `heldEntriesPerTillMax` (held in the books, in flight, waiting for
   * the catalogue, and new earlier in the batch, per till) every entry goes on. At it, a new
   * entry goes on only if it can change what the books say, one a seq:
   * - one that can fill the chain: after the folded prefix, within the limit of it, below any
   *   fork, with nothing held, in flight, waiting or earlier in the batch at its seq;
   * - a second side at a seq (folded, or held once): the fork's evidence, which halts the chain.
   * One at or after the halt adds nothing (nothing there folds again): refused as the fork it is
   * (FORK, what a logged one is answered), not logged. Any other (a jump past the window, a
   * further entry at a seq one is in flight or waiting at) makes the batch busy, whole, nothing
   * logged (HeldLimitBusyError, naming those entries): its sender keeps it and sends it again.
   * A till's own outbox, in order, in batches no larger than the limit, goes in (at worst after
   * the commit of a forged entry at one of its seqs; not while entries it had acknowledged wait
   * for the catalogue past the limit). A till's held entries stay within a few times the limit
   * plus its folded history (the second sides a forger can add, and what a fork un-folds).
   * Answers, by index, the entries refused as forks; throws HeldLimitBusyError.
   */
  #heldRoom (opened: readonly Opened[]): Map<number, Rejection> {
    const max = this.#init.heldEntriesPerTillMax ?? HELD_ENTRIES_PER_TILL_MAX
    const refused = new Map<number, Rejection>()
    const busy: number[] = []
    let why = ''
    const tills = new Map<TillId, { n: number, seqs: Set<number> }>()
    for (let i = 0; i < opened.length; i++) {
      const o = opened[i] as Opened
      if (o.rejection !== undefined || o.signature === false) continue
      const e = o.entry
      if (this.#books.contains(e.tillId, e.seq, e.hashBytes) || this.#awaiting.has(e.hash) || this.#inFlight.has(e.hash)) continue
      let t = tills.get(e.tillId)
      if (t === undefined) tills.set(e.tillId, t = { n: this.#books.heldCount(e.tillId) + this.#inFlightSeqs.count(e.tillId) + this.#awaitingSeqs.count(e.tillId), seqs: new Set() })
      if (t.n >= max) {
        // One the enrolment refuses is answered so (UNENROLLED), whatever the room.
        try {
          this.#enrolment.check(e.tillId, e.seq, e.signer)
        } catch {
          continue
        }
        const c = this.#books.chainAt(e.tillId, e.seq)
        if (e.seq >= c.haltSeq) {
          refused.set(i, { code: 'FORK', reason: `${e.tillId} forked at seq ${c.haltSeq}: seq ${e.seq} cannot fold, and HQ holds ${t.n} of its entries already (at most ${max}): not kept` })
          continue
        }
        const taken = t.seqs.has(e.seq) || this.#inFlightSeqs.has(e.tillId, e.seq) || this.#awaitingSeqs.has(e.tillId, e.seq)
        const secondSide = e.seq <= c.foldedSeq || c.heldAtSeq === 1
        const reason = taken ? 'waits until the entry at its seq in flight, or waiting for the catalogue, is in the books' : !secondSide && e.seq > c.foldedSeq + max ? 'waits until the gap before them is filled' : null
        if (reason !== null) {
          if (busy.length === 0) why = `${e.tillId} holds ${t.n} entries HQ cannot fold yet (at most ${max}): seq ${e.seq} ${reason}`
          busy.push(i)
          continue
        }
      }
      t.n++
      t.seqs.add(e.seq)
    }
    if (busy.length > 0) {
      this.counters.heldLimitBusy++
      this.#components.logger.warn({ entries: busy.length, max, why }, 'batch answered busy: a till holds the most entries HQ cannot fold yet')
      throw new HeldLimitBusyError(busy.length > 1 ? `${why} (and ${busy.length - 1} more of the batch)` : why, busy)
    }
    return refused
  }

  /** After the signature check: rejected, a duplicate, or queued for the log (outcome set on fold). */
  #admit (i: number, entry: Entry, logged: Uint8Array, envelopeId: string, signatureOk: boolean, outcomes: SubmitOutcome[], group: CommitGroup, at: number[], waits: Set<Promise<void>>): void {
    if (!signatureOk) {
      outcomes[i] = this.#reject({ code: 'FORGED', reason: `bad signature on ${entry.tillId} seq ${entry.seq}` }, entry.tillId)
      return
    }
    // A copy of the same entry may have been verified concurrently (in this batch or another).
    if (this.#inFlight.has(entry.hash)) {
      outcomes[i] = this.#duplicate(entry, waits)
      return
    }
    if (this.#books.contains(entry.tillId, entry.seq, entry.hashBytes) || this.#awaiting.has(entry.hash)) {
      // A verified copy of a logged entry: the next copy of these exact bytes is answered
      // without verifying. (A rebuild does not digest every envelope of the log up front: it
      // would cost a quarter of its time. The first copy of each after a restart comes here.)
      this.#envelopes.add(envelopeId)
      outcomes[i] = this.#duplicate(entry, waits)
      return
    }
    group.entries.push(entry)
    group.logged.push(logged)
    group.envelopeIds.push(envelopeId)
    at.push(i)
    this.#inFlight.set(entry.hash, group.done)
    this.#inFlightEnvelopes.add(envelopeId)
    this.#inFlightSeqs.add(entry.tillId, entry.seq)
  }

  /**
   * An entry is durable and folded, or its commit failed. Counted out of its till's entries in
   * flight only when it was in flight: one of a failed commit written again with a later one
   * (#inDoubt) was counted out when that commit failed.
   */
  #landed (entry: Entry, envelopeId: string): void {
    this.#inFlightEnvelopes.delete(envelopeId)
    if (this.#inFlight.delete(entry.hash)) this.#inFlightSeqs.remove(entry.tillId, entry.seq)
  }

  /** A group landed (folded, or its commit failed), or never went in: what it may have added to the entries waiting for the catalogue is counted there now, if at all. */
  #landedGroup (group: CommitGroup): void {
    this.#awaitingInFlight -= group.mayWait
    group.mayWait = 0
    if (this.#awaitingInFlight < 0) throw new Error(`bug: ${this.#awaitingInFlight} entries that may wait for the catalogue in flight`)
  }

  #duplicate (entry: Entry, waits: Set<Promise<void>>): SubmitOutcome {
    this.counters.duplicates++
    // A copy of an entry still in flight is answered once that entry is durable.
    const inFlight = this.#inFlight.get(entry.hash)
    if (inFlight !== undefined) waits.add(inFlight)
    return { status: 'duplicate', tillId: entry.tillId, seq: entry.seq, hash: entry.hash }
  }

  #fold (entry: Entry, envelopeId: string): SubmitOutcome {
    this.#landed(entry, envelopeId)
    this.#envelopes.add(envelopeId)
    if (this.#books.contains(entry.tillId, entry.seq, entry.hashBytes) || this.#awaiting.has(entry.hash)) {
      // Logged twice: a failed commit's entry written again (#inDoubt) while a resend of it was
      // in flight. In the books once, noted once (the replicas' per-till sums count it once).
      this.counters.duplicates++
      return { status: 'duplicate', tillId: entry.tillId, seq: entry.seq, hash: entry.hash }
    }
    this.#noteSeq(entry.tillId, entry.seq)
    this.#noteLogged(entry.tillId, entry.hash)
    this.#docs.changed(entry.tillId)
    const result = this.#book(entry)
    const base = { tillId: entry.tillId, seq: entry.seq, hash: entry.hash }
    if (result === 'awaiting') {
      this.counters.accepted++
      return { status: 'accepted', folded: false, ...base }
    }
    if (result === 'duplicate') {
      this.counters.duplicates++
      return { status: 'duplicate', ...base }
    }
    if (result === 'fork') {
      this.#components.logger.warn({ tillId: entry.tillId, seq: entry.seq, hash: entry.hash }, 'fork: two signed entries at one seq; till flagged, kept as evidence')
      return { ...this.#reject({ code: 'FORK', reason: `${entry.tillId} signed two different entries at seq ${entry.seq}` }, entry.tillId), ...base }
    }
    this.counters.accepted++
    return { status: 'accepted', folded: result === 'folded', ...base }
  }

  #verifyItem (entry: Entry): { signature: Uint8Array, message: Uint8Array, publicKey: PublicKey } {
    return { signature: entry.sig, message: signingBytes(entry.record.kind, entry.body), publicKey: entry.signer }
  }

  #rejectionFor (err: unknown): Rejection {
    if (err instanceof ForgedError) return { code: err.message.includes('not enrolled') ? 'UNENROLLED' : 'FORGED', reason: err.message }
    return rejectionOf(err)
  }

  #reject (r: Rejection, tillId?: string): SubmitOutcome {
    this.counters.rejected++
    this.counters.rejectedByCode[r.code] = (this.counters.rejectedByCode[r.code] ?? 0) + 1
    this.rejections.push({ ...r, atMs: this.#components.clock.nowMs(), ...(tillId !== undefined ? { tillId } : {}) })
    if (this.rejections.length > REJECTIONS_KEPT_MAX) this.rejections.shift()
    this.#components.logger.warn({ code: r.code, tillId }, `rejected: ${r.reason}`)
    return { status: 'rejected', code: r.code, reason: r.reason }
  }

  /** Group commit: everything queued while an fsync runs goes into the next one (whole submit calls, up to commitBatchMax entries). */
  async #flushLoop (): Promise<void> {
    const max = this.#init.commitBatchMax ?? COMMIT_BATCH_MAX
    try {
      while (this.#queue.length > 0) {
        let take = 0
        let entries = 0
        while (take < this.#queue.length && (take === 0 || entries + (this.#queue[take]?.entries.length ?? 0) <= max)) {
          entries += this.#queue[take]?.entries.length ?? 0
          take++
        }
        const groups = this.#queue.splice(0, take)
        const ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
        // Each entry gets the next arrival number in its own batch: a checkpoint's watermark is one.
        const firstArrival = this.#nextArrival
        const encoder = new TextEncoder()
        const put = (e: Entry, logged: Uint8Array): void => {
          const key = entryKey(e.tillId, e.seq, e.hash)
          ops.push({ type: 'put', key, value: logged })
          ops.push({ type: 'put', key: arrivalKey(this.#nextArrival++), value: encoder.encode(key) })
        }
        // The entries of failed commits first (#inDoubt), unless a copy is being written now or is folded already.
        const again = [...this.#inDoubt.values()].filter(d => !this.#inFlight.has(d.entry.hash) && !this.#books.contains(d.entry.tillId, d.entry.seq, d.entry.hashBytes) && !this.#awaiting.has(d.entry.hash))
        for (const d of again) put(d.entry, d.logged)
        for (const g of groups) g.entries.forEach((e, k) => { put(e, g.logged[k] as Uint8Array) })
        ops.push({ type: 'put', key: ARRIVAL_NEXT_KEY, value: encoder.encode(String(this.#nextArrival)) })
        try {
          await this.#components.store.batch(ops, { sync: true })
          this.counters.commits++
          // In arrival order: one batch at a time, so the pending list and the watermark agree.
          let pending = this.#pendingCheckpoint
          for (const d of again) pending?.push({ tillId: d.entry.tillId, seq: d.entry.seq, hashBytes: d.entry.hashBytes })
          for (const g of groups) for (const e of g.entries) pending?.push({ tillId: e.tillId, seq: e.seq, hashBytes: e.hashBytes })
          if (pending !== null && pending.length > CHECKPOINT_PENDING_MAX) pending = null
          this.#pendingCheckpoint = pending
          this.#committedArrival = this.#nextArrival - 1
          // Folded here, in the same step as the commit: at every await point each durable
          // entry is in the books or waiting for the catalogue (what a checkpoint relies on).
          const t = performance.now()
          // Out of doubt: what this batch wrote again, and any whose resend is now in the books
          // (one whose copy is still in flight in a later batch stays, holding checkpoints back).
          for (const d of again) this.#inDoubt.delete(d.entry.hash)
          for (const g of groups) for (const e of g.entries) this.#inDoubt.delete(e.hash)
          for (const d of again) {
            // Answered busy when it failed: nobody waits for this outcome (the till's resend is a duplicate).
            try {
              this.#fold(d.entry, d.envelopeId)
              this.counters.inDoubtFolded++
            } catch (err) {
              this.#components.logger.error({ tillId: d.entry.tillId, seq: d.entry.seq, err: (err as Error).message }, 'an entry written again after a failed commit did not fold')
            }
          }
          for (const g of groups) {
            g.entries.forEach((e, k) => {
              try {
                g.outcomes[k] = this.#fold(e, g.envelopeIds[k] as string)
              } catch (err) {
                g.outcomes[k] = err as Error
              }
            })
          }
          this.timings.foldMs += performance.now() - t
          for (const g of groups) {
            this.#landedGroup(g)
            g.resolve()
          }
        } catch (err) {
          // Not durable, so not accepted: every entry of these groups (and every copy waiting
          // on them) is answered busy, none folded nor remembered as seen. HQ keeps them and
          // writes them again with its next commit (#inDoubt), because the failed write may
          // yet be replayed from the store's log: written over by a durable copy and folded in
          // that commit's step, they are in the books exactly when they are in the log, and the
          // till's resend is a duplicate. The arrival numbers the failed batch took stay unused.
          const busy = this.#commitFailed(err, entries + again.length, firstArrival)
          for (const g of groups) {
            g.entries.forEach((e, k) => {
              this.#landed(e, g.envelopeIds[k] as string)
              // A copy made durable meanwhile (an in-doubt one written again by the commit before,
              // while this resend of it waited) leaves nothing in doubt: it is in the books.
              if (this.#books.contains(e.tillId, e.seq, e.hashBytes) || this.#awaiting.has(e.hash)) return
              this.#inDoubt.set(e.hash, { entry: e, envelopeId: g.envelopeIds[k] as string, logged: g.logged[k] as Uint8Array })
            })
            // Written again with a later commit (#inDoubt) they may wait then: bounded by IN_DOUBT_KEPT_MAX, not counted here.
            this.#landedGroup(g)
            g.reject(busy)
          }
          // Bounded: the oldest are left to their tills' resends (and to a rebuild, if the store kept them).
          for (const hash of this.#inDoubt.keys()) {
            if (this.#inDoubt.size <= IN_DOUBT_KEPT_MAX) break
            this.#inDoubt.delete(hash)
            // One the store may yet replay, never folded: a checkpoint's watermark past its
            // arrival number would leave it out of a start's books. None until a restart
            // (whose log after the last watermark holds it if the store kept it).
            this.#checkpointsSuspended = 'entries of a failed commit were let go (too many to keep): no checkpoint until HQ restarts'
          }
        }
      }
    } finally {
      this.#flushing = null
    }
  }

  /**
   * A group commit the store refused: counted, logged (the code and the count, never the
   * entries), and turned into the busy answer its submitters get. An error that is not the
   * disk's (a bug, a closed store) is logged as such but answered busy all the same: what
   * was not made durable is never acknowledged.
   */
  #commitFailed (err: unknown, entries: number, firstArrival: number): HqBusyError {
    const code = diskErrorCode(err) ?? 'UNKNOWN'
    this.counters.diskErrors++
    this.lastDiskError = { atMs: this.#components.clock.nowMs(), code, entries }
    this.#components.logger.error({ code, entries, firstArrival, err: (err as Error)?.message }, 'group commit failed: its entries answered busy, none folded, written again with the next commit; reads go on')
    return new HqBusyError(`HQ could not make the batch durable (${code}): keep it and send it again later`)
  }

  /** Per till: last folded seq, last closed day, held entries, fork flag. */
  fleet (): ReturnType<Books['snapshot']>['tills'] {
    return this.#books.tillSnapshots()
  }

  /** One till of fleet(), without building the others. */
  till (tillId: TillId): ReturnType<Books['snapshot']>['tills'][string] | undefined {
    return this.#books.tillSnapshotOf(tillId)
  }

  /** The tills a fork halted, sorted. */
  forkedTills (): TillId[] {
    return this.#books.forkedTills()
  }
}

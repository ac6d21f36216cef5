/**
 * A KvStore that injects disk faults into any other: for the simulator and for tests of both
 * daemons (never production). A write (a batch) fails with EIO or ENOSPC, as Node reports
 * them (`code`, `errno`, `syscall`), on explicit switches (`failNext`, `failUntilHealed`) or
 * at a seeded rate; and `crash()` decides, from the same seed, what of the writes that were
 * not made durable a power loss keeps. Reads never fail: a node with a sick disk must still
 * serve what it holds.
 *
 * What is modelled, and why (LevelDB, the store in production, is the reference):
 * - A batch is one record of LevelDB's write-ahead log, checksummed; at recovery a record
 *   is replayed whole or not at all (a torn tail fails its checksum and is dropped). So no
 *   fault here ever applies part of a batch.
 * - A batch whose write or fsync failed is not applied (LevelDB inserts into its memtable
 *   only after a good write and sync, db_impl.cc `DBImpl::Write`): it is invisible to reads
 *   while the process runs. But its bytes may have reached the file: "the log record we just
 *   added may or may not show up when the DB is re-opened". Such a batch is *in doubt*: at
 *   the next crash or reopen it comes back whole, or not at all (a coin from the seed). It
 *   stays in doubt even if a later fsync succeeds: after a failed fsync Linux may have marked
 *   the pages clean and dropped them ("fsyncgate"), so a later fsync proves nothing for it.
 *   Whatever a later durable batch wrote over the same key wins (it came later in the log).
 * - A batch written without sync is visible at once and lost to a power loss unless an fsync
 *   after it succeeded. The log is appended in order, so a power loss keeps a *prefix* of the
 *   unsynced batches (a seeded length, possibly none, possibly all), whole batches only: the
 *   torn last write is the first batch past the cut, lost entirely.
 * - With `sticky`, a failed batch fails every later write until the store is reopened: what
 *   LevelDB does after a failed sync (`RecordBackgroundError`: the log file's state is
 *   indeterminate, so it refuses all writes until reopened). Off by default: LevelStore
 *   reopens by itself before the next write after any failed one.
 * - Not modelled: LevelDB dropping, at replay, good records written after a torn one in the
 *   same log (a batch answered OK, then lost). LevelStore's reopen after a failed write is
 *   what prevents it (test/levelStoreDisk.test.ts shows the loss without it, on a full tmpfs).
 *
 * `crash()` needs an inner store that models a power loss (MemoryStore's `crash()`); over
 * another store it is a close. What comes back is written at the next `open()`, as LevelDB
 * replays its log there.
 */
import { compact, getMany, type KvOp, type KvRange, type KvStore } from './KvStore.ts'

export type DiskFaultCode = 'EIO' | 'ENOSPC'

/** What Node gives for a failed write or fsync: an Error with `code`, `errno` and `syscall`. */
export class DiskFaultError extends Error {
  override name = 'DiskFaultError'
  readonly code: DiskFaultCode
  readonly errno: number
  readonly syscall: 'write' | 'fsync'
  constructor (code: DiskFaultCode, syscall: 'write' | 'fsync') {
    super(`${code}: ${code === 'EIO' ? 'i/o error' : 'no space left on device'}, ${syscall} (injected)`)
    this.code = code
    this.errno = code === 'EIO' ? -5 : -28
    this.syscall = syscall
  }
}

export interface FaultyKvStoreInit {
  /** Seed of the store's own PRNG (random faults, what a crash keeps). Default 1. */
  seed?: number
  /** Or a random source in [0, 1) (the simulator's seeded stream); overrides `seed`. */
  random?: () => number
  /** Chance in [0, 1] that a batch fails (default 0: only the switches fail batches). */
  failRate?: number
  /** Random faults only on fsync'd batches (default false: any batch). */
  syncOnly?: boolean
  /** The error random faults give; default EIO or ENOSPC, drawn. */
  code?: DiskFaultCode
  /** After any failed batch, fail every write until the store is reopened (LevelDB after a failed sync). */
  sticky?: boolean
  /** Chance an in-doubt batch comes back at a crash or reopen (default 0.5: either fate is real). */
  inDoubtKeptChance?: number
  /**
   * Reopen, as LevelStore does, before the first good write after a failed one: what was in
   * doubt is decided then (and comes back, if it does, under the running process). Default false.
   */
  reopensAfterFailure?: boolean
}

/** A switch: which batches fail, and with what. */
interface FaultSwitch {
  code: DiskFaultCode
  /** Only fsync'd batches. */
  syncOnly: boolean
  /** Batches left to fail; Infinity until healed. */
  left: number
  /** Only batches that write this key (one writer's own write, whatever else shares the disk). */
  key?: string
}

/** A batch written, kept until a crash or reopen decides its fate. */
interface Pending {
  ops: KvOp[]
  /** 'failed': in doubt; 'unsynced': applied, lost to a power loss past the cut. */
  kind: 'failed' | 'unsynced'
  /** Keys written by durable batches after this one: those win over it if it comes back. */
  overwritten: Set<string>
}

/** Batches kept in doubt at most: beyond, the oldest is decided lost at once (bounded memory). */
export const FAULTY_PENDING_MAX = 4096

export interface FaultyCounters {
  batches: number
  /** Batches failed by a switch or at random. */
  failed: number
  /** In-doubt batches that came back at a crash or reopen, and those that did not. */
  inDoubtKept: number
  inDoubtLost: number
  /** Unsynced batches a crash kept, and lost. */
  unsyncedKept: number
  unsyncedLost: number
  crashes: number
}

/** mulberry32: a small seeded PRNG, so a run replays from its seed. */
function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class FaultyKvStore implements KvStore {
  readonly inner: KvStore
  readonly #random: () => number
  readonly #init: FaultyKvStoreInit
  #switch: FaultSwitch | null = null
  #failRate: number
  /** Sticky mode: a batch failed since the store was opened. */
  #broken = false
  /** In-doubt and unsynced batches since the last crash or reopen, in log order. */
  #pending: Pending[] = []
  /** What the next open replays the pending batches after: a power loss, or a clean reopen. */
  #settleAt: 'crash' | 'reopen' | null = null
  readonly counters: FaultyCounters = { batches: 0, failed: 0, inDoubtKept: 0, inDoubtLost: 0, unsyncedKept: 0, unsyncedLost: 0, crashes: 0 }

  constructor (inner: KvStore, init: FaultyKvStoreInit = {}) {
    this.inner = inner
    this.#init = init
    this.#random = init.random ?? mulberry32(init.seed ?? 1)
    this.#failRate = init.failRate ?? 0
  }

  /** Fail the next `n` batches (only fsync'd ones with `syncOnly`; only those writing `key`, with it). */
  failNext (n: number, opts: { code?: DiskFaultCode, syncOnly?: boolean, key?: string } = {}): void {
    this.#switch = { code: opts.code ?? 'EIO', syncOnly: opts.syncOnly ?? false, left: n, ...(opts.key !== undefined ? { key: opts.key } : {}) }
  }

  /** Fail every batch (only fsync'd ones with `syncOnly`) until `heal()`. */
  failUntilHealed (opts: { code?: DiskFaultCode, syncOnly?: boolean } = {}): void {
    this.#switch = { code: opts.code ?? 'EIO', syncOnly: opts.syncOnly ?? false, left: Infinity }
  }

  /** The disk works again: the switches are off (random faults stay at their rate; a sticky store still needs a reopen). */
  heal (): void {
    this.#switch = null
  }

  /** The chance in [0, 1] that a batch fails at random from now on (0: only the switches). */
  setFailRate (rate: number): void {
    this.#failRate = rate
  }

  /** Whether the next batch of this kind would fail (a switch on, or sticky and broken; random faults aside). */
  failing (opts: { sync: boolean } = { sync: true }): boolean {
    if (this.#broken) return true
    const s = this.#switch
    return s !== null && s.left > 0 && (opts.sync || !s.syncOnly)
  }

  /** The fault for this batch, if any. */
  #faultFor (sync: boolean, ops: KvOp[]): DiskFaultError | null {
    const syscall = sync ? 'fsync' : 'write'
    const s = this.#switch
    if (this.#broken) return new DiskFaultError(s?.code ?? this.#init.code ?? 'EIO', syscall)
    if (s !== null && s.left > 0 && (sync || !s.syncOnly) && (s.key === undefined || ops.some(o => o.key === s.key))) {
      s.left--
      if (s.left === 0) this.#switch = null
      return new DiskFaultError(s.code, syscall)
    }
    const rate = this.#failRate
    if (rate > 0 && (sync || this.#init.syncOnly !== true) && this.#random() < rate) {
      return new DiskFaultError(this.#init.code ?? (this.#random() < 0.5 ? 'EIO' : 'ENOSPC'), syscall)
    }
    return null
  }

  async open (): Promise<void> {
    await this.inner.open()
    const how = this.#settleAt
    this.#settleAt = null
    if (how !== null) await this.#settle(how)
  }

  /** A clean close: LevelDB replays its log at the next open, so what was in doubt is decided then. */
  async close (): Promise<void> {
    await this.inner.close()
    this.#settleAt ??= 'reopen'
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    return await this.inner.get(key)
  }

  async compact (range: KvRange): Promise<void> {
    await compact(this.inner, range)
  }

  async getMany (keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    return await getMany(this.inner, keys)
  }

  entries (range: KvRange): AsyncIterable<[string, Uint8Array]> {
    return this.inner.entries(range)
  }

  batches (range: KvRange, size: number): AsyncIterable<Array<[string, Uint8Array]>> {
    const inner = this.inner
    if (inner.batches !== undefined) return inner.batches(range, size)
    return (async function * () {
      let batch: Array<[string, Uint8Array]> = []
      for await (const kv of inner.entries(range)) {
        batch.push(kv)
        if (batch.length >= size) { yield batch; batch = [] }
      }
      if (batch.length > 0) yield batch
    })()
  }

  async batch (ops: KvOp[], opts: { sync: boolean }): Promise<void> {
    this.counters.batches++
    const fault = this.#faultFor(opts.sync, ops)
    if (fault !== null) {
      this.counters.failed++
      if (this.#init.sticky === true) this.#broken = true
      this.#remember({ ops: copyOps(ops), kind: 'failed', overwritten: new Set() })
      throw fault
    }
    if (this.#init.reopensAfterFailure === true && this.#pending.some(p => p.kind === 'failed')) await this.#settle('reopen')
    await this.inner.batch(ops, opts)
    if (opts.sync) {
      // Durable now, with every unsynced batch before it: only in-doubt batches stay, and
      // what this one wrote wins over them if they come back.
      this.#pending = this.#pending.filter(p => p.kind === 'failed')
      for (const p of this.#pending) for (const op of ops) p.overwritten.add(op.key)
    } else {
      this.#remember({ ops: copyOps(ops), kind: 'unsynced', overwritten: new Set() })
    }
  }

  #remember (p: Pending): void {
    this.#pending.push(p)
    if (this.#pending.length > FAULTY_PENDING_MAX) {
      // Decided lost at once: an in-doubt batch lost is a valid outcome; an unsynced one
      // stays in the inner store's cache (its crash decides it).
      const oldest = this.#pending.shift() as Pending
      if (oldest.kind === 'failed') this.counters.inDoubtLost++
    }
  }

  /**
   * The machine lost power: the inner store loses what it did not sync (MemoryStore's
   * `crash()`; over a store that cannot model it, nothing is lost but what was in doubt).
   * At the next `open()`, as LevelDB replays its log, a seeded prefix of the unsynced
   * batches, and each in-doubt batch on a coin, come back whole. The store is closed.
   */
  crash (): void {
    this.counters.crashes++
    const inner = this.inner as KvStore & { crash?: () => void }
    if (typeof inner.crash === 'function') inner.crash()
    else void inner.close().catch(() => {})
    this.#settleAt = 'crash'
  }

  /** The machine burned (MemoryStore's `burn()`): nothing is left, nothing comes back. */
  burn (): void {
    const inner = this.inner as KvStore & { burn?: () => void }
    inner.burn?.()
    this.#pending = []
    this.#settleAt = null
  }

  /** Decide what of the pending batches the log replays, and write it to the inner store. */
  async #settle (how: 'crash' | 'reopen'): Promise<void> {
    const pending = this.#pending
    this.#pending = []
    this.#broken = false
    if (pending.length === 0) return
    const unsynced = pending.filter(p => p.kind === 'unsynced').length
    // A reopen without a power loss keeps every unsynced batch (the OS had them); a crash a prefix.
    let keepUnsynced = how === 'reopen' ? unsynced : Math.floor(this.#random() * (unsynced + 1))
    const kept: Pending[] = []
    for (const p of pending) {
      if (p.kind === 'unsynced') {
        if (keepUnsynced > 0) { keepUnsynced--; kept.push(p); this.counters.unsyncedKept++ } else this.counters.unsyncedLost++
      } else if (this.#random() < (this.#init.inDoubtKeptChance ?? 0.5)) {
        kept.push(p)
        this.counters.inDoubtKept++
      } else {
        this.counters.inDoubtLost++
      }
    }
    if (how === 'reopen' && kept.every(p => p.kind === 'unsynced')) return // the inner store holds them already
    // Replayed in log order; a key a later kept batch or a durable batch wrote is not taken back.
    const ops: KvOp[] = []
    kept.forEach((p, i) => {
      const later = new Set(p.overwritten)
      for (const q of kept.slice(i + 1)) for (const op of q.ops) later.add(op.key)
      for (const op of p.ops) if (!later.has(op.key)) ops.push(op)
    })
    if (ops.length > 0) await this.inner.batch(ops, { sync: true })
  }
}

function copyOps (ops: KvOp[]): KvOp[] {
  return ops.map(op => op.type === 'put' ? { type: 'put', key: op.key, value: op.value === undefined ? new Uint8Array() : op.value.slice() } : { type: 'del', key: op.key })
}

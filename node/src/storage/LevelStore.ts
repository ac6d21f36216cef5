/**
 * KvStore on LevelDB (classic-level through `level`), on disk. `sync` is an fsync.
 *
 * After a write that failed (EIO, ENOSPC: `LEVEL_IO_ERROR`) the database is reopened before the
 * next write. Two reasons, both LevelDB's own: a failed fsync makes it refuse every later write
 * until reopened (`DBImpl::Write` records a background error); and a failed write can leave a
 * torn record in the write-ahead log, after which records appended to the same log are dropped
 * when it is next replayed: seen here on a full tmpfs, a batch written with sync *after* the
 * space was freed answered OK and was gone after a clean reopen (test/levelStoreDisk.test.ts).
 * Reopening replays the log once (dropping the torn tail, which nobody was told was written)
 * and starts a new one, so nothing written after the failure follows a torn record. The reopen
 * waits for scans in progress (up to LEVEL_REOPEN_SCAN_WAIT_MS), and holds reads back while it
 * runs: reads go on being served around a failing disk.
 */
import { Level } from 'level'
import { diskErrorCode, type KvOp, type KvRange, type KvStore } from './KvStore.ts'
import { LEVEL_BATCH_TURN_OPS, LEVEL_REOPEN_SCAN_WAIT_MS } from './constants.ts'

/**
 * Bytes a batched scan may read ahead per step. classic-level's default (16 KiB) stops a
 * `nextv` after ~25 log entries, which made a rebuild mostly round trips to the native side.
 */
const SCAN_BYTES = 4 * 1024 * 1024

/**
 * LevelDB's memtable (its default is 4 MiB). HQ writes ~700 bytes per report, so a 4 MiB
 * memtable was flushed to a new table, and tables compacted, every ~6,000 reports: LevelDB's
 * threads then spent 11–16 µs of CPU per report in a 10,000-till wave, against 5–7 with
 * 32 MiB (A/B, 3 waves each; 2026-11-26). The cost: up to 32 MiB more memory, and as much
 * write-ahead log to replay when the store opens after a crash.
 */
const WRITE_BUFFER_BYTES = 32 * 1024 * 1024

export class LevelStore implements KvStore {
  readonly location: string
  readonly #db: Level<string, Uint8Array>
  /** A write failed since the last open: reopen before the next one. */
  #reopenBeforeWrite = false
  /** The reopen under way (reads and writes wait for it). */
  #reopening: Promise<void> | null = null
  /** Closed by its owner: a failed write does not open it again. */
  #closed = false
  /** Scans in progress, and who waits for them to end (a reopen). */
  #scans = 0
  #scansIdle: Array<() => void> = []
  /** Reopens after a failed write, since construction (for tests and counters). */
  reopens = 0

  constructor (location: string) {
    this.location = location
    this.#db = new Level<string, Uint8Array>(location, { keyEncoding: 'utf8', valueEncoding: 'view', writeBufferSize: WRITE_BUFFER_BYTES })
  }

  async open (): Promise<void> {
    this.#closed = false
    await this.#db.open()
  }

  async close (): Promise<void> {
    this.#closed = true
    await this.#settled()
    await this.#db.close()
  }

  /** Wait out a reopen under way (its failure is the next write's to report). */
  async #settled (): Promise<void> {
    while (this.#reopening !== null) await this.#reopening.catch(() => {})
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    // Not a tick more on the hot path when no reopen is under way.
    if (this.#reopening !== null) await this.#settled()
    return await this.#db.get(key)
  }

  async getMany (keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    if (this.#reopening !== null) await this.#settled()
    return await this.#db.getMany([...keys])
  }

  /**
   * LevelDB's compactRange: the memtable written out, and the tables holding `range` merged into
   * the levels below. Why HQ asks for it: a value of many MB (a settlement file) is one block of
   * a table; while that table is in level 0 (every new table is, until four of them are merged),
   * every range scan that seeks in it reads and uncompresses that block (7 ms a scan for a 9 MB
   * file, measured), and a start replays it there from the write-ahead log.
   */
  async compact (range: KvRange): Promise<void> {
    if (this.#reopening !== null) await this.#settled()
    // `level` is classic-level under Node; its type does not name compactRange.
    const db = this.#db as unknown as { compactRange?: (start: string, end: string) => Promise<void> }
    if (typeof db.compactRange === 'function') await db.compactRange(range.gte ?? '', range.lt ?? '\uffff')
  }

  async batch (ops: KvOp[], opts: { sync: boolean }): Promise<void> {
    if (ops.length === 0 && !opts.sync) return
    if (this.#reopening !== null) await this.#settled()
    if (this.#reopenBeforeWrite && !this.#closed) await this.#reopen()
    try {
      if (ops.length <= LEVEL_BATCH_TURN_OPS) {
        await this.#db.batch(ops.map(op => op.type === 'put'
          ? { type: 'put' as const, key: op.key, value: op.value ?? new Uint8Array() }
          : { type: 'del' as const, key: op.key }), { sync: opts.sync })
      } else {
        // A large batch (a settlement file's lines) is built in turns, the event loop free between
        // them (taking it in one call held it for seconds), and written whole at the end, atomically.
        const chained = this.#db.batch()
        try {
          for (let i = 0; i < ops.length; i++) {
            const op = ops[i] as KvOp
            if (op.type === 'put') chained.put(op.key, op.value ?? new Uint8Array())
            else chained.del(op.key)
            if (i % LEVEL_BATCH_TURN_OPS === LEVEL_BATCH_TURN_OPS - 1) await new Promise(resolve => setImmediate(resolve))
          }
        } catch (err) {
          await chained.close()
          throw err
        }
        await chained.write({ sync: opts.sync })
      }
    } catch (err) {
      if (diskErrorCode(err) !== undefined) this.#reopenBeforeWrite = true
      throw err
    }
  }

  /** Close and open the database again (see the file's comment); one at a time. */
  async #reopen (): Promise<void> {
    this.#reopening ??= (async () => {
      // Scans in progress end first (a closing database closes its iterators under them), within reason.
      if (this.#scans > 0) {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          new Promise<void>(resolve => { this.#scansIdle.push(resolve) }),
          new Promise<void>(resolve => { timer = setTimeout(resolve, LEVEL_REOPEN_SCAN_WAIT_MS) })
        ])
        clearTimeout(timer)
      }
      await this.#db.close()
      // If the disk cannot even open the database now, the next write tries again (reads fail meanwhile).
      await this.#db.open()
      this.#reopenBeforeWrite = false
      this.reopens++
    })().finally(() => { this.#reopening = null })
    await this.#reopening
  }

  /** A scan began (reads wait for a reopen under way; a reopen waits for scans to end). */
  async #scanStart (): Promise<void> {
    if (this.#reopening !== null) await this.#settled()
    this.#scans++
  }

  #scanEnd (): void {
    this.#scans--
    if (this.#scans === 0) for (const resolve of this.#scansIdle.splice(0)) resolve()
  }

  async * entries (range: KvRange): AsyncIterable<[string, Uint8Array]> {
    const opts: { gte?: string, lt?: string, limit?: number } = {}
    if (range.gte !== undefined) opts.gte = range.gte
    if (range.lt !== undefined) opts.lt = range.lt
    if (range.limit !== undefined) opts.limit = range.limit
    await this.#scanStart()
    try {
      for await (const [k, v] of this.#db.iterator(opts)) yield [k, v]
    } finally {
      this.#scanEnd()
    }
  }

  async * batches (range: KvRange, size: number): AsyncIterable<Array<[string, Uint8Array]>> {
    const opts: { gte?: string, lt?: string, limit?: number, highWaterMarkBytes: number } = { highWaterMarkBytes: SCAN_BYTES }
    if (range.gte !== undefined) opts.gte = range.gte
    if (range.lt !== undefined) opts.lt = range.lt
    if (range.limit !== undefined) opts.limit = range.limit
    await this.#scanStart()
    try {
      const it = this.#db.iterator(opts)
      // One step read ahead: LevelDB reads the next batch (on libuv's pool) while the caller
      // works on this one.
      let next = it.nextv(size)
      try {
        for (;;) {
          const batch = await next
          if (batch.length === 0) return
          next = it.nextv(size)
          yield batch
        }
      } finally {
        await next.catch(() => {})
        await it.close()
      }
    } finally {
      this.#scanEnd()
    }
  }
}

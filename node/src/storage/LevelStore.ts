/** KvStore on LevelDB (classic-level through `level`), on disk. `sync` is an fsync. */
import { Level } from 'level'
import type { KvOp, KvRange, KvStore } from './KvStore.ts'

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

  constructor (location: string) {
    this.location = location
    this.#db = new Level<string, Uint8Array>(location, { keyEncoding: 'utf8', valueEncoding: 'view', writeBufferSize: WRITE_BUFFER_BYTES })
  }

  async open (): Promise<void> {
    await this.#db.open()
  }

  async close (): Promise<void> {
    await this.#db.close()
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    return await this.#db.get(key)
  }

  async batch (ops: KvOp[], opts: { sync: boolean }): Promise<void> {
    if (ops.length === 0 && !opts.sync) return
    const levelOps = ops.map(op => op.type === 'put'
      ? { type: 'put' as const, key: op.key, value: op.value ?? new Uint8Array() }
      : { type: 'del' as const, key: op.key })
    await this.#db.batch(levelOps, { sync: opts.sync })
  }

  async * entries (range: KvRange): AsyncIterable<[string, Uint8Array]> {
    const opts: { gte?: string, lt?: string, limit?: number } = {}
    if (range.gte !== undefined) opts.gte = range.gte
    if (range.lt !== undefined) opts.lt = range.lt
    if (range.limit !== undefined) opts.limit = range.limit
    for await (const [k, v] of this.#db.iterator(opts)) yield [k, v]
  }

  async * batches (range: KvRange, size: number): AsyncIterable<Array<[string, Uint8Array]>> {
    const opts: { gte?: string, lt?: string, limit?: number, highWaterMarkBytes: number } = { highWaterMarkBytes: SCAN_BYTES }
    if (range.gte !== undefined) opts.gte = range.gte
    if (range.lt !== undefined) opts.lt = range.lt
    if (range.limit !== undefined) opts.limit = range.limit
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
  }
}

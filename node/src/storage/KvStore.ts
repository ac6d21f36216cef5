/**
 * The narrow storage interface every node writes through. Production uses LevelDB on
 * disk (LevelStore); the simulator uses MemoryStore, which models a disk cache: writes
 * not yet synced are lost on a crash.
 */
export interface KvOp {
  type: 'put' | 'del'
  key: string
  value?: Uint8Array
}

export interface KvRange {
  gte?: string
  lt?: string
  /** Stop after this many entries. */
  limit?: number
}

export interface KvStore {
  open (): Promise<void>
  close (): Promise<void>
  get (key: string): Promise<Uint8Array | undefined>
  /** Apply the ops atomically. With `sync`, return only once they (and all before) are on stable storage. */
  batch (ops: KvOp[], opts: { sync: boolean }): Promise<void>
  /** Entries in key order. */
  entries (range: KvRange): AsyncIterable<[string, Uint8Array]>
  /**
   * Entries in key order, up to `size` per step: one await per step rather than per entry,
   * for long scans (HQ's rebuild). Optional: `scanBatches` falls back on `entries`.
   */
  batches? (range: KvRange, size: number): AsyncIterable<Array<[string, Uint8Array]>>
  /** The values of many keys at once, in their order (one call, not one per key). Optional: `getMany` falls back on `get`. */
  getMany? (keys: readonly string[]): Promise<Array<Uint8Array | undefined>>
  /**
   * Settle the keys of `range` into the store's long-term layout (LevelDB: compacted out of its
   * newest tables, memtable first). Nothing read changes. Optional: `compact` does nothing where
   * the store has none.
   */
  compact? (range: KvRange): Promise<void>
}

/** `store.compact`, or nothing where the store has none. */
export async function compact (store: KvStore, range: KvRange): Promise<void> {
  if (store.compact !== undefined) await store.compact(range)
}

/** `store.getMany`, or a `get` per key where the store has none. */
export async function getMany (store: KvStore, keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
  if (store.getMany !== undefined) return await store.getMany(keys)
  return await Promise.all(keys.map(async k => await store.get(k)))
}

/**
 * Codes of a write the disk refused: Node's for a failed write or fsync (EIO, ENOSPC, EROFS,
 * EDQUOT) and classic-level's for a LevelDB I/O error. Such a write was not made durable;
 * the caller keeps what it was writing and tries again later, and says so (busy, 503).
 */
const DISK_ERROR_CODES = new Set(['EIO', 'ENOSPC', 'EROFS', 'EDQUOT', 'LEVEL_IO_ERROR'])

/** The code of a disk error (a write that could not be made durable), or undefined for any other error. */
export function diskErrorCode (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && DISK_ERROR_CODES.has(code) ? code : undefined
}

/** `store.batches`, or the same from `store.entries`. */
export async function * scanBatches (store: KvStore, range: KvRange, size: number): AsyncIterable<Array<[string, Uint8Array]>> {
  if (store.batches !== undefined) {
    yield * store.batches(range, size)
    return
  }
  let batch: Array<[string, Uint8Array]> = []
  for await (const kv of store.entries(range)) {
    batch.push(kv)
    if (batch.length >= size) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}

/** The upper bound of keys starting with `prefix` (for range scans). */
export function prefixEnd (prefix: string): string {
  return prefix + '\uffff'
}

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
}

/** The upper bound of keys starting with `prefix` (for range scans). */
export function prefixEnd (prefix: string): string {
  return prefix + '\uffff'
}

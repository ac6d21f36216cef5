/** Messages between a whole-log rebuild on threads (FoldThreads.ts) and its threads (foldWorker.ts). */

/** HQ's thread → a fold thread, first: how to check what it folds. */
export interface FoldInit {
  type: 'init'
  /** Re-verify every signature (else trust the log: each entry passed every check before it was written). */
  verify: boolean
  /** HQ's root key: the certificates' issuer. */
  rootKey: Uint8Array
  /** Every certificate in the log (already checked on HQ's thread, as a start does). */
  certificates: Uint8Array[]
  /** Entries folded before a flush (FOLD_FLUSH_ENTRIES). */
  flushEntries: number
  /** Bytes of a segment, about (FOLD_SEGMENT_BYTES). */
  segmentBytes: number
}

/** HQ's thread → a fold thread: entries of the log, in key order (so each till's entries together, by seq). */
export interface FoldBatch {
  type: 'batch'
  id: number
  keys: string[]
  /** The logged values back to back; value i ends at ends[i]. Transferred. */
  buf: ArrayBuffer
  ends: Uint32Array
}

/** HQ's thread → a fold thread: the costs it asked for, in the order asked (null: no cost that day). */
export interface FoldCosts {
  type: 'costs'
  costs: Array<number | null>
}

/** HQ's thread → a fold thread: no more entries; send what is left. */
export interface FoldEnd {
  type: 'end'
}

export type FoldJob = FoldInit | FoldBatch | FoldCosts | FoldEnd

/** A fold thread → HQ's thread: the costs of these (day, sku) pairs, please. */
export interface FoldAsk {
  type: 'ask'
  pairs: Array<[string, string]>
}

/**
 * A fold thread → HQ's thread, per batch (id) or at the end (id 0): segments of bases of the
 * whole tills folded since the last (blocks against the thread's table, the table's growth,
 * the sums), and the entries HQ's thread folds itself (they name a sku with no cost on their day).
 */
export interface FoldDone {
  type: 'done'
  id: number
  segments: Uint8Array[]
  own: Array<[string, Uint8Array]>
  entries: number
}

export interface FoldFailed {
  type: 'failed'
  error: string
}

export type FoldReply = FoldAsk | FoldDone | FoldFailed

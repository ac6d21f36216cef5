/**
 * Limits of a TillLog. Each is a hard bound checked before use; each can be overridden
 * through `TillLogInit` (tests and the simulator use smaller ones).
 */
import { ENTRY_BYTES_MAX } from '@tillbooks/protocol'

/** Digits of the zero-padded seq that opens an entry's key, so keys sort by seq. */
export const SEQ_KEY_DIGITS = 12
/**
 * The largest seq a TillLog stores: what fits the 12-digit key. Protocol allows up to
 * 2^40 (13 digits); a till closing twice a day reaches 10^12 in 1.3 billion years.
 */
export const LOG_SEQ_MAX = 10 ** SEQ_KEY_DIGITS - 1
/** Hex digits of the envelope digest that closes an entry's key (128 bits). */
export const ENVELOPE_DIGEST_HEX = 32

/** Entries one log holds (chain, fork evidence and forgeries alike): ~27 years of two records a day. */
export const LOG_ENTRIES_MAX = 20_000
/** Saved document bytes `TillLog.load` reads: LOG_ENTRIES_MAX entries of ~1.5 KB with room to spare. */
export const LOG_BYTES_MAX = 64 * 1024 * 1024
/** Changes one `applyChanges` call takes. */
export const APPLY_CHANGES_MAX = 10_000
/** Bytes of one Automerge change taken from a peer. */
export const CHANGE_BYTES_MAX = 1024 * 1024
/**
 * Bytes of a change that puts one entry (an entry's envelope, its key, and Automerge's
 * header: deps, actors, columns): what HQ and a till's outbox carry per entry.
 */
export const ENTRY_CHANGE_BYTES_MAX = ENTRY_BYTES_MAX + 4096
/** Entries one change may put (our writers put one per change). */
export const CHANGE_ENTRIES_MAX = 64
/**
 * Changes taken in by sync that wait, queued by Automerge, for changes the replica lacks (a
 * change lost on the wire, a Bloom filter false positive): beyond it a message is refused.
 */
export const PENDING_CHANGES_MAX = 1_024
/** Statements one catalogue holds: 50,000 products with prices, costs and years of changes. */
export const CATALOGUE_STATEMENTS_MAX = 1_000_000
/** Saved catalogue bytes read at most. */
export const CATALOGUE_BYTES_MAX = 512 * 1024 * 1024
/** Genesis changes kept (one per till id): a process holding more tills recomputes them (~0.1 ms). */
export const GENESIS_CACHE_MAX = 100_000

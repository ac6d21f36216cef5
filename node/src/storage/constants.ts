/** Limits of the storage layer and of what the daemons answer when it fails. */

/**
 * Seconds a client is told to wait (Retry-After) after a write the disk refused (EIO, ENOSPC):
 * long enough not to hammer a sick disk, short enough that a till's next attempt after an
 * operator frees space goes through at once.
 */
export const DISK_RETRY_AFTER_S = 2

/**
 * Longest LevelStore's reopen after a failed write waits for scans in progress to end: a scan
 * still running then is cut short (its iterator closed, its reader told) rather than hold every
 * write back behind it.
 */
export const LEVEL_REOPEN_SCAN_WAIT_MS = 5_000

/**
 * Ops of one LevelDB batch taken in one turn of the event loop: a larger batch is built in
 * turns of this many (a chained batch), then written whole. 1.5 million ops in one call held
 * HQ's event loop ~4 s (a 500,000-line settlement file, 2026-12-07).
 */
export const LEVEL_BATCH_TURN_OPS = 16_384

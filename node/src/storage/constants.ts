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

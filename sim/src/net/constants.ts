/** Limits and defaults of `tillbooks net` (the launcher), overridable through its options where they say so. */

/** The whole run is abandoned (and cleaned up) after this long, unless `timeoutMs` says otherwise. */
export const NET_TIMEOUT_MS = 600_000
/** A soak adds this much to the default time limit per business day (each day restarts three sets of processes). */
export const SOAK_TIMEOUT_MS_PER_DAY = 180_000
/** Most business days one soak runs: every day keeps every process's logs and data on disk. */
export const SOAK_DAYS_MAX = 60
/**
 * A kill falls between this and SOAK_KILL_PERCENT_MAX percent of its phase (tills opened,
 * each till's sales, closes in the wave): never before the phase has started or after it ended,
 * where it would be a kill between phases, which the other moments already cover.
 */
export const SOAK_KILL_PERCENT_MIN = 10
export const SOAK_KILL_PERCENT_MAX = 90

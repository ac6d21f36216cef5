/** Access-control limits. Each is a default; the daemons' options override the ones that vary. */

/** Random bytes in an admin or viewer token: 256 bits, past any guessing. */
export const TOKEN_BYTES = 32
/** Crockford base32 symbols in an enrolment code: 25 × 5 = 125 bits, typed in five groups of five. */
export const CODE_SYMBOLS = 25
/** How long a code lives unless the operator says otherwise. */
export const CODE_TTL_DEFAULT_MS = 24 * 3_600_000
/** Bounds on a code's life: long enough to walk to the store, short enough to go stale. */
export const CODE_TTL_MIN_MS = 60_000
export const CODE_TTL_MAX_MS = 30 * 24 * 3_600_000
/** Codes outstanding at once (issued, neither used nor expired): a 100,000-till roll-out fits. */
export const CODES_OUTSTANDING_MAX = 200_000
/** A used or expired code's record is kept this long (for the audit trail), then pruned at start. */
export const CODE_RECORD_KEPT_MS = 30 * 24 * 3_600_000
/** Failed authentications one client address may make per window before it is refused outright. */
export const AUTH_FAILURES_MAX = 10
export const AUTH_FAILURE_WINDOW_MS = 60_000
/** Client addresses the failure limiter remembers at once (its LRU cache). */
export const AUTH_CLIENTS_TRACKED_MAX = 10_000
/** Longest Authorization header read; anything longer is refused before it is compared. */
export const AUTH_HEADER_CHARS_MAX = 256
/** Refusals kept for /counters (the newest), all counted. */
export const AUTH_REFUSALS_KEPT_MAX = 100

/** HQ limits. Each is a default; HqNode's init overrides them. */

/** Entries in one submitted batch; a larger batch is refused whole. */
export const SUBMIT_BATCH_MAX = 4_096
/** Entries written in one group commit (one fsync). */
export const COMMIT_BATCH_MAX = 8_192
/** Entries queued for commit before new submissions wait (back-pressure). */
export const COMMIT_QUEUE_MAX = 65_536
/** Rejections kept in memory as evidence (the newest); all are counted. */
export const REJECTIONS_KEPT_MAX = 1_000
/**
 * Till documents kept loaded (HqDocs), least recently used dropped first: sync sessions and
 * the API load them, never the intake path. A year of one till is ~1 MB of wasm memory.
 */
export const DOCS_CACHED_MAX = 64
/** Till documents HqDocs makes at once (each a few ms to ~50 ms of HQ's main thread for a year's log). */
export const DOC_LOADS_MAX = 4
/**
 * Entries logged but kept out of the books until the catalogue defines a sku they name (a
 * store's new product whose statement is still on its way). Past this many, an entry naming
 * a sku the catalogue does not define is refused (the till resends it after syncing).
 */
export const AWAITING_CATALOGUE_MAX = 10_000

/** How long HQ waits for a till's approvals when its card totals do not match a settlement. */
export const APPROVALS_FETCH_TIMEOUT_MS = 10_000

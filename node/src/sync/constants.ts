/** Limits of document sync between peers. Each is a default; DocSync's init overrides them. */

/** Requests one pull may make before it gives up (an honest exchange settles in 2–3). */
export const SYNC_ROUNDS_MAX = 8
/** Live sync states kept in memory, least recently used dropped first (any peer may ask). */
export const SYNC_STATES_MEMORY_MAX = 1_024
/** Tills whose logs one till keeps replicas of: k neighbour stores of a few dozen tills each, with room. */
export const REPLICA_TILLS_MAX = 4_096
/** Refusals kept for /status (the newest), all counted. */
export const SYNC_REFUSALS_KEPT_MAX = 100
/** The document id the catalogue is synced under (every other document is a till's log, by till id). */
export const CATALOGUE_DOC = 'catalogue'

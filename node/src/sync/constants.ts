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

/** Signed card approvals a till keeps of one neighbouring till (a year of a busy till's card payments). */
export const REPLICA_APPROVALS_PER_TILL_MAX = 200_000
/** Peers HQ remembers as holding a replica of one till (where it asks for approvals when the till cannot answer). */
export const REPLICA_HOLDERS_PER_TILL_MAX = 8

/** HQ limits. Each is a default; HqNode's init overrides them. */

/** Entries in one submitted batch; a larger batch is refused whole. */
export const SUBMIT_BATCH_MAX = 4_096
/** Entries written in one group commit (one fsync). */
export const COMMIT_BATCH_MAX = 8_192
/**
 * Entries of failed group commits HQ keeps to look for after the next good one (a failed
 * write may yet be replayed by the store's log when it reopens: HQ then folds what it finds,
 * so its books stay what a rebuild from the log gives). Beyond, the oldest are forgotten:
 * found at the next rebuild instead, and their tills resend them meanwhile anyway.
 */
export const IN_DOUBT_KEPT_MAX = 16_384
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
/** Asks from other HQ replicas waiting for a document to be made (beyond: busy, asked again later). */
export const DOC_LOAD_WAITERS_MAX = 256
/**
 * Entries logged but kept out of the books until the catalogue defines a sku they name (a
 * store's new product whose statement is still on its way). Past this many, with those being
 * made durable that may wait, a batch naming a sku the catalogue does not define is refused
 * for now, whole (busy: the till resends it after syncing).
 */
export const AWAITING_CATALOGUE_MAX = 10_000

/** How long HQ waits for a till's approvals when its card totals do not match a settlement. */
export const APPROVALS_FETCH_TIMEOUT_MS = 10_000
/**
 * Approvals whose signature HQ checked, kept by their envelope's hash (HqSettlements): a till
 * answers every fetch with all its approvals, and each reconciliation that fetches would check
 * the same signatures again. Emptied when full.
 */
export const APPROVALS_OPENED_KEPT_MAX = 100_000

/** How often the SQL projection of the books appends what the books folded since (off the intake path). */
export const PROJECTION_INTERVAL_MS = 1_000
/** How long before trying an unreachable books database again. */
export const PROJECTION_RETRY_MS = 5_000
/**
 * Records appended to the SQL projection in one transaction, at most. PGlite runs on HQ's main
 * thread (~0.4 ms a record here): a batch holds the event loop for ~0.4 s.
 */
export const PROJECTION_BATCH_MAX = 1_000
/** Longest the projection waits for a busy intake before appending a batch anyway. */
export const PROJECTION_DEFER_MAX_MS = 10_000
/** How long connecting to a `--books-db` server may take before it counts as unreachable. */
export const BOOKS_DB_CONNECT_TIMEOUT_MS = 5_000

/** How often an HQ replica brings itself up to each replica it knows (a round costs two small requests when in sync). */
export const REPLICA_SYNC_INTERVAL_MS = 1_000
/** Replicas one HQ knows, at most (configured and learnt by hello). */
export const REPLICA_PEERS_MAX = 16
/** Keys or till summaries per page between replicas. */
export const REPLICA_PAGE_MAX = 2_000
/** HQ records asked for per request between replicas (the answer holds as many as fit REPLICA_ANSWER_BYTES_MAX; the rest are asked again). */
export const REPLICA_RECORDS_PER_CALL = 256
/** How far a replica's signed hello may be from our clock (a captured hello is not replayed later). */
export const REPLICA_HELLO_SKEW_MS = 5 * 60_000
/** Bytes of HQ records in one answer between replicas: within a libp2p frame (net/limits.ts FRAME_BYTES_MAX, 4 MiB). */
export const REPLICA_ANSWER_BYTES_MAX = 3 * 1024 * 1024
/**
 * Tills whose whole log a replica asks another for in one request, when it holds nothing of
 * them (a fresh replica): their logged values as they are, no Automerge document made on either
 * side (the answer holds the tills that fit REPLICA_ANSWER_BYTES_MAX; the rest are asked again).
 */
export const REPLICA_LOGGED_TILLS_PER_CALL = 256
/**
 * Requests for records or whole till logs one replica has out to another at once: each is
 * mostly waiting (the other's disk, the network, this one's fsync), one after another they left
 * both HQs idle most of a catch-up.
 */
export const REPLICA_CALLS_IN_FLIGHT = 4
/** Till logs one replica pulls from another at once (each a few round trips of Automerge sync, mostly waiting). */
export const REPLICA_PULLS_IN_FLIGHT = 64
/** Longest a replica leaves another's till logs for later while that HQ's intake is busy (a close wave). */
export const REPLICA_DEFER_MAX_MS = 30_000
/** A record another replica sent and this one refused (it contradicts what is held) is asked for again after this long. */
export const REPLICA_REFUSED_RETRY_MS = 10 * 60_000
/** Refused records remembered (the newest). */
export const REPLICA_REFUSED_KEPT_MAX = 10_000

/**
 * A checkpoint of the books (Checkpoints.ts) is due after this many entries logged since the
 * last: a start then reads at most about this many entries from the log after the newest one
 * (a few seconds at the trusting rate), whatever the log's age.
 */
export const CHECKPOINT_RECORDS_EVERY = 50_000
/** ... or this long after the last, if any entry was logged since. */
export const CHECKPOINT_INTERVAL_MS = 10 * 60_000
/** Bytes of one checkpoint segment, about (each is read and hashed whole at start). */
export const CHECKPOINT_SEGMENT_BYTES = 4 * 1024 * 1024
/** Segments one checkpoint may name; past it the next checkpoint is a new base (every entry once). */
export const CHECKPOINT_SEGMENTS_MAX = 1_024
/** A new base is written when the incremental segments hold at least this many items and as many as the base. */
export const CHECKPOINT_BASE_MIN_ITEMS = 100_000
/** Entries logged since the last checkpoint that HQ lists for the next, at most; beyond, the next is a base. */
export const CHECKPOINT_PENDING_MAX = 2_000_000
/** Checkpoints kept: the newest and the one before it (if the newest fails its checks, a start goes back one). */
export const CHECKPOINTS_KEPT = 2
/** How often the HQ daemon looks whether a checkpoint is due. */
export const CHECKPOINT_CHECK_MS = 1_000
/** Longest a due checkpoint waits for a busy intake (a close wave) before it is written anyway. */
export const CHECKPOINT_DEFER_MAX_MS = 30_000
/**
 * Entries whose summaries a base checkpoint encodes (compacts) between turns of the event loop,
 * before its one synchronous step: ~20,000 entries is a few tens of ms of HQ's main thread.
 */
export const CHECKPOINT_COMPACT_SLICE_ENTRIES = 20_000

/**
 * A start folds the whole log on threads (FoldThreads.ts) when the log holds at least this many
 * arrivals: spawning the threads costs more than folding a small log on HQ's own thread.
 */
export const FOLD_THREADS_FROM_ENTRIES = 50_000
/**
 * Batches of entries out to one fold thread at once (each REBUILD_BATCH entries at most, ~350 KB):
 * ~0.8 s of a re-verifying thread's work, so it does not wait while HQ's thread restores a
 * thread's base or collects a year's heap (at 4, the threads sat idle ~3 % of a year's rebuild).
 */
export const FOLD_BATCHES_IN_FLIGHT = 16
/**
 * Entries a fold thread folds before it sends what it has (whole tills, as a base checkpoint's
 * blocks) to HQ's thread and starts afresh: its memory stays about this many summaries.
 */
export const FOLD_FLUSH_ENTRIES = 65_536
/** Bytes of one segment a fold thread sends, about. */
export const FOLD_SEGMENT_BYTES = 1024 * 1024
/** (day, sku) costs a fold thread asks HQ's thread for in one message, at most. */
export const FOLD_COST_ASKS_MAX = 65_536


/** Tills whose folded Closes an index of them (FoldedCloses) reads from the log at once. */
export const FOLDED_CLOSES_READS_AT_ONCE = 32

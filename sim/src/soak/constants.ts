/** Limits and shares of the seed pool, the CI's thousand seeds and the soak. */

/** Worker processes at most, whatever the machine offers (each holds a few hundred MB of wasm and heap at peak). */
export const JOBS_MAX = 16
/** A seed that has not finished after this much real time is a failure (its worker is killed): a hang is a bug too. */
export const SEED_TIMEOUT_MS = 180_000
/**
 * A worker is replaced after this many seeds: Automerge's wasm memory grows to its peak and
 * never shrinks, and one large world early on should not weigh on every later one.
 */
export const SEEDS_PER_WORKER_MAX = 500
/** The soak prints a progress line at most this often. */
export const PROGRESS_EVERY_MS = 10_000

/**
 * The small worlds: 3 to 9 tills (SMALL_WORLD_TILLS_MIN + seed mod SMALL_WORLD_TILLS_SPREAD),
 * three to a store, one to six sales a till a day: the thousand take ~8.5 min of a CI run that
 * must stay under 15 on two cores. Worlds that found bugs are pinned in
 * sim/test/simulation.test.ts, so changing these keeps them.
 */
export const SMALL_WORLD_TILLS_MIN = 3
export const SMALL_WORLD_TILLS_SPREAD = 7
export const SMALL_WORLD_TILLS_PER_STORE = 3
export const SMALL_WORLD_SALES_PER_DAY_MAX = 6
/** catalogueClash on every this-many-th seed (it doubles a run). */
export const CATALOGUE_CLASH_EVERY = 5
/**
 * hqReplicas (it makes a run three to four times longer) on two seeds of every this many: the
 * multiples (with catalogueClash too: every named fault at once), and those HQ_REPLICAS_ALONE_AT
 * past one (not a multiple of CATALOGUE_CLASH_EVERY: hqReplicas without catalogueClash).
 */
export const HQ_REPLICAS_EVERY = 50
export const HQ_REPLICAS_ALONE_AT = 24
/** diskFaults (HQ's and the tills' disks failing under writes) on every this-many-th seed, and in the every-fault world. */
export const DISK_FAULTS_EVERY = 4

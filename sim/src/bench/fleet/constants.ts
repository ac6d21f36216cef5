/** Defaults of `tillbooks bench` (issue 7). Each is overridable on the command line. */

/** Tills per store: stores are the unit a load generator hosts, and the unit that burns. */
export const TILLS_PER_STORE = 4
/** Documents per till per day: the pitch's "90,000 documents at 10,000 tills". */
export const SALES_PER_TILL = 9
/** The one business day every till trades and closes. */
export const BENCH_DAY = '2026-03-02'
/**
 * Load-generator processes. Each hosts whole stores and acts as one store relay: one libp2p
 * connection to HQ, one long-lived pipelined submit stream.
 */
export const LOADGENS = 2
/** Entries per submit call (TillbooksPeer splits above 64: one frame holds at most 64). */
export const BATCH_ENTRIES = 64
/** Submit calls in flight per load generator (closed loop). */
export const WINDOW_CALLS = 4
/** Share of the tills whose every entry is resent after the wave (B3). */
export const RESEND_EVERY_NTH_TILL = 5
/** Extra direct till→HQ connections opened, each with the till's own key as its libp2p identity. */
export const PROBE_CONNECTIONS_MAX = 500
/** How long the legacy central-counter baseline may run per fleet size before it is cut short and extrapolated. */
export const LEGACY_BUDGET_MS = 15_000
/** Tills taking numbers from the legacy counter at once, per load generator (each till's sales are sequential). */
export const LEGACY_LANES = 256
/**
 * Tills whose StockIn and Close HQ takes over the same connections before each timed wave,
 * untimed: 4,000 records, so that the wave runs the code V8 has compiled, as in an HQ that has
 * been up for a day, and not a fresh process's first seconds (interpreted code, and V8's
 * compiler threads busy on both cores). Measured at 10,000 tills: a fresh HQ spent ~45 µs of
 * V8 helper-thread CPU per report in the wave. `--warmup-tills 0` measures a cold HQ.
 */
export const WARMUP_TILLS = 2_000
/** Runs per fleet size (fresh HQ each); figures are medians. */
export const RUNS = 3
/** Timeouts: a phase gets a base plus a per-till allowance. */
export const PHASE_BASE_MS = 90_000
export const PHASE_PER_TILL_MS = 10
/** The pitch's published figures (seed: "Proven at scale"). */
export const PUBLISHED_REPORTS_PER_SEC: Readonly<Record<number, number>> = { 200: 1_890, 1_000: 3_340, 5_000: 4_424, 10_000: 4_597 }

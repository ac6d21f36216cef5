/**
 * @tillbooks/sim: the deterministic simulator, its oracle and invariants, and benchmarks.
 *
 * @example
 * ```ts
 * const result = await runSimulation({ seed: 42, tills: 200, days: 3, faults: parseFaults('all') })
 * result.invariants   // { B3_resendAddsNothing: true, B4_booksEqualOracle: true, ... }
 * ```
 */
export { runSimulation, SALES_PER_DAY_MAX_DEFAULT, TILLS_PER_STORE_DEFAULT, type SimOptions, type SimResult } from './Simulation.ts'
export { ALL_FAULT_NAMES, FAULTS, NAMED_FAULTS, parseFaults, type Fault } from './faults.ts'
export { Oracle, type OracleBooks, type TruthDay } from './Oracle.ts'
export { Prng } from './Prng.ts'
export { Scheduler } from './Scheduler.ts'
export { SimNetwork, QUIET_LINK, type LinkProfile } from './SimNetwork.ts'
export { formatSimResult } from './report.ts'
export { DEMO_DAYS, DEMO_SEED, DEMO_TILLS, DEMO_TILLS_PER_STORE, runDemo } from './demo.ts'
export { brokenChecks, replayCommand, worldOf, REPLAY_CLI, type WorldSpec } from './replay.ts'
export { PSP_ADDRESS, PSP_TIMEOUT_MS, SimProcessor, SimProcessorAdapter, type PspMsg, type PspRecord } from './SimProcessor.ts'
export { registerNetCommand, runNet, survivors, formatNetResult, type NetOptions, type NetResult } from './net/index.ts'
export { SimSync, SIM_SYNC_TIMEOUT_MS, type SimSyncCounters, type SyncMsg } from './SimSync.ts'
export { announce, judgeGossip, signGossip, type AnnounceMsg } from './SimGossip.ts'

/**
 * `tillbooks bench`: the scale benchmark of issue 7. For each fleet size N:
 *
 *   1. HQ's data directory is prepared in-process (prepareHq.ts: root key, N enrolments,
 *      N orders), then the real `tillbooks hq` process starts on a copy of it;
 *   2. L load-generator processes (loadgen.ts) each host whole stores and act as their store
 *      relay: they dial HQ (timed: the connect phase), fetch their stores' orders, and every
 *      till trades its day through the real TillNode and signs its StockIn and Close;
 *   3. the timed wave: every record to HQ over libp2p (batches, pipelined), each answered
 *      `accepted` only once verified and fsync'd (that is what the daemon does). Repeated
 *      `runs` times on fresh HQs, each followed by one run of the pitch's relay as pitched and
 *      one with our guarantees (../pitch), so that load coming and going on a shared machine
 *      hits all three alike; figures are medians;
 *   4. the checks on the last run's HQ: B3 resend, B6 fire (the burnt store's Closes never
 *      reached HQ; recovered from the neighbour's replica with chooseChain against HQ's
 *      certificates; a planted forgery refused), B4 books == the oracle to the cent, G1
 *      numbering, B5 SIGKILL + restart, then extra direct till→HQ connections (the probe);
 *   5. the legacy baseline: one central document-number counter (legacyCounter.ts), one
 *      libp2p round trip per sale;
 *   6. this machine's verification ceiling (before each size's processes start).
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { converged, projectionAfterWave, projectionFromNothing, replicaDir, type ProjectionStatus } from './replicas.ts'
import { startPostgres, type Postgres } from '../../net/postgres.ts'
import { docNoOf, fromHex, keyPairFromSeed, openEntry, Signer, signEntry, toHex, type PublicKey, type TillId } from '@tillbooks/protocol'
import { demoCatalogue } from '@tillbooks/catalogue'
import { silentLogger } from '../../../../node/src/components.ts'
import { MemoryStore } from '../../../../node/src/storage/MemoryStore.ts'
import { TillNode } from '../../../../node/src/till/TillNode.ts'
import { TillbooksPeer } from '../../../../node/src/net/TillbooksPeer.ts'
import { chooseChain, enrolmentOf } from '../../../../node/src/recovery/chooseChain.ts'
import { Oracle, type OracleBooks } from '../../Oracle.ts'
import { measurePitchRelay, measureVerifyCeiling, type PitchRelayResult } from '../pitch/index.ts'
import { pidAlive } from '../../net/proc.ts'
import { Processes, type Child } from './proc.ts'
import { prepareHqDir } from './prepareHq.ts'
import { signedKb } from './report.ts'
import { fireStore, forgerSeed, hqTillIndices, makePlan, relaySeed, storeOf, tillIdAt, tillNoOf, type FleetPlan } from './plan.ts'
import {
  BATCH_ENTRIES, LEGACY_BUDGET_MS, LOADGENS, PHASE_BASE_MS, PHASE_PER_TILL_MS, PROBE_CONNECTIONS_MAX, PUBLISHED_REPORTS_PER_SEC,
  RESEND_EVERY_NTH_TILL, RUNS, SALES_PER_TILL, TILLS_PER_STORE, WARMUP_TILLS, WINDOW_CALLS
} from './constants.ts'

const here = fileURLToPath(new URL('.', import.meta.url))
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url))
/** The production HQ daemon (@tillbooks/node's entry point, without the simulator). */
const CLI = fileURLToPath(import.meta.resolve('@tillbooks/node/cli'))
const LOADGEN = join(here, 'loadgen.ts')
const COUNTER = join(here, 'legacyCounter.ts')

export interface BenchOptions {
  sizes: number[]
  seed?: number
  runs?: number
  loadgens?: number
  batch?: number
  window?: number
  tillsPerStore?: number
  salesPerTill?: number
  /** Tills whose day HQ takes, untimed, before each timed wave (WARMUP_TILLS; 0: a cold HQ). */
  warmupTills?: number
  probeConnections?: number
  legacy?: boolean
  legacyBudgetMs?: number
  pitch?: boolean
  pitchRuns?: number
  /** Run every HQ process with --cpu-prof into <outDir>/prof (written by the HQs stopped gracefully: use runs ≥ 2). */
  hqCpuProf?: boolean
  /** Where bench.json, bench.log, bench.svg and the processes' logs go (default build/bench). */
  outDir?: string
  /** Called after each step, with the step's name and how many steps there are in all. */
  onStep?: (step: string, total: number) => void
  /** One line of the run's log (also written to bench.log). */
  onLog?: (line: string) => void
}

export interface WaveRun {
  records: number
  accepted: number
  waveMs: number
  reportsPerSec: number
  p50Ms: number
  p99Ms: number
  /** Per load generator: dial + noise + yamux + stream + the first round trip, ms. */
  connectMs: number[]
  hqReadyMs: number
  hqCpuUsPerReport: number
  /** The same split by HQ's threads: MainThread, WorkerThread (verify), V8Worker (compilers, GC), libuv-worker (LevelDB, fsync). */
  hqThreadCpuUsPerReport: Record<string, number>
  hqMaxRssBytes: number
  hqRssAfterWaveBytes: number
  hqConnections: number
  hqCommits: number
  /** TillbooksPeer frame bytes in + out at HQ, per till-day (2 records). */
  frameBytesPerTillDay: number
  /** Bytes through the load generators' sockets (noise + yamux included, TCP/IP headers not), per till-day. */
  socketBytesPerTillDay: number
  loadgenCpuUsPerReport: number
  failures: string[]
  /** The SQL projection of the books (PGlite, HQ's default) at the end of this wave: its lag, and its catch-up. */
  sql: Awaited<ReturnType<typeof projectionAfterWave>> | null
  /** Waited for HQ to go idle before the wave (it parses the enrolled keys after a start). */
  settledMs: number
}

export interface SizeResult {
  tills: number
  /** Warm-up tills whose day HQ took, untimed, before each wave; in the books and the checks (and the rebuild). */
  warmupTills: number
  /** Medians over the runs. */
  reportsPerSec: number
  publishedReportsPerSec: number | null
  baselineReportsPerSec: number | null
  guardedBaselineReportsPerSec: number | null
  verifyCeilingPerSec: number
  /** The same with OpenSSL (node:crypto, KeyObject cached): the guarded relay's verifier. */
  verifyCeilingOpenSslPerSec: number
  verifyPerCorePerSec: number
  cores: number
  /** HQ's peak RSS (getrusage maxRSS, the whole process), max over the runs. */
  hqRssBytes: number
  p50Ms: number
  p99Ms: number
  connectMs: number
  hqCpuUsPerReport: number
  hqCpuSecondsPer1000Reports: number
  bytesPerTillPerDay: { frames: number, socket: number }
  ratios: { vsGuardedBaseline: number | null, vsBaseline: number | null, ofVerifyCeiling: number, ofOpenSslVerifyCeiling: number }
  /** HQ connections during the wave: one per load generator (a store relay each) plus the orchestrator's. */
  hqConnections: number
  /**
   * B5's restart, from HQ's own log line: `recordsPerSec` = log entries ÷ the whole rebuild
   * (which also re-verifies every certificate and order: `itemsPerSec` counts those too).
   */
  rebuild: RebuildResult | null
  /** The same after a second SIGKILL, restarted with `--rebuild full-trust` (the whole log, no signature checked). */
  rebuildTrusted: RebuildResult | null
  /** rebuildTrusted's records/s (issue 21's `rebuildTrustRecordsPerSec`), or null. */
  rebuildTrustRecordsPerSec: number | null
  /** Seconds from a SIGKILL of HQ (after the wave, with a checkpoint of the books written) until it serves again. */
  restartSeconds: number | null
  /**
   * Issue 20. `sql`: the projection's lag at the end of the wave and its catch-up (medians over
   * the runs), and the whole log projected from nothing into PGlite and into a PostgreSQL server
   * (null when none is installed). `replicas`: a fresh replica catching up on the whole log, and
   * the wave's intake at HQ while a replica syncs from it (one run, against the runs without).
   */
  sql: { lagAtWaveEnd: number, catchUpMs: number | null, recordsPerSec: number | null, fromNothingPglite: { records: number, ms: number | null, appendMs: number | null, recordsPerSec: number | null, error: string | null } | null, fromNothingServer: { records: number, ms: number | null, appendMs: number | null, recordsPerSec: number | null, error: string | null } | null }
  replicas: { catchUp: { records: number, ms: number | null, recordsPerSec: number | null, booksHashEqual: boolean } | null, intakeWithReplica: { reportsPerSec: number, vsWithout: number, convergedMsAfterWave: number | null, booksHashEqual: boolean } | null }
  legacy: { handoffs: number, docNosPerSec: number, fleetDayNumbersSec: number, cutShort: boolean, tills: number, clashes: number, counterFsyncs: number } | null
  /** Direct till→HQ connections, 16 handshakes at a time per load generator: per-connection times include that queueing; `perSec` is the rate. */
  probe: { connections: number, p50Ms: number, p99Ms: number, allMs: number, perSec: number, hqRssPerConnectionBytes: number, hqConnectionsHeld: number } | null
  /** The pitch helper's results, one per run (each a fresh relay and load generator), interleaved with tillbooks' waves. */
  pitch: { asPitched: PitchRelayResult[], guarded: PitchRelayResult[] }
  checks: Record<string, boolean>
  details: Record<string, unknown>
  runsDetail: WaveRun[]
  prepareMs: number
  generateMs: number
  pids: number[]
}

export interface BenchResult {
  date: string
  machine: { cpus: number, model: string, memBytes: number, node: string, shared: string }
  options: Record<string, unknown>
  runs: SizeResult[]
  ok: boolean
  files: { json: string, log: string, svg: string, logs: string }
}

interface HqMetrics {
  cpuUserMicros: number
  cpuSystemMicros: number
  rssBytes: number
  maxRssBytes: number
  connections: number
  net: { bytesIn: number, bytesOut: number, connections: number }
  counters: { accepted: number, duplicates: number, rejected: number, commits: number }
  /** CPU ms per thread kind since HQ started (Linux). */
  threadCpuMs: Record<string, number>
}

interface HqReady { peerId: string, multiaddrs: string[], http: string, rootKey: string, adminTokenFile: string }
interface Hq { child: Child, ready: HqReady, addr: string, http: string, readyMs: number, dir: string, adminToken: string }

export function median (xs: number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/** Weighted percentile: `values[k]` counted `weights[k]` times. */
function percentile (values: number[], weights: number[], p: number): number {
  const idx = values.map((_, k) => k).sort((x, y) => (values[x] as number) - (values[y] as number))
  const total = weights.reduce((s, w) => s + w, 0)
  const want = Math.max(1, Math.ceil(p * total))
  let seen = 0
  for (const k of idx) {
    seen += weights[k] as number
    if (seen >= want) return values[k] as number
  }
  return NaN
}

/** GET JSON; with `token` as its bearer (HQ's admin routes; its reads are open on loopback). */
async function getJson<T> (url: string, token?: string): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(120_000), ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}) })
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${await r.text()}`)
  return await r.json() as T
}

const nonZero = (o: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0).sort((a, b) => a[0] < b[0] ? -1 : 1))

/** A books snapshot without its one non-set-determined field (how many redundant adds were seen). */
function comparable (books: Record<string, unknown>): Record<string, unknown> {
  const counts = { ...(books.counts as Record<string, unknown>) }
  delete counts.duplicates
  return { ...books, counts }
}

/** The oracle's books over the whole fleet: the load generators' parts (disjoint stores) plus HQ's dispatches. */
function mergeOracle (parts: OracleBooks[], dispatchedPart: OracleBooks): OracleBooks {
  const accounts: Record<string, number> = {}
  const members: Record<string, number> = {}
  const stores: OracleBooks['stores'] = {}
  let takingsCents = 0
  for (const p of [...parts, dispatchedPart]) {
    for (const [k, v] of Object.entries(p.accounts)) accounts[k] = (accounts[k] ?? 0) + v
    for (const [k, v] of Object.entries(p.members)) members[k] = (members[k] ?? 0) + v
    for (const [k, v] of Object.entries(p.stores)) {
      if (stores[k] !== undefined) throw new Error(`store ${k} in two load generators`)
      stores[k] = v
    }
    takingsCents += p.takingsCents
  }
  return { accounts: nonZero(accounts), members: nonZero(members), stores, takingsCents }
}

export async function runBench (opts: BenchOptions): Promise<BenchResult> {
  const o = {
    seed: opts.seed ?? 1,
    runs: opts.runs ?? RUNS,
    loadgens: opts.loadgens ?? LOADGENS,
    batch: opts.batch ?? BATCH_ENTRIES,
    window: opts.window ?? WINDOW_CALLS,
    tillsPerStore: opts.tillsPerStore ?? TILLS_PER_STORE,
    salesPerTill: opts.salesPerTill ?? SALES_PER_TILL,
    warmupTills: opts.warmupTills ?? WARMUP_TILLS,
    probeConnections: opts.probeConnections ?? PROBE_CONNECTIONS_MAX,
    legacy: opts.legacy ?? true,
    legacyBudgetMs: opts.legacyBudgetMs ?? LEGACY_BUDGET_MS,
    pitch: opts.pitch ?? true,
    pitchRuns: opts.pitchRuns ?? opts.runs ?? RUNS,
    hqCpuProf: opts.hqCpuProf ?? false,
    outDir: opts.outDir ?? join(REPO_ROOT, 'build', 'bench')
  }
  const logsDir = join(o.outDir, 'logs')
  await rm(logsDir, { recursive: true, force: true })
  await mkdir(logsDir, { recursive: true })
  const logLines: string[] = []
  const t00 = performance.now()
  const log = (line: string): void => {
    const l = `[${((performance.now() - t00) / 1000).toFixed(1).padStart(7)} s] ${line}`
    logLines.push(l)
    opts.onLog?.(l)
  }
  const stepsPerSize = 7 + o.runs + (o.legacy ? 1 : 0) + (o.pitch ? 2 * o.pitchRuns : 0)
  const total = stepsPerSize * opts.sizes.length
  const step = (name: string): void => { opts.onStep?.(name, total) }

  const procs = new Processes(logsDir)
  const tempDirs: string[] = []
  const onSignal = (signal: NodeJS.Signals): void => {
    procs.killAllSync()
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
    process.stderr.write(`\nbench: ${signal}: every process started was killed, temp dirs removed\n`)
    process.exit(130)
  }
  const onExit = (): void => { procs.killAllSync() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.on('exit', onExit)
  const runs: SizeResult[] = []
  try {
    for (const tills of opts.sizes) {
      log(`=== ${tills} tills ===`)
      runs.push(await runSize(makePlan({ tills, seed: o.seed, loadgens: o.loadgens, tillsPerStore: o.tillsPerStore, salesPerTill: o.salesPerTill, warmupTills: o.warmupTills }), o, procs, tempDirs, log, step))
    }
  } finally {
    await procs.stopAll(2_000)
    for (const d of tempDirs) await rm(d, { recursive: true, force: true })
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('exit', onExit)
  }
  // Every process this benchmark started (the pitch helper's included) is gone.
  for (const r of runs) {
    const pitchPids = [...r.pitch.asPitched, ...r.pitch.guarded].flatMap(x => x.perRun).flatMap(x => x.pids)
    r.pids = [...r.pids, ...pitchPids]
  }
  const allPids = [...procs.started, ...runs.flatMap(r => r.pids)]
  const leftover = [...new Set(allPids)].filter(pidAlive)
  for (const r of runs) r.checks.processesGone = leftover.length === 0
  const cpu = cpus()
  const result: BenchResult = {
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), model: cpu[0]?.model ?? 'unknown', memBytes: totalmem(), node: process.version, shared: 'the cores may be shared with other work: figures are noisy' },
    options: { ...o, sizes: opts.sizes },
    runs,
    ok: runs.every(r => Object.values(r.checks).every(Boolean)),
    files: { json: join(o.outDir, 'bench.json'), log: join(o.outDir, 'bench.log'), svg: join(o.outDir, 'bench.svg'), logs: logsDir }
  }
  const { renderSvg, formatTable } = await import('./report.ts')
  await writeFile(result.files.json, JSON.stringify(result, null, 2) + '\n')
  await writeFile(result.files.svg, renderSvg(result))
  await writeFile(result.files.log, logLines.join('\n') + '\n\n' + formatTable(result) + '\n')
  return result
}

type Resolved = Required<Omit<BenchOptions, 'sizes' | 'onStep' | 'onLog'>>

async function startHq (procs: Processes, dir: string, name: string, timeoutMs: number, profDir: string | null, extraArgs: string[] = []): Promise<Hq> {
  const t0 = performance.now()
  const nodeFlags = profDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${name}.cpuprofile`]
  const child = procs.start(name, CLI, ['hq', '--data', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '0', ...extraArgs], { env: { TILLBOOKS_LOG_LEVEL: 'info' }, nodeFlags })
  const ready = await child.next<HqReady>('ready', timeoutMs)
  const addr = ready.multiaddrs.find(m => m.includes('/ip4/127.0.0.1/')) ?? ready.multiaddrs[0] as string
  // The admin token is read from HQ's data directory, as an operator would.
  const adminToken = (await readFile(ready.adminTokenFile, 'utf8')).trim()
  return { child, ready, addr, http: ready.http, readyMs: performance.now() - t0, dir, adminToken }
}

/**
 * Wait until HQ is idle (its CPU over 250 ms below a fifth of a core, at most `maxMs`): after
 * a start it still parses every enrolled key on its verify threads, which a wave must not pay for.
 */
async function settle (hq: Hq, maxMs = 15_000): Promise<number> {
  const t0 = performance.now()
  let prev = await getJson<HqMetrics>(`${hq.http}/metrics`)
  let prevAt = performance.now()
  while (performance.now() - t0 < maxMs) {
    await new Promise(resolve => setTimeout(resolve, 250))
    const m = await getJson<HqMetrics>(`${hq.http}/metrics`)
    const now = performance.now()
    const cpuUs = (m.cpuUserMicros + m.cpuSystemMicros) - (prev.cpuUserMicros + prev.cpuSystemMicros)
    if (cpuUs < 0.2 * (now - prevAt) * 1000) break
    prev = m
    prevAt = now
  }
  return performance.now() - t0
}

/** HQ's own line about its rebuild: { entries, certificates, replenishments, ms }. */
export interface RebuildResult { entries: number, certificates: number, replenishments: number, ms: number, recordsPerSec: number, itemsPerSec: number, reverifiesSignatures: boolean, restartToReadyMs: number }

async function rebuildLine (hq: Hq): Promise<{ entries: number, certificates: number, replenishments: number, ms: number } | null> {
  const text = await readFile(hq.child.logPath, 'utf8').catch(() => '')
  for (const line of text.split('\n').reverse()) {
    if (!line.includes('rebuilt from the log')) continue
    try {
      const j = JSON.parse(line) as { entries: number, certificates: number, replenishments: number, ms: number }
      return { entries: j.entries, certificates: j.certificates, replenishments: j.replenishments, ms: j.ms }
    } catch { /* not JSON */ }
  }
  return null
}

async function runSize (plan: FleetPlan, o: Resolved, procs: Processes, tempDirs: string[], log: (l: string) => void, step: (s: string) => void): Promise<SizeResult> {
  const N = plan.tills
  /** Every till HQ holds: the fleet's and the warm-up tills. */
  const T = plan.tills + plan.warmupTills
  const phaseMs = PHASE_BASE_MS + PHASE_PER_TILL_MS * N
  const pidsBefore = procs.started.length
  const profDir = o.hqCpuProf ? join(o.outDir, 'prof') : null
  if (profDir !== null) await mkdir(profDir, { recursive: true })
  const checks: Record<string, boolean> = {}
  const details: Record<string, unknown> = {}

  // The verification ceiling, measured before any of this size's processes run.
  const ceiling = measureVerifyCeiling(1_000)
  log(`verify ceiling: ${Math.round(ceiling.perCorePerSec)}/s per core × ${ceiling.cores} = ${Math.round(ceiling.ceilingPerSec)}/s (libsodium, HQ's verifier); OpenSSL ${Math.round(ceiling.openSsl.perCorePerSec)}/s per core × ${ceiling.cores} = ${Math.round(ceiling.openSsl.ceilingPerSec)}/s`)

  const base = await mkdtemp(join(tmpdir(), 'tillbooks-bench-'))
  tempDirs.push(base)
  const template = join(base, 'hq-template')
  const prepared = await prepareHqDir(plan, template)
  log(`HQ dir prepared in-process: ${T} tills enrolled (HqNode.enrolMany; ${plan.warmupTills} of them warm-up tills), ${T} orders signed, ${Math.round(prepared.ms)} ms`)
  step('prepare')

  const loadgens: Array<{ child: Child, ready: { from: number, to: number, multiaddrs: string[] } }> = []
  const runsDetail: WaveRun[] = []
  let hq: Hq | null = null
  let me: TillbooksPeer | null = null
  let generateMs = 0
  let result: SizeResult | null = null
  try {
    for (let k = 0; k < plan.loadgens; k++) {
      const child = procs.start(`loadgen-${N}-${k}`, LOADGEN, [
        '--tills', String(N), '--seed', String(plan.seed), '--loadgens', String(plan.loadgens), '--index', String(k),
        '--tills-per-store', String(plan.tillsPerStore), '--sales', String(plan.salesPerTill), '--batch', String(o.batch), '--window', String(o.window),
        '--resend-every', String(RESEND_EVERY_NTH_TILL), '--warmup-tills', String(plan.warmupTills)
      ])
      loadgens.push({ child, ready: { from: 0, to: 0, multiaddrs: [] } })
    }
    for (const lg of loadgens) lg.ready = await lg.child.next('ready', phaseMs)
    const lgAddr = (k: number): string => loadgens[k]?.ready.multiaddrs.find(m => m.includes('/ip4/127.0.0.1/')) as string
    const all = async <T>(cmd: string, body: unknown = {}): Promise<T[]> => {
      for (const lg of loadgens) lg.child.send(cmd, body)
      return await Promise.all(loadgens.map(async lg => await lg.child.next<T>(`done:${cmd}`, phaseMs)))
    }

    let gen: Array<{ from: number, to: number, tills: number, entries: number, warmupTills: number, entryBytes: number, genMs: number, oracle: OracleBooks, g1: { documents: number, distinct: number, contiguous: boolean }, fireCloses: Array<{ tillId: string, closeHash: string, docLast: number, takingsCents: number }> }> = []
    // The pitch's relay, as pitched and with our guarantees, one run of each after each of
    // tillbooks' waves: on a shared machine, load that comes and goes then hits all three alike.
    const asPitched: PitchRelayResult[] = []
    const guarded: PitchRelayResult[] = []
    const pitchPair = async (): Promise<void> => {
      const a = await measurePitchRelay({ tills: N, guarded: false, runs: 1, warmupTills: plan.warmupTills })
      asPitched.push(a)
      log(`pitch relay as pitched: ${Math.round(a.reportsPerSec)}/s (p50 ${a.p50Ms.toFixed(1)} ms, p99 ${a.p99Ms.toFixed(1)} ms)`)
      step('pitch')
      const g = await measurePitchRelay({ tills: N, guarded: true, runs: 1, warmupTills: plan.warmupTills })
      guarded.push(g)
      log(`pitch relay with our guarantees: ${Math.round(g.reportsPerSec)}/s (p50 ${g.p50Ms.toFixed(1)} ms, p99 ${g.p99Ms.toFixed(1)} ms)`)
      step('pitch+guarantees')
    }
    // One more run with a replica of HQ syncing from it through the warm-up and the wave (issue
    // 20: intake with two replicas against one), before the last run (whose HQ the checks use).
    const order: Array<{ r: number, replica: boolean }> = [...Array(o.runs).keys()].map(r => ({ r, replica: false }))
    if (o.runs >= 2) order.splice(o.runs - 1, 0, { r: o.runs, replica: true })
    let replicaRun: SizeResult['replicas']['intakeWithReplica'] = null
    for (const { r, replica: withReplica } of order) {
      const dir = join(base, `hq-${r}`)
      await cp(template, dir, { recursive: true })
      hq = await startHq(procs, dir, `hq-${N}-run${r + 1}`, phaseMs, profDir)
      let replica: Hq | null = null
      if (withReplica) {
        await replicaDir(dir, join(base, `replica-${r}`))
        replica = await startHq(procs, join(base, `replica-${r}`), `hq-${N}-replica`, phaseMs, null, ['--replica-of', hq.addr])
        // As a replica joins in practice: it first has HQ's records (certificates, orders), then the day begins.
        const joined = await converged(hq.http, replica.http, phaseMs)
        log(`run with a replica: replica ready in ${Math.round(replica.readyMs)} ms (pid ${replica.child.pid}), had HQ's ${joined.records} records ${Math.round(joined.ms ?? -1)} ms later; it syncs from HQ every second`)
      }
      const connected = await all<{ connectMs: number, ordersMs: number }>('connect', { hq: hq.addr, rootKey: hq.ready.rootKey })
      log(`run ${r + 1}: HQ ready in ${Math.round(hq.readyMs)} ms (pid ${hq.child.pid}); load generators connected in ${connected.map(c => c.connectMs.toFixed(1)).join(', ')} ms`)
      if (r === 0) {
        const t0 = performance.now()
        gen = await all('generate')
        generateMs = performance.now() - t0
        log(`${N} tills (+${plan.warmupTills} warm-up tills) traded their day through TillNode in ${plan.loadgens} processes: ${Math.round(generateMs)} ms; ${gen.reduce((s, g) => s + g.entries, 0)} records (+${2 * gen.reduce((s, g) => s + g.warmupTills, 0)} warm-up) signed, mean ${Math.round(gen.reduce((s, g) => s + g.entryBytes, 0) / (2 * gen.reduce((s, g) => s + g.tills + g.warmupTills, 0)))} bytes`)
        step('generate')
        // The burnt store's tills replicated to their neighbour in the evening, before the fire.
        const fire = fireStore(plan)
        const host = loadgens[fire.host] as typeof loadgens[number]
        const neighbour = loadgens[fire.neighbour] as typeof loadgens[number]
        neighbour.child.send('replicate', { from: lgAddr(fire.host), tills: fire.tills.map(i => tillIdAt(plan, i)) })
        const rep = await neighbour.child.next<{ entries: number }>('done:replicate', phaseMs)
        details.replica = { store: fire.store, host: host.child.name, neighbour: neighbour.child.name, entries: rep.entries }
      }
      if (plan.warmupTills > 0) {
        // Untimed: HQ takes the warm-up tills' day over the same connections, so that the
        // timed wave runs compiled code (see WARMUP_TILLS). Then it settles like a fresh HQ.
        const t1 = performance.now()
        const warm = await all<{ sent: number, accepted: number, duplicates: number, rejected: number, failures: string[] }>('warmup')
        const sent = warm.reduce((s, w) => s + w.sent, 0)
        const accepted = warm.reduce((s, w) => s + w.accepted, 0)
        // A duplicate is held too: a call whose stream closed under it is sent again (the client
        // does, on a new stream), and HQ answers the second with what it already holds.
        const duplicates = warm.reduce((s, w) => s + w.duplicates, 0)
        if (accepted + duplicates !== sent || sent !== 2 * plan.warmupTills) {
          throw new Error(`warm-up: ${accepted} of ${sent} records accepted and ${duplicates} held already, ${2 * plan.warmupTills} expected (${warm.reduce((s, w) => s + w.rejected, 0)} refused: ${JSON.stringify(warm.flatMap(w => w.failures).slice(0, 5))})`)
        }
        log(`run ${r + 1}: HQ warmed up, untimed: ${sent} records of ${plan.warmupTills} warm-up tills held (${accepted} accepted, ${duplicates} answered as held already) in ${Math.round(performance.now() - t1)} ms`)
      }
      const settledMs = await settle(hq)
      const projection0 = await getJson<ProjectionStatus>(`${hq.http}/books/projection`)
      const m0 = await getJson<HqMetrics>(`${hq.http}/metrics`)
      const waves = await all<{ sent: number, accepted: number, duplicates: number, rejected: number, failures: string[], lat: number[], latN: number[], startEpochMs: number, endEpochMs: number, socketBytesRead: number, socketBytesWritten: number, cpuMs: number }>('wave')
      const m1 = await getJson<HqMetrics>(`${hq.http}/metrics`)
      const records = waves.reduce((s, w) => s + w.sent, 0)
      const accepted = waves.reduce((s, w) => s + w.accepted, 0)
      const waveMs = Math.max(...waves.map(w => w.endEpochMs)) - Math.min(...waves.map(w => w.startEpochMs))
      const lat = waves.flatMap(w => w.lat)
      const latN = waves.flatMap(w => w.latN)
      const tillDays = records / 2
      const run: WaveRun = {
        records,
        accepted,
        waveMs,
        reportsPerSec: accepted / (waveMs / 1000),
        p50Ms: percentile(lat, latN, 0.5),
        p99Ms: percentile(lat, latN, 0.99),
        connectMs: connected.map(c => c.connectMs),
        hqReadyMs: hq.readyMs,
        hqCpuUsPerReport: ((m1.cpuUserMicros + m1.cpuSystemMicros) - (m0.cpuUserMicros + m0.cpuSystemMicros)) / Math.max(1, accepted),
        hqThreadCpuUsPerReport: Object.fromEntries(Object.entries(m1.threadCpuMs)
          .map(([name, ms]) => [name, Math.round((ms - (m0.threadCpuMs[name] ?? 0)) * 1000 / Math.max(1, accepted))] as const)
          .filter(([, us]) => us > 0)),
        hqMaxRssBytes: m1.maxRssBytes,
        hqRssAfterWaveBytes: m1.rssBytes,
        hqConnections: m1.connections,
        hqCommits: m1.counters.commits - m0.counters.commits,
        frameBytesPerTillDay: ((m1.net.bytesIn + m1.net.bytesOut) - (m0.net.bytesIn + m0.net.bytesOut)) / tillDays,
        socketBytesPerTillDay: waves.reduce((s, w) => s + w.socketBytesRead + w.socketBytesWritten, 0) / tillDays,
        loadgenCpuUsPerReport: waves.reduce((s, w) => s + w.cpuMs, 0) * 1000 / Math.max(1, records),
        failures: waves.flatMap(w => w.failures).slice(0, 5),
        settledMs,
        sql: await projectionAfterWave(hq.http, projection0, waveMs, phaseMs)
      }
      if (withReplica && replica !== null) {
        const c = await converged(hq.http, replica.http, phaseMs)
        const without = median(runsDetail.map(x => x.reportsPerSec))
        replicaRun = { reportsPerSec: run.reportsPerSec, vsWithout: run.reportsPerSec / without, convergedMsAfterWave: c.ms, booksHashEqual: c.booksHashEqual }
        checks.R2_replicaConvergedAfterWave = c.ms !== null && c.booksHashEqual && run.accepted === run.records
        log(`run with a replica: wave of ${records} records: ${accepted} accepted in ${Math.round(waveMs)} ms = ${Math.round(run.reportsPerSec)}/s (${(replicaRun.vsWithout * 100).toFixed(0)} % of the runs without); the replica had the same books ${Math.round(c.ms ?? -1)} ms after the wave (booksHash equal: ${c.booksHashEqual})`)
        await procs.kill(replica.child, 'SIGTERM')
        await procs.kill(hq.child, 'SIGTERM')
        await rm(dir, { recursive: true, force: true })
        hq = null
        step('wave with a replica')
        continue
      }
      runsDetail.push(run)
      log(`run ${r + 1}: SQL projection (${run.sql?.target ?? 'off'}): ${run.sql?.lagAtWaveEnd ?? '?'} records behind at the end of the wave, caught up ${Math.round(run.sql?.catchUpMs ?? -1)} ms later, ${Math.round(run.sql?.recordsPerSec ?? 0)} records/s over the wave and the catch-up`)
      log(`run ${r + 1}: wave of ${records} records: ${accepted} accepted in ${Math.round(waveMs)} ms = ${Math.round(run.reportsPerSec)}/s; ack p50 ${run.p50Ms.toFixed(1)} ms p99 ${run.p99Ms.toFixed(1)} ms; HQ ${Math.round(run.hqCpuUsPerReport)} µs CPU/report (${Object.entries(run.hqThreadCpuUsPerReport).map(([k, v]) => `${k} ${v}`).join(', ')}), peak RSS ${Math.round(run.hqMaxRssBytes / 2 ** 20)} MB, ${run.hqCommits} fsyncs, ${run.hqConnections} connections${run.failures.length > 0 ? `; failures: ${run.failures.join(' | ')}` : ''}`)
      step(`wave ${r + 1}`)
      if (r < o.runs - 1) {
        await procs.kill(hq.child, 'SIGTERM')
        await rm(dir, { recursive: true, force: true })
        hq = null
      }
      if (o.pitch && r < o.pitchRuns) await pitchPair()
    }
    if (o.pitch) for (let k = o.runs; k < o.pitchRuns; k++) await pitchPair()
    if (hq === null) throw new Error('no HQ')
    const wave = runsDetail[runsDetail.length - 1] as WaveRun
    checks.allAcked = runsDetail.every(r => r.accepted === r.records)

    // ---- B3: every entry of 20 % of the tills again: 0 accepted, the books do not move ----
    const booksBeforeResend = await getJson<Record<string, unknown>>(`${hq.http}/books`)
    const resent = await all<{ sent: number, accepted: number, duplicates: number, rejected: number }>('resend')
    const booksAfterResend = await getJson<Record<string, unknown>>(`${hq.http}/books`)
    const resendSent = resent.reduce((s, x) => s + x.sent, 0)
    const resendAccepted = resent.reduce((s, x) => s + x.accepted, 0)
    checks.B3_resendAddsNothing = resendSent > 0 && resendAccepted === 0 && resent.reduce((s, x) => s + x.duplicates, 0) === resendSent &&
      isDeepStrictEqual(comparable(booksBeforeResend), comparable(booksAfterResend))
    details.B3 = { resent: resendSent, accepted: resendAccepted, duplicates: resent.reduce((s, x) => s + x.duplicates, 0) }
    log(`B3: resent ${resendSent} records of every ${RESEND_EVERY_NTH_TILL}th till: ${resendAccepted} accepted, books unchanged: ${checks.B3_resendAddsNothing}`)
    step('B3')

    // ---- B6: the store burns; its Closes never reached HQ; recovered from the neighbour ----
    const fire = fireStore(plan)
    const fireCloses = gen[fire.host]?.fireCloses ?? []
    ;(loadgens[fire.host] as typeof loadgens[number]).child.send('fire')
    await (loadgens[fire.host] as typeof loadgens[number]).child.next('done:fire', phaseMs)
    me = await TillbooksPeer.create({ seed: relaySeed(plan, 1_000_000), listen: [], logger: silentLogger, callTimeoutMs: 60_000 })
    const forger = new Signer(keyPairFromSeed(forgerSeed(plan)))
    const catalogue = demoCatalogue()
    let recoveredOk = fireCloses.length === fire.tills.length && fireCloses.length > 0
    let forgedOk = true
    let continuesOk = true
    const recovered: Uint8Array[] = []
    const forgedCloses: Uint8Array[] = []
    const b6: unknown[] = []
    for (const fc of fireCloses) {
      const tillId = fc.tillId as TillId
      const certs = await getJson<{ hqRootKey: string, certificates: string[] }>(`${hq.http}/admin/certificates/${tillId}`, hq.adminToken)
      const enrolment = enrolmentOf(fromHex(certs.hqRootKey) as PublicKey, certs.certificates.map(c => new Uint8Array(Buffer.from(c, 'base64'))))
      const fromNeighbour = await me.fetchLog(lgAddr(fire.neighbour), tillId, 0)
      const fromHq = await me.fetchLog(hq.addr, tillId, 0)
      const fromBurnt = await me.fetchLog(lgAddr(fire.host), tillId, 0)
      // A copy planted on a replica: the genuine StockIn and a Close with 1,000.00 more cash counted, signed by a key HQ never enrolled.
      const planted: Uint8Array[] = []
      for (const bytes of fromNeighbour) {
        const e = openEntry(bytes, { verify: false })
        if (e.record.kind === 'close') {
          const forged = signEntry({ ...e.record, cashCountedCents: e.record.cashCountedCents + 100_000 }, forger)
          planted.push(forged.bytes)
          forgedCloses.push(forged.bytes)
        } else {
          planted.push(bytes)
        }
      }
      // Forgery first: chooseChain breaks ties by order, so the forged copy is favoured if anything.
      const choice = chooseChain(tillId, enrolment, [
        { source: 'planted-replica', entries: planted },
        { source: 'burnt-store', entries: fromBurnt },
        { source: 'hq', entries: fromHq },
        { source: 'neighbour', entries: fromNeighbour }
      ])
      const ok = choice.from === 'neighbour' && choice.head?.seq === 2 && choice.head.hash === fc.closeHash
      const forgedRefused = choice.rejected.some(x => x.source === 'planted-replica') && (choice.offered['planted-replica'] ?? 0) < 2 && planted.length === 2
      recoveredOk &&= ok
      forgedOk &&= forgedRefused
      recovered.push(...choice.entries.map(e => e.bytes))
      // The replacement till numbers on from the recovered Close: no number reused.
      const i = fire.tills.find(t => tillIdAt(plan, t) === tillId) as number
      const replacement = new TillNode({ store: new MemoryStore(), clock: { nowMs: () => Date.parse(`${plan.day}T20:00:00Z`) }, logger: silentLogger }, { store: storeOf(plan, i), till: tillNoOf(plan, i), signer: new Signer(keyPairFromSeed(new Uint8Array(32).fill(i % 251 + 1))), catalogue, hqRootKey: fromHex(certs.hqRootKey) as PublicKey })
      await replacement.start()
      await replacement.adoptRecoveredLog(choice.entries)
      continuesOk &&= replacement.status().nextDocNo === docNoOf(storeOf(plan, i), tillNoOf(plan, i), fc.docLast + 1)
      await replacement.stop()
      b6.push({ tillId, from: choice.from, head: choice.head, offered: choice.offered, rejected: choice.rejected.slice(0, 4) })
    }
    // HQ refuses the forged Closes, and takes the recovered ones.
    const forgedAnswers = await me.submit(hq.addr, forgedCloses)
    forgedOk &&= forgedCloses.length > 0 && forgedAnswers.every(x => x.status === 'rejected')
    const recoveredAnswers = await me.submit(hq.addr, recovered)
    recoveredOk &&= recoveredAnswers.filter(x => x.status === 'accepted').length === fireCloses.length && recoveredAnswers.every(x => x.status !== 'rejected')
    checks.B6_fireRecoveredLastClose = recoveredOk
    checks.B6_forgedReplicaRejected = forgedOk
    details.B6 = { store: fire.store, tills: b6, forgedAtHq: forgedAnswers.map(x => x.code), recoveredAtHq: recoveredAnswers.map(x => x.status) }
    log(`B6: store ${fire.store} burnt with its Closes unsent; ${fireCloses.length} last Closes recovered from the neighbour's replica: ${recoveredOk}; planted forgeries refused (chooseChain and HQ): ${forgedOk}`)
    step('B6')

    // ---- B4: HQ's books == the oracle's, from the sales as rung up, to the cent ----
    const books = await getJson<{ accounts: Record<string, number>, stores: Record<string, Record<string, number>>, members: Record<string, number>, trialBalance: { debitsCents: number, creditsCents: number }, counts: { folded: number } }>(`${hq.http}/books`)
    const dispatchedPart = new Oracle(catalogue.products()).books([], prepared.dispatched, [])
    const expected = mergeOracle(gen.map(g => g.oracle), dispatchedPart)
    const storeFields = (s: Record<string, Record<string, number>>): Record<string, unknown> => Object.fromEntries(Object.entries(s)
      .map(([k, v]) => [k, { takingsCents: v.takingsCents, cashCents: v.cashCents, cardCents: v.cardCents, taxCents: v.taxCents, salesNetCents: v.salesNetCents }] as const)
      .filter(([, v]) => Object.values(v).some(x => x !== 0)).sort((a, b) => a[0] < b[0] ? -1 : 1))
    const accountsEqual = isDeepStrictEqual(nonZero(books.accounts), expected.accounts)
    const storesEqual = isDeepStrictEqual(storeFields(books.stores), storeFields(expected.stores as unknown as Record<string, Record<string, number>>))
    checks.B4_booksEqualOracle = accountsEqual && storesEqual && books.counts.folded === 2 * T
    checks.B4_debitsEqualCredits = books.trialBalance.debitsCents === books.trialBalance.creditsCents && Object.values(books.accounts).reduce((s, v) => s + v, 0) === 0
    checks.B4_pointsEqualOracle = isDeepStrictEqual(nonZero(books.members), expected.members)
    const takings = Object.values(books.stores).reduce((s, v) => s + (v.takingsCents ?? 0), 0)
    details.B4 = { takingsCents: takings, oracleTakingsCents: expected.takingsCents, stores: Object.keys(expected.stores).length, folded: books.counts.folded, ...(accountsEqual ? {} : { books: nonZero(books.accounts), oracle: expected.accounts }) }
    log(`B4: books vs oracle: accounts ${accountsEqual}, ${Object.keys(expected.stores).length} stores ${storesEqual}, takings ${takings} vs ${expected.takingsCents} cents, points ${checks.B4_pointsEqualOracle}, debits = credits ${checks.B4_debitsEqualCredits}`)

    // ---- G1: no number twice, contiguous per till, and HQ's last number per till agrees ----
    const fleet = await getJson<{ tills: Record<string, { lastSeq: number, lastDocN: number | null }> }>(`${hq.http}/fleet`)
    const documents = gen.reduce((s, g) => s + g.g1.documents, 0)
    const distinct = gen.reduce((s, g) => s + g.g1.distinct, 0)
    const disjoint = gen.every((g, k) => k === 0 || g.from === (gen[k - 1] as typeof g).to) && gen[0]?.from === 0 && gen[gen.length - 1]?.to === N &&
      gen.reduce((s, g) => s + g.warmupTills, 0) === plan.warmupTills
    checks.G1_noDocNoClash = disjoint && documents === T * plan.salesPerTill && distinct === documents
    let hqAgrees = Object.keys(fleet.tills).length === T
    for (const i of hqTillIndices(plan)) if (hqAgrees) hqAgrees = fleet.tills[tillIdAt(plan, i)]?.lastDocN === plan.salesPerTill
    checks.G1_docNosContiguous = gen.every(g => g.g1.contiguous) && hqAgrees && continuesOk
    details.G1 = { documents, clashes: documents - distinct, hqAgrees, replacementContinues: continuesOk }
    log(`G1: ${documents} document numbers issued by the tills themselves, ${documents - distinct} clashes; contiguous per till and HQ agrees: ${checks.G1_docNosContiguous}`)
    step('B4+G1')

    // ---- B5: SIGKILL HQ, restart on the same log: identical books. Three times: from the whole
    // log re-verifying every signature (`--rebuild full`), from the whole log trusting HQ's own
    // log (`full-trust`: rebuildTrustRecordsPerSec), and — once that HQ has written its first
    // checkpoint of the books — as operators start it (`verify`: the checkpoint and the log
    // after it): restartSeconds, from the SIGKILL until it serves again. ----
    const booksBeforeKill = await getJson<Record<string, unknown>>(`${hq.http}/books`)
    const killedDir = hq.dir
    const restart = async (how: 'full' | 'full-trust' | 'verify'): Promise<{ identical: boolean, noneLost: boolean, rebuild: RebuildResult | null, killToServingMs: number }> => {
      if (hq === null) throw new Error('no HQ to kill')
      const tKill = performance.now()
      await procs.kill(hq.child, 'SIGKILL')
      hq = await startHq(procs, killedDir, `hq-${N}-restart-${how}`, phaseMs, profDir, ['--rebuild', how])
      const killToServingMs = performance.now() - tKill
      const rebuilt = await rebuildLine(hq)
      const booksAfter = await getJson<Record<string, unknown>>(`${hq.http}/books`)
      const fleetAfter = await getJson<{ tills: Record<string, { lastSeq: number }> }>(`${hq.http}/fleet`)
      return {
        identical: isDeepStrictEqual(comparable(booksBeforeKill), comparable(booksAfter)),
        noneLost: Object.keys(fleetAfter.tills).length === T && Object.values(fleetAfter.tills).every(t => t.lastSeq === 2),
        killToServingMs,
        rebuild: rebuilt === null
          ? null
          : { ...rebuilt, recordsPerSec: rebuilt.entries / (rebuilt.ms / 1000), itemsPerSec: (rebuilt.entries + rebuilt.certificates + rebuilt.replenishments) / (rebuilt.ms / 1000), reverifiesSignatures: how !== 'full-trust', restartToReadyMs: hq.readyMs }
      }
    }
    const verified = await restart('full')
    checks.B5_rebuildIdentical = verified.identical
    checks.B5_noAckedRecordLost = verified.noneLost
    const rebuild = verified.rebuild
    log(`B5: HQ SIGKILLed and restarted on the whole log: ready in ${Math.round(rebuild?.restartToReadyMs ?? 0)} ms; rebuilt ${rebuild?.entries ?? '?'} records (+${rebuild?.certificates ?? '?'} certificates, ${rebuild?.replenishments ?? '?'} orders, every signature re-verified) in ${Math.round(rebuild?.ms ?? 0)} ms = ${Math.round(rebuild?.recordsPerSec ?? 0)} records/s (${Math.round(100 * (rebuild?.recordsPerSec ?? 0) / ceiling.ceilingPerSec)} % of the verify ceiling; with the certificates and orders, each a signature too, ${Math.round(rebuild?.itemsPerSec ?? 0)} signed items/s = ${Math.round(100 * (rebuild?.itemsPerSec ?? 0) / ceiling.ceilingPerSec)} %); books identical: ${checks.B5_rebuildIdentical}; no acked record lost: ${checks.B5_noAckedRecordLost}`)
    const trusted = await restart('full-trust')
    checks.B5_trustedRebuildIdentical = trusted.identical && trusted.noneLost
    const rebuildTrusted = trusted.rebuild
    log(`B5: SIGKILLed again, restarted on the whole log trusting it: ready in ${Math.round(rebuildTrusted?.restartToReadyMs ?? 0)} ms; rebuilt ${rebuildTrusted?.entries ?? '?'} records in ${Math.round(rebuildTrusted?.ms ?? 0)} ms = ${Math.round(rebuildTrusted?.recordsPerSec ?? 0)} records/s; books identical and nothing lost: ${checks.B5_trustedRebuildIdentical}`)
    // The first start on a log without a checkpoint writes one (a base) once it serves.
    const tCheckpoint = performance.now()
    let checkpoint: { items: number, bytes: number, ms: number } | null = null
    while (checkpoint === null && performance.now() - tCheckpoint < phaseMs) {
      await new Promise(resolve => setTimeout(resolve, 250))
      checkpoint = (await getJson<{ checkpoints: { last: { items: number, bytes: number, ms: number } | null } }>(`${hq.http}/counters`)).checkpoints.last
    }
    const fromCheckpoint = await restart('verify')
    checks.B5_checkpointRestartIdentical = checkpoint !== null && fromCheckpoint.identical && fromCheckpoint.noneLost && fromCheckpoint.rebuild !== null
    const restartSeconds = fromCheckpoint.killToServingMs / 1000
    log(`B5: its first checkpoint of the books: ${checkpoint?.items ?? '?'} entries, ${checkpoint?.bytes ?? '?'} bytes, written in ${Math.round(checkpoint?.ms ?? 0)} ms; SIGKILLed again, restarted from it: serving ${restartSeconds.toFixed(2)} s after the SIGKILL (books folded in ${Math.round(fromCheckpoint.rebuild?.ms ?? 0)} ms); books identical and nothing lost: ${checks.B5_checkpointRestartIdentical}`)
    step('B5')

    // ---- R: a replica that missed the whole wave catches up; the whole log projected into SQL from nothing ----
    const rDir = join(base, 'replica-catch-up')
    await replicaDir(killedDir, rDir)
    let rq = await startHq(procs, rDir, `hq-${N}-replica-catch-up`, phaseMs, profDir, ['--replica-of', hq.addr, '--books-db', 'off'])
    const caught = await converged(hq.http, rq.http, phaseMs, { afterRound: true })
    const catchUp = { records: caught.records, ms: caught.ms, recordsPerSec: caught.ms === null ? null : caught.records / (caught.ms / 1000), booksHashEqual: caught.booksHashEqual }
    checks.R1_replicaCaughtUp = caught.ms !== null && caught.booksHashEqual
    const rCounters = (await getJson<{ counters: Record<string, unknown> }>(`${rq.http}/replicas`)).counters
    details.R1 = { ...catchUp, counters: rCounters }
    log(`R1: the replica's counters: ${JSON.stringify(rCounters)}`)
    log(`R1: a fresh replica (--replica-of HQ) caught up on ${caught.records} records in ${Math.round(caught.ms ?? -1)} ms = ${Math.round(catchUp.recordsPerSec ?? 0)} records/s (every entry verified again; the tills it held nothing of brought whole, many a request: ${String(rCounters.tillsPulledInBulk)} of ${String(rCounters.tillsPulled)} tills); booksHash equal: ${caught.booksHashEqual}`)
    // The replica's log, projected from nothing: into PGlite (its default), then into a PostgreSQL server.
    await procs.kill(rq.child, 'SIGTERM')
    rq = await startHq(procs, rDir, `hq-${N}-sql-pglite`, phaseMs, null, ['--rebuild', 'trust'])
    const fromNothingPglite = await projectionFromNothing(rq.http, phaseMs)
    log(`SQL: the whole log (${fromNothingPglite.records} records) projected from nothing into PGlite in ${Math.round(fromNothingPglite.ms ?? -1)} ms from HQ ready (opening PGlite included) = ${Math.round(fromNothingPglite.recordsPerSec ?? 0)} records/s${fromNothingPglite.error !== null ? ` (${fromNothingPglite.error})` : ''}`)
    await procs.kill(rq.child, 'SIGTERM')
    let fromNothingServer: SizeResult['sql']['fromNothingServer'] = null
    let server: Postgres | null = null
    try {
      server = await startPostgres()
    } catch (err) {
      log(`SQL: no PostgreSQL server measured: ${(err as Error).message}`)
    }
    if (server !== null) {
      try {
        rq = await startHq(procs, rDir, `hq-${N}-sql-server`, phaseMs, null, ['--rebuild', 'trust', '--books-db', server.url])
        fromNothingServer = await projectionFromNothing(rq.http, phaseMs)
        log(`SQL: the whole log projected from nothing into PostgreSQL (a local server) in ${Math.round(fromNothingServer.ms ?? -1)} ms from HQ ready = ${Math.round(fromNothingServer.recordsPerSec ?? 0)} records/s${fromNothingServer.error !== null ? ` (${fromNothingServer.error})` : ''}`)
        await procs.kill(rq.child, 'SIGTERM')
      } finally {
        await server.stop()
      }
    }
    const sqlRuns = runsDetail.map(x => x.sql).filter((x): x is NonNullable<WaveRun['sql']> => x !== null)
    const sqlSummary: SizeResult['sql'] = {
      lagAtWaveEnd: median(sqlRuns.map(x => x.lagAtWaveEnd)),
      catchUpMs: sqlRuns.every(x => x.catchUpMs !== null) ? median(sqlRuns.map(x => x.catchUpMs as number)) : null,
      recordsPerSec: sqlRuns.every(x => x.recordsPerSec !== null) ? median(sqlRuns.map(x => x.recordsPerSec as number)) : null,
      fromNothingPglite,
      fromNothingServer
    }
    checks.R3_projectionCaughtUp = sqlRuns.length > 0 && sqlRuns.every(x => x.catchUpMs !== null && x.error === null)
    step('replicas+SQL')

    // ---- the probe: direct till→HQ connections, each with the till's own key as its identity ----
    let probe: SizeResult['probe'] = null
    if (o.probeConnections > 0) {
      const per = Math.ceil(Math.min(o.probeConnections, N) / plan.loadgens)
      const p0 = await getJson<HqMetrics>(`${hq.http}/metrics`)
      const probed = await all<{ count: number, allMs: number, ms: number[] }>('probe', { hq: hq.addr, count: per })
      const p1 = await getJson<HqMetrics>(`${hq.http}/metrics`)
      await all('unprobe')
      const ms = probed.flatMap(p => p.ms)
      const count = probed.reduce((s, p) => s + p.count, 0)
      probe = {
        connections: count,
        p50Ms: median(ms),
        p99Ms: percentile(ms, ms.map(() => 1), 0.99),
        allMs: Math.max(...probed.map(p => p.allMs)),
        perSec: count / (Math.max(...probed.map(p => p.allMs)) / 1000),
        hqRssPerConnectionBytes: (p1.rssBytes - p0.rssBytes) / Math.max(1, count),
        hqConnectionsHeld: p1.connections
      }
      log(`probe: ${count} direct till connections (own key, noise + yamux, first round trip): p50 ${probe.p50Ms.toFixed(1)} ms, p99 ${probe.p99Ms.toFixed(1)} ms, all in ${Math.round(probe.allMs)} ms = ${Math.round(probe.perSec)} connections/s; HQ held ${p1.connections}, RSS ${signedKb(probe.hqRssPerConnectionBytes)} per connection`)
    }
    step('probe')
    await procs.kill(hq.child, 'SIGTERM')
    hq = null

    // ---- the legacy baseline: one central counter, one round trip per sale ----
    let legacy: SizeResult['legacy'] = null
    if (o.legacy) {
      const dir = join(base, 'legacy-counter')
      await mkdir(dir, { recursive: true })
      const counter = procs.start(`legacy-counter-${N}`, COUNTER, ['--dir', dir, '--seed-hex', toHex(relaySeed(plan, 2_000_000))])
      const ready = await counter.next<{ multiaddrs: string[] }>('ready', phaseMs)
      const addr = ready.multiaddrs.find(m => m.includes('/ip4/127.0.0.1/')) as string
      const got = await all<{ handoffs: number, tillsDone: number, tills: number, cutShort: boolean, startEpochMs: number, endEpochMs: number, numbers: number[], failures: string[] }>('legacy', { addr, budgetMs: o.legacyBudgetMs })
      counter.send('stats')
      const stats = await counter.next<{ counter: number, commits: number }>('done:stats', phaseMs)
      counter.send('quit')
      await counter.next('done:quit', phaseMs).catch(() => {})
      await procs.kill(counter, 'SIGTERM')
      const numbers = got.flatMap(g => g.numbers)
      const handoffs = numbers.length
      const ms = Math.max(...got.map(g => g.endEpochMs)) - Math.min(...got.map(g => g.startEpochMs))
      const seen = new Set(numbers)
      let contiguous = true
      for (let n = 1; n <= stats.counter && contiguous; n++) contiguous = seen.has(n)
      const rate = handoffs / (ms / 1000)
      legacy = {
        handoffs,
        docNosPerSec: rate,
        fleetDayNumbersSec: N * plan.salesPerTill / rate,
        cutShort: got.some(g => g.cutShort),
        tills: got.reduce((s, g) => s + g.tillsDone, 0),
        clashes: handoffs - seen.size,
        counterFsyncs: stats.commits
      }
      checks.G1_legacyCounterNoClash = handoffs > 0 && seen.size === handoffs && stats.counter === handoffs && contiguous
      log(`legacy: central counter (lock held through an fsync'd commit), one libp2p round trip per sale: ${handoffs} numbers in ${Math.round(ms)} ms = ${Math.round(rate)}/s${legacy.cutShort ? ` (cut short at ${o.legacyBudgetMs} ms)` : ''}; the fleet's ${N * plan.salesPerTill} numbers take ${legacy.fleetDayNumbersSec.toFixed(1)} s; tillbooks needs none (its ${N} Closes and StockIns took ${(wave.waveMs / 1000).toFixed(1)} s)${got.some(g => g.failures.length > 0) ? `; failures: ${got.flatMap(g => g.failures).slice(0, 3).join(' | ')}` : ''}`)
      step('legacy')
    }
    await all('quit').catch(() => [])
    await Promise.all(loadgens.map(async lg => { await procs.kill(lg.child, 'SIGTERM') }))
    await me.stop()
    me = null

    let baseline: number | null = null
    let guardedBaseline: number | null = null
    if (o.pitch) {
      const pitchOk = (r: PitchRelayResult): boolean => r.allAcked && r.jsonlLinesOk && r.totalsCorrect && r.resendAccepted === 0 && r.totalsUnchanged && r.forgedRejected !== false
      checks.pitchAsPitchedChecks = asPitched.length > 0 && asPitched.every(pitchOk)
      checks.pitchGuardedChecks = guarded.length > 0 && guarded.every(pitchOk)
      baseline = median(asPitched.map(r => r.reportsPerSec))
      guardedBaseline = median(guarded.map(r => r.reportsPerSec))
      log(`pitch relay, medians of ${asPitched.length}: as pitched ${Math.round(baseline)}/s, with our guarantees ${Math.round(guardedBaseline)}/s; tillbooks ${Math.round(median(runsDetail.map(r => r.reportsPerSec)))}/s`)
    }

    const reportsPerSec = median(runsDetail.map(r => r.reportsPerSec))
    const hqCpuUsPerReport = median(runsDetail.map(r => r.hqCpuUsPerReport))
    result = {
      tills: N,
      warmupTills: plan.warmupTills,
      reportsPerSec,
      publishedReportsPerSec: PUBLISHED_REPORTS_PER_SEC[N] ?? null,
      baselineReportsPerSec: baseline,
      guardedBaselineReportsPerSec: guardedBaseline,
      verifyCeilingPerSec: ceiling.ceilingPerSec,
      verifyCeilingOpenSslPerSec: ceiling.openSsl.ceilingPerSec,
      verifyPerCorePerSec: ceiling.perCorePerSec,
      cores: ceiling.cores,
      hqRssBytes: Math.max(...runsDetail.map(r => r.hqMaxRssBytes)),
      p50Ms: median(runsDetail.map(r => r.p50Ms)),
      p99Ms: median(runsDetail.map(r => r.p99Ms)),
      connectMs: median(runsDetail.flatMap(r => r.connectMs)),
      hqCpuUsPerReport,
      hqCpuSecondsPer1000Reports: hqCpuUsPerReport / 1000,
      bytesPerTillPerDay: { frames: median(runsDetail.map(r => r.frameBytesPerTillDay)), socket: median(runsDetail.map(r => r.socketBytesPerTillDay)) },
      ratios: {
        vsGuardedBaseline: guardedBaseline === null ? null : reportsPerSec / guardedBaseline,
        vsBaseline: baseline === null ? null : reportsPerSec / baseline,
        ofVerifyCeiling: reportsPerSec / ceiling.ceilingPerSec,
        ofOpenSslVerifyCeiling: reportsPerSec / ceiling.openSsl.ceilingPerSec
      },
      hqConnections: wave.hqConnections,
      rebuild,
      rebuildTrusted,
      rebuildTrustRecordsPerSec: rebuildTrusted?.recordsPerSec ?? null,
      restartSeconds,
      sql: sqlSummary,
      replicas: { catchUp, intakeWithReplica: replicaRun },
      legacy,
      probe,
      pitch: { asPitched, guarded },
      checks,
      details,
      runsDetail,
      prepareMs: prepared.ms,
      generateMs,
      pids: []
    }
  } finally {
    if (me !== null) await me.stop().catch(() => {})
    if (hq !== null) await procs.kill(hq.child, 'SIGKILL')
    for (const lg of loadgens) await procs.kill(lg.child, 'SIGKILL', 1_000)
    await rm(base, { recursive: true, force: true })
    tempDirs.splice(tempDirs.indexOf(base), 1)
  }
  if (result === null) throw new Error('unreachable: no result')
  result.pids = procs.started.slice(pidsBefore)
  const failed = Object.entries(checks).filter(([, v]) => !v).map(([k]) => k)
  if (failed.length > 0) log(`${N} tills: FAILED ${failed.join(', ')} (details in bench.json; the processes' logs in logs/)`)
  return result
}

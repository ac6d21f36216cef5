/**
 * `tillbooks bench`: the scale benchmark (issue 7) as a CLI command; @tillbooks/cli
 * registers it (through ../../commands.ts). Everything heavy is imported when the command runs.
 */
import { InvalidArgumentError, type Command } from 'commander'
import { BATCH_ENTRIES, LEGACY_BUDGET_MS, LOADGENS, PROBE_CONNECTIONS_MAX, RUNS, SALES_PER_TILL, TILLS_PER_STORE, WARMUP_TILLS, WINDOW_CALLS } from './constants.ts'

function intArg (name: string, min: number, max: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be an integer`)
    const n = Number(v)
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be in ${min}..${max}`)
    return n
  }
}

function sweepArg (v: string): number[] {
  const sizes = v.split(',').map(s => s.trim()).filter(s => s.length > 0)
  if (sizes.length === 0) throw new InvalidArgumentError('sweep needs at least one fleet size')
  return sizes.map(s => intArg('each fleet size', 8, 1_000_000)(s.replace(/_/g, '')))
}

interface BenchCliOptions {
  sweep: number[]
  seed: number
  runs: number
  loadgens: number
  batch: number
  window: number
  tillsPerStore: number
  salesPerTill: number
  warmupTills: number
  probeConnections: number
  legacy: boolean
  legacyBudgetS: number
  pitch: boolean
  pitchRuns?: number
  out?: string
  hqCpuProf?: boolean
  json?: boolean
  progress: boolean
}

export function registerBenchCommand (program: Command): void {
  program.command('bench')
    .description('the scale benchmark: N enrolled tills send their signed StockIn and Close over libp2p to a real HQ process (verified, fsync\'d before each ack), with the B3/B4/B5/B6/G1 checks, a legacy central-counter baseline and the pitch\'s relay side by side; writes build/bench/')
    .option('--sweep <list>', 'fleet sizes, comma-separated (e.g. 200,1000,5000,10000 or 100000)', sweepArg, [200, 1_000, 5_000, 10_000])
    .option('--seed <n>', 'seed: keys, orders and sales', intArg('seed', 0, Number.MAX_SAFE_INTEGER), 1)
    .option('--runs <n>', 'timed waves per size, each on a fresh HQ (figures are medians)', intArg('runs', 1, 20), RUNS)
    .option('--loadgens <n>', 'load-generator processes (each a store relay: one connection to HQ)', intArg('loadgens', 2, 64), LOADGENS)
    .option('--batch <n>', 'entries per submit call', intArg('batch', 1, 4096), BATCH_ENTRIES)
    .option('--window <n>', 'submit calls in flight per load generator', intArg('window', 1, 256), WINDOW_CALLS)
    .option('--tills-per-store <n>', 'tills in each store', intArg('tills-per-store', 1, 999), TILLS_PER_STORE)
    .option('--sales-per-till <n>', 'documents per till per day', intArg('sales-per-till', 1, 1000), SALES_PER_TILL)
    .option('--warmup-tills <n>', 'tills whose day HQ (and each pitch relay) takes, untimed, before each timed wave (0: measure a cold process)', intArg('warmup-tills', 0, 1_000_000), WARMUP_TILLS)
    .option('--probe-connections <n>', 'extra direct till→HQ connections to time (0: none)', intArg('probe-connections', 0, 20_000), PROBE_CONNECTIONS_MAX)
    .option('--no-legacy', 'skip the legacy central-counter baseline')
    .option('--legacy-budget-s <n>', 'longest the legacy baseline may run per size (then extrapolated)', intArg('legacy-budget-s', 1, 3600), LEGACY_BUDGET_MS / 1000)
    .option('--no-pitch', "skip the pitch relay re-creations")
    .option('--pitch-runs <n>', 'runs of each pitch relay variant per size (default: --runs)', intArg('pitch-runs', 1, 20))
    .option('--out <dir>', 'output directory (default build/bench)')
    .option('--hq-cpu-prof', 'profile every HQ process (--cpu-prof) into <out>/prof; HQs stopped gracefully write theirs (use --runs 2 or more)')
    .option('--no-progress', 'no progress bar on stderr')
    .option('--json', 'print the result as one JSON object on the last line')
    .action(async (o: BenchCliOptions) => {
      const { runBench } = await import('./run.ts')
      const { formatTable } = await import('./report.ts')
      const { SingleBar, Presets } = await import('cli-progress')
      const bar = o.progress ? new SingleBar({ format: 'bench [{bar}] {value}/{total} {step}', stream: process.stderr, hideCursor: true, clearOnComplete: true }, Presets.shades_classic) : null
      let done = 0
      const result = await runBench({
        sizes: o.sweep,
        seed: o.seed,
        runs: o.runs,
        loadgens: o.loadgens,
        batch: o.batch,
        window: o.window,
        tillsPerStore: o.tillsPerStore,
        salesPerTill: o.salesPerTill,
        warmupTills: o.warmupTills,
        probeConnections: o.probeConnections,
        legacy: o.legacy,
        legacyBudgetMs: o.legacyBudgetS * 1000,
        pitch: o.pitch,
        ...(o.pitchRuns !== undefined ? { pitchRuns: o.pitchRuns } : {}),
        ...(o.out !== undefined ? { outDir: o.out } : {}),
        ...(o.hqCpuProf === true ? { hqCpuProf: true } : {}),
        onStep: (step, total) => {
          if (bar === null) return
          if (done === 0) bar.start(total, 0, { step })
          bar.update(++done, { step })
        },
        onLog: line => { if (bar === null || !process.stderr.isTTY) process.stderr.write(line + '\n') }
      }).finally(() => { bar?.stop() })
      process.stdout.write(formatTable(result) + '\n')
      process.stdout.write(`wrote ${result.files.json}, ${result.files.svg}, ${result.files.log}\n`)
      if (o.json === true) {
        process.stdout.write(JSON.stringify({
          date: result.date,
          machine: result.machine,
          ok: result.ok,
          runs: result.runs.map(r => ({
            tills: r.tills,
            warmupTills: r.warmupTills,
            reportsPerSec: r.reportsPerSec,
            baselineReportsPerSec: r.baselineReportsPerSec,
            guardedBaselineReportsPerSec: r.guardedBaselineReportsPerSec,
            publishedReportsPerSec: r.publishedReportsPerSec,
            verifyCeilingPerSec: r.verifyCeilingPerSec,
            verifyCeilingOpenSslPerSec: r.verifyCeilingOpenSslPerSec,
            hqRssBytes: r.hqRssBytes,
            p50Ms: r.p50Ms,
            p99Ms: r.p99Ms,
            connectMs: r.connectMs,
            hqCpuUsPerReport: r.hqCpuUsPerReport,
            hqCpuSecondsPer1000Reports: r.hqCpuSecondsPer1000Reports,
            bytesPerTillPerDay: r.bytesPerTillPerDay,
            hqConnections: r.hqConnections,
            ratios: r.ratios,
            rebuild: r.rebuild,
            rebuildTrusted: r.rebuildTrusted,
            rebuildTrustRecordsPerSec: r.rebuildTrustRecordsPerSec,
            restartSeconds: r.restartSeconds,
            legacy: r.legacy,
            probe: r.probe,
            checks: r.checks,
            pids: r.pids
          })),
          files: result.files
        }) + '\n')
      }
      if (!result.ok) process.exitCode = 1
    })
}

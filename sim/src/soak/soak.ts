/**
 * The soak: small worlds (worlds.ts) from seed `--from` on, `--seeds` of them, on `--jobs`
 * worker processes, until the first failure, which it prints with the command that replays
 * it, and exits 1. As the nightly run: `npm run sim:soak -- --seeds 100000`.
 */
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { PROGRESS_EVERY_MS } from './constants.ts'
import { defaultJobs, failureText, runSeeds, seedRange, type SeedRun, type SeedsReport } from './SeedPool.ts'
import { smallWorld } from './worlds.ts'

export interface SoakOptions {
  from: number
  seeds: number
  jobs: number
  /** Where progress and the verdict go. */
  print: (line: string) => void
  /** The pool's runner (tests give one that fails on purpose). */
  runner?: string
  progressEveryMs?: number
}

/** Run the soak; the report says whether it stopped at a failure (printed with its replay command). */
export async function runSoak (o: SoakOptions): Promise<SeedsReport> {
  const every = o.progressEveryMs ?? PROGRESS_EVERY_MS
  const t0 = performance.now()
  let lastPrint = t0
  let done = 0
  o.print(`soak: seeds ${o.from}..${o.from + o.seeds - 1} (${o.seeds}) on ${o.jobs} worker(s); stops at the first failure`)
  const onRun = (r: SeedRun): void => {
    done++
    if (!r.ok) { o.print(`FAILED ${failureText(r)}`); return }
    const now = performance.now()
    if (now - lastPrint >= every) {
      lastPrint = now
      const s = (now - t0) / 1000
      o.print(`  ${done}/${o.seeds} seeds in ${Math.round(s)} s (${(done / s).toFixed(2)} a second), none failed; last seed ${r.world.seed}`)
    }
  }
  const report = await runSeeds(seedRange(o.from, o.seeds, smallWorld), { jobs: o.jobs, stopOnFailure: true, onRun, ...(o.runner !== undefined ? { runner: o.runner } : {}) })
  const s = report.wallMs / 1000
  if (report.failures.length === 0) o.print(`soak: ${report.runs} seeds passed in ${Math.round(s)} s (${(report.runs / s).toFixed(2)} a second, median ${median(report.seedMs)} ms a seed, ${median(report.seedCpuMs)} ms of CPU)`)
  else o.print(`soak: ${report.failures.length} failed of ${report.runs} run${report.stopped ? `, stopped before ${o.seeds - report.runs} more` : ''}:\n${report.failures.map(f => `  ${failureText(f)}`).join('\n')}`)
  return report
}

export function median (xs: number[]): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

function positive (name: string, v: string | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min) throw new Error(`--${name} takes an integer ≥ ${min}, not ${v}`)
  return Number(v)
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { seeds: { type: 'string' }, from: { type: 'string' }, jobs: { type: 'string' }, help: { type: 'boolean' } } })
  if (values.help === true) {
    process.stdout.write('npm run sim:soak -- [--seeds N (100000)] [--from SEED (1)] [--jobs N (cores)]\n  Small worlds with every fault (sim/src/soak/worlds.ts), on N worker processes; stops at the first failure and prints its replay command (exit 1).\n')
    return
  }
  const report = await runSoak({
    seeds: positive('seeds', values.seeds, 100_000, 1),
    from: positive('from', values.from, 1, 0),
    jobs: positive('jobs', values.jobs, defaultJobs(), 1),
    print: line => { process.stdout.write(line + '\n') }
  })
  if (report.failures.length > 0) process.exitCode = 1
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => { process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`); process.exitCode = 2 })
}

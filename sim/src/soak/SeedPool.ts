/**
 * Seeds on every core: worlds dispatched to a pool of child processes (`worker.ts`), one world
 * at a time each, results collected as they come. A world's outcome does not depend on the
 * worker that ran it nor on what it ran before, so a failure replays from its command alone.
 *
 * A worker that dies in a world (a crash, an out-of-memory) or does not finish it within
 * `seedTimeoutMs` is a failure of that world, and is replaced; so is each worker after
 * `seedsPerWorkerMax` worlds (wasm memory only grows). Every worker is gone when `runSeeds`
 * returns, whatever happened.
 *
 * @example
 * ```ts
 * const report = await runSeeds(seedRange(1, 1000, smallWorld), { jobs: 2 })
 * report.failures.map(f => failureText(f))   // [] — or each broken world with its replay command
 * ```
 */
import { fork, type ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { replayCommand, type WorldSpec } from '../replay.ts'
import { JOBS_MAX, SEED_TIMEOUT_MS, SEEDS_PER_WORKER_MAX } from './constants.ts'
import type { WorkOrder, WorkReport } from './worker.ts'

export interface SeedRun {
  world: WorldSpec
  ok: boolean
  /** The checks it broke (empty if it threw or its worker died: see `error`). */
  broken: string[]
  /** The run threw, its worker died, or it ran out of time. */
  error: string | null
  /** Of the whole result (runSeed.ts); null if there was none. */
  digest: string | null
  /** Real time the world took in its worker. */
  ms: number
  /** CPU time its worker spent on it (0 when it died or hung). */
  cpuMs: number
}

export interface SeedsOptions {
  /** Worker processes (default: the cores this process may use, at most JOBS_MAX). */
  jobs?: number
  /** The module a worker runs worlds with (a `file:` URL exporting `runSeed`; default runSeed.ts). */
  runner?: string
  seedTimeoutMs?: number
  seedsPerWorkerMax?: number
  /** Dispatch no more worlds once one has failed (the worlds under way finish). */
  stopOnFailure?: boolean
  /** Each world's run, as it finishes. */
  onRun?: (r: SeedRun) => void
}

export interface SeedsReport {
  runs: number
  failures: SeedRun[]
  /** Stopped at a failure before every world was run. */
  stopped: boolean
  jobs: number
  wallMs: number
  /** Each run's real time, in the order they finished. */
  seedMs: number[]
  /** Each run's CPU time, in the same order. */
  seedCpuMs: number[]
}

/** The worlds of seeds `from` … `from + count - 1`, made when dispatched (a soak of 100,000 holds none in advance). */
export function * seedRange (from: number, count: number, world: (seed: number) => WorldSpec): Iterable<WorldSpec> {
  for (let seed = from; seed < from + count; seed++) yield world(seed)
}

export function defaultJobs (): number {
  return Math.max(1, Math.min(availableParallelism(), JOBS_MAX))
}

/** One line for a failed world: what broke, and the command that replays it. */
export function failureText (r: SeedRun): string {
  const what = r.error !== null ? r.error.split('\n')[0] : r.broken.join(', ')
  return `seed ${r.world.seed} (${r.world.faults}): ${what} — replay: ${replayCommand(r.world)}`
}

const WORKER = new URL('./worker.ts', import.meta.url)
const DEFAULT_RUNNER = new URL('./runSeed.ts', import.meta.url).href

type Answer = WorkReport | { t: 'exit', code: number | null, signal: string | null } | { t: 'timeout' }

/** The worker's next message, its exit, or a timeout: whichever comes first. */
async function answerOf (child: ChildProcess, timeoutMs: number): Promise<Answer> {
  return await new Promise(resolve => {
    const done = (a: Answer): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      resolve(a)
    }
    const onMessage = (m: WorkReport): void => { done(m) }
    const onExit = (code: number | null, signal: string | null): void => { done({ t: 'exit', code, signal }) }
    const timer = setTimeout(() => { done({ t: 'timeout' }) }, timeoutMs)
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}

function stopWorker (child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}

export async function runSeeds (worlds: Iterable<WorldSpec>, o: SeedsOptions = {}): Promise<SeedsReport> {
  const jobs = Math.max(1, Math.min(o.jobs ?? defaultJobs(), JOBS_MAX))
  const timeoutMs = o.seedTimeoutMs ?? SEED_TIMEOUT_MS
  const perWorker = o.seedsPerWorkerMax ?? SEEDS_PER_WORKER_MAX
  const runner = o.runner ?? DEFAULT_RUNNER
  const it = worlds[Symbol.iterator]()
  const report: SeedsReport = { runs: 0, failures: [], stopped: false, jobs, wallMs: 0, seedMs: [], seedCpuMs: [] }
  let exhausted = false
  const next = (): WorldSpec | undefined => {
    if (report.stopped || exhausted) return undefined
    const n = it.next()
    if (n.done === true) { exhausted = true; return undefined }
    return n.value
  }
  const record = (r: SeedRun): void => {
    report.runs++
    report.seedMs.push(r.ms)
    report.seedCpuMs.push(r.cpuMs)
    if (!r.ok) {
      report.failures.push(r)
      if (o.stopOnFailure === true && !exhausted) report.stopped = true
    }
    o.onRun?.(r)
  }

  /** One worker at a time, replaced when it dies, hangs or has run its share. */
  const lane = async (): Promise<void> => {
    for (;;) {
      let world = next()
      if (world === undefined) return
      const child = fork(WORKER, [runner], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      try {
        const ready = await answerOf(child, timeoutMs)
        if (ready.t !== 'ready') {
          record({ world, ok: false, broken: [], error: `the worker did not start: ${JSON.stringify(ready)}`, digest: null, ms: 0, cpuMs: 0 })
          continue
        }
        for (let n = 0; world !== undefined; n++) {
          const t0 = performance.now()
          child.send({ t: 'run', world } satisfies WorkOrder)
          const a = await answerOf(child, timeoutMs)
          const ms = Math.round(performance.now() - t0)
          if (a.t === 'done') record({ world, ok: a.broken.length === 0, broken: a.broken, error: null, digest: a.digest, ms: a.ms, cpuMs: a.cpuMs })
          else if (a.t === 'threw') record({ world, ok: false, broken: [], error: `threw: ${a.error}`, digest: null, ms: a.ms, cpuMs: a.cpuMs })
          else {
            const why = a.t === 'timeout' ? `did not finish within ${timeoutMs} ms` : a.t === 'exit' ? `its worker died (exit code ${a.code}, signal ${a.signal})` : `bug: its worker said ${a.t}`
            record({ world, ok: false, broken: [], error: why, digest: null, ms, cpuMs: 0 })
            break
          }
          if (n + 1 >= perWorker) break
          world = next()
        }
      } finally {
        stopWorker(child)
      }
    }
  }

  const t0 = performance.now()
  await Promise.all(Array.from({ length: jobs }, async () => { await lane() }))
  report.wallMs = Math.round(performance.now() - t0)
  return report
}

/**
 * A pool worker: a child process that runs the worlds its parent sends, one at a time, with
 * the runner module named on its command line, and answers each with its outcome. Each world
 * is independent of those before it (a run shares no state with another), so which worker
 * runs a seed changes nothing: the replay command gives the same result.
 */
import type { WorldSpec } from '../replay.ts'
import type { RunSeed } from './runSeed.ts'

/** Parent to worker: a world to run. */
export interface WorkOrder { t: 'run', world: WorldSpec }
/** Worker to parent: ready (the runner loaded), or a world's outcome. */
export type WorkReport =
  | { t: 'ready' }
  | { t: 'done', seed: number, broken: string[], digest: string, ms: number, cpuMs: number }
  | { t: 'threw', seed: number, error: string, ms: number, cpuMs: number }

const send = (m: WorkReport): void => { process.send?.(m) }
const runnerUrl = process.argv[2]
if (runnerUrl === undefined || process.send === undefined) throw new Error('bug: a pool worker is started by SeedPool, with its runner module')
const { runSeed } = await import(runnerUrl) as { runSeed: RunSeed }

process.on('message', (m: WorkOrder) => {
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  // Real time, and this process's CPU time (on a shared machine, what a world itself costs).
  const took = (): { ms: number, cpuMs: number } => {
    const c = process.cpuUsage(cpu0)
    return { ms: Math.round(performance.now() - t0), cpuMs: Math.round((c.user + c.system) / 1000) }
  }
  runSeed(m.world).then(
    o => { send({ t: 'done', seed: m.world.seed, broken: o.broken, digest: o.digest, ...took() }) },
    (err: unknown) => { send({ t: 'threw', seed: m.world.seed, error: err instanceof Error ? (err.stack ?? err.message) : String(err), ...took() }) }
  )
})
// The parent gone, so is its work.
process.on('disconnect', () => { process.exit(0) })
send({ t: 'ready' })

/**
 * A pool runner that misbehaves on purpose, for the pool's own tests: seed 3 breaks a check,
 * seed 4 throws, seed 5 kills its worker, seed 6 never finishes; every other seed passes at
 * once. Its digest is the worker's pid, so a test can count the workers.
 */
import type { WorldSpec } from '../../src/replay.ts'
import type { SeedOutcome } from '../../src/soak/runSeed.ts'

export async function runSeed (w: WorldSpec): Promise<SeedOutcome> {
  if (w.seed === 3) return { broken: ['B4_booksEqualOracle'], digest: String(process.pid) }
  if (w.seed === 4) throw new Error('a bug in the run')
  if (w.seed === 5) process.exit(7)
  if (w.seed === 6) await new Promise(() => {})
  return { broken: [], digest: String(process.pid) }
}

/**
 * What a pool worker does with one world: run it in full and say which checks it broke, with
 * a digest of the whole result (the replay command, run anywhere, prints a result with the
 * same digest: the tests check it).
 */
import { createHash } from 'node:crypto'
import { parseFaults } from '../faults.ts'
import { brokenChecks, type WorldSpec } from '../replay.ts'
import { runSimulation, type SimResult } from '../Simulation.ts'

export interface SeedOutcome {
  broken: string[]
  /** SHA-256 (hex, first 16) of the result as `tillbooks sim --json` prints it. */
  digest: string
}

/** A runner is a module exporting `runSeed` (the pool's tests give it one that fails on purpose). */
export type RunSeed = (w: WorldSpec) => Promise<SeedOutcome>

export function resultDigest (r: SimResult): string {
  return createHash('sha256').update(JSON.stringify(r)).digest('hex').slice(0, 16)
}

export async function runSeed (w: WorldSpec): Promise<SeedOutcome> {
  const r = await runSimulation({ seed: w.seed, tills: w.tills, days: w.days, tillsPerStore: w.tillsPerStore, salesPerDayMax: w.salesPerDayMax, faults: parseFaults(w.faults) })
  return { broken: brokenChecks(r), digest: resultDigest(r) }
}

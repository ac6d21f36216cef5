/**
 * One seed for every randomised test of this package: `FC_SEED=<int>` replays a run,
 * otherwise a fixed default keeps CI deterministic. A failure always names the seed.
 */
import fc from 'fast-check'

const DEFAULT_SEED = 20261125

function seedFromEnv (): number {
  const text = process.env.FC_SEED
  if (text === undefined || text === '') return DEFAULT_SEED
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new Error(`FC_SEED must be an integer, is ${JSON.stringify(text)}`)
  return n
}

export const SEED = seedFromEnv()

/** fc.assert with the suite's seed; the failure names the seed (and fast-check's shrunk counterexample and path). */
export async function check<Ts extends [unknown, ...unknown[]]> (property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>, numRuns: number): Promise<void> {
  try {
    await fc.assert(property, { seed: SEED, numRuns })
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    e.message = `[replay with FC_SEED=${SEED}] ${e.message}`
    console.error(`    randomised test failed; replay with FC_SEED=${SEED}`)
    throw e
  }
}

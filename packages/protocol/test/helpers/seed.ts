/**
 * One seed for every randomised test in this package: `FC_SEED=<int>` replays a run,
 * otherwise a fixed default keeps CI deterministic. A failure always names the seed.
 */
import { createHash } from 'node:crypto'
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

function withSeedMessage (err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err))
  e.message = `[replay with FC_SEED=${SEED}] ${e.message}`
  console.error(`    randomised test failed; replay with FC_SEED=${SEED}`)
  return e
}

/** fc.assert with the suite's seed; the failure message names the seed (and fast-check's shrunk counterexample). */
export function check<Ts extends [unknown, ...unknown[]]> (property: fc.IProperty<Ts>, numRuns: number): void {
  try {
    fc.assert(property, { seed: SEED, numRuns })
  } catch (err) {
    throw withSeedMessage(err)
  }
}

/** Run a seeded loop body; a failure names the seed. */
export function seeded (body: (rng: Rng) => void): void {
  try {
    body(new Rng(SEED))
  } catch (err) {
    throw withSeedMessage(err)
  }
}

/** A deterministic byte stream: SHA-256(seed ‖ counter). Not fast, but plenty for a few thousand draws. */
export class Rng {
  readonly #seed: string
  #counter = 0

  constructor (seed: number) {
    this.#seed = String(seed)
  }

  bytes (length: number): Uint8Array {
    const out = new Uint8Array(length)
    for (let filled = 0; filled < length;) {
      const block = createHash('sha256').update(`${this.#seed}/${this.#counter++}`).digest()
      const n = Math.min(block.length, length - filled)
      out.set(block.subarray(0, n), filled)
      filled += n
    }
    return out
  }

  /** An integer in [0, bound). Bias is irrelevant for test data. */
  below (bound: number): number {
    const b = this.bytes(6)
    const n = b.reduce((acc, x) => acc * 256 + x, 0)
    return n % bound
  }
}

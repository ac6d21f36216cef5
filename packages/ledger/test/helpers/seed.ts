/**
 * Randomised runs take their seed from FC_SEED when set, so any failure replays exactly;
 * otherwise a fresh one, printed with the failure.
 */
import fc from 'fast-check'

export function runSeed (): number {
  const env = process.env.FC_SEED
  if (env !== undefined && env !== '') {
    const seed = Number(env)
    if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer, is ${env}`)
    return seed
  }
  return (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0
}

/** fc.assert with a known seed; on failure the error leads with how to replay it. */
export function checkProperty<Ts> (property: fc.IProperty<Ts>, numRuns: number): void {
  const seed = runSeed()
  try {
    fc.assert(property, { seed, numRuns })
  } catch (err) {
    const e = err as Error
    e.message = `property failed; replay with FC_SEED=${seed}\n${e.message}`
    throw e
  }
}

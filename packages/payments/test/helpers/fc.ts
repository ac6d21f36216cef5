/**
 * fast-check settings shared by every property test.
 *
 * Every run prints its seed when it fails (fast-check's report ends with `{ seed: …, path: … }`).
 * Replay it with `FC_SEED=<seed> [FC_PATH=<path>] npx mocha packages/payments/test/*.test.ts`;
 * `FC_RUNS` raises the number of runs for a longer soak.
 */
import type { Parameters } from 'fast-check'

export function fcParams<T> (): Parameters<T> {
  const params: Parameters<T> = {}
  const { FC_SEED, FC_PATH, FC_RUNS } = process.env
  if (FC_SEED !== undefined && FC_SEED !== '') params.seed = Number(FC_SEED)
  if (FC_PATH !== undefined && FC_PATH !== '') params.path = FC_PATH
  if (FC_RUNS !== undefined && FC_RUNS !== '') params.numRuns = Number(FC_RUNS)
  return params
}

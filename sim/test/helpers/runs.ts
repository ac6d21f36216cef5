/** What the simulator's scenario tests share: a run's failed checks, and how to replay it. */
import { brokenChecks, replayCommand, worldOf, type SimResult } from '../../src/index.ts'

/** The invariants a run broke, and the books against the oracle (empty when all hold). */
export function failed (r: SimResult): string[] {
  return brokenChecks(r)
}

/** The command that replays a run from its seed (printed with every failure). */
export function replay (r: SimResult): string {
  return `seed ${r.seed}: replay with ${replayCommand(worldOf(r), { json: true })}`
}

/** A run's failures, with the details named (`detail`) and how to replay it. */
export function problems (r: SimResult, detail: string): string[] {
  const bad = failed(r)
  return bad.length === 0 ? [] : [`${replay(r)}: ${bad.join(', ')} ${JSON.stringify({ [detail]: r.details[detail], B4: r.details.B4_diff })}`]
}

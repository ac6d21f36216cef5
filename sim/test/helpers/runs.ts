/** What the simulator's scenario tests share: a run's failed checks, and how to replay it. */
import type { SimResult } from '../../src/index.ts'

/** The invariants a run broke, and the books against the oracle (empty when all hold). */
export function failed (r: SimResult): string[] {
  const bad = Object.entries(r.invariants).filter(([, ok]) => !ok).map(([k]) => k)
  if (r.booksCents !== r.oracleCents) bad.push(`books ${r.booksCents} ≠ oracle ${r.oracleCents}`)
  return bad
}

/** The command that replays a run from its seed (printed with every failure). */
export function replay (r: SimResult): string {
  return `seed ${r.seed}: replay with npx tillbooks sim --seed ${r.seed} --tills ${r.tills} --days ${r.days} --tills-per-store 3 --faults ${r.faults.join(',')} --json`
}

/** A run's failures, with the details named (`detail`) and how to replay it. */
export function problems (r: SimResult, detail: string): string[] {
  const bad = failed(r)
  return bad.length === 0 ? [] : [`${replay(r)}: ${bad.join(', ')} ${JSON.stringify({ [detail]: r.details[detail], B4: r.details.B4_diff })}`]
}

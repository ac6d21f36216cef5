/**
 * The one place a simulated run's replay command is written: every failing seed prints it
 * (the scenario tests, the thousand-seed CI run, the soak, a failed `tillbooks sim`). When
 * the `tillbooks` entry point moves, change `REPLAY_CLI` and nothing else.
 */

/** How a replay is started from the repository's root (the `tillbooks` bin's source). */
export const REPLAY_CLI = 'node cli/src/tillbooks.ts'

/** What decides a run, as `tillbooks sim` takes it: the same world replays the same result. */
export interface WorldSpec {
  seed: number
  tills: number
  days: number
  tillsPerStore: number
  salesPerDayMax: number
  /** As `--faults` takes it: `all,cardPayments`, `none`. */
  faults: string
}

/** The command that replays `w`, bit for bit (`--json` prints the whole result). */
export function replayCommand (w: WorldSpec, opts: { json?: boolean } = {}): string {
  return `${REPLAY_CLI} sim --seed ${w.seed} --tills ${w.tills} --days ${w.days} --tills-per-store ${w.tillsPerStore} --sales-per-day-max ${w.salesPerDayMax} --faults ${w.faults === '' ? 'none' : w.faults}${opts.json === true ? ' --json' : ''}`
}

/** The world a result was made of (its faults as `--faults` takes them). */
export function worldOf (r: { seed: number, tills: number, days: number, tillsPerStore: number, salesPerDayMax: number, faults: readonly string[] }): WorldSpec {
  return { seed: r.seed, tills: r.tills, days: r.days, tillsPerStore: r.tillsPerStore, salesPerDayMax: r.salesPerDayMax, faults: r.faults.length === 0 ? 'none' : r.faults.join(',') }
}

/** Checks a fault's run must have made (a check never made never fails). */
const CHECKS_OF_FAULT: Record<string, readonly string[]> = { hqReplicas: ['R_replicasAgree'] }

/** The checks a run broke or never made, and its books against the oracle's (empty when all hold). */
export function brokenChecks (r: { faults: readonly string[], invariants: Record<string, boolean>, booksCents: number, oracleCents: number }): string[] {
  const bad = Object.entries(r.invariants).filter(([, ok]) => !ok).map(([k]) => k)
  for (const f of r.faults) for (const c of CHECKS_OF_FAULT[f] ?? []) if (r.invariants[c] === undefined) bad.push(`${c} never checked`)
  if (r.booksCents !== r.oracleCents) bad.push(`books ${r.booksCents} ≠ oracle ${r.oracleCents}`)
  return bad
}

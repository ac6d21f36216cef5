/**
 * The soak of `tillbooks net --soak DAYS`: every business day a till process, a store's process
 * (all the tills it hosts) and HQ are SIGKILLed, each at a moment drawn from the seed, and
 * restarted on the same data directory and ports. The plan is a pure function of the seed and
 * the fleet's shape, printed before the run, so a run replays from its seed.
 *
 * A moment is a phase of the day and a percentage of it: `open 40` is after 40 % of the tills
 * have opened, `sales 40` after each till has made 40 % of its sales, `closes 40` after 40 % of
 * the close wave. The launcher stops driving the tills at that point (its requests all
 * answered), kills, restarts, and goes on: a kill never leaves a sale the launcher cannot know
 * the fate of, so the oracle stays exact, while the tills' and HQ's own traffic (outboxes,
 * acknowledgements, replication) is cut wherever it happens to be.
 *
 * Which processes can be killed: the tills of one store (`tillStore`, drawn from the seed) run
 * as a process each, as a replacement till after a fire does, so a single till can die; every
 * other store runs its tills in one store process. The launcher's own faults keep their
 * moments: no soak kill falls in the close wave that HQ's planned crash or replica B's kill
 * already interrupts, nor in the burning store's last close wave; the burnt store has no store
 * process left to kill.
 */
import type { Prng } from '../Prng.ts'
import { SOAK_KILL_PERCENT_MAX, SOAK_KILL_PERCENT_MIN } from './constants.ts'

export type SoakKillKind = 'till' | 'store' | 'hq'
export type SoakPhase = 'open' | 'sales' | 'closes'
export const SOAK_PHASES: readonly SoakPhase[] = ['open', 'sales', 'closes']

export interface SoakKill {
  /** Business day, 0-based. */
  day: number
  kind: SoakKillKind
  /** A till id (kind 'till'), a store id ('store') or 'hq'. */
  target: string
  phase: SoakPhase
  /** How far into the phase, SOAK_KILL_PERCENT_MIN..MAX. */
  atPercent: number
}

export interface SoakPlan {
  seed: number
  days: number
  /** The store whose tills run as a process each. */
  tillStore: string
  /** In the order they happen. */
  kills: SoakKill[]
}

/** What the soak needs to know of the launcher's fleet and its own fault plan. */
export interface SoakFleet {
  seed: number
  days: number
  /** Store ids, in order. */
  stores: string[]
  tillsPerStore: number
  /** The store that burns, and the day (0-based) it burns after its close; null: no fire. */
  fire: { store: string, day: number } | null
  /** Days (0-based) whose close wave another planned fault already interrupts. */
  busyCloseWaves: number[]
}

/** The kills of a soak, from `prng` (the launcher passes its `fork('soak')`). */
export function planSoak (prng: Prng, f: SoakFleet): SoakPlan {
  if (f.stores.length === 0 || f.tillsPerStore < 1 || f.days < 1) throw new RangeError('a soak needs at least one store, one till and one day')
  const p = prng.fork('plan')
  const choosable = f.stores.length > 1 && f.fire !== null ? f.stores.filter(s => s !== f.fire?.store) : f.stores
  const tillStore = p.pick(choosable)
  const kills: SoakKill[] = []
  for (let day = 0; day < f.days; day++) {
    const dp = p.fork(`day:${day}`)
    const free = SOAK_PHASES.filter(ph => ph !== 'closes' || !f.busyCloseWaves.includes(day))
    const at = (): number => dp.int(SOAK_KILL_PERCENT_MIN, SOAK_KILL_PERCENT_MAX)
    const till = `${tillStore}-${dp.int(1, f.tillsPerStore)}`
    kills.push({ day, kind: 'till', target: till, phase: dp.pick(tillPhases(f, tillStore, day, free)), atPercent: at() })
    // A store process: any other store, the burning one only before its last close wave.
    const stores = f.stores.filter(s => s !== tillStore && (f.fire === null || s !== f.fire.store || day <= f.fire.day))
    if (stores.length > 0) {
      const store = dp.pick(stores)
      kills.push({ day, kind: 'store', target: store, phase: dp.pick(tillPhases(f, store, day, free)), atPercent: at() })
    }
    kills.push({ day, kind: 'hq', target: 'hq', phase: dp.pick(free), atPercent: at() })
  }
  const order = (k: SoakKill): number => k.day * 1000 + SOAK_PHASES.indexOf(k.phase) * 100 + k.atPercent
  kills.sort((a, b) => order(a) - order(b))
  return { seed: f.seed, days: f.days, tillStore, kills }
}

/** Phases a store's processes may die in: not the burning store's last close wave (its gate is cut, its closes must reach the neighbours). */
function tillPhases (f: SoakFleet, store: string, day: number, free: SoakPhase[]): SoakPhase[] {
  return f.fire !== null && store === f.fire.store && day === f.fire.day ? free.filter(ph => ph !== 'closes') : free
}

/** One line per kill, to print before the run: the day, what dies, when. */
export function describeSoakKill (k: SoakKill, date?: string): string {
  const what = k.kind === 'till' ? `till ${k.target}` : k.kind === 'store' ? `store ${k.target}'s process` : 'HQ'
  const when = k.phase === 'open' ? `${k.atPercent} % of the tills opened` : k.phase === 'sales' ? `${k.atPercent} % of each till's sales` : `${k.atPercent} % of the close wave`
  return `day ${k.day + 1}${date !== undefined ? ` (${date})` : ''}: SIGKILL ${what} after ${when}`
}

/** The slice of `items` between two percentages of a phase (the last slice ends at 100: every item). */
export function sliceAt<T> (items: readonly T[], fromPercent: number, toPercent: number): T[] {
  const at = (pct: number): number => pct >= 100 ? items.length : Math.floor(items.length * pct / 100)
  return items.slice(at(fromPercent), at(toPercent))
}

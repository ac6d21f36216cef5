/**
 * The benchmark fleet, as a pure function of (tills, seed): every till's key, store and
 * number, HQ's root key, each till's replenishment order, which load generator hosts which
 * stores, which store burns and who keeps its replica. The orchestrator (which prepares HQ)
 * and the load generators (which build the tills' records) derive the same plan from the
 * same two numbers, so no key material travels between them.
 */
import { createHash } from 'node:crypto'
import { asBusinessDay, asStoreId, tillIdOf, type BusinessDay, type SkuQty, type StoreId, type TillId } from '@tillbooks/protocol'
import { Prng } from '../../Prng.ts'
import { BENCH_DAY, SALES_PER_TILL, TILLS_PER_STORE, WARMUP_TILLS } from './constants.ts'

export interface FleetPlan {
  tills: number
  seed: number
  tillsPerStore: number
  salesPerTill: number
  day: BusinessDay
  loadgens: number
  /**
   * Tills whose day HQ takes before each timed wave, untimed (see WARMUP_TILLS): indices
   * [warmupFrom, warmupFrom + warmupTills), in stores of their own after the fleet's. They are
   * enrolled, trade and close like the fleet's tills, and are in HQ's books and every check.
   */
  warmupTills: number
  warmupFrom: number
}

export function makePlan (p: { tills: number, seed: number, loadgens: number, tillsPerStore?: number, salesPerTill?: number, warmupTills?: number }): FleetPlan {
  const tillsPerStore = p.tillsPerStore ?? TILLS_PER_STORE
  const stores = Math.ceil(p.tills / tillsPerStore)
  if (stores < p.loadgens) throw new RangeError(`${p.tills} tills make ${stores} stores: fewer than ${p.loadgens} load generators (a fire needs a neighbour in another process)`)
  if (p.loadgens < 2) throw new RangeError('at least 2 load generators: the burnt store and its neighbour live in different processes')
  const warmupTills = p.warmupTills ?? WARMUP_TILLS
  if (!Number.isSafeInteger(warmupTills) || warmupTills < 0) throw new RangeError(`warm-up tills must be a whole number ≥ 0, is ${warmupTills}`)
  return {
    tills: p.tills,
    seed: p.seed,
    tillsPerStore,
    salesPerTill: p.salesPerTill ?? SALES_PER_TILL,
    day: asBusinessDay(BENCH_DAY),
    loadgens: p.loadgens,
    warmupTills,
    // The first whole store after the fleet's: no store mixes fleet and warm-up tills.
    warmupFrom: stores * tillsPerStore
  }
}

const seedOf = (label: string): Uint8Array => new Uint8Array(createHash('sha256').update(label).digest())

/** Till i's Ed25519 seed: its key, its certificate's subject and its libp2p identity. */
export const tillSeed = (plan: FleetPlan, i: number): Uint8Array => seedOf(`tillbooks/bench-fleet/${plan.seed}/till/${i}`)
/** HQ's root seed (written to the prepared HQ directory's root.key). */
export const rootSeed = (plan: FleetPlan): Uint8Array => seedOf(`tillbooks/bench-fleet/${plan.seed}/hq-root`)
/** A load generator's own libp2p identity (a store relay: not a till, not enrolled). */
export const relaySeed = (plan: FleetPlan, k: number): Uint8Array => seedOf(`tillbooks/bench-fleet/${plan.seed}/relay/${k}`)
/** A key nobody enrolled: the forger of the planted replica. */
export const forgerSeed = (plan: FleetPlan): Uint8Array => seedOf(`tillbooks/bench-fleet/${plan.seed}/forger`)

export const storeIndexOf = (plan: FleetPlan, i: number): number => Math.floor(i / plan.tillsPerStore)
export const storeOf = (plan: FleetPlan, i: number): StoreId => asStoreId(`S${String(storeIndexOf(plan, i) + 1).padStart(6, '0')}`)
export const tillNoOf = (plan: FleetPlan, i: number): number => (i % plan.tillsPerStore) + 1
export const tillIdAt = (plan: FleetPlan, i: number): TillId => tillIdOf(storeOf(plan, i), tillNoOf(plan, i))
export const orderIdOf = (plan: FleetPlan, i: number): string => `R-${tillIdAt(plan, i)}-${plan.day}`

/** Till i's morning delivery as HQ ships it: 1–3 stocked skus, sorted, each once. */
export function orderLines (plan: FleetPlan, i: number, stocked: readonly string[]): SkuQty[] {
  const p = new Prng(`${plan.seed}/order/${i}`)
  return p.sample(stocked, p.int(1, 3)).sort().map(sku => ({ sku, qty: p.int(1, 24) }))
}

/** Load generator k's share [from, to) of the `count` tills from `base` (a store's first till): whole stores, contiguous. */
function storeShare (plan: FleetPlan, base: number, count: number, k: number): { from: number, to: number } {
  const stores = Math.ceil(count / plan.tillsPerStore)
  const at = (s: number): number => Math.min(base + count, base + Math.floor(s * stores / plan.loadgens) * plan.tillsPerStore)
  return { from: at(k), to: at(k + 1) }
}

/** The till range [from, to) load generator k hosts. */
export function loadgenRange (plan: FleetPlan, k: number): { from: number, to: number } {
  return storeShare(plan, 0, plan.tills, k)
}

/** The warm-up till range [from, to) load generator k hosts. */
export function warmupRange (plan: FleetPlan, k: number): { from: number, to: number } {
  return storeShare(plan, plan.warmupFrom, plan.warmupTills, k)
}

/** Every till HQ enrols: the fleet's, then the warm-up tills. */
export function * hqTillIndices (plan: FleetPlan): Generator<number> {
  for (let i = 0; i < plan.tills; i++) yield i
  for (let i = plan.warmupFrom; i < plan.warmupFrom + plan.warmupTills; i++) yield i
}

/** B6: the last store hosted by load generator 0 burns; load generator 1 keeps its replica. */
export function fireStore (plan: FleetPlan): { store: StoreId, tills: number[], host: number, neighbour: number } {
  const r = loadgenRange(plan, 0)
  const s = storeIndexOf(plan, r.to - 1)
  const tills: number[] = []
  for (let i = s * plan.tillsPerStore; i < Math.min(r.to, (s + 1) * plan.tillsPerStore); i++) tills.push(i)
  return { store: storeOf(plan, s * plan.tillsPerStore), tills, host: 0, neighbour: 1 }
}

/** B3: every entry of every `every`-th till is sent again after the wave. */
export const isResent = (i: number, every: number): boolean => i % every === 0

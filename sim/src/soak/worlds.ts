/**
 * The small worlds the CI run and the soak are made of: one per seed, its size and its faults
 * drawn from the seed number alone, so a seed names its world and its replay command.
 *
 * Every world has every fault of `all` and cardPayments (which costs a run a few per cent).
 * The two named faults that make a run longer ride on a share of the seeds: catalogueClash
 * (a catalogue replica on every till, synced all day: about twice as long) on every
 * CATALOGUE_CLASH_EVERY-th seed, hqReplicas (two more HQs syncing every half hour: three to four
 * times as long) on two of every HQ_REPLICAS_EVERY, one of them with catalogueClash (a world
 * with every fault there is) and one without; diskFaults (HQ's and the tills' disks failing
 * under writes) on every DISK_FAULTS_EVERY-th seed and in that every-fault world. Any
 * HQ_REPLICAS_EVERY seeds in a row cover every named fault.
 */
import { ALL_FAULT_NAMES, FAULTS } from '../faults.ts'
import type { WorldSpec } from '../replay.ts'
import {
  CATALOGUE_CLASH_EVERY, DISK_FAULTS_EVERY, HQ_REPLICAS_ALONE_AT, HQ_REPLICAS_EVERY, SMALL_WORLD_SALES_PER_DAY_MAX, SMALL_WORLD_TILLS_MIN, SMALL_WORLD_TILLS_PER_STORE,
  SMALL_WORLD_TILLS_SPREAD
} from './constants.ts'

export function smallWorld (seed: number): WorldSpec {
  const faults = ['all', 'cardPayments']
  if (seed % CATALOGUE_CLASH_EVERY === 0) faults.push('catalogueClash')
  if (seed % HQ_REPLICAS_EVERY === 0 || seed % HQ_REPLICAS_EVERY === HQ_REPLICAS_ALONE_AT) faults.push('hqReplicas')
  if (seed % DISK_FAULTS_EVERY === 0 || seed % HQ_REPLICAS_EVERY === 0) faults.push('diskFaults')
  return { seed, tills: SMALL_WORLD_TILLS_MIN + (seed % SMALL_WORLD_TILLS_SPREAD), days: 2 + (seed % 3), tillsPerStore: SMALL_WORLD_TILLS_PER_STORE, salesPerDayMax: SMALL_WORLD_SALES_PER_DAY_MAX, faults: faults.join(',') }
}

/** Every named fault is on in some world among `count` seeds from `from` (a CI run that covers them all). */
export function faultsCovered (from: number, count: number): string[] {
  const on = new Set<string>()
  for (let seed = from; seed < from + count; seed++) {
    for (const f of smallWorld(seed).faults.split(',')) {
      if (f === 'all') for (const x of FAULTS) on.add(x)
      else on.add(f)
    }
  }
  return ALL_FAULT_NAMES.filter(f => on.has(f))
}

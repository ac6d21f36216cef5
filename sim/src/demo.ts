/**
 * The demo behind `npm start` (`tillbooks demo`): a few dozen tills in a dozen shops for a few
 * days with every fault of `all`. Its books are what a newcomer reads first, so its stock
 * follows its sales (stock.ts) and test/demo checks they read as a business's.
 */
import { parseFaults } from './faults.ts'
import { runSimulation, type SimResult } from './Simulation.ts'

export const DEMO_SEED = 2026
export const DEMO_TILLS = 48
export const DEMO_DAYS = 4
export const DEMO_TILLS_PER_STORE = 4

export async function runDemo (seed: number = DEMO_SEED, onDay?: (day: number) => void): Promise<SimResult> {
  return await runSimulation({ seed, tills: DEMO_TILLS, days: DEMO_DAYS, faults: parseFaults('all'), tillsPerStore: DEMO_TILLS_PER_STORE, ...(onDay !== undefined ? { onDay } : {}) })
}

/**
 * A thousand small worlds with every fault on, in every CI run: each seed a different world
 * (other sales, other fault times, other fires), run on every core by the seed pool
 * (sim/src/soak); a failing seed prints how to replay it. SIM_SEEDS, SIM_FIRST_SEED and
 * SIM_JOBS change the run (`npm run sim:soak` runs more). A file of its own, listed first in the
 * root's .mocharc.json: the longest test starts first while the other files share the second
 * mocha worker (npm test runs files in parallel).
 */
import assert from 'node:assert/strict'
import { CATALOGUE_CLASH_EVERY, DISK_FAULTS_EVERY, HQ_REPLICAS_EVERY } from '../../src/soak/constants.ts'
import { defaultJobs, failureText, runSeeds, seedRange } from '../../src/soak/SeedPool.ts'
import { median } from '../../src/soak/soak.ts'
import { faultsCovered, smallWorld } from '../../src/soak/worlds.ts'
import { ALL_FAULT_NAMES } from '../../src/faults.ts'

const SEEDS = Number(process.env.SIM_SEEDS ?? 1000)
const FIRST_SEED = Number(process.env.SIM_FIRST_SEED ?? 1)
const JOBS = process.env.SIM_JOBS !== undefined ? Number(process.env.SIM_JOBS) : defaultJobs()

/** Real time a seed may take on one core of a busy machine (a free one takes half a second): the thousand's timeout. */
const SEED_WALL_MS_MAX = 3_000

describe('simulator: a thousand worlds, every invariant under every fault', function () {
  this.timeout(Math.max(600_000, Math.ceil(SEEDS / JOBS) * SEED_WALL_MS_MAX))

  it(`${SEEDS} small worlds on ${JOBS} processes: every fault of all, and cardPayments, in each; catalogueClash in every ${CATALOGUE_CLASH_EVERY}th, hqReplicas in two of every ${HQ_REPLICAS_EVERY} (one with every named fault at once), diskFaults in every ${DISK_FAULTS_EVERY}th`, async () => {
    if (SEEDS >= HQ_REPLICAS_EVERY) assert.deepEqual(faultsCovered(FIRST_SEED, SEEDS), [...ALL_FAULT_NAMES], 'the worlds cover every named fault')
    const report = await runSeeds(seedRange(FIRST_SEED, SEEDS, smallWorld), { jobs: JOBS })
    const failures = report.failures.sort((a, b) => a.world.seed - b.world.seed).map(failureText)
    console.log(`      ${report.runs} seeds in ${Math.round(report.wallMs / 1000)} s on ${report.jobs} processes (a seed: median ${median(report.seedMs)} ms, ${median(report.seedCpuMs)} ms of CPU; ${Math.round(report.seedCpuMs.reduce((a, b) => a + b, 0) / 1000)} s of CPU in all)`)
    assert.deepEqual(failures, [], failures.join('\n'))
    assert.equal(report.runs, SEEDS)
  })
})

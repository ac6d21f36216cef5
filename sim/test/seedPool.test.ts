/**
 * The seed pool (sim/src/soak): worlds on several worker processes, each failure reported with
 * the command that replays it (a broken check, a throw, a worker that died or hung), workers
 * replaced, the soak stopping at the first failure; and the printed command, run on its own,
 * gives the very result the pool's worker had.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { brokenChecks, replayCommand, type SimResult, type WorldSpec } from '../src/index.ts'
import { resultDigest } from '../src/soak/runSeed.ts'
import { failureText, runSeeds, seedRange, type SeedRun } from '../src/soak/SeedPool.ts'
import { runSoak } from '../src/soak/soak.ts'
import { faultsCovered, smallWorld } from '../src/soak/worlds.ts'
import { ALL_FAULT_NAMES } from '../src/faults.ts'

const FLAKY = new URL('./helpers/flakyRunner.ts', import.meta.url).href
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const world = (seed: number): WorldSpec => ({ seed, tills: 3, days: 2, tillsPerStore: 3, salesPerDayMax: 6, faults: 'all' })

describe('simulator seed pool', function () {
  this.timeout(120_000)

  it('reports each failing world with its replay command (a broken check, a throw, a dead worker, a hang), runs the rest, and replaces workers', async () => {
    const runs: SeedRun[] = []
    const r = await runSeeds(seedRange(1, 12, world), { jobs: 2, runner: FLAKY, seedTimeoutMs: 3_000, seedsPerWorkerMax: 3, onRun: x => { runs.push(x) } })
    assert.equal(r.runs, 12)
    assert.equal(r.stopped, false)
    const failed = r.failures.sort((a, b) => a.world.seed - b.world.seed)
    assert.deepEqual(failed.map(f => f.world.seed), [3, 4, 5, 6])
    assert.deepEqual(failed[0]?.broken, ['B4_booksEqualOracle'])
    assert.match(failed[1]?.error ?? '', /^threw: Error: a bug in the run/)
    assert.match(failed[2]?.error ?? '', /worker died \(exit code 7/)
    assert.match(failed[3]?.error ?? '', /did not finish within 3000 ms/)
    for (const f of failed) assert.ok(failureText(f).endsWith(`replay: ${replayCommand(f.world)}`), failureText(f))
    assert.equal(failureText(failed[0] as never), 'seed 3 (all): B4_booksEqualOracle — replay: node cli/src/tillbooks.ts sim --seed 3 --tills 3 --days 2 --tills-per-store 3 --sales-per-day-max 6 --faults all')
    // 8 passing seeds at most 3 a worker (the digest is the worker's pid): at least 3 workers, as many as 6 with the two lost.
    const workers = new Set(runs.filter(x => x.ok).map(x => x.digest))
    assert.ok(workers.size >= 3, `workers replaced: ${workers.size} distinct`)
  })

  it('stops dispatching at the first failure when asked (the soak), the worlds under way finishing', async () => {
    const r = await runSeeds(seedRange(1, 1_000, world), { jobs: 2, runner: FLAKY, stopOnFailure: true })
    assert.equal(r.stopped, true)
    assert.ok(r.runs < 10, `stopped after ${r.runs} runs`)
    assert.equal(r.failures[0]?.world.seed, 3)
  })

  it('the soak prints the failure with its replay command, and says it stopped', async () => {
    const lines: string[] = []
    const r = await runSoak({ from: 1, seeds: 100_000, jobs: 2, runner: FLAKY, print: l => { lines.push(l) } })
    assert.equal(r.stopped, true)
    const text = lines.join('\n')
    assert.match(text, /FAILED seed 3 \(all,cardPayments\): B4_booksEqualOracle — replay: node cli\/src\/tillbooks\.ts sim --seed 3 --tills 6 --days 2 --tills-per-store 3 --sales-per-day-max 6 --faults all,cardPayments/)
    assert.match(text, /stopped before \d+ more/)
  })

  it('a world fails for a check broken, a check its fault never made, or books off the oracle\'s', () => {
    assert.deepEqual(brokenChecks({ faults: ['loss', 'hqReplicas'], invariants: { B3_resendAddsNothing: true, G1_noDocNoClash: false }, booksCents: 100, oracleCents: 101 }), ['G1_noDocNoClash', 'R_replicasAgree never checked', 'books 100 ≠ oracle 101'])
    assert.deepEqual(brokenChecks({ faults: ['hqReplicas'], invariants: { R_replicasAgree: true }, booksCents: 5, oracleCents: 5 }), [])
  })

  it('the small worlds cover every named fault within fifty seeds, wherever they start', () => {
    for (const from of [1, 17, 1000]) assert.deepEqual(faultsCovered(from, 50), [...ALL_FAULT_NAMES])
    assert.equal(smallWorld(50).faults, 'all,cardPayments,catalogueClash,hqReplicas,diskFaults')
    assert.equal(smallWorld(24).faults, 'all,cardPayments,hqReplicas,diskFaults')
    assert.equal(smallWorld(8).faults, 'all,cardPayments,diskFaults')
    assert.equal(smallWorld(25).faults, 'all,cardPayments,catalogueClash')
    assert.equal(smallWorld(7).faults, 'all,cardPayments')
  })

  it('the printed replay command, run on its own, gives the result the pool\'s worker had, byte for byte (hqReplicas included)', async () => {
    const w = smallWorld(24)
    const runs: SeedRun[] = []
    const r = await runSeeds([smallWorld(7), w], { jobs: 1, onRun: x => { runs.push(x) } })
    assert.deepEqual(r.failures.map(failureText), [])
    const cmd = replayCommand(w, { json: true }).split(' ')
    assert.equal(cmd[0], 'node')
    const { stdout } = await promisify(execFile)(process.execPath, cmd.slice(1), { cwd: ROOT, maxBuffer: 64 << 20 })
    const result = JSON.parse(stdout.trim().split('\n').at(-1) as string) as SimResult
    assert.equal(result.seed, 24)
    assert.deepEqual(result.faults, ['loss', 'duplicate', 'reorder', 'partition', 'hqCrash', 'fire', 'skew', 'forgery', 'replay', 'equivocation', 'cardPayments', 'hqReplicas', 'diskFaults'])
    // Seed 24 ran second in its worker, after seed 7: what a worker ran before changes nothing.
    assert.equal(resultDigest(result), runs.find(x => x.world.seed === 24)?.digest)
  })
})

/**
 * The pitch relay re-creations (issue 7's side-by-side baselines) behave as specified, at a
 * small size: every op acked and on file once, resends add nothing, forgeries refused in the
 * guarded variant, and no process left behind. Speed is not checked here.
 */
import assert from 'node:assert/strict'
import { measurePitchRelay, measureVerifyCeiling } from '../src/bench/pitch/index.ts'
import { canonicalJson, expectedTotals, tillOps } from '../src/bench/pitch/ops.ts'
import { pidAlive } from '../src/net/proc.ts'

const alive = pidAlive

describe('pitch relay re-creation', function () {
  this.timeout(180_000)
  const TILLS = 200

  it('canonical JSON sorts keys at every depth and refuses non-integers', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: 'x', c: null }] }), '{"a":[{"c":null,"d":"x"}],"b":1}')
    assert.throws(() => canonicalJson({ a: 1.5 }))
    const [soda, eoda] = tillOps(3)
    assert.notEqual(soda.id, eoda.id)
    assert.equal(expectedTotals(1).EODA, tillOps(0)[1].body.cents)
  })

  it('as pitched: all 2N acked, 2N lines on file, a 20% resend adds nothing', async () => {
    const r = await measurePitchRelay({ tills: TILLS, guarded: false, runs: 1 })
    const run = r.perRun[0]
    assert.ok(run !== undefined)
    assert.equal(run.acked, 2 * TILLS, JSON.stringify(run.failures))
    assert.equal(run.jsonlLines, 2 * TILLS)
    assert.ok(r.allAcked && r.jsonlLinesOk && r.totalsCorrect)
    assert.equal(run.resendSent, 2 * Math.ceil(TILLS / 5))
    assert.equal(run.resendDuplicateAcks, run.resendSent)
    assert.equal(r.resendAccepted, 0)
    assert.equal(r.totalsUnchanged, true)
    assert.equal(r.forgedRejected, undefined)
    assert.equal(run.fsyncs, 0)
    assert.ok(r.reportsPerSec > 0 && r.p99Ms >= r.p50Ms && r.relayRssBytes > 0)
    for (const pid of run.pids) assert.equal(alive(pid), false, `process ${pid} still running`)
  })

  it('with our guarantees: the same, every forgery refused, acks after group-committed fdatasyncs', async () => {
    // With a warm-up: 6 more tills' ops first, untimed, in the file and the totals but not the wave.
    const r = await measurePitchRelay({ tills: TILLS, guarded: true, runs: 1, warmupTills: 6 })
    const run = r.perRun[0]
    assert.ok(run !== undefined)
    assert.equal(run.acked, 2 * TILLS, JSON.stringify(run.failures))
    assert.equal(run.jsonlLines, 2 * (TILLS + 6))
    assert.ok(r.allAcked && r.jsonlLinesOk && r.totalsCorrect)
    assert.equal(run.resendDuplicateAcks, run.resendSent)
    assert.equal(r.resendAccepted, 0)
    assert.equal(r.totalsUnchanged, true)
    assert.deepEqual(run.forged, { newIdBadKey: 403, alteredSameId: 403, alteredNewId: 403, unknownTill: 403, equivocation: 409 })
    assert.equal(r.forgedRejected, true)
    // group commit: at least one fdatasync, and fewer than one per op
    assert.ok(run.fsyncs >= 1 && run.fsyncs < 2 * TILLS, `fsyncs ${run.fsyncs}`)
    assert.ok(run.signMs > 0)
    for (const pid of run.pids) assert.equal(alive(pid), false, `process ${pid} still running`)
  })

  it('measures the native verification ceiling', () => {
    const c = measureVerifyCeiling(100)
    assert.ok(c.perCorePerSec > 100 && c.cores >= 1)
    assert.equal(c.ceilingPerSec, c.perCorePerSec * c.cores)
  })
})

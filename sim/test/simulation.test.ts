/**
 * The simulator over many seeds with every fault on. Each seed is a different world:
 * other sales, other fault times, other fires. A failing seed prints how to replay it.
 */
import assert from 'node:assert/strict'
import { parseFaults, runSimulation, type SimResult } from '../src/index.ts'

const SEEDS = Number(process.env.SIM_SEEDS ?? 200)
const FIRST_SEED = Number(process.env.SIM_FIRST_SEED ?? 1)

function failed (r: SimResult): string[] {
  return Object.entries(r.invariants).filter(([, ok]) => !ok).map(([k]) => k)
}

function replay (r: SimResult): string {
  return `replay: npx tillbooks sim --seed ${r.seed} --tills ${r.tills} --days ${r.days} --tills-per-store 3 --faults ${r.faults.join(',')} --json`
}

describe('simulator: every invariant holds under every fault', function () {
  this.timeout(600_000)

  it(`${SEEDS} seeds, small fleets, all faults`, async () => {
    const failures: string[] = []
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      const tills = 3 + (seed % 7)
      const days = 2 + (seed % 3)
      const r = await runSimulation({ seed, tills, days, faults: parseFaults('all'), tillsPerStore: 3, salesPerDayMax: 6 })
      const bad = failed(r)
      if (r.booksCents !== r.oracleCents) bad.push(`books ${r.booksCents} ≠ oracle ${r.oracleCents}`)
      if (bad.length > 0) failures.push(`seed ${seed}: ${bad.join(', ')} — ${replay(r)}`)
    }
    assert.deepEqual(failures, [], failures.join('\n'))
  })

  it('is deterministic: the same seed gives the same result', async () => {
    const a = await runSimulation({ seed: 77, tills: 12, days: 3, faults: parseFaults('all'), tillsPerStore: 3 })
    const b = await runSimulation({ seed: 77, tills: 12, days: 3, faults: parseFaults('all'), tillsPerStore: 3 })
    assert.deepEqual(a, b)
    const c = await runSimulation({ seed: 78, tills: 12, days: 3, faults: parseFaults('all'), tillsPerStore: 3 })
    assert.notDeepEqual(a.books, c.books, 'another seed is another world')
  })

  it('exercises what it claims: faults happen and are caught', async () => {
    const r = await runSimulation({ seed: 5, tills: 12, days: 4, faults: parseFaults('all'), tillsPerStore: 3 })
    assert.deepEqual(failed(r), [], replay(r))
    assert.ok(r.duplicatesIgnored > 0, 'duplicates were sent and ignored')
    assert.ok(r.forgedRejected >= 6, `forgeries were rejected: ${r.forgedRejected}`)
    assert.ok(r.forksDetected >= 1, 'the equivocating till was caught')
    assert.ok(r.details.hqCrash !== undefined, 'HQ crashed')
    assert.ok(r.details.fireRecovery !== undefined, 'a store burned and was recovered')
    const net = r.details.network as { lost: number, duplicated: number, cut: number }
    assert.ok(net.lost > 0 && net.duplicated > 0 && net.cut > 0, JSON.stringify(net))
  })

  it('members redeem points within their till\'s rights (with its link cut too), beyond them through HQ, and never overspend', async () => {
    const r = await runSimulation({ seed: 5, tills: 12, days: 5, faults: parseFaults('all'), tillsPerStore: 3 })
    assert.deepEqual(failed(r), [], replay(r))
    const m = r.details.members as { redemptions: number, withinRights: number, refusedOffline: number, refusedByHq: number, reserved: number }
    assert.ok(m.redemptions > 0 && m.withinRights > 0, `points were redeemed, within rights too: ${JSON.stringify(m)}`)
    assert.ok(m.refusedOffline > 0 && m.refusedByHq > 0, `beyond rights, refused offline and by HQ: ${JSON.stringify(m)}`)
    assert.equal(r.invariants.pointsNeverOverspent, true)
    assert.equal(r.invariants.pointsLiabilityEqualsOracle, true)
  })

  it('returns by receipt: at the till that sold, with another store\'s consent, or flagged when it is cut off; never twice unflagged', async () => {
    const r = await runSimulation({ seed: 5, tills: 12, days: 4, faults: parseFaults('all'), tillsPerStore: 3 })
    assert.deepEqual(failed(r), [], replay(r))
    const x = r.details.returns as { consented: number, flagged: number, refused: number, overRefunded: number, flaggedAtHq: number, told: number }
    assert.ok(x.consented > 0 && x.flagged > 0 && x.refused > 0, JSON.stringify(x))
    assert.ok(x.overRefunded > 0 && x.told > 0, `some lines were refunded twice (flagged) and told to the selling till: ${JSON.stringify(x)}`)
    assert.equal(x.flaggedAtHq, x.flagged, 'every flagged refund is listed at HQ')
    assert.equal(r.invariants.refundsAtMostOnce, true)
  })

  it('with no faults, every record is accepted exactly once', async () => {
    const r = await runSimulation({ seed: 9, tills: 10, days: 2, faults: parseFaults('none'), tillsPerStore: 5 })
    assert.deepEqual(failed(r), [], replay(r))
    assert.equal(r.recordsAccepted, 10 * 2 * 2)
    assert.equal(r.forgedRejected, 0)
    assert.equal(r.booksCents, r.oracleCents)
  })
})

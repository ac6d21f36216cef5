/**
 * The simulator with every fault on, in chosen worlds: determinism, the worlds that found bugs,
 * and that each fault does what it claims. The thousand small worlds are in worlds/thousandWorlds.test.ts.
 */
import assert from 'node:assert/strict'
import { parseFaults, runSimulation } from '../src/index.ts'
import { defaultJobs, failureText, runSeeds } from '../src/soak/SeedPool.ts'
import { failed, replay } from './helpers/runs.ts'
import { reversedBy } from '@tillbooks/node'

const JOBS = process.env.SIM_JOBS !== undefined ? Number(process.env.SIM_JOBS) : defaultJobs()

describe('simulator: every invariant holds under every fault', function () {
  this.timeout(600_000)

  it('is deterministic: the same seed gives the same result', async () => {
    const a = await runSimulation({ seed: 77, tills: 12, days: 3, faults: parseFaults('all'), tillsPerStore: 3 })
    const b = await runSimulation({ seed: 77, tills: 12, days: 3, faults: parseFaults('all'), tillsPerStore: 3 })
    assert.deepEqual(a, b)
    const c = await runSimulation({ seed: 78, tills: 12, days: 3, faults: parseFaults('all'), tillsPerStore: 3 })
    assert.notDeepEqual(a.books, c.books, 'another seed is another world')
  })

  it('the worlds in which the thousand found bugs hold (pinned: the rotation and sizes may change)', async () => {
    // 552: HQ noted an entry twice in its per-till sums (a failed commit's entry written again
    // while its resend was in flight): a start from a checkpoint disagreed. 1000: HQ's catalogue,
    // failing to save a peer's changes, never told the books: records waited for good.
    // Found outside the thousand (3 tills, 4 days): 5, a stored payment the processor had declined
    // (its answer lost) was written off at its deadline as never charged, not a late decline;
    // 50, a disk fault meant for one sale was taken by the till's card sale still under way.
    // 5039 (the soak, past the thousand): a till sent a neighbour's replica changes back to back in
    // one item, one depending on a change its Bloom filter wrongly said the replica held: refused
    // whole, every time, and that replica stayed behind for good (S1). 3120 (the soak): HQ folded
    // records that had waited for a store's product once a sync brought it, but saved that
    // catalogue without fsync; a crash lost it, and the rebuilt books lacked them (B5). 3820: a
    // save that failed told the books all the same; a start from the disk then lacked the product.
    // 11768 (the soak): a burnt till's stored payment that the processor had taken (its answer to
    // the sale's request lost) was matched by reconciliation, as it should be, and P3 wanted it
    // listed expired: the check was wrong. 30140 (the soak, 2026-12-07): once a customer took only
    // what was on the shelf, a sale could be a store's own product alone, and the disk fault meant
    // for it was tried on a sale of no line (refused as such, not by the disk: D1).
    // 31558 (the soak): a payment taken offline, forwarded and declined, the decline's answer lost,
    // at a till that then burnt: listed expired (never charged), and P2 wanted a late decline.
    const worlds = [
      { seed: 31558, tills: 5, days: 3, tillsPerStore: 3, salesPerDayMax: 6, faults: 'all,cardPayments' },
      { seed: 30140, tills: 8, days: 4, tillsPerStore: 3, salesPerDayMax: 6, faults: 'all,cardPayments,catalogueClash,diskFaults' },
      { seed: 11768, tills: 4, days: 4, tillsPerStore: 3, salesPerDayMax: 6, faults: 'all,cardPayments,diskFaults' },
      { seed: 3820, tills: 8, days: 3, tillsPerStore: 3, salesPerDayMax: 6, faults: 'all,cardPayments,catalogueClash,diskFaults' },
      { seed: 3120, tills: 8, days: 2, tillsPerStore: 3, salesPerDayMax: 6, faults: 'all,cardPayments,catalogueClash,diskFaults' },
      { seed: 5039, tills: 9, days: 4, tillsPerStore: 3, salesPerDayMax: 6, faults: 'all,cardPayments' },
      { seed: 552, tills: 9, days: 2, tillsPerStore: 3, salesPerDayMax: 6, faults: 'all,cardPayments,diskFaults' },
      { seed: 1000, tills: 9, days: 3, tillsPerStore: 3, salesPerDayMax: 6, faults: 'all,cardPayments,catalogueClash,hqReplicas,diskFaults' },
      { seed: 5, tills: 3, days: 4, tillsPerStore: 3, salesPerDayMax: 6, faults: 'all,cardPayments,catalogueClash' },
      { seed: 50, tills: 3, days: 4, tillsPerStore: 3, salesPerDayMax: 6, faults: 'all,cardPayments,catalogueClash,hqReplicas,diskFaults' }
    ]
    const r = await runSeeds(worlds, { jobs: Math.min(2, JOBS) })
    assert.deepEqual(r.failures.map(failureText), [])
  })

  it('a refund the processor made for a sale the till refused, the till burnt before it knew (seed 35120 of the soak): both lines are missing at the till, and named so', async () => {
    // S001-1 refused a sale whose card payment the processor took (the answer lost), refunded it
    // as `<id>-V`, and burnt before the refund's answer reached it: the settlement holds the
    // charge and its refund, no till either. Before 2026-12-07 P2 expected only the charge.
    const r = await runSimulation({ seed: 35120, tills: 4, days: 4, tillsPerStore: 3, salesPerDayMax: 6, faults: parseFaults('all,cardPayments,catalogueClash,diskFaults') })
    assert.deepEqual(failed(r), [], replay(r))
    const cards = r.details.cardPayments as { chargedWithoutSale: string[], refundedUnseen: string[] }
    assert.ok(cards.refundedUnseen.length > 0, 'the world still has a refund no till knows of')
    for (const id of cards.refundedUnseen) assert.ok(cards.chargedWithoutSale.includes(reversedBy(id) ?? ''), `${id} refunds a payment charged without a sale`)
  })

  it('a fork found after HQ granted its points (seed 8389 of the soak): the member repays it, by at most what HQ granted before it knew, and no one overspends', async () => {
    // S001-2 closed 2026-03-03 with 688 points for a member and signed a twin of that Close; HQ
    // folded the first side, the points vested, and it granted 112 at S002-2 the next day; then
    // the twin arrived and HQ folded neither side. Before 2026-12-07 this failed pointsNeverOverspent.
    const r = await runSimulation({ seed: 8389, tills: 6, days: 3, tillsPerStore: 3, salesPerDayMax: 6, faults: parseFaults('all,cardPayments') })
    assert.deepEqual(failed(r), [], replay(r))
    const m = r.details.members as { repayingAfterFork: Array<{ redeemed: number, earned: number, atFork: number }>, overspent: unknown[] }
    assert.equal(m.repayingAfterFork.length, 1, 'the world still has a fork found after a grant')
    const [row] = m.repayingAfterFork
    assert.ok(row !== undefined && row.redeemed > row.earned && row.redeemed - row.earned <= row.atFork, JSON.stringify(row))
  })

  it('exercises what it claims: faults happen and are caught', async () => {
    const r = await runSimulation({ seed: 5, tills: 12, days: 4, faults: parseFaults('all'), tillsPerStore: 3 })
    assert.deepEqual(failed(r), [], replay(r))
    assert.ok(r.duplicatesIgnored > 0, 'duplicates were sent and ignored')
    assert.ok(r.forgedRejected >= 6, `forgeries were rejected: ${r.forgedRejected}`)
    assert.ok(r.forksDetected >= 1, 'the equivocating till was caught')
    assert.ok(r.details.hqCrash !== undefined, 'HQ crashed')
    // HQ wrote checkpoints of its books, and a start from the newest (and the log after it) gave the same books.
    const rebuild = r.details.rebuild as { checkpointsWritten: number, fromCheckpoint: { items: number } | null }
    assert.ok(rebuild.checkpointsWritten >= 2 && (rebuild.fromCheckpoint?.items ?? 0) > 0, JSON.stringify(rebuild))
    assert.equal(r.invariants.B5_checkpointRestartIdentical, true)
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

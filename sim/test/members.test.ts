/** The simulator's members check, on hand-made truth: it catches a member who redeemed more than they earned on folded days (beyond what a fork found late explains). */
import assert from 'node:assert/strict'
import { earnedAtFork, overRefunded, overspent } from '../src/members.ts'
import type { TruthDay } from '../src/Oracle.ts'

const day = (closeCounts: boolean, sales: TruthDay['sales']): TruthDay => ({ store: 'S1', tillId: 'S1-1', businessDay: '2026-03-02', delivery: null, sales, cashCountedCents: 0, closeCounts, stockInCounts: true })
const sale = (member: string, earnedPoints: number, redeemedPoints = 0): TruthDay['sales'][number] => ({ kind: 'sale', lines: [], cardCents: 0, member, earnedPoints, ...(redeemedPoints > 0 ? { redeemedPoints } : {}) })

describe('simulator members: overspent', () => {
  it('passes a member who redeemed what they earned on folded days, and names one who redeemed more', () => {
    assert.deepEqual(overspent([day(true, [sale('m-A', 100)]), day(true, [sale('m-A', 0, 100)])]), { over: [], repaying: [] })
    assert.deepEqual(overspent([day(true, [sale('m-A', 100)]), day(true, [sale('m-A', 0, 101)])]).over, [{ member: 'm-A', redeemed: 101, earned: 100, atFork: 0 }])
  })

  it('counts no points earned on a day whose Close HQ never folds', () => {
    assert.deepEqual(overspent([day(false, [sale('m-B', 500)]), day(true, [sale('m-B', 0, 1)])]).over, [{ member: 'm-B', redeemed: 1, earned: 0, atFork: 500 }])
    assert.deepEqual(earnedAtFork([day(false, [sale('m-B', 500)]), day(true, [sale('m-B', 7)])]), new Map([['m-B', 500]]))
  })

  it('a fork found after HQ granted its points: repaying, by at most the fork\'s points and what HQ granted before it knew; beyond either, overspent', () => {
    const days = [day(true, [sale('m-C', 3)]), day(false, [sale('m-C', 688)]), day(true, [sale('m-C', 0, 112)])]
    const row = { member: 'm-C', redeemed: 112, earned: 3, atFork: 688 }
    assert.deepEqual(overspent(days, new Map([['m-C', 112]])), { over: [], repaying: [row] })
    assert.deepEqual(overspent(days, new Map([['m-C', 111]])), { over: [row], repaying: [] }, 'more than HQ granted before the fork was found, less what was earned elsewhere')
    // 500 earned elsewhere, 500 granted and redeemed before the fork was found, then 300 more: HQ granted past what was left.
    const later = [day(true, [sale('m-D', 500)]), day(false, [sale('m-D', 688)]), day(true, [sale('m-D', 0, 500)]), day(true, [sale('m-D', 0, 300)])]
    assert.deepEqual(overspent(later, new Map([['m-D', 500]])).over, [{ member: 'm-D', redeemed: 800, earned: 500, atFork: 688 }])
    assert.deepEqual(overspent(days), { over: [row], repaying: [] }, 'nothing granted before the fork was found')
    const small = [day(true, [sale('m-C', 3)]), day(false, [sale('m-C', 100)]), day(true, [sale('m-C', 0, 112)])]
    assert.deepEqual(overspent(small, new Map([['m-C', 112]])).over, [{ member: 'm-C', redeemed: 112, earned: 3, atFork: 100 }], 'more than the fork held')
  })
})

describe('simulator returns: overRefunded', () => {
  const receipt = { docNo: 'S1-1-4', tillId: 'S1-1', store: 'S1', day: '2026-03-02' as never, lines: [{ sku: 'latte', qty: 2 }], resolutions: [], totalCents: 840 }
  const refund = (qty: number, flagged: boolean): TruthDay['sales'][number] => ({ kind: 'refund', lines: [{ sku: 'latte', qty }], cardCents: 0, member: null, receipt: 'S1-1-4', flagged })
  it('passes refunds within what was sold; names a line refunded beyond it, explained only by a flagged refund', () => {
    assert.deepEqual(overRefunded([day(true, [refund(1, false), refund(1, false)])], [receipt]), { over: [], unexplained: 0 })
    assert.deepEqual(overRefunded([day(true, [refund(2, false), refund(1, false)])], [receipt]), { over: [{ receipt: 'S1-1-4', sku: 'latte', sold: 2, refunded: 3, flagged: false }], unexplained: 1 })
    assert.deepEqual(overRefunded([day(true, [refund(2, false)]), day(true, [refund(1, true)])], [receipt]).unexplained, 0)
  })
})

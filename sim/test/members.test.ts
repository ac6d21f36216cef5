/** The simulator's members check, on hand-made truth: it catches a member who redeemed more than they earned on folded days. */
import assert from 'node:assert/strict'
import { overspent } from '../src/members.ts'
import type { TruthDay } from '../src/Oracle.ts'

const day = (closeCounts: boolean, sales: TruthDay['sales']): TruthDay => ({ store: 'S1', tillId: 'S1-1', businessDay: '2026-03-02', delivery: null, sales, cashCountedCents: 0, closeCounts, stockInCounts: true })
const sale = (member: string, earnedPoints: number, redeemedPoints = 0): TruthDay['sales'][number] => ({ kind: 'sale', lines: [], cardCents: 0, member, earnedPoints, ...(redeemedPoints > 0 ? { redeemedPoints } : {}) })

describe('simulator members: overspent', () => {
  it('passes a member who redeemed what they earned on folded days, and names one who redeemed more', () => {
    assert.deepEqual(overspent([day(true, [sale('m-A', 100)]), day(true, [sale('m-A', 0, 100)])]), [])
    assert.deepEqual(overspent([day(true, [sale('m-A', 100)]), day(true, [sale('m-A', 0, 101)])]), [{ member: 'm-A', redeemed: 101, earned: 100 }])
  })

  it('counts no points earned on a day whose Close HQ never folds', () => {
    assert.deepEqual(overspent([day(false, [sale('m-B', 500)]), day(true, [sale('m-B', 0, 1)])]), [{ member: 'm-B', redeemed: 1, earned: 0 }])
  })
})

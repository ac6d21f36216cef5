/** Books on one hand-computed scenario, then each of its rules: pending, duplicates, forks, orders, limits. */
import assert from 'node:assert/strict'
import type { BusinessDay } from '@tillbooks/protocol'
import { Books, entryTransaction, HeldLimitError, IdReusedError, openingStock, replenishmentTransaction, type BooksSnapshot } from '../src/index.ts'
import { withoutDuplicates } from './helpers/auditor.ts'
import { costCents, TillWriter } from './helpers/fixtures.ts'
import { fold, OPENING, R1, scenario } from './helpers/scenario.ts'

describe('Books', () => {
  it('folds the scenario to hand-computed books', () => {
    const { entries } = scenario()
    const books = fold(entries)
    const expected: BooksSnapshot = {
      accounts: {
        'assets:card clearing': 2550,
        'assets:cash:drawer': 2010, // 1020 + 990 counted
        'assets:inventory:in transit': 0, // 1950 dispatched, 1950 cleared
        'assets:inventory:store': 1515, // 1860 received − 345 consumed
        'assets:inventory:warehouse': 613050, // 615000 opening − 1950 dispatched
        'equity:opening': -615000,
        'expenses:cash over short': -10, // 20 over, 10 short
        'expenses:cost of goods sold': 345,
        'expenses:stock shrinkage': 90,
        'liabilities:vat payable': -675,
        'revenue:sales': -3875,
        'assets:bank': 0,
        'assets:card payouts due': 0,
        'expenses:card fees': 0,
        'expenses:card losses': 0,
        'expenses:loyalty points': 50, // 45 + 5 points earned, a cent each
        'liabilities:loyalty points': -50
      },
      trialBalance: { debitsCents: 619610, creditsCents: 619610 },
      stores: {
        S1: { takingsCents: 3550, cashCents: 1000, cardCents: 2550, salesNetCents: 3041, taxCents: 509, refundsCents: 0, cogsCents: 345, grossMarginCents: 2696, cashOverShortCents: 20, shrinkageCents: 90, saleCount: 4, refundCount: 0, stockOnHand: { BEAN: 6, CUP: 53 } },
        S2: { takingsCents: 1000, cashCents: 1000, cardCents: 0, salesNetCents: 834, taxCents: 166, refundsCents: 0, cogsCents: 0, grossMarginCents: 834, cashOverShortCents: -10, shrinkageCents: 0, saleCount: 1, refundCount: 0, stockOnHand: { SUGAR: -4 } }
      },
      tills: {
        'S1-1': { lastSeq: 2, lastClosedDay: '2026-11-25' as BusinessDay, pending: 0, forked: false, lastDocN: 4 },
        'S2-1': { lastSeq: 1, lastClosedDay: '2026-11-25' as BusinessDay, pending: 0, forked: false, lastDocN: 1 }
      },
      members: { '+447700900001': 45, '+447700900002': 5 },
      forks: [],
      counts: { folded: 3, duplicates: 0, pending: 0, forks: 0, replenishments: 1, openings: 1, settlements: 0, settledLines: 0, payouts: 0 },
      subAccounts: {}
    }
    assert.deepEqual(books.snapshot(), expected)
    // Plain JSON: survives a round trip unchanged, integers only.
    const json = JSON.stringify(books.snapshot())
    assert.deepEqual(JSON.parse(json), expected)
    assert.ok(!/\d\.\d/.test(json.replace(/"[^"]*"/g, '""')), 'no fractional numbers in the snapshot')
    assert.deepEqual(books.profitAndLoss(), { revenueCents: 3875, costOfGoodsSoldCents: 345, grossProfitCents: 3530, shrinkageCents: 90, cashOverShortCents: 10, cardFeesCents: 0, cardLossesCents: 0, loyaltyPointsCents: 50, netIncomeCents: 3400 })
    const tb = books.trialBalance()
    assert.equal(tb.debitsCents, tb.creditsCents)
    assert.deepEqual(tb.rows.find(r => r.account === 'revenue:sales'), { account: 'revenue:sales', debitCents: 0, creditCents: 3875 })
  })

  it('lists transactions by date, then till and seq, HQ orders first on their day; same as the journal rules', () => {
    const { s1, s2, entries } = scenario()
    const books = fold(entries)
    const expected = [
      openingStock(OPENING, '2026-11-01', costCents),
      replenishmentTransaction(R1, costCents),
      ...s1.entries.map(e => entryTransaction(e, costCents)),
      ...s2.entries.map(e => entryTransaction(e, costCents))
    ]
    assert.deepEqual(books.transactions(), expected)
    assert.deepEqual(books.transactions().map(t => t.date), ['2026-11-01', '2026-11-24', '2026-11-25', '2026-11-25', '2026-11-25'])
  })

  it('gives byte-identical output for any order and any duplicates of the same set', () => {
    const { entries } = scenario()
    const a = fold(entries)
    const b = new Books({ costCents })
    for (const e of [...entries].reverse()) b.add(e)
    b.addReplenishment(R1)
    b.addOpeningStock(OPENING, '2026-11-01')
    assert.equal(JSON.stringify(b.snapshot()), JSON.stringify(a.snapshot()))
    assert.equal(b.toHledger(), a.toHledger())
    assert.equal(b.toCsv(), a.toCsv())
    for (const e of entries) assert.equal(b.add(e), 'duplicate')
    assert.equal(b.addReplenishment(R1), 'duplicate')
    assert.equal(b.addOpeningStock(OPENING, '2026-11-01'), 'duplicate')
    assert.equal(b.snapshot().counts.duplicates, entries.length + 2)
    assert.deepEqual(withoutDuplicates(b.snapshot()), withoutDuplicates(a.snapshot()))
  })

  it('holds an entry whose predecessor is missing, and folds it when the gap fills', () => {
    const { s1 } = scenario()
    const books = new Books({ costCents })
    assert.equal(books.add(s1.entry(2)), 'pending')
    let snap = books.snapshot()
    assert.deepEqual(snap.tills['S1-1'], { lastSeq: 0, lastClosedDay: null, pending: 1, forked: false, lastDocN: null })
    assert.deepEqual(snap.stores, {}, 'nothing folded yet, so no store totals')
    assert.equal(snap.accounts['revenue:sales'], 0)
    assert.equal(books.has(s1.entry(2).hash), true)
    assert.equal(books.add(s1.entry(1)), 'folded')
    snap = books.snapshot()
    assert.deepEqual(snap.tills['S1-1'], { lastSeq: 2, lastClosedDay: '2026-11-25', pending: 0, forked: false, lastDocN: 4 })
    assert.equal(snap.accounts['revenue:sales'], -3041)
  })

  it('a fork un-folds the till from the forked seq: the books equal those of the prefix', () => {
    const { s1, s2, entries } = scenario()
    const books = fold(entries)
    const twin = s1.forkAt(2)
    assert.equal(books.add(twin), 'fork')
    assert.equal(books.has(twin.hash), true)
    const prefixOnly = fold([s1.entry(1), ...s2.entries])
    const snap = books.snapshot()
    const prefix = prefixOnly.snapshot()
    assert.deepEqual(snap.accounts, prefix.accounts)
    assert.deepEqual(snap.stores, prefix.stores)
    assert.deepEqual(snap.members, prefix.members)
    assert.equal(books.toHledger(), prefixOnly.toHledger())
    assert.deepEqual(snap.tills['S1-1'], { lastSeq: 1, lastClosedDay: null, pending: 2, forked: true, lastDocN: null })
    assert.deepEqual(snap.forks, [{ tillId: 'S1-1', seq: 2, reason: 'fork', hashes: [s1.entry(2).hash, twin.hash].sort(), predecessorHash: null }])
    // The tills alone, one till, the forked ones: what the snapshot says, without building it.
    assert.deepEqual(books.tillSnapshots(), snap.tills)
    assert.deepEqual(Object.keys(snap.tills), ['S1-1', 'S2-1'])
    for (const id of Object.keys(snap.tills)) assert.deepEqual(books.tillSnapshotOf(id as never), snap.tills[id])
    assert.equal(books.tillSnapshotOf('S9-9' as never), undefined)
    assert.deepEqual(books.forkedTills(), ['S1-1'])
    assert.deepEqual(snap.counts, { folded: 2, duplicates: 0, pending: 2, forks: 1, replenishments: 1, openings: 1, settlements: 0, settledLines: 0, payouts: 0 })
    // And the same set in another order: the fork seen first, never folded at all.
    const other = new Books({ costCents })
    for (const e of [twin, ...[...entries].reverse()]) other.add(e)
    other.addReplenishment(R1)
    other.addOpeningStock(OPENING, '2026-11-01')
    assert.equal(JSON.stringify(other.snapshot()), JSON.stringify(snap))
  })

  it('a chain break halts the till at the entry that does not link', () => {
    const { s1 } = scenario()
    const books = new Books({ costCents })
    books.add(s1.entry(1))
    const broken = s1.relink(2, s1.forkAt(1).hashBytes)
    assert.equal(books.add(broken), 'fork')
    const snap = books.snapshot()
    assert.equal(snap.tills['S1-1']?.lastSeq, 1)
    assert.deepEqual(snap.forks, [{ tillId: 'S1-1', seq: 2, reason: 'chain', hashes: [broken.hash], predecessorHash: s1.entry(1).hash }])
  })

  it('refuses a reused replenishment or opening id with different content', () => {
    const books = new Books({ costCents })
    books.addReplenishment(R1)
    const before = JSON.stringify(books.snapshot())
    assert.throws(() => books.addReplenishment({ ...R1, lines: [{ sku: 'BEAN', qty: 11 }] }), IdReusedError)
    books.addOpeningStock(OPENING, '2026-11-01')
    assert.throws(() => books.addOpeningStock([{ sku: 'BEAN', qty: 1 }], '2026-11-01'), IdReusedError)
    assert.equal(books.addOpeningStock([{ sku: 'BEAN', qty: 1 }], '2026-11-01', 'second-batch'), 'folded')
    assert.notEqual(JSON.stringify(books.snapshot()), before)
    assert.equal(books.snapshot().counts.openings, 2)
  })

  it('checks an order or opening as add would answer, changing nothing (for callers that refuse before they write)', () => {
    const books = new Books({ costCents })
    const empty = JSON.stringify(books.snapshot())
    assert.equal(books.checkReplenishment(R1), 'new')
    assert.equal(books.checkOpeningStock(OPENING, '2026-11-01'), 'new')
    assert.equal(JSON.stringify(books.snapshot()), empty)
    books.addReplenishment(R1)
    books.addOpeningStock(OPENING, '2026-11-01')
    const folded = JSON.stringify(books.snapshot())
    assert.equal(books.checkReplenishment({ ...R1, lines: R1.lines.map(l => ({ ...l })) }), 'duplicate')
    assert.equal(books.checkOpeningStock(OPENING, '2026-11-01'), 'duplicate')
    assert.throws(() => books.checkReplenishment({ ...R1, lines: [{ sku: 'BEAN', qty: 11 }] }), IdReusedError)
    assert.throws(() => books.checkReplenishment({ ...R1, businessDay: '2026-11-02' as never }), IdReusedError)
    assert.throws(() => books.checkOpeningStock([{ sku: 'BEAN', qty: 1 }], '2026-11-01'), IdReusedError)
    assert.equal(JSON.stringify(books.snapshot()), folded, 'checks count no duplicate and fold nothing')
  })

  it('refuses, changing nothing, an entry whose SKU has no cost', () => {
    const w = new TillWriter('S1', 1)
    const books = new Books({ costCents })
    w.close({ day: '2026-11-25', tax: [], consumed: [{ sku: 'UNKNOWN', qty: 1 }] })
    const before = JSON.stringify(books.snapshot())
    assert.throws(() => books.add(w.entry(1)), /no standard cost/)
    assert.equal(JSON.stringify(books.snapshot()), before)
    assert.equal(books.has(w.entry(1).hash), false)
  })

  it('limits entries held per till (heldEntriesPerTillMax)', () => {
    const w = new TillWriter('S1', 1)
    for (let d = 1; d <= 4; d++) w.close({ day: `2026-11-0${d}`, tax: [] })
    const books = new Books({ costCents, heldEntriesPerTillMax: 2 })
    const till = 'S1-1' as never
    const never = Number.POSITIVE_INFINITY
    assert.deepEqual([books.chainAt(till, 1), books.heldCount(till)], [{ foldedSeq: 0, haltSeq: never, heldAtSeq: 0 }, 0])
    books.add(w.entry(2))
    books.add(w.entry(3))
    assert.deepEqual([books.chainAt(till, 1), books.chainAt(till, 2), books.heldCount(till)], [{ foldedSeq: 0, haltSeq: never, heldAtSeq: 0 }, { foldedSeq: 0, haltSeq: never, heldAtSeq: 1 }, 2])
    assert.throws(() => books.add(w.entry(4)), HeldLimitError)
    assert.equal(books.has(w.entry(4).hash), false)
    assert.equal(books.add(w.entry(1)), 'folded')
    assert.deepEqual([books.chainAt(till, 4), books.heldCount(till)], [{ foldedSeq: 3, haltSeq: never, heldAtSeq: 0 }, 0], 'folded to 3')
    assert.equal(books.add(w.entry(4)), 'folded')
    assert.equal(books.snapshot().tills['S1-1']?.lastSeq, 4)
  })

  it('checks its input is a consistent Entry (a bug upstream otherwise)', () => {
    const { s1 } = scenario()
    const books = new Books({ costCents })
    assert.throws(() => books.add({ ...s1.entry(1), hash: s1.entry(2).hash }), /disagree/)
    assert.throws(() => books.add({ ...s1.entry(1), tillId: 'S2-1' as never }), /does not match/)
    assert.throws(() => new Books({ costCents, currency: 'euro' }), /ISO 4217/)
  })
})

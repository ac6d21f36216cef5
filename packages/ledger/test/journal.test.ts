/** Each posting rule on hand-computed numbers (costs: BEAN 120, CUP 15, LID 3, MILK 45, SUGAR 0). */
import assert from 'node:assert/strict'
import { InvalidRecordError, type BusinessDay, type Replenishment, type StoreId } from '@tillbooks/protocol'
import {
  closeTransaction, entryTransaction, makeTransaction, openingStock, replenishmentTransaction, stockInTransaction, type Posting
} from '../src/index.ts'
import { costCents, TillWriter } from './helpers/fixtures.ts'

const rows = (postings: Posting[]): Array<[string, number]> => postings.map(p => [p.account, p.amountCents])
const sum = (postings: Posting[]): number => postings.reduce((s, p) => s + p.amountCents, 0)

describe('journal: posting rules', () => {
  it('Close: takings, VAT, over at the drawer count, stock consumed at standard cost', () => {
    const w = new TillWriter('S1', 1)
    // Net 500 at 0% + 2541 at 20% with 509 VAT = 3550 takings: 2550 by card, 1000 in cash.
    // The drawer counts 1020: 20 over. Consumed 3 BEAN (3 × 120) and 1 CUP returned (−15): 345 at cost.
    const entry = w.close({
      day: '2026-11-25',
      tax: [{ rateBp: 0, netCents: 500, taxCents: 0 }, { rateBp: 2000, netCents: 2541, taxCents: 509 }],
      cardCents: 2550,
      overCents: 20,
      consumed: [{ sku: 'BEAN', qty: 3 }, { sku: 'CUP', qty: -1 }],
      saleCount: 4
    })
    const tx = closeTransaction(entry, costCents)
    assert.equal(tx.id, entry.hash)
    assert.equal(tx.date, '2026-11-25')
    assert.equal(tx.description, 'close S1-1 #1 docs S1-1-1..S1-1-4')
    assert.deepEqual(rows(tx.postings), [
      ['assets:cash:drawer', 1000],
      ['assets:card clearing', 2550],
      ['revenue:sales', -3041],
      ['liabilities:vat payable', -509],
      ['assets:cash:drawer', 20],
      ['expenses:cash over short', -20],
      ['expenses:cost of goods sold', 345],
      ['assets:inventory:store', -345]
    ])
    assert.equal(sum(tx.postings), 0)
    // The drawer account moved by exactly what was counted.
    assert.equal(tx.postings.filter(p => p.account === 'assets:cash:drawer').reduce((s, p) => s + p.amountCents, 0), entry.record.kind === 'close' ? entry.record.cashCountedCents : NaN)
  })

  it('Close: a short drawer is a debit to cash over short; zero postings are left out', () => {
    const w = new TillWriter('S1', 1)
    // 1000 cash takings, 990 counted: 10 short. SUGAR costs 0, so no cost of goods sold.
    const tx = closeTransaction(w.close({ day: '2026-11-25', tax: [{ rateBp: 2000, netCents: 834, taxCents: 166 }], overCents: -10, consumed: [{ sku: 'SUGAR', qty: 4 }], saleCount: 1 }), costCents)
    assert.deepEqual(rows(tx.postings), [
      ['assets:cash:drawer', 1000],
      ['revenue:sales', -834],
      ['liabilities:vat payable', -166],
      ['assets:cash:drawer', -10],
      ['expenses:cash over short', 10]
    ])
  })

  it('Close: a day of card refunds reverses sales and VAT; a day with no documents posts nothing', () => {
    const w = new TillWriter('S1', 1)
    const refunds = closeTransaction(w.close({ day: '2026-11-25', tax: [{ rateBp: 2000, netCents: -1000, taxCents: -200 }], cardCents: -1200, refundCount: 1, refundsCents: 1200 }), costCents)
    assert.deepEqual(rows(refunds.postings), [['assets:card clearing', -1200], ['revenue:sales', 1000], ['liabilities:vat payable', 200]])
    const quiet = closeTransaction(w.close({ day: '2026-11-26', tax: [] }), costCents)
    assert.deepEqual(quiet.postings, [])
    assert.equal(quiet.description, 'close S1-1 #2 no docs')
  })

  it('StockIn: store inventory at received, transit cleared at shipped, the difference to shrinkage', () => {
    const w = new TillWriter('S1', 1)
    // Shipped 10 BEAN + 50 CUP = 1200 + 750 = 1950. Received 9 BEAN + 52 CUP = 1080 + 780 = 1860. Shrinkage 90.
    const tx = stockInTransaction(w.stockIn({ day: '2026-11-25', replenishmentId: 'R1', shipped: [{ sku: 'BEAN', qty: 10 }, { sku: 'CUP', qty: 50 }], received: [{ sku: 'BEAN', qty: 9 }, { sku: 'CUP', qty: 52 }] }), costCents)
    assert.equal(tx.description, 'stock in S1-1 #1 order R1')
    assert.deepEqual(rows(tx.postings), [
      ['assets:inventory:store', 1860],
      ['expenses:stock shrinkage', 90],
      ['assets:inventory:in transit', -1950]
    ])
  })

  it('StockIn: an over-delivery is negative shrinkage; an exact delivery posts none', () => {
    const w = new TillWriter('S1', 1)
    const over = entryTransaction(w.stockIn({ day: '2026-11-25', shipped: [{ sku: 'BEAN', qty: 2 }], received: [{ sku: 'BEAN', qty: 3 }] }), costCents)
    assert.deepEqual(rows(over.postings), [['assets:inventory:store', 360], ['expenses:stock shrinkage', -120], ['assets:inventory:in transit', -240]])
    const exact = entryTransaction(w.stockIn({ day: '2026-11-26', shipped: [{ sku: 'LID', qty: 7 }], received: [{ sku: 'LID', qty: 7 }] }), costCents)
    assert.deepEqual(rows(exact.postings), [['assets:inventory:store', 21], ['assets:inventory:in transit', -21]])
  })

  it('Replenishment: Dr goods in transit / Cr warehouse at cost', () => {
    const order: Replenishment = { v: 1, kind: 'replenishment', id: 'R1', store: 'S1' as StoreId, businessDay: '2026-11-24' as BusinessDay, lines: [{ sku: 'BEAN', qty: 10 }, { sku: 'LID', qty: 100 }] }
    const tx = replenishmentTransaction(order, costCents)
    assert.equal(tx.id, 'repl:R1')
    assert.equal(tx.description, 'replenishment R1 to S1')
    assert.deepEqual(rows(tx.postings), [['assets:inventory:in transit', 1500], ['assets:inventory:warehouse', -1500]])
  })

  it('Opening stock: Dr warehouse / Cr equity:opening, lines checked', () => {
    // 5000 BEAN × 120 + 1000 CUP × 15 = 600000 + 15000.
    const tx = openingStock([{ sku: 'CUP', qty: 1000 }, { sku: 'BEAN', qty: 5000 }], '2026-11-01', costCents)
    assert.equal(tx.id, 'opening:2026-11-01')
    assert.deepEqual(rows(tx.postings), [['assets:inventory:warehouse', 615000], ['equity:opening', -615000]])
    assert.throws(() => openingStock([{ sku: 'BEAN', qty: 1 }, { sku: 'BEAN', qty: 2 }], '2026-11-01', costCents), InvalidRecordError)
    assert.throws(() => openingStock([{ sku: 'BEAN', qty: 0 }], '2026-11-01', costCents), InvalidRecordError)
    assert.throws(() => openingStock([{ sku: 'BEAN', qty: 1 }], '2026-02-30', costCents), InvalidRecordError)
    assert.throws(() => openingStock([{ sku: 'BEAN', qty: 1 }], '2026-11-01', costCents, 'no spaces'), InvalidRecordError)
  })

  it('a transaction that does not balance is a bug: it throws', () => {
    const day = '2026-11-25' as BusinessDay
    assert.throws(() => makeTransaction('x', day, 'broken', [{ account: 'assets:cash:drawer', amountCents: 1 }]), /does not balance/)
    assert.throws(() => makeTransaction('x', day, 'float', [{ account: 'assets:cash:drawer', amountCents: 0.5 }, { account: 'revenue:sales', amountCents: -0.5 }]), /safe integer/)
    assert.throws(() => makeTransaction('x', day, 'a; comment', []), /export-safe/)
  })

  it('a cost function that is not whole non-negative cents is a bug: it throws', () => {
    const w = new TillWriter('S1', 1)
    const e = w.close({ day: '2026-11-25', tax: [], consumed: [{ sku: 'BEAN', qty: 1 }] })
    assert.throws(() => closeTransaction(e, () => 1.2), /non-negative integer/)
    assert.throws(() => closeTransaction(e, () => -1), /non-negative integer/)
  })
})

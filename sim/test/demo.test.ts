/**
 * The demo (`npm start`) reads as a business: its stock follows its sales. What "plausible"
 * means here, at the end of the demo's run (seed 2026, 48 tills, 4 days, every fault of `all`):
 * - no store holds less than nothing: the books' store inventory, and each store's shelves as
 *   the simulator counts them (received, less sold, plus returned, at cost), are ≥ 0;
 * - no till's shelf holds less than nothing of any stocked sku (a customer takes only what is
 *   there), and few customers find less than they wanted (a delivery every morning);
 * - the shops hold at most STORE_COGS_DAYS_MAX days of their cost of goods sold, the warehouse at
 *   most WAREHOUSE_COGS_DAYS_MAX, and neither is empty;
 * - stock shrinkage (deliveries that arrived short) is at most SHRINKAGE_SHARE_MAX of the cost of goods sold;
 * and the books are still the oracle's, to the cent.
 */
import assert from 'node:assert/strict'
import { DEMO_DAYS, DEMO_SEED, runDemo, type SimResult } from '../src/index.ts'
import { failed, replay } from './helpers/runs.ts'

/** Shops hold a few days of what they sell (a delivery every morning fills them to PAR_DAYS of expected use). */
const STORE_COGS_DAYS_MAX = 7
/** A warehouse holding more than two weeks of what the shops sell, on a four-day run, is stock bought for nothing. */
const WAREHOUSE_COGS_DAYS_MAX = 14
/** Retail shrinkage runs at a few per cent of sales at cost. */
const SHRINKAGE_SHARE_MAX = 0.05
/** A shop filled every morning to a few days of its use runs out of something now and then, not often. */
const STOCKOUT_SHARE_MAX = 0.1

describe('demo: the books read as a business', function () {
  this.timeout(300_000)
  let r: SimResult

  before(async () => { r = await runDemo(DEMO_SEED) })

  it('every invariant holds, the books are the oracle\'s', () => {
    assert.deepEqual(failed(r), [], replay(r))
  })

  it(`no store holds negative stock; shops hold at most ${STORE_COGS_DAYS_MAX} days of cost of goods sold and the warehouse at most ${WAREHOUSE_COGS_DAYS_MAX}, neither empty`, () => {
    const a = r.books.accounts
    const cogsPerDay = (a['expenses:cost of goods sold'] ?? 0) / DEMO_DAYS
    const store = a['assets:inventory:store'] ?? 0
    const warehouse = a['assets:inventory:warehouse'] ?? 0
    assert.ok(cogsPerDay > 0, 'the shops sold goods')
    assert.ok(store > 0 && store <= STORE_COGS_DAYS_MAX * cogsPerDay, `store inventory ${store} cents, ${(store / cogsPerDay).toFixed(1)} days of cost of goods sold`)
    assert.ok(warehouse > 0 && warehouse <= WAREHOUSE_COGS_DAYS_MAX * cogsPerDay, `warehouse ${warehouse} cents, ${(warehouse / cogsPerDay).toFixed(1)} days of cost of goods sold`)
    const shelves = (r.details.stock as { shelfCents: Record<string, number> }).shelfCents
    assert.equal(Object.keys(shelves).length, r.stores)
    const negative = Object.entries(shelves).filter(([, c]) => c < 0)
    assert.deepEqual(negative, [], 'stores whose shelves hold less than nothing')
    assert.ok((a['assets:inventory:in transit'] ?? 0) >= 0)
  })

  it(`no till's shelf holds less than nothing of any sku, and at most ${STOCKOUT_SHARE_MAX * 100} % of the sales found a line short`, () => {
    const stock = r.details.stock as { belowZero: number, belowZeroFirst: string[], linesShort: number, salesLost: number }
    assert.equal(stock.belowZero, 0, `below zero: ${stock.belowZeroFirst.join(', ')}`)
    assert.equal(r.invariants.shelvesNeverBelowZero, true)
    assert.ok(stock.linesShort + stock.salesLost <= STOCKOUT_SHARE_MAX * r.sales, `${stock.linesShort} lines short, ${stock.salesLost} sales lost, of ${r.sales}`)
  })

  it(`stock shrinkage is at most ${SHRINKAGE_SHARE_MAX * 100} % of the cost of goods sold`, () => {
    const a = r.books.accounts
    const shrinkage = a['expenses:stock shrinkage'] ?? 0
    assert.ok(shrinkage >= 0 && shrinkage <= SHRINKAGE_SHARE_MAX * (a['expenses:cost of goods sold'] ?? 0), `shrinkage ${shrinkage} cents`)
  })
})

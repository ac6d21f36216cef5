import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Catalogue, demoCatalogue, demoCatalogueData, InvalidQuantityError, LimitExceededError, StockTally, STOCK_QTY_MAX, UnknownSkuError, type SkuQty } from '../src/index.ts'
import { throwsNamed } from './helpers/assert.ts'
import { arbCatalogueData, explodeByHand, madeOf, stocked } from './helpers/catalogues.ts'
import { fcParams } from './helpers/fc.ts'

/** a + b, the way a Close would carry it: sorted, no zeros. */
function sum (...lists: SkuQty[][]): SkuQty[] {
  const tally = new StockTally()
  for (const l of lists) tally.add(l)
  return tally.lines()
}

describe('Catalogue.explode', () => {
  const demo = demoCatalogue()

  it('the Patio Furniture Set into four chairs, a table and a sun screen', () => {
    assert.deepEqual(demo.explode('patio-set', 1), [
      { sku: 'patio-chair', qty: 4 },
      { sku: 'patio-sunscreen', qty: 1 },
      { sku: 'patio-table', qty: 1 }
    ])
    assert.deepEqual(demo.explode('patio-set', 3), [
      { sku: 'patio-chair', qty: 12 },
      { sku: 'patio-sunscreen', qty: 3 },
      { sku: 'patio-table', qty: 3 }
    ])
  })

  it('a stocked product into itself', () => {
    assert.deepEqual(demo.explode('patio-chair', 2), [{ sku: 'patio-chair', qty: 2 }])
    assert.deepEqual(demo.explode('beans-g', 250), [{ sku: 'beans-g', qty: 250 }])
  })

  it('café drinks into grams of beans, centilitres of milk, cups and lids', () => {
    assert.deepEqual(demo.explode('espresso', 2), [{ sku: 'beans-g', qty: 36 }])
    assert.deepEqual(demo.explode('cappuccino', 3), [
      { sku: 'beans-g', qty: 54 },
      { sku: 'cup-8oz', qty: 3 },
      { sku: 'cup-lid', qty: 3 },
      { sku: 'milk-cl', qty: 45 }
    ])
  })

  it('through a nested sub-recipe: the sandwich and its house dressing', () => {
    assert.deepEqual(demo.explode('ham-cheddar-sandwich', 2), [
      { sku: 'bread-slice', qty: 4 },
      { sku: 'cheddar-g', qty: 60 },
      { sku: 'ham-g', qty: 120 },
      { sku: 'mustard-g', qty: 8 },
      { sku: 'olive-oil-ml', qty: 24 },
      { sku: 'sandwich-box', qty: 2 }
    ])
  })

  it('through a recipe of recipes: the breakfast deal', () => {
    assert.deepEqual(demo.explode('breakfast-deal', 5), [
      { sku: 'beans-g', qty: 90 },
      { sku: 'croissant-dough', qty: 5 },
      { sku: 'cup-8oz', qty: 5 },
      { sku: 'cup-lid', qty: 5 },
      { sku: 'milk-cl', qty: 75 },
      { sku: 'paper-bag', qty: 5 }
    ])
  })

  it('sums a component reached along several paths', () => {
    const c = new Catalogue({
      products: [
        stocked('sugar-g', { costCents: 1 }),
        madeOf('syrup', [{ sku: 'sugar-g', qty: 50 }], { costCents: 50 }),
        madeOf('cake', [{ sku: 'sugar-g', qty: 200 }, { sku: 'syrup', qty: 2 }], { costCents: 300 })
      ]
    })
    assert.deepEqual(c.explode('cake', 3), [{ sku: 'sugar-g', qty: 900 }])
  })

  it('a refund (negative qty) puts back exactly what the sale took', () => {
    assert.deepEqual(demo.explode('patio-set', -1), [
      { sku: 'patio-chair', qty: -4 },
      { sku: 'patio-sunscreen', qty: -1 },
      { sku: 'patio-table', qty: -1 }
    ])
    for (const { sku } of demo.products()) assert.deepEqual(sum(demo.explode(sku, 7), demo.explode(sku, -7)), [])
  })

  it('qty 0 consumes nothing', () => {
    assert.deepEqual(demo.explode('patio-set', 0), [])
  })

  it('refuses an unknown sku or a qty that is not an integer in range', () => {
    throwsNamed(() => demo.explode('ghost', 1), UnknownSkuError, /explode: unknown sku "ghost"/)
    for (const qty of [1.5, Number.NaN, Number.POSITIVE_INFINITY, STOCK_QTY_MAX + 1, -STOCK_QTY_MAX - 1, '1']) {
      throwsNamed(() => demo.explode('latte', qty as number), InvalidQuantityError, /explode qty must be/)
    }
    // 25 cl of milk per latte: 40 million lattes is a billion centilitres, one more is beyond what a Close carries.
    assert.deepEqual(demo.explode('latte', 40_000_000).find(l => l.sku === 'milk-cl'), { sku: 'milk-cl', qty: 1e9 })
    throwsNamed(() => demo.explode('latte', 40_000_001), LimitExceededError, /40000001 × 25 of milk-cl is beyond 1000000000 units/)
  })

  it('returns fresh arrays: a caller changing one cannot corrupt the table', () => {
    const first = demo.explode('patio-set', 1)
    first.pop()
    assert.equal(demo.explode('patio-set', 1).length, 3)
  })

  it('explodes a busy day of café sales quickly, to the gram', () => {
    const beansGPerUnit = { 'espresso': 18, 'cappuccino': 18, 'latte': 18, 'croissant': 0, 'ham-cheddar-sandwich': 0, 'breakfast-deal': 18 }
    const skus = Object.keys(beansGPerUnit) as Array<keyof typeof beansGPerUnit>
    const day = new StockTally()
    let beansG = 0
    const started = performance.now()
    for (let i = 0; i < 100_000; i++) {
      const sku = skus[i % skus.length] as keyof typeof beansGPerUnit
      const qty = 1 + (i % 4)
      day.add(demo.explode(sku, qty))
      beansG += beansGPerUnit[sku] * qty
    }
    const elapsedMs = performance.now() - started
    // Generous for a slow CI machine: a lookup and a multiply per leaf takes a few hundred nanoseconds.
    assert.ok(elapsedMs < 2_000, `100,000 explosions took ${elapsedMs.toFixed(0)} ms`)
    assert.equal(day.lines().find(l => l.sku === 'beans-g')?.qty, beansG)
  })

  describe('properties (random acyclic catalogues)', () => {
    it('agrees with an explosion worked out by hand, level by level', () => {
      fc.assert(fc.property(arbCatalogueData, fc.integer({ min: -50, max: 50 }), (data, qty) => {
        const c = new Catalogue(data)
        for (const { sku } of data.products) assert.deepEqual(c.explode(sku, qty), explodeByHand(data, sku, qty))
      }), fcParams())
    })

    it('is linear: explode(a + b) = explode(a) + explode(b), refunds included', () => {
      fc.assert(fc.property(arbCatalogueData, fc.nat(), fc.integer({ min: -100, max: 100 }), fc.integer({ min: -100, max: 100 }), (data, pick, a, b) => {
        const c = new Catalogue(data)
        const sku = (data.products[pick % data.products.length] as { sku: string }).sku
        assert.deepEqual(c.explode(sku, a + b), sum(c.explode(sku, a), c.explode(sku, b)))
      }), fcParams())
    })

    it('values a unit at the standard cost of what it consumes', () => {
      fc.assert(fc.property(arbCatalogueData, data => {
        const c = new Catalogue(data)
        for (const { sku } of data.products) {
          assert.equal(c.costCents(sku), c.explode(sku, 1).reduce((cents, l) => cents + l.qty * c.costCents(l.sku), 0))
        }
      }), fcParams())
    })

    it('does not depend on the order products are listed in', () => {
      fc.assert(fc.property(arbCatalogueData.chain(data => fc.tuple(fc.constant(data), fc.shuffledSubarray([...data.products], { minLength: data.products.length }))), ([data, shuffled]) => {
        const a = new Catalogue(data)
        const b = new Catalogue({ products: shuffled })
        assert.deepEqual(b.toData(), a.toData())
        for (const { sku } of data.products) assert.deepEqual(b.explode(sku, 3), a.explode(sku, 3))
      }), fcParams())
    })
  })

  it('the demo catalogue agrees with the explosion by hand too', () => {
    const data = demoCatalogueData()
    for (const { sku } of data.products) assert.deepEqual(demo.explode(sku, -2), explodeByHand(data, sku, -2))
  })
})

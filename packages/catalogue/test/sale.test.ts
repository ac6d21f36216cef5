import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  Catalogue, demoCatalogue, InvalidQuantityError, InvalidSaleError, InvalidSkuError, LimitExceededError, NotSellableError,
  priceSale, SALE_LINES_MAX, StockTally, taxOfInclusiveCents, UnknownSkuError, type CatalogueData, type SaleLine
} from '../src/index.ts'
import { throwsNamed } from './helpers/assert.ts'
import { arbCatalogueData, explodeByHand, stocked } from './helpers/catalogues.ts'
import { fcParams } from './helpers/fc.ts'

describe('priceSale', () => {
  const demo = demoCatalogue()

  it('prices a sale across two tax rates, with the stock it uses', () => {
    const sale = priceSale(demo, [{ sku: 'patio-set', qty: 1 }, { sku: 'latte', qty: 2 }])
    assert.equal(sale.totalCents, 50840)
    assert.deepEqual(sale.perRate, [
      { rateBp: 1000, grossCents: 840, netCents: 764, taxCents: 76 }, // 76.36
      { rateBp: 2000, grossCents: 50000, netCents: 41667, taxCents: 8333 } // 8333.33
    ])
    assert.deepEqual(sale.consumed, [
      { sku: 'beans-g', qty: 36 },
      { sku: 'cup-12oz', qty: 2 },
      { sku: 'cup-lid', qty: 2 },
      { sku: 'milk-cl', qty: 50 },
      { sku: 'patio-chair', qty: 4 },
      { sku: 'patio-sunscreen', qty: 1 },
      { sku: 'patio-table', qty: 1 }
    ])
    assert.deepEqual(sale.lines, [
      { sku: 'patio-set', name: 'Patio Furniture Set', qty: 1, unitPriceCents: 50000, grossCents: 50000, taxRateBp: 2000 },
      { sku: 'latte', name: 'Caffè Latte', qty: 2, unitPriceCents: 420, grossCents: 840, taxRateBp: 1000 }
    ])
  })

  it('rounds tax once per rate per receipt, not once per line', () => {
    // Each espresso alone carries 22.73 → 23 cents; three on one receipt carry 68.18 → 68, not 69.
    assert.equal(priceSale(demo, [{ sku: 'espresso', qty: 1 }]).perRate[0]?.taxCents, 23)
    const three = priceSale(demo, [{ sku: 'espresso', qty: 1 }, { sku: 'espresso', qty: 1 }, { sku: 'espresso', qty: 1 }])
    assert.deepEqual(three.perRate, [{ rateBp: 1000, grossCents: 750, netCents: 682, taxCents: 68 }])
    assert.deepEqual(three.consumed, [{ sku: 'beans-g', qty: 54 }])
  })

  it('prices a refund as the exact negative of its sale', () => {
    const refund = priceSale(demo, [{ sku: 'patio-set', qty: -1 }])
    assert.equal(refund.totalCents, -50000)
    assert.deepEqual(refund.perRate, [{ rateBp: 2000, grossCents: -50000, netCents: -41667, taxCents: -8333 }])
    assert.deepEqual(refund.consumed, [{ sku: 'patio-chair', qty: -4 }, { sku: 'patio-sunscreen', qty: -1 }, { sku: 'patio-table', qty: -1 }])
  })

  it('prices an exchange: one thing back, another out', () => {
    const exchange = priceSale(demo, [{ sku: 'patio-chair', qty: -1 }, { sku: 'patio-table', qty: 1 }])
    assert.equal(exchange.totalCents, 7000)
    assert.deepEqual(exchange.perRate, [{ rateBp: 2000, grossCents: 7000, netCents: 5833, taxCents: 1167 }])
    assert.deepEqual(exchange.consumed, [{ sku: 'patio-chair', qty: -1 }, { sku: 'patio-table', qty: 1 }])
  })

  it('keeps a rate whose lines cancel out, and drops stock that comes back to zero', () => {
    const sale = priceSale(demo, [{ sku: 'latte', qty: 1 }, { sku: 'latte', qty: -1 }, { sku: 'beans-250g', qty: 1 }])
    assert.equal(sale.totalCents, 1290)
    assert.deepEqual(sale.perRate, [
      { rateBp: 550, grossCents: 1290, netCents: 1223, taxCents: 67 },
      { rateBp: 1000, grossCents: 0, netCents: 0, taxCents: 0 }
    ])
    assert.deepEqual(sale.consumed, [{ sku: 'beans-250g', qty: 1 }])
  })

  it('never writes -0, even for a free item refunded', () => {
    const c = new Catalogue({ products: [stocked('water-jug', { priceCents: 0 })] })
    const sale = priceSale(c, [{ sku: 'water-jug', qty: -2 }])
    assert.ok(Object.is(sale.totalCents, 0))
    assert.ok(Object.is(sale.lines[0]?.grossCents, 0))
    assert.ok(Object.is(sale.perRate[0]?.grossCents, 0) && Object.is(sale.perRate[0]?.taxCents, 0))
  })

  it('refuses a sale that is not a non-empty list of lines', () => {
    throwsNamed(() => priceSale(demo, []), InvalidSaleError, /a sale needs at least one line/)
    throwsNamed(() => priceSale(demo, {} as SaleLine[]), InvalidSaleError, /lines must be a list/)
    throwsNamed(() => priceSale(demo, [null] as unknown as SaleLine[]), InvalidSaleError, /lines\[0\] must be an object/)
    const many = Array.from({ length: SALE_LINES_MAX + 1 }, () => ({ sku: 'espresso', qty: 1 }))
    throwsNamed(() => priceSale(demo, many), LimitExceededError, /lines has 1001 items, at most 1000/)
  })

  it('refuses an unknown sku, an ingredient, or a sku that is not a string, naming the line', () => {
    throwsNamed(() => priceSale(demo, [{ sku: 'latte', qty: 1 }, { sku: 'flat-white', qty: 1 }]), UnknownSkuError, /lines\[1\]: unknown sku "flat-white"/)
    throwsNamed(() => priceSale(demo, [{ sku: 'milk-cl', qty: 25 }]), NotSellableError, /lines\[0\]: "milk-cl" is not sold on its own/)
    throwsNamed(() => priceSale(demo, [{ sku: 7, qty: 1 }] as unknown as SaleLine[]), InvalidSkuError, /lines\[0\]\.sku must be a string/)
  })

  it('refuses a qty that is not a non-zero integer within ±SALE_LINE_QTY_MAX', () => {
    for (const qty of [1.5, Number.NaN, '1', null, 100_001, -100_001]) {
      throwsNamed(() => priceSale(demo, [{ sku: 'latte', qty: qty as number }]), InvalidQuantityError, /lines\[0\]\.qty must be/)
    }
    throwsNamed(() => priceSale(demo, [{ sku: 'latte', qty: 0 }]), InvalidQuantityError, /lines\[0\]\.qty must not be 0/)
  })

  it('refuses a sale beyond SALE_CENTS_MAX, per rate or in total', () => {
    const c = new Catalogue({ products: [stocked('yacht', { priceCents: 1e9, taxRateBp: 2000 }), stocked('jet', { priceCents: 1e9, taxRateBp: 1000 })] })
    assert.equal(priceSale(c, [{ sku: 'yacht', qty: 10_000 }]).totalCents, 1e13)
    throwsNamed(() => priceSale(c, [{ sku: 'yacht', qty: 10_001 }]), LimitExceededError, /sale gross at 2000 bp of 10001000000000 cents is beyond ±10000000000000/)
    throwsNamed(() => priceSale(c, [{ sku: 'yacht', qty: -10_000 }, { sku: 'jet', qty: -1 }]), LimitExceededError, /sale total of -10001000000000 cents/)
  })

  describe('properties (random acyclic catalogues, random sales and refunds)', () => {
    const arbSale = arbCatalogueData.chain(data => fc.tuple(
      fc.constant(data),
      fc.array(fc.record({ sku: fc.constantFrom(...data.products.map(p => p.sku)), qty: fc.integer({ min: -10, max: 10 }).filter(q => q !== 0) }), { minLength: 1, maxLength: 5 })
    ))

    it('totals equal the sum of the line prices, split per rate with net + tax = gross', () => {
      fc.assert(fc.property(arbSale, ([data, lines]) => {
        const c = new Catalogue(data)
        const sale = priceSale(c, lines)
        const byHand = lines.reduce((cents, l) => cents + c.get(l.sku).priceCents * l.qty, 0)
        assert.equal(sale.totalCents, byHand)
        assert.equal(sale.lines.reduce((cents, l) => cents + l.grossCents, 0), byHand)
        assert.equal(sale.perRate.reduce((cents, r) => cents + r.grossCents, 0), byHand)
        assert.deepEqual(sale.perRate.map(r => r.rateBp), [...new Set(lines.map(l => c.get(l.sku).taxRateBp))].sort((a, b) => a - b))
        for (const r of sale.perRate) {
          const rateGross = lines.filter(l => c.get(l.sku).taxRateBp === r.rateBp).reduce((cents, l) => cents + c.get(l.sku).priceCents * l.qty, 0)
          assert.equal(r.grossCents, rateGross)
          assert.equal(r.netCents + r.taxCents, r.grossCents)
          assert.equal(r.taxCents, taxOfInclusiveCents(r.grossCents, r.rateBp))
        }
      }), fcParams())
    })

    it('consumes the sum of the lines exploded by hand', () => {
      fc.assert(fc.property(arbSale, ([data, lines]) => {
        const byHand = new StockTally()
        for (const l of lines) byHand.add(explodeByHand(data, l.sku, l.qty))
        assert.deepEqual(priceSale(new Catalogue(data), lines).consumed, byHand.lines())
      }), fcParams())
    })

    it('does not depend on the order of the lines', () => {
      fc.assert(fc.property(arbSale.chain(([data, lines]) => fc.tuple(fc.constant(data), fc.constant(lines), fc.shuffledSubarray(lines, { minLength: lines.length }))), ([data, lines, shuffled]) => {
        const c = new Catalogue(data)
        const a = priceSale(c, lines)
        const b = priceSale(c, shuffled)
        assert.deepEqual([b.totalCents, b.perRate, b.consumed], [a.totalCents, a.perRate, a.consumed])
      }), fcParams())
    })

    it('a full refund of a sale is its exact negative: nothing is left over', () => {
      fc.assert(fc.property(arbSale, ([data, lines]) => {
        const c = new Catalogue(data)
        const sale = priceSale(c, lines)
        const refund = priceSale(c, lines.map(l => ({ sku: l.sku, qty: -l.qty })))
        assert.equal(refund.totalCents, -sale.totalCents || 0)
        assert.deepEqual(refund.perRate, sale.perRate.map(r => ({ rateBp: r.rateBp, grossCents: -r.grossCents || 0, netCents: -r.netCents || 0, taxCents: -r.taxCents || 0 })))
        const day = new StockTally()
        day.add(sale.consumed)
        day.add(refund.consumed)
        assert.deepEqual(day.lines(), [])
      }), fcParams())
    })
  })

  it('accepts data typed as CatalogueData straight from JSON', () => {
    const json = JSON.parse(JSON.stringify(demo.toData())) as CatalogueData
    assert.equal(priceSale(new Catalogue(json), [{ sku: 'patio-set', qty: 1 }]).totalCents, 50000)
  })
})

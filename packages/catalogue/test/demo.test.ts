import assert from 'node:assert/strict'
import { SKU_RE as PROTOCOL_SKU_RE, sortedUnique, TAX_RATES_MAX as PROTOCOL_TAX_RATES_MAX } from '@tillbooks/protocol'
import { demoCatalogue, demoCatalogueData, priceSale, SKU_RE, splitInclusiveCents, TAX_RATES_MAX } from '../src/index.ts'

describe('demo catalogue', () => {
  const demo = demoCatalogue()

  it("has GardenWorld's Patio Furniture Set at 500.00: four chairs, a table, a sun screen", () => {
    const set = demo.get('patio-set')
    assert.equal(set.name, 'Patio Furniture Set')
    assert.equal(set.priceCents, 50000)
    assert.equal(set.taxRateBp, 2000)
    assert.deepEqual(set.recipe, [{ sku: 'patio-chair', qty: 4 }, { sku: 'patio-table', qty: 1 }, { sku: 'patio-sunscreen', qty: 1 }])
    assert.equal(set.costCents, 4 * 4200 + 7800 + 2400)
  })

  it('sells each patio component on its own, for more in all than the set', () => {
    const parts = (demo.get('patio-set').recipe ?? []).map(l => ({ ...l, product: demo.get(l.sku) }))
    assert.deepEqual(parts.map(p => p.product.name), ['Patio Chair', 'Patio Table', 'Patio Sun Screen'])
    for (const { product } of parts) assert.ok(product.sellable && product.stocked && product.priceCents > 0)
    assert.equal(parts.reduce((cents, p) => cents + p.qty * p.product.priceCents, 0), 52400)
  })

  it('has a café range made to order, one recipe nested inside another', () => {
    for (const sku of ['espresso', 'cappuccino', 'latte', 'croissant', 'ham-cheddar-sandwich', 'breakfast-deal']) {
      const p = demo.get(sku)
      assert.ok(p.sellable && !p.stocked && p.taxRateBp === 1000, sku)
    }
    assert.ok(demo.get('ham-cheddar-sandwich').recipe?.some(l => l.sku === 'house-dressing'))
    assert.ok(demo.get('house-dressing').recipe !== undefined && !demo.get('house-dressing').sellable)
  })

  it('has 15 to 25 products, three tax rates, and a standard cost on every stocked one', () => {
    assert.ok(demo.size >= 15 && demo.size <= 25, `${demo.size} products`)
    assert.deepEqual([...new Set(demo.products().map(p => p.taxRateBp))].sort((a, b) => a - b), [550, 1000, 2000])
    for (const sku of demo.stockedSkus()) assert.ok(demo.costCents(sku) > 0, sku)
  })

  it('sells everything above its standard cost, net of tax', () => {
    for (const p of demo.products().filter(x => x.sellable)) {
      assert.ok(splitInclusiveCents(p.priceCents, p.taxRateBp).netCents > p.costCents, p.sku)
    }
  })

  it('gives a fresh copy of its data on every call', () => {
    const data = demoCatalogueData()
    ;(data.products as unknown[]).length = 0
    assert.equal(demoCatalogueData().products.length, demo.size)
  })

  describe('fits the protocol a Close is written in', () => {
    it('uses the same sku rule and at most as many tax rates', () => {
      assert.equal(SKU_RE.source, PROTOCOL_SKU_RE.source)
      assert.equal(SKU_RE.flags, PROTOCOL_SKU_RE.flags)
      assert.equal(TAX_RATES_MAX, PROTOCOL_TAX_RATES_MAX)
    })

    it("gives `consumed` in the protocol's order", () => {
      const lines = demo.products().filter(p => p.sellable).map((p, i) => ({ sku: p.sku, qty: i % 3 === 0 ? -1 : 2 }))
      const { consumed } = priceSale(demo, lines)
      assert.ok(consumed.length > 10)
      sortedUnique(consumed, l => l.sku, 'consumed')
      for (const l of consumed) assert.ok(PROTOCOL_SKU_RE.test(l.sku) && Number.isSafeInteger(l.qty) && l.qty !== 0)
    })
  })
})

import assert from 'node:assert/strict'
import { InvalidQuantityError, LimitExceededError, STOCK_QTY_MAX, StockTally } from '../src/index.ts'
import { throwsNamed } from './helpers/assert.ts'

describe('StockTally', () => {
  it('sums quantities per sku, sorted by sku, without the ones back at zero', () => {
    const day = new StockTally()
    day.add([{ sku: 'milk-cl', qty: 15 }, { sku: 'beans-g', qty: 18 }])
    day.add([{ sku: 'beans-g', qty: 18 }, { sku: 'cup-lid', qty: 1 }, { sku: 'beans-g', qty: 1 }])
    day.add([{ sku: 'cup-lid', qty: -1 }])
    assert.deepEqual(day.lines(), [{ sku: 'beans-g', qty: 37 }, { sku: 'milk-cl', qty: 15 }])
  })

  it('sorts by code unit, as the protocol compares skus (upper case before lower)', () => {
    const t = new StockTally()
    t.add([{ sku: 'b', qty: 1 }, { sku: 'B', qty: 1 }, { sku: 'a', qty: 1 }, { sku: '9', qty: 1 }])
    assert.deepEqual(t.lines().map(l => l.sku), ['9', 'B', 'a', 'b'])
  })

  it('refuses a running total beyond STOCK_QTY_MAX, and then holds what it held before', () => {
    const t = new StockTally()
    t.add([{ sku: 'a', qty: STOCK_QTY_MAX }])
    throwsNamed(() => t.add([{ sku: 'b', qty: 5 }, { sku: 'a', qty: 1 }]), LimitExceededError, /a: running total 1000000001/)
    assert.deepEqual(t.lines(), [{ sku: 'a', qty: STOCK_QTY_MAX }])
    t.add([{ sku: 'a', qty: -STOCK_QTY_MAX }, { sku: 'a', qty: -STOCK_QTY_MAX }])
    assert.deepEqual(t.lines(), [{ sku: 'a', qty: -STOCK_QTY_MAX }])
  })

  it('refuses quantities that are not integers', () => {
    const t = new StockTally()
    for (const qty of [1.5, Number.NaN, Number.POSITIVE_INFINITY, STOCK_QTY_MAX + 1]) throwsNamed(() => t.add([{ sku: 'a', qty }]), InvalidQuantityError, /a: qty must be an integer/)
    assert.deepEqual(t.lines(), [])
  })

  it('holds at most skusMax skus', () => {
    const t = new StockTally({ skusMax: 2 })
    t.add([{ sku: 'a', qty: 1 }, { sku: 'b', qty: 1 }])
    t.add([{ sku: 'a', qty: 1 }])
    throwsNamed(() => t.add([{ sku: 'c', qty: 1 }]), LimitExceededError, /3 skus, at most 2/)
    assert.deepEqual(t.lines(), [{ sku: 'a', qty: 2 }, { sku: 'b', qty: 1 }])
  })
})

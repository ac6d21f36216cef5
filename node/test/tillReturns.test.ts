/**
 * Returns by receipt at the till (TillNode): the sale's lines refunded at most once, counted
 * from the till's own journal — so a restart (the count read again) changes nothing.
 */
import assert from 'node:assert/strict'
import { SaleRejectedError } from '../src/index.ts'
import { DAY1, DAY2, startTill } from './helpers/fleet.ts'

describe('till: returns by receipt', () => {
  it('refunds each sold line at most once, across a restart', async () => {
    const { till, kv, signer } = await startTill(null)
    await till.openDay(DAY1)
    const sale = await till.sell({ lines: [{ sku: 'latte', qty: 3 }] })
    await till.closeDay()
    await till.openDay(DAY2)
    const first = await till.refund({ lines: [{ sku: 'latte', qty: 2 }], receiptOf: sale.docNo })
    assert.equal(first.totalCents, -(sale.totalCents / 3) * 2, 'two thirds of what was paid')
    await till.stop()
    // The same till started again: what was refunded is read back from its journal.
    const { till: again } = await startTill(null, { kv, signer })
    await assert.rejects(again.refund({ lines: [{ sku: 'latte', qty: 2 }], receiptOf: sale.docNo }), (e: Error) => e instanceof SaleRejectedError && /1 left to refund \(sold 3, refunded 2\)/.test(e.message))
    assert.equal((await again.refund({ lines: [{ sku: 'latte', qty: 1 }], receiptOf: sale.docNo })).totalCents, -(sale.totalCents / 3))
    await assert.rejects(again.refund({ lines: [{ sku: 'latte', qty: 1 }], receiptOf: sale.docNo }), /0 left to refund/)
    await assert.rejects(again.refund({ lines: [{ sku: 'latte', qty: 1 }], receiptOf: 'S001-1-999' }), /not one of this till's/)
    await assert.rejects(again.refund({ lines: [{ sku: 'latte', qty: 1 }], receiptOf: first.docNo }), /not a sale/)
    await again.stop()
  })
})

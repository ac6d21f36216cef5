/**
 * Returns by receipt at the till (TillNode): the sale's lines refunded at most once, counted
 * from the till's own journal — so a restart (the count read again) changes nothing.
 */
import assert from 'node:assert/strict'
import type { BusinessDay, Close } from '@tillbooks/protocol'
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

describe('till: returns of its receipts made at other tills', () => {
  const member = 'm-DDDDDDDDDDDDDDDDDDDDDD'
  const closeOn = async (till: Awaited<ReturnType<typeof startTill>>['till'], day: string): Promise<Close> => {
    await till.openDay(day as BusinessDay)
    return (await till.closeDay()).record as Close
  }

  it('consents within what is left; the same return again changes nothing; the same refund number for another return is refused', async () => {
    const { till } = await startTill(null)
    await till.openDay(DAY1)
    const sale = await till.sell({ lines: [{ sku: 'latte', qty: 3 }] })
    await till.approveReturn({ refund: 'S002-1-7', docNo: sale.docNo, lines: [{ sku: 'latte', qty: 1 }], made: false })
    await till.approveReturn({ refund: 'S002-1-7', docNo: sale.docNo, lines: [{ sku: 'latte', qty: 1 }], made: false })
    await assert.rejects(till.approveReturn({ refund: 'S002-1-7', docNo: sale.docNo, lines: [{ sku: 'latte', qty: 2 }], made: false }), /recorded here for another return/)
    await assert.rejects(till.refund({ lines: [{ sku: 'latte', qty: 3 }], receiptOf: sale.docNo }), /2 left to refund \(sold 3, refunded 1\)/)
    await till.stop()
  })

  it('cancels the sale\'s pending points only if the Close that reports it is within the return window (HQ vests them after it)', async () => {
    for (const [lastClosed, cancels] of [['2026-03-30', true], ['2026-03-31', false]] as const) {
      const { till } = await startTill(null)
      await till.openDay(DAY1)
      const sale = await till.sell({ lines: [{ sku: 'latte', qty: 30 }], member })
      assert.ok(sale.points > 0)
      await till.closeDay()
      await closeOn(till, lastClosed)
      // Closed: the return is told (or consented) between days; its cancellation goes in the next Close.
      await till.approveReturn({ refund: 'S002-1-9', docNo: sale.docNo, lines: [{ sku: 'latte', qty: 30 }], made: true })
      const next = await closeOn(till, lastClosed === '2026-03-30' ? '2026-03-31' : '2026-04-01')
      assert.deepEqual(next.pointsCancelled, cancels ? [{ member, saleDay: DAY1, points: sale.points }] : undefined, `last closed ${lastClosed}`)
      await till.stop()
    }
  })
})

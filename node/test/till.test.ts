import assert from 'node:assert/strict'
import { parseDocNo, type Close, type StockIn } from '@tillbooks/protocol'
import { MemoryStore, SaleRejectedError, TillStateError } from '../src/index.ts'
import { DAY1, DAY2, startHq, startTill } from './helpers/fleet.ts'

describe('TillNode', () => {
  it('numbers its own documents contiguously, from 1, with no central counter', async () => {
    const { till } = await startTill(null)
    await till.openDay(DAY1)
    const a = await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
    const b = await till.sell({ lines: [{ sku: 'espresso', qty: 2 }] })
    assert.equal(a.docNo, 'S001-1-1')
    assert.equal(b.docNo, 'S001-1-2')
    assert.equal(parseDocNo(b.docNo).n, 2)
  })

  it('takes concurrent requests one at a time: no number reused, every sale in the close', async () => {
    // A store with a slow disk (every write waits) and a front end that does not wait for answers.
    const { till } = await startTill(null, { kv: new MemoryStore({ syncDelay: async () => { await new Promise(resolve => setTimeout(resolve, 2)) } }) })
    await till.openDay(DAY1)
    const answers = await Promise.all(Array.from({ length: 12 }, async (_, i) => await till.sell({ lines: [{ sku: i % 2 === 0 ? 'latte' : 'espresso', qty: 1 }] })))
    assert.deepEqual(answers.map(a => parseDocNo(a.docNo).n).sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 1))
    const [close] = await Promise.all([till.closeDay(), till.sell({ lines: [{ sku: 'latte', qty: 1 }] }).catch((err: Error) => err)])
    const c = close.record as Close
    assert.equal(c.saleCount, 12)
    assert.equal(c.takingsCents.cash, answers.reduce((sum, a) => sum + a.totalCents, 0))
  })

  it('refuses to sell while the day is closed, and to open a day twice', async () => {
    const { till } = await startTill(null)
    await assert.rejects(till.sell({ lines: [{ sku: 'latte', qty: 1 }] }), TillStateError)
    await till.openDay(DAY1)
    await assert.rejects(till.openDay(DAY1), TillStateError)
    await till.closeDay()
    await assert.rejects(till.openDay(DAY1), TillStateError)
  })

  it('rejects bad sales with a reason and loses nothing', async () => {
    const { till } = await startTill(null)
    await till.openDay(DAY1)
    await assert.rejects(till.sell({ lines: [{ sku: 'no-such', qty: 1 }] }), SaleRejectedError)
    await assert.rejects(till.sell({ lines: [{ sku: 'latte', qty: 0 }] }), SaleRejectedError)
    await assert.rejects(till.sell({ lines: [{ sku: 'latte', qty: 1.5 }] }), SaleRejectedError)
    await assert.rejects(till.sell({ lines: [] }), SaleRejectedError)
    await assert.rejects(till.sell({ lines: [{ sku: 'latte', qty: 1 }], tenders: [{ type: 'card', amountCents: 1 }] }), /do not cover/)
    await assert.rejects(till.sell({ lines: [{ sku: 'latte', qty: 1 }], tenders: [{ type: 'card', amountCents: 1000 }] }), /exceeds/)
    const ok = await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
    assert.equal(ok.docNo, 'S001-1-1', 'rejected sales consume no number')
  })

  it('closes the day from its own journal: takings per tender, tax per rate, stock through recipes', async () => {
    const { till } = await startTill(null)
    await till.openDay(DAY1)
    // Patio set 500.00 at 20 % on card; two lattes 4.20 at 10 % in cash, 10.00 tendered.
    await till.sell({ lines: [{ sku: 'patio-set', qty: 1 }], tenders: [{ type: 'card', amountCents: 50_000 }] })
    const change = await till.sell({ lines: [{ sku: 'latte', qty: 2 }], tenders: [{ type: 'cash', amountCents: 1_000 }], member: '+447700900123' })
    assert.equal(change.changeCents, 160)
    await till.refund({ lines: [{ sku: 'latte', qty: 1 }], tender: 'cash' })
    const entry = await till.closeDay({ cashCountedCents: 420 })
    const close = entry.record as Close
    assert.equal(close.kind, 'close')
    assert.deepEqual(close.takingsCents, { cash: 840 - 420, card: 50_000 })
    // 50000 gross at 2000 bp: tax = round(50000·2000/12000) = 8333; 840 at 1000 bp: 76, refund −420: −38.
    assert.deepEqual(close.tax, [{ rateBp: 1000, netCents: 764 - 382, taxCents: 76 - 38 }, { rateBp: 2000, netCents: 41_667, taxCents: 8_333 }])
    assert.equal(close.saleCount, 2)
    assert.equal(close.refundCount, 1)
    assert.equal(close.docFirst, 1)
    assert.equal(close.docLast, 3)
    assert.equal(close.refundsCents, 420)
    assert.equal(close.cashCountedCents, 420)
    const consumed = Object.fromEntries(close.consumed.map(c => [c.sku, c.qty]))
    assert.equal(consumed['patio-chair'], 4)
    assert.equal(consumed['patio-table'], 1)
    assert.equal(consumed['patio-sunscreen'], 1)
    assert.equal(consumed['beans-g'], 18, 'two lattes sold, one refunded: 18 g of beans')
    assert.deepEqual(close.points, [{ member: '+447700900123', points: 8 }])
  })

  it('opens with a signed delivery: StockIn records shipped and received', async () => {
    const hq = await startHq()
    const { till } = await startTill(hq)
    const order = await hq.dispatchReplenishment({ id: 'R-1', store: till.store, businessDay: DAY1, lines: [{ sku: 'patio-chair', qty: 8 }, { sku: 'patio-table', qty: 2 }] })
    const entry = await till.openDay(DAY1, { order, received: [{ sku: 'patio-chair', qty: 7 }, { sku: 'patio-table', qty: 2 }] })
    const r = entry?.record as StockIn
    assert.equal(r.kind, 'stockIn')
    assert.equal(r.seq, 1)
    assert.deepEqual(r.shipped, [{ sku: 'patio-chair', qty: 8 }, { sku: 'patio-table', qty: 2 }])
    assert.deepEqual(r.received, [{ sku: 'patio-chair', qty: 7 }, { sku: 'patio-table', qty: 2 }])
  })

  it('refuses a delivery note not signed by HQ', async () => {
    const hq = await startHq()
    const other = await startHq(new MemoryStore())
    void other
    const { till } = await startTill(hq)
    const order = await hq.dispatchReplenishment({ id: 'R-1', store: till.store, businessDay: DAY1, lines: [{ sku: 'patio-chair', qty: 8 }] })
    const tampered = new Uint8Array(order)
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1
    await assert.rejects(till.openDay(DAY1, { order: tampered }))
    assert.equal(till.state, 'closed')
  })

  it('survives a crash: documents and log come back, numbering continues with no reuse', async () => {
    const kv = new MemoryStore()
    const { till, signer } = await startTill(null, { kv })
    await till.openDay(DAY1)
    await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
    await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
    kv.crash()
    const { till: again } = await startTill(null, { kv, signer })
    assert.equal(again.state, 'open')
    const next = await again.sell({ lines: [{ sku: 'espresso', qty: 1 }] })
    assert.equal(next.docNo, 'S001-1-3')
    const close = (await again.closeDay()).record as Close
    assert.equal(close.docFirst, 1)
    assert.equal(close.docLast, 3)
  })

  it('keeps the outbox until HQ acknowledges, and resends after a restart', async () => {
    const kv = new MemoryStore()
    const { till, signer } = await startTill(null, { kv })
    await till.openDay(DAY1)
    await till.closeDay()
    await till.openDay(DAY2)
    await till.closeDay()
    assert.equal(till.outbox().length, 2)
    await till.acknowledge([{ seq: 2, status: 'accepted' }])
    assert.equal(till.outbox().length, 1, 'seq 1 still unacknowledged')
    await till.acknowledge([{ seq: 1, status: 'duplicate' }])
    assert.equal(till.outbox().length, 0)
    const { till: again } = await startTill(null, { kv, signer })
    assert.ok(again.outbox().length <= 2)
    assert.equal(again.log.length, 2)
  })
})

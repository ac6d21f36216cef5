/**
 * HQ's books cost each record with the cost in force on its own business day, and a record
 * naming a sku HQ's catalogue does not define yet (a store's new product whose statement is
 * still on its way) is logged and waits, out of the books, until the catalogue defines it:
 * then it folds, the same books whatever the order, across a rebuild too.
 */
import assert from 'node:assert/strict'
import { Catalogue, demoCatalogueData } from '@tillbooks/catalogue'
import { keyPairFromSeed, Signer, type BusinessDay } from '@tillbooks/protocol'
import { MemoryStore, silentLogger, TillNode } from '../src/index.ts'
import { CatalogueBusyError, HqBusyError } from '../src/hq/HqNode.ts'
import { FaultyKvStore } from '../src/storage/FaultyKvStore.ts'
import { catalogue, DAY1, DAY2, ManualClock, root, seedBytes, startHq } from './helpers/fleet.ts'

const GNOME = 'S001.1.1'

/** A till that sells the demo catalogue and a product made up at its store. */
async function tillWithGnome (hq: Awaited<ReturnType<typeof startHq>>): Promise<TillNode> {
  const data = { products: [...demoCatalogueData().products, { sku: GNOME, name: 'Garden Gnome', priceCents: 1299, taxRateBp: 2000, costCents: 500, stocked: true }] }
  const signer = new Signer(keyPairFromSeed(seedBytes('till-S001-1')))
  await hq.enrol({ store: 'S001' as never, till: 1, tillKey: signer.publicKey, fromSeq: 1 })
  const till = new TillNode({ store: new MemoryStore(), clock: new ManualClock(), logger: silentLogger }, { store: 'S001' as never, till: 1, signer, catalogue: new Catalogue(data), hqRootKey: root.publicKey })
  await till.start()
  return till
}

async function sellDay (till: TillNode, day: BusinessDay, lines: Array<{ sku: string, qty: number }>): Promise<void> {
  await till.openDay(day)
  await till.sell({ lines })
  await till.closeDay()
}

describe('HQ books: costs by business day, and records that wait for the catalogue', () => {
  it('costs each close with the cost in force on its own day', async () => {
    // The chair costs 4200 until DAY2, 4500 from it.
    const costCents = (sku: string, day: BusinessDay): number => sku === 'patio-chair' && day >= DAY2 ? 4500 : catalogue.costCents(sku)
    const hq = await startHq(new MemoryStore(), undefined, { costCents })
    const till = await tillWithGnome(hq)
    await sellDay(till, DAY1, [{ sku: 'patio-chair', qty: 1 }])
    await sellDay(till, DAY2, [{ sku: 'patio-chair', qty: 1 }])
    // Sent in reverse order: the same books (each costed by its own day, not by arrival).
    const out = till.outbox()
    await hq.submit([out[1] as Uint8Array])
    await hq.submit([out[0] as Uint8Array])
    assert.equal(hq.books.snapshot().stores.S001?.cogsCents, 4200 + 4500)
    assert.equal(hq.latestBookedDay, DAY2)
  })

  it('a close naming a sku not yet defined waits, logged; it folds when the catalogue defines it, and again after a rebuild', async () => {
    let known = false
    const costCents = (sku: string): number | undefined => sku === GNOME ? (known ? 500 : undefined) : catalogue.costCents(sku)
    const kv = new MemoryStore()
    const hq = await startHq(kv, undefined, { costCents })
    const till = await tillWithGnome(hq)
    await sellDay(till, DAY1, [{ sku: GNOME, qty: 2 }])
    await sellDay(till, DAY2, [{ sku: 'latte', qty: 1 }])
    const answers = await hq.submit(till.outbox())
    // Both taken (durable at HQ: the till stops resending), neither in the books yet.
    assert.deepEqual(answers.map(a => [a.status, a.folded]), [['accepted', false], ['accepted', false]])
    assert.equal(hq.awaitingCatalogue, 1)
    assert.equal(hq.books.snapshot().counts.folded, 0)
    // A resend is a duplicate, not logged twice.
    assert.deepEqual((await hq.submit(till.outbox())).map(a => a.status), ['duplicate', 'duplicate'])
    assert.equal(hq.catalogueChanged(), 0, 'nothing new in the catalogue: still waiting')
    known = true
    assert.equal(hq.catalogueChanged(), 1)
    assert.equal(hq.awaitingCatalogue, 0)
    const books = hq.books.snapshot()
    assert.equal(books.counts.folded, 2, 'the close after it folds with it')
    const latteCogs = catalogue.explode('latte', 1).reduce((n, l) => n + l.qty * catalogue.costCents(l.sku), 0)
    assert.equal(books.stores.S001?.cogsCents, 2 * 500 + latteCogs)
    // Rebuilt from the log with the catalogue not knowing it yet: waits again; then the same books.
    await hq.stop()
    known = false
    const again = await startHq(kv, undefined, { costCents })
    assert.equal(again.awaitingCatalogue, 1)
    known = true
    again.catalogueChanged()
    assert.deepEqual(again.books.snapshot(), books)
  })

  it('past its bound on waiting entries HQ refuses the batch for now (the till keeps it and resends), never as rejected', async () => {
    let known = false
    const costCents = (sku: string): number | undefined => sku === GNOME ? (known ? 500 : undefined) : catalogue.costCents(sku)
    const hq = await startHq(new MemoryStore(), undefined, { costCents, awaitingCatalogueMax: 1 })
    const till = await tillWithGnome(hq)
    await sellDay(till, DAY1, [{ sku: GNOME, qty: 1 }])
    await sellDay(till, DAY2, [{ sku: GNOME, qty: 1 }])
    const [first, second] = till.outbox()
    assert.deepEqual((await hq.submit([first as Uint8Array])).map(a => [a.status, a.folded]), [['accepted', false]])
    await assert.rejects(hq.submit([second as Uint8Array]), /1 entries already wait for the catalogue .* names S001\.1\.1/)
    assert.equal(hq.counters.rejected, 0)
    known = true
    hq.catalogueChanged()
    assert.deepEqual((await hq.submit([second as Uint8Array])).map(a => [a.status, a.folded]), [['accepted', true]])
  })

  it('its bound on waiting entries holds with batches in flight at once, and a batch whose waits do not fit is refused whole', async () => {
    const days = ['2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06'] as BusinessDay[]
    let known = false
    const costCents = (sku: string): number | undefined => sku === GNOME ? (known ? 500 : undefined) : catalogue.costCents(sku)
    const hq = await startHq(new MemoryStore(), undefined, { costCents, awaitingCatalogueMax: 3 })
    const till = await tillWithGnome(hq)
    for (const day of days) await sellDay(till, day, [{ sku: GNOME, qty: 1 }])
    const closes = till.outbox() as Uint8Array[]
    assert.equal(closes.length, 5)
    // Five batches at once, one waiting close each: three fit, two are refused for now, none rejected.
    const answers = await Promise.allSettled(closes.map(async c => await hq.submit([c])))
    const accepted = answers.filter(a => a.status === 'fulfilled' && a.value[0]?.status === 'accepted').length
    const busy = answers.filter(a => a.status === 'rejected' && a.reason instanceof CatalogueBusyError).length
    assert.deepEqual([accepted, busy], [3, 2], JSON.stringify(answers.map(a => a.status === 'fulfilled' ? a.value : String(a.reason))))
    assert.equal(hq.awaitingCatalogue, 3)
    assert.equal(hq.counters.rejected, 0)
    // The two left, in one batch: at the bound, refused whole, the reason naming both.
    const left = closes.filter((_, k) => answers[k]?.status === 'rejected')
    await assert.rejects(hq.submit(left), (err: Error) => err instanceof CatalogueBusyError && /3 entries already wait for the catalogue to define what they name, at most 3 .* and 1 more of the batch/.test(err.message))
    assert.equal(hq.awaitingCatalogue, 3)
    // The catalogue defines it: the three fold, and the two go in.
    known = true
    hq.catalogueChanged()
    assert.equal(hq.awaitingCatalogue, 0)
    assert.deepEqual((await hq.submit(left)).map(a => [a.status, a.folded]), [['accepted', true], ['accepted', true]])
    assert.equal(hq.books.snapshot().tills['S001-1']?.lastSeq, 5)
  })

  it('a batch with more waiting entries than its bound leaves room for is refused whole, even below it', async () => {
    const costCents = (sku: string): number | undefined => sku === GNOME ? undefined : catalogue.costCents(sku)
    const hq = await startHq(new MemoryStore(), undefined, { costCents, awaitingCatalogueMax: 1 })
    const till = await tillWithGnome(hq)
    await sellDay(till, DAY1, [{ sku: GNOME, qty: 1 }])
    await sellDay(till, DAY2, [{ sku: GNOME, qty: 1 }])
    await assert.rejects(hq.submit(till.outbox() as Uint8Array[]), CatalogueBusyError)
    assert.equal(hq.awaitingCatalogue, 0)
    // One at a time, the first fits.
    assert.deepEqual((await hq.submit([till.outbox()[0] as Uint8Array])).map(a => [a.status, a.folded]), [['accepted', false]])
    assert.equal(hq.awaitingCatalogue, 1)
  })

  it('what a batch counted as may wait is given back when nothing of it goes in, and when its commit fails', async () => {
    const costCents = (sku: string): number | undefined => sku === GNOME ? undefined : catalogue.costCents(sku)
    const disk = new FaultyKvStore(new MemoryStore())
    const hq = await startHq(disk, undefined, { costCents, awaitingCatalogueMax: 1 })
    const till = await tillWithGnome(hq)
    await sellDay(till, DAY1, [{ sku: 'patio-chair', qty: 1 }])
    await sellDay(till, DAY2, [{ sku: GNOME, qty: 1 }])
    const [costed, waiting] = till.outbox() as [Uint8Array, Uint8Array]
    // Nothing of it goes in (not an entry at all): rejected, and nothing stays counted.
    assert.deepEqual((await hq.submit([new Uint8Array([1, 2, 3])])).map(a => a.status), ['rejected'])
    // Its commit fails: answered busy, and nothing stays counted either.
    disk.failNext(1)
    await assert.rejects(hq.submit([costed]), (err: Error) => err instanceof HqBusyError && !(err instanceof CatalogueBusyError))
    // Room for the one waiting close (the costed one written again with it, and folded).
    assert.deepEqual((await hq.submit([waiting])).map(a => [a.status, a.folded]), [['accepted', false]])
    assert.equal(hq.awaitingCatalogue, 1)
    assert.equal(hq.books.snapshot().tills['S001-1']?.lastSeq, 1)
  })

  it('the latest booked day counts orders and opening stock, and is never past HQ\'s tomorrow', async () => {
    const hq = await startHq()
    assert.equal(hq.latestBookedDay, null)
    await hq.dispatchReplenishment({ id: 'R1', store: 'S001' as never, businessDay: DAY2, lines: [{ sku: 'patio-chair', qty: 2 }] })
    assert.equal(hq.latestBookedDay, DAY2)
    await hq.openingStock([{ sku: 'patio-chair', qty: 1 }], '2099-01-01' as BusinessDay)
    // The clock says 2026-03-02: a record dated 2099 holds imports back no further than 2026-03-03.
    assert.equal(hq.latestBookedDay, '2026-03-03')
  })
})

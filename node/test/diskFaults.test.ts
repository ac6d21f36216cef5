/**
 * A failing disk under HQ and under a till (FaultyKvStore). HQ answers busy for what it could
 * not make durable, folds none of it, serves reads, and takes it once the disk works; a till
 * refuses a sale it could not write and is as before. A seeded property run (DISK_RUNS, and
 * DISK_SEED to replay one) mixes random faults, crashes and resends: no acknowledged entry is
 * ever lost, and the books end equal, to the cent, to an HQ that was given every entry once
 * (with checkpoints written, or not, along the way: restarts fold the newest and the log after it).
 */
import assert from 'node:assert/strict'
import type { Entry, EntryHash, Signer } from '@tillbooks/protocol'
import { DiskFaultError, FaultyKvStore, HqNode, MemoryStore, TillDiskError, type SubmitOutcome } from '../src/index.ts'
import { HqBusyError, type RebuildSummary } from '../src/hq/HqNode.ts'
import { DAY1, DAY2, ManualClock, catalogue, root, startTill } from './helpers/fleet.ts'
import { PROFILES, type AuthoriseRequest, type ProcessorAdapter, type ProcessorAnswer, type RefundRequest } from '@tillbooks/payments'
import { keyPairFromSeed, Signer as TillSigner, asStoreId, openCertificate, toHex, type TillId } from '@tillbooks/protocol'
import { certKey } from '../src/hq/keys.ts'
import { silentLogger, TillNode } from '../src/index.ts'
import { TillPayments } from '../src/till/TillPayments.ts'

/** A till that sold and closed DAY1 and DAY2: four entries (two StockIn-less closes and their days). */
async function fleetEntries (tills: number): Promise<{ entries: Entry[], signers: Array<{ store: string, till: number, signer: Signer }> }> {
  const entries: Entry[] = []
  const signers: Array<{ store: string, till: number, signer: Signer }> = []
  for (let i = 1; i <= tills; i++) {
    const { till, signer } = await startTill(null, { store: 'S001', till: i })
    for (const [d, day] of [DAY1, DAY2].entries()) {
      await till.openDay(day)
      await till.sell({ lines: [{ sku: 'cappuccino', qty: 1 + ((i + d) % 3) }] })
      if ((i + d) % 2 === 0) await till.sell({ lines: [{ sku: 'patio-set', qty: 1 }], tenders: [{ type: 'card', amountCents: 50_000 }] })
      await till.closeDay()
    }
    entries.push(...till.log)
    signers.push({ store: 'S001', till: i, signer })
    await till.stop()
  }
  return { entries, signers }
}

/** How the last HQ started by hqOver rebuilt: from a checkpoint, or the whole log. */
let lastRebuild: RebuildSummary['from'] | null = null

async function hqOver (store: FaultyKvStore | MemoryStore, signers: Array<{ store: string, till: number, signer: Signer }>, enrol: boolean): Promise<HqNode> {
  const hq = new HqNode({ store, clock: new ManualClock(), logger: silentLogger }, { root, costCents: sku => catalogue.costCents(sku) })
  lastRebuild = (await hq.start()).from
  if (enrol) await hq.enrolMany(signers.map(s => ({ store: s.store as never, till: s.till, tillKey: s.signer.publicKey })))
  return hq
}

const booksOf = (hq: HqNode): string => JSON.stringify({ accounts: hq.books.snapshot().accounts, stores: hq.books.snapshot().stores })

describe('HQ on a failing disk', () => {
  let fleet: Awaited<ReturnType<typeof fleetEntries>>
  before(async () => { fleet = await fleetEntries(3) })

  it('answers busy for a batch it could not make durable, folds none of it, keeps serving reads, and takes it once the disk works', async () => {
    const disk = new FaultyKvStore(new MemoryStore())
    const hq = await hqOver(disk, fleet.signers, true)
    const [a, b, c] = fleet.entries.map(e => e.bytes)
    assert.deepEqual((await hq.submit([a as Uint8Array])).map(x => x.status), ['accepted'])
    const before = booksOf(hq)
    disk.failUntilHealed({ code: 'ENOSPC' })
    // Two submits in one group commit, and a copy of one of them in flight: every one is busy.
    const results = await Promise.allSettled([hq.submit([b as Uint8Array]), hq.submit([c as Uint8Array, a as Uint8Array]), hq.submit([b as Uint8Array])])
    for (const r of results) {
      assert.equal(r.status, 'rejected')
      assert.ok(r.reason instanceof HqBusyError, String(r.reason))
      assert.match((r.reason as Error).message, /ENOSPC/)
    }
    assert.equal(booksOf(hq), before, 'nothing of a failed commit is folded')
    assert.ok(hq.counters.diskErrors >= 1)
    assert.equal(hq.lastDiskError?.code, 'ENOSPC')
    // Reads go on: the books, the fleet, the log.
    assert.equal((await hq.tillLog(fleet.entries[0]?.tillId as never)).length, 1)
    assert.ok(hq.fleet()['S001-1'] !== undefined)
    disk.heal()
    const again = await hq.submit([b as Uint8Array, c as Uint8Array, a as Uint8Array])
    assert.deepEqual(again.map(x => x.status), ['accepted', 'accepted', 'duplicate'], 'the resend is taken, once')
    const twice = await hq.submit([b as Uint8Array, c as Uint8Array])
    assert.deepEqual(twice.map(x => x.status), ['duplicate', 'duplicate'])
    const oracle = await hqOver(new MemoryStore(), fleet.signers, true)
    await oracle.submit([a, b, c] as Uint8Array[])
    assert.equal(booksOf(hq), booksOf(oracle))
  })

  it('HQ\'s own writes (an enrolment, an order, opening stock, a checkpoint) on a failing disk are refused with the disk\'s reason and change nothing; done again once it works, each counts once, after a restart too', async () => {
    const disk = new FaultyKvStore(new MemoryStore())
    const hq = await hqOver(disk, fleet.signers, true)
    await hq.submit(fleet.entries.map(e => e.bytes))
    const newTill = new TillSigner(keyPairFromSeed(new Uint8Array(32).fill(61)))
    const order = { id: 'R-disk', store: asStoreId('S001'), businessDay: DAY2, lines: [{ sku: 'patio-chair', qty: 4 }] }
    const opening = [{ sku: 'patio-chair', qty: 40 }]
    const before = booksOf(hq)
    const orders = (await hq.ordersFor(asStoreId('S001'))).length
    for (const code of ['ENOSPC', 'EIO'] as const) {
      disk.failUntilHealed({ code })
      const refused = await Promise.allSettled([
        hq.enrol({ store: asStoreId('S009'), till: 1, tillKey: newTill.publicKey }),
        hq.dispatchReplenishment(order),
        hq.openingStock(opening, DAY1),
        hq.checkpoint()
      ])
      for (const r of refused) {
        assert.equal(r.status, 'rejected')
        assert.ok(r.reason instanceof DiskFaultError, String(r.reason))
        assert.match((r.reason as Error).message, new RegExp(code))
      }
      assert.equal(hq.enrolment.has('S009-1' as TillId), false, 'no till enrolled by a certificate not written')
      assert.equal(booksOf(hq), before, 'no order nor opening booked')
      assert.equal((await hq.ordersFor(asStoreId('S001'))).length, orders, 'no order served to the store')
      // Reads go on.
      assert.ok(hq.fleet()['S001-1'] !== undefined)
      disk.heal()
    }
    await hq.enrol({ store: asStoreId('S009'), till: 1, tillKey: newTill.publicKey })
    await hq.dispatchReplenishment(order)
    await hq.dispatchReplenishment(order)
    await hq.openingStock(opening, DAY1)
    await hq.openingStock(opening, DAY1)
    assert.ok(await hq.checkpoint() !== null)
    assert.equal(hq.enrolment.has('S009-1' as TillId), true)
    assert.equal((await hq.ordersFor(asStoreId('S001'))).length, orders + 1)
    const oracle = await hqOver(new MemoryStore(), fleet.signers, true)
    await oracle.submit(fleet.entries.map(e => e.bytes))
    await oracle.dispatchReplenishment(order)
    await oracle.openingStock(opening, DAY1)
    assert.equal(booksOf(hq), booksOf(oracle), 'each once')
    await hq.stop()
    const again = await hqOver(disk, fleet.signers, false)
    assert.ok(lastRebuild !== null && 'checkpoint' in lastRebuild, 'from the checkpoint written once the disk worked')
    assert.equal(booksOf(again), booksOf(oracle), 'after a restart too')
    assert.equal(again.enrolment.has('S009-1' as TillId), true)
  })

  it('an order answered busy that the store replays is never held by a checkpoint that claims its arrival: the next order write deletes it, and a start from the checkpoint gives the books of the whole log', async () => {
    for (const kept of [0, 1]) {
      for (const reopens of [false, true]) {
        const disk = new FaultyKvStore(new MemoryStore(), { inDoubtKeptChance: kept, reopensAfterFailure: reopens })
        const hq = await hqOver(disk, fleet.signers, true)
        await hq.submit(fleet.entries.map(e => e.bytes))
        const failed = { id: 'R-doubt', store: asStoreId('S001'), businessDay: DAY2, lines: [{ sku: 'patio-chair', qty: 2 }] }
        disk.failNext(1, { code: 'EIO' })
        await assert.rejects(hq.dispatchReplenishment(failed), DiskFaultError)
        await hq.dispatchReplenishment({ id: 'R-after', store: asStoreId('S001'), businessDay: DAY2, lines: [{ sku: 'patio-chair', qty: 3 }] })
        assert.ok(await hq.checkpoint() !== null)
        const expected = booksOf(hq)
        await hq.stop()
        const fromCheckpoint = await hqOver(disk, fleet.signers, false)
        assert.ok(lastRebuild !== null && 'checkpoint' in lastRebuild)
        assert.equal(booksOf(fromCheckpoint), expected, `from the checkpoint (in doubt ${kept === 1 ? 'kept' : 'lost'}, reopening ${reopens})`)
        await fromCheckpoint.stop()
        const whole = new HqNode({ store: disk, clock: new ManualClock(), logger: silentLogger }, { root, costCents: sku => catalogue.costCents(sku), rebuild: 'full' })
        await whole.start()
        assert.equal(booksOf(whole), expected, 'from the whole log: the same')
        await whole.stop()
      }
    }
  })

  it('an order answered busy, then a write of certificates alone (which deletes the order\'s keys): the order arrival numbers left unused do not make later checkpoints unusable', async () => {
    const disk = new FaultyKvStore(new MemoryStore(), { inDoubtKeptChance: 1 })
    let hq = await hqOver(disk, fleet.signers, true)
    const last = fleet.entries.at(-1) as Entry
    await hq.submit(fleet.entries.slice(0, -1).map(e => e.bytes))
    disk.failNext(1, { code: 'EIO' })
    await assert.rejects(hq.dispatchReplenishment({ id: 'R-lost', store: asStoreId('S001'), businessDay: DAY2, lines: [{ sku: 'patio-chair', qty: 2 }] }), DiskFaultError)
    // A certificate from another replica (the same root), adopted alone: its batch deletes what the failed one may have left.
    const other = await hqOver(new MemoryStore(), [], false)
    const cert = await other.enrol({ store: asStoreId('S777'), till: 1, tillKey: new TillSigner(keyPairFromSeed(new Uint8Array(32).fill(77))).publicKey })
    const sc = openCertificate(cert, root.publicKey)
    assert.deepEqual(await hq.adoptRecords([{ key: certKey(sc.tillId, sc.cert.fromSeq, toHex(sc.cert.tillKey)), value: cert }]), ['adopted'])
    await hq.stop()
    // The failed batch comes back at the reopen but for the keys written over since: its next-number key.
    hq = await hqOver(disk, fleet.signers, false)
    assert.ok(!hq.books.snapshot().counts.replenishments, 'the failed order is not in the books')
    await hq.submit([last.bytes])
    assert.ok(await hq.checkpoint() !== null)
    const expected = booksOf(hq)
    await hq.stop()
    const again = await hqOver(disk, fleet.signers, false)
    assert.ok(lastRebuild !== null && 'checkpoint' in lastRebuild && lastRebuild.skipped.length === 0, `from the newest checkpoint, none passed over: ${JSON.stringify(lastRebuild)}`)
    assert.equal(booksOf(again), expected)
    await again.stop()
  })

  it('an entry answered busy that the log replays after a crash is folded once at the rebuild; its resend is a duplicate', async () => {
    for (const kept of [0, 1]) {
      const disk = new FaultyKvStore(new MemoryStore(), { inDoubtKeptChance: kept })
      let hq = await hqOver(disk, fleet.signers, true)
      const e = fleet.entries[0] as Entry
      disk.failNext(1, { code: 'EIO' })
      await assert.rejects(hq.submit([e.bytes]), HqBusyError)
      disk.crash()
      hq = await hqOver(disk, fleet.signers, false)
      assert.equal(hq.books.has(e.hash), kept === 1, `in doubt, ${kept === 1 ? 'kept' : 'lost'}`)
      const resend = await hq.submit([e.bytes])
      assert.deepEqual(resend.map(x => x.status), [kept === 1 ? 'duplicate' : 'accepted'])
      const oracle = await hqOver(new MemoryStore(), fleet.signers, true)
      await oracle.submit([e.bytes])
      assert.equal(booksOf(hq), booksOf(oracle), 'folded once')
    }
  })

  it('HQ writes the entries of a failed commit again with its next one (the store may replay the failed write on reopening): folded then, once; their resend is a duplicate', async () => {
    for (const kept of [0, 1]) {
      const disk = new FaultyKvStore(new MemoryStore(), { inDoubtKeptChance: kept, reopensAfterFailure: true })
      const hq = await hqOver(disk, fleet.signers, true)
      const [a, b] = fleet.entries as [Entry, Entry]
      disk.failNext(1, { code: 'EIO' })
      await assert.rejects(hq.submit([a.bytes]), HqBusyError)
      assert.equal(hq.books.has(a.hash), false, 'nothing of a failed commit is folded')
      // The next good commit (the store reopens first: `a` comes back, or not) writes `a` again and folds it.
      assert.deepEqual((await hq.submit([b.bytes])).map(x => x.status), ['accepted'])
      assert.equal(hq.books.has(a.hash), true, `kept ${kept}`)
      assert.equal(hq.counters.inDoubtFolded, 1)
      const rebuilt = await hqOver(disk, fleet.signers, false)
      assert.equal(booksOf(rebuilt), booksOf(hq), 'the live books are what a rebuild from the log gives')
      assert.deepEqual((await hq.submit([a.bytes])).map(x => x.status), ['duplicate'])
      const oracle = await hqOver(new MemoryStore(), fleet.signers, true)
      await oracle.submit([a.bytes, b.bytes])
      assert.equal(booksOf(hq), booksOf(oracle), 'folded once')
    }
  })

  it('random fault schedules never lose an acknowledged entry nor fold one twice (seeded)', async function () {
    this.timeout(120_000)
    const runs = Number(process.env.DISK_RUNS ?? 25)
    const only = process.env.DISK_SEED
    const seeds = only !== undefined ? [Number(only)] : Array.from({ length: runs }, (_, i) => 7000 + i)
    const oracle = await hqOver(new MemoryStore(), fleet.signers, true)
    await oracle.submit(fleet.entries.map(e => e.bytes))
    let checkpoints = 0
    let fromCheckpoint = 0
    for (const seed of seeds) {
      try {
        const r = await faultRun(seed, fleet, booksOf(oracle))
        checkpoints += r.checkpoints
        fromCheckpoint += r.fromCheckpoint
      } catch (err) {
        console.error(`HQ disk-fault property failed: replay with DISK_SEED=${seed}`)
        throw err
      }
    }
    // It exercised what it claims (over the default seeds): checkpoints written, restarts from them.
    if (only === undefined) assert.ok(checkpoints > 0 && fromCheckpoint > 0, JSON.stringify({ checkpoints, fromCheckpoint }))
  })
})

/** One seeded schedule: batches sent concurrently, faults switched, crashes; then heal and resend all. */
async function faultRun (seed: number, fleet: Awaited<ReturnType<typeof fleetEntries>>, oracleBooks: string): Promise<{ checkpoints: number, fromCheckpoint: number }> {
  let checkpoints = 0
  let fromCheckpoint = 0
  let s = seed >>> 0
  const rnd = (): number => { s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0; return ((s ^ (s >>> 13)) >>> 0) / 4294967296 }
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const disk = new FaultyKvStore(new MemoryStore(), { seed, syncOnly: rnd() < 0.5, reopensAfterFailure: rnd() < 0.5 })
  let hq = await hqOver(disk, fleet.signers, true)
  disk.setFailRate(rnd() * 0.3)
  const acked = new Set<EntryHash>()
  const note = (answers: SubmitOutcome[]): void => {
    for (const a of answers) {
      assert.notEqual(a.status, 'rejected', `seed ${seed}: ${a.code ?? ''} ${a.reason ?? ''}`)
      if (a.hash !== undefined) acked.add(a.hash as EntryHash)
    }
  }
  const send = async (batch: Uint8Array[]): Promise<void> => {
    try {
      note(await hq.submit(batch))
    } catch (err) {
      assert.ok(err instanceof HqBusyError, `seed ${seed}: ${String(err)}`)
    }
  }
  for (let step = 0; step < 30; step++) {
    const r = rnd()
    if (r < 0.1) {
      disk.crash()
      hq = await hqOver(disk, fleet.signers, false)
      if (lastRebuild !== null && 'checkpoint' in lastRebuild) fromCheckpoint++
      for (const h of acked) assert.ok(hq.books.has(h), `seed ${seed} step ${step}: an acknowledged entry was lost in a crash`)
    } else if (r < 0.2) {
      disk.failUntilHealed({ code: rnd() < 0.5 ? 'EIO' : 'ENOSPC', syncOnly: rnd() < 0.5 })
    } else if (r < 0.3) {
      disk.heal()
    } else if (r < 0.35) {
      disk.failNext(1 + Math.floor(rnd() * 3))
    } else if (r < 0.45) {
      // A checkpoint of the books (a restart then folds it and the log after its watermark); on a
      // failing disk it is not written, nor while entries of a failed commit are in doubt (busy).
      if (await hq.checkpoint().catch((err: unknown) => { assert.ok(err instanceof DiskFaultError || err instanceof HqBusyError, `seed ${seed}: ${String(err)}`); return null }) !== null) checkpoints++
    } else {
      // A few batches at once (they share group commits), each a random handful of entries.
      const batches = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => pick(fleet.entries).bytes))
      await Promise.all(batches.map(send))
    }
  }
  const held = hq.books.entryHashes()
  for (const h of acked) assert.ok(held.has(h), `seed ${seed}: an acknowledged entry is not in the books`)
  // The disk works again: every till resends everything, until all is acknowledged.
  disk.heal()
  disk.setFailRate(0)
  disk.crash()
  hq = await hqOver(disk, fleet.signers, false)
  for (const h of acked) assert.ok(hq.books.has(h), `seed ${seed}: an acknowledged entry was lost`)
  note(await hq.submit(fleet.entries.map(e => e.bytes)))
  assert.equal(acked.size, fleet.entries.length)
  assert.equal(booksOf(hq), oracleBooks, `seed ${seed}: the books differ from the oracle's (an entry folded twice, or lost)`)
  return { checkpoints, fromCheckpoint }
}

describe('a till on a failing disk', () => {
  it('refuses a sale it could not write: no receipt, numbering, drawer and journal as before; the next sale takes the same number', async () => {
    const disk = new FaultyKvStore(new MemoryStore())
    const { till } = await startTill(null, { kv: disk })
    await till.openDay(DAY1)
    const first = await till.sell({ lines: [{ sku: 'cappuccino', qty: 1 }] })
    assert.equal(first.docNo, 'S001-1-1')
    const before = { next: till.nextDocN, status: till.status(), journal: await till.journal(1, 10), log: till.log.length }
    disk.failUntilHealed({ code: 'EIO' })
    await assert.rejects(till.sell({ lines: [{ sku: 'patio-set', qty: 1 }] }), (err: unknown) => {
      assert.ok(err instanceof TillDiskError)
      assert.equal(err.code, 'EIO')
      assert.match(err.message, /not made, no receipt/)
      return true
    })
    assert.deepEqual({ next: till.nextDocN, status: till.status(), journal: await till.journal(1, 10), log: till.log.length }, before)
    // The close cannot be written either: the day stays open, the log as it was.
    await assert.rejects(till.closeDay(), { code: 'EIO' })
    assert.equal(till.state, 'open')
    assert.equal(till.log.length, before.log)
    disk.heal()
    const second = await till.sell({ lines: [{ sku: 'latte', qty: 2 }] })
    assert.equal(second.docNo, 'S001-1-2', 'the refused sale took no number')
    const close = (await till.closeDay()).record
    assert.equal(close.kind, 'close')
    if (close.kind !== 'close') return
    assert.deepEqual([close.docFirst, close.docLast, close.saleCount], [1, 2, 2])
    assert.equal(close.takingsCents.cash + close.takingsCents.card, first.totalCents + second.totalCents, 'the refused sale is in no takings')
  })

  it('a refused sale the disk replays after a crash is replaced by the sale that took its number', async () => {
    const disk = new FaultyKvStore(new MemoryStore(), { inDoubtKeptChance: 1 })
    let { till, signer } = await startTill(null, { kv: disk })
    await till.openDay(DAY1)
    disk.failNext(1)
    await assert.rejects(till.sell({ lines: [{ sku: 'patio-set', qty: 1 }] }), TillDiskError)
    const sold = await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
    assert.equal(sold.docNo, 'S001-1-1')
    disk.crash()
    ;({ till } = await startTill(null, { kv: disk, signer }))
    const journal = await till.journal(1, 10)
    assert.equal(journal.length, 1)
    assert.equal(journal[0]?.totalCents, sold.totalCents, 'the number holds the sale that was made, not the refused one')
    assert.equal(till.nextDocN, 2)
  })

  it('a refused sale the disk replays after a power cut before any other document: deleted at once, or by the next write that works', async () => {
    // The disk refuses the sale's write, then takes the delete: the power cut brings nothing back.
    let disk = new FaultyKvStore(new MemoryStore(), { inDoubtKeptChance: 1 })
    let { till, signer } = await startTill(null, { kv: disk })
    await till.openDay(DAY1)
    disk.failNext(1)
    await assert.rejects(till.sell({ lines: [{ sku: 'patio-set', qty: 1 }] }), TillDiskError)
    disk.crash()
    ;({ till } = await startTill(null, { kv: disk, signer }))
    assert.deepEqual([await till.journal(1, 10), till.nextDocN], [[], 1], 'the refused sale is not in the journal a restart reads')
    // The disk goes on refusing (the delete too) until healed; the Close, the next write, carries the delete.
    disk = new FaultyKvStore(new MemoryStore(), { inDoubtKeptChance: 1 })
    ;({ till, signer } = await startTill(null, { kv: disk }))
    await till.openDay(DAY1)
    const sold = await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
    disk.failUntilHealed({ code: 'ENOSPC' })
    await assert.rejects(till.sell({ lines: [{ sku: 'patio-set', qty: 1 }] }), TillDiskError)
    disk.heal()
    const close = (await till.closeDay()).record
    assert.deepEqual(close.kind === 'close' ? [close.docFirst, close.docLast] : null, [1, 1])
    disk.crash()
    ;({ till } = await startTill(null, { kv: disk, signer }))
    const journal = await till.journal(1, 10)
    assert.deepEqual([journal.map(d => d.totalCents), till.nextDocN], [[sold.totalCents], 2], 'only the sale that was made')
  })

  it('a Close the disk refused and replays at the reopen its next write makes is undone in that write: the day stays open, every sale in the next Close', async () => {
    for (const powerCut of [false, true]) {
      const disk = new FaultyKvStore(new MemoryStore(), { inDoubtKeptChance: 1, reopensAfterFailure: true })
      let { till, signer } = await startTill(null, { kv: disk })
      await till.openDay(DAY1)
      const first = await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
      disk.failNext(1)
      await assert.rejects(till.closeDay(), { code: 'EIO' })
      assert.equal(till.state, 'open')
      if (powerCut) {
        // Cut right after the refusal: the refused Close comes back whole, and its undo after it.
        disk.crash()
        ;({ till } = await startTill(null, { kv: disk, signer }))
        assert.deepEqual([till.state, till.log.filter(e => e.record.kind === 'close').length], ['open', 0], 'no Close, the day open')
      }
      const second = await till.sell({ lines: [{ sku: 'cappuccino', qty: 1 }] })
      disk.crash()
      ;({ till } = await startTill(null, { kv: disk, signer }))
      assert.equal(till.state, 'open', `the day as the till left it (power cut first: ${powerCut})`)
      const close = (await till.closeDay()).record
      assert.deepEqual(close.kind === 'close' ? [close.docFirst, close.docLast, close.takingsCents.cash] : null, [1, 2, first.totalCents + second.totalCents], 'both sales in the Close')
    }
  })

  it('a card sale its disk refused gives the card payment back at the processor', async () => {
    const calls: string[] = []
    const processor: ProcessorAdapter = {
      name: 'scripted',
      authorise: async (r: AuthoriseRequest): Promise<ProcessorAnswer> => {
        calls.push(`authorise ${r.amountCents}`)
        return { paymentId: r.paymentId, status: 'approved', approvedCents: r.amountCents, partial: false, processorRef: 'R1', authCode: 'A1', brand: 'visa', last4: '4242', aid: null, entryMode: 'chip', forwarded: false }
      },
      refund: async (r: RefundRequest): Promise<ProcessorAnswer> => {
        calls.push(`refund ${r.originalPaymentId} ${r.amountCents}`)
        return { paymentId: r.paymentId, status: 'approved', approvedCents: r.amountCents, partial: false, processorRef: 'R2', authCode: 'A2', brand: 'visa', last4: '4242', aid: null, entryMode: 'chip', forwarded: false }
      },
      lookup: async () => null
    }
    // The payments' records on the same machine, written around the fault (only the sale's write fails).
    const kv = new MemoryStore()
    const disk = new FaultyKvStore(kv)
    await kv.open()
    const signer = new TillSigner(keyPairFromSeed(new Uint8Array(32).fill(9)))
    const payments = await TillPayments.open({ store: kv, tillId: 'S001-1' as TillId, signer, adapter: processor, profile: PROFILES.default as never, currency: 'EUR', clock: new ManualClock(), logger: silentLogger })
    const till = new TillNode({ store: disk, clock: new ManualClock(), logger: silentLogger }, { store: asStoreId('S001'), till: 1, signer, catalogue, hqRootKey: root.publicKey, payments })
    await till.start()
    await till.openDay(DAY1)
    disk.failNext(1, { code: 'EIO' })
    await assert.rejects(till.sell({ lines: [{ sku: 'patio-set', qty: 1 }], tenders: [{ type: 'card', amountCents: 50_000 }] }), TillDiskError)
    assert.equal(calls[0], 'authorise 50000')
    assert.match(calls[1] ?? '', /^refund S001-1-.*-P1 50000$/, calls.join('; '))
    const taken = payments.attempts().find(a => a.amountCents === 50_000)
    assert.equal(taken?.state, 'reversed')
    assert.equal(till.nextDocN, 1)
  })
})

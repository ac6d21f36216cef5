/**
 * HQ's checkpoints of the books (hq/Checkpoints.ts): a start from the newest checkpoint and
 * the log after it gives the books, the per-till sums and the chain state a start from the
 * whole log gives — for random logs (gaps, forks, breaks, duplicates, entries waiting for
 * the catalogue) and random checkpoint points; a crash at any point of writing one, a
 * segment that fails its hash, a manifest of another key or claiming arrivals the log lacks
 * all leave a start that gives the same books. Seeded from FC_SEED when set.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { asBusinessDay, asStoreId, GENESIS_HASH, keyPairFromSeed, signEntry, Signer, type BusinessDay, type Close, type Entry, type TillRecord } from '@tillbooks/protocol'
import { HqNode, InlineVerifier, MemoryStore, silentLogger, type HqInit, type KvOp, type KvRange, type KvStore, type VerifyItem } from '../src/index.ts'
import { catalogue, ManualClock, root, seedBytes } from './helpers/fleet.ts'
import { checkpointOps, type Manifest } from '../src/hq/Checkpoints.ts'
import { replenishmentKey } from '../src/hq/keys.ts'
import { canonicalDecode } from '@tillbooks/protocol'

const NEW_SKU = 'store-made-thing'
const SKUS = ['patio-chair', 'beans-g', 'milk-cl', NEW_SKU]

/** One till's chain of real signed entries, with forks and breaks on demand. */
class Writer {
  readonly entries: Entry[] = []
  readonly signer: Signer
  readonly store: string
  readonly till: number
  constructor (store: string, till: number) {
    this.store = store
    this.till = till
    this.signer = new Signer(keyPairFromSeed(seedBytes(`cp-${store}-${till}`)))
  }

  get tillId (): string { return `${this.store}-${this.till}` }

  close (day: BusinessDay, cents: number, sku: string, qty: number, prevHash?: Uint8Array, salt = 0): Entry {
    const seq = this.entries.length + 1
    const record: Close = {
      v: 1, kind: 'close', store: asStoreId(this.store), till: this.till, businessDay: day, seq,
      prevHash: prevHash ?? this.entries.at(-1)?.hashBytes ?? GENESIS_HASH, atMs: seq * 1000 + salt,
      docFirst: 1, docLast: 1, saleCount: 1, refundCount: 0, takingsCents: { cash: cents, card: 0 },
      tax: [{ rateBp: 2000, netCents: cents - Math.floor(cents / 6), taxCents: Math.floor(cents / 6) }], refundsCents: 0,
      cashCountedCents: cents, consumed: [{ sku, qty }], points: []
    }
    const e = signEntry(record as TillRecord, this.signer)
    this.entries.push(e)
    return e
  }
}

interface Plan { tills: number, days: number, forks: number[], breaks: number[], dups: number[], newSku: number[], order: number, checkpoints: number[], thresholds: number, orders?: number[] }

const planArb: fc.Arbitrary<Plan> = fc.record({
  tills: fc.integer({ min: 1, max: 4 }),
  days: fc.integer({ min: 1, max: 6 }),
  forks: fc.array(fc.nat(), { maxLength: 2 }),
  breaks: fc.array(fc.nat(), { maxLength: 1 }),
  dups: fc.array(fc.nat(), { maxLength: 4 }),
  newSku: fc.array(fc.nat(24), { maxLength: 3 }),
  order: fc.integer(),
  checkpoints: fc.array(fc.nat(), { maxLength: 4 }),
  thresholds: fc.integer({ min: 0, max: 2 }),
  // Replenishment orders dispatched among the entries (by position; the same number again: the same order again).
  orders: fc.array(fc.nat(), { maxLength: 5 })
})

/** The order a plan dispatches for `n`: its store, day and lines follow from `n`, so the same `n` is the same order. */
function orderOf (n: number, days: number): { id: string, store: ReturnType<typeof asStoreId>, businessDay: BusinessDay, lines: Array<{ sku: string, qty: number }> } {
  const k = n % 12
  return { id: `R-${k}`, store: asStoreId(`S${1 + (k % 2)}`), businessDay: asBusinessDay(`2026-03-${String(2 + (k % days)).padStart(2, '0')}`), lines: [{ sku: SKUS[k % 3] as string, qty: 1 + k }] }
}

/** The signed orders each store's tills fetch at opening. */
async function served (hq: HqNode): Promise<string> {
  return JSON.stringify(await Promise.all(['S1', 'S2'].map(async s => (await hq.ordersFor(asStoreId(s))).map(b => Buffer.from(b).toString('hex')))))
}

/** The log's entries for a plan, as submitted (with duplicates), in a seeded order. */
function entriesOf (p: Plan): Entry[] {
  const writers = Array.from({ length: p.tills }, (_, i) => new Writer(`S${1 + (i % 2)}`, 1 + i))
  const all: Entry[] = []
  for (const w of writers) {
    for (let d = 0; d < p.days; d++) {
      const day = asBusinessDay(`2026-03-${String(2 + d).padStart(2, '0')}`)
      const useNew = p.newSku.includes(all.length)
      all.push(w.close(day, 1000 + d * 7 + w.till, useNew ? NEW_SKU : SKUS[(d + w.till) % 3] as string, 1 + d))
    }
  }
  const chain = [...all]
  for (const f of p.forks) {
    const e = chain[f % chain.length] as Entry
    const w = writers.find(x => x.tillId === e.tillId) as Writer
    const r = e.record
    all.push(signEntry({ ...r, atMs: r.atMs + 777 } as TillRecord, w.signer))
  }
  for (const b of p.breaks) {
    const e = chain[b % chain.length] as Entry
    if (e.record.seq === 1) continue
    const w = writers.find(x => x.tillId === e.tillId) as Writer
    all.push(signEntry({ ...e.record, prevHash: seedBytes(`bogus-${b}`), atMs: e.record.atMs + 555 } as TillRecord, w.signer))
  }
  for (const d of p.dups) all.push(all[d % all.length] as Entry)
  // A seeded shuffle.
  let s = p.order >>> 0
  for (let i = all.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    const j = s % (i + 1)
    ;[all[i], all[j]] = [all[j] as Entry, all[i] as Entry]
  }
  return all
}

/** What a start must restore: the books' outputs, the per-till sums replicas compare, what waits for the catalogue. */
function state (hq: HqNode): string {
  return JSON.stringify({
    books: { ...hq.books.snapshot(), counts: { ...hq.books.snapshot().counts, duplicates: 0 } },
    hledger: hq.books.toHledger(),
    sums: [...hq.tillSums].sort((a, b) => a[0] < b[0] ? -1 : 1),
    awaiting: hq.awaitingCatalogue,
    seqs: [...hq.tillSums.keys()].sort().map(t => hq.heldSeq(t as never))
  })
}

function hqOn (store: KvStore, defined: Set<string>, init: Partial<HqInit> = {}): HqNode {
  return new HqNode({ store, clock: new ManualClock(), logger: silentLogger }, {
    root,
    costCents: sku => defined.has(sku) ? catalogue.costCents(sku === NEW_SKU ? 'patio-chair' : sku) : undefined,
    rebuildVerify: false,
    ...init
  })
}

async function enrolAll (hq: HqNode, entries: readonly Entry[]): Promise<void> {
  const seen = new Set<string>()
  for (const e of entries) {
    if (seen.has(e.tillId)) continue
    seen.add(e.tillId)
    await hq.enrol({ store: e.record.store, till: e.record.till, tillKey: e.signer })
  }
}

const THRESHOLDS: Array<Partial<HqInit>> = [{}, { checkpointSegmentBytes: 200 }, { checkpointSegmentBytes: 64 }]

async function runPlan (p: Plan, threaded = false): Promise<void> {
  const entries = entriesOf(p)
  const defined = new Set(SKUS.filter(s => s !== NEW_SKU))
  const store = new MemoryStore()
  const init = THRESHOLDS[p.thresholds] ?? {}
  let hq = hqOn(store, defined, init)
  await hq.start()
  await enrolAll(hq, entries)
  const cuts = new Set(p.checkpoints.map(c => c % (entries.length + 1)))
  const orders = (p.orders ?? []).map(n => ({ at: n % (entries.length + 1), order: orderOf(n, p.days) }))
  for (let i = 0; i <= entries.length; i++) {
    for (const o of orders) if (o.at === i) await hq.dispatchReplenishment(o.order)
    if (cuts.has(i)) await hq.checkpoint()
    if (i === Math.floor(entries.length / 2)) {
      // A restart midway: from a checkpoint if one was written; later checkpoints build on it.
      await hq.stop()
      hq = hqOn(store, defined, init)
      await hq.start()
    }
    const e = entries[i]
    if (e !== undefined) await hq.submit([e.bytes])
  }
  if (p.newSku.length > 0 && p.order % 2 === 0) {
    defined.add(NEW_SKU)
    hq.catalogueChanged()
  }
  if (p.checkpoints.length > 1) await hq.checkpoint()
  const expected = state(hq)
  const expectedOrders = await served(hq)
  await hq.stop()

  const fromCheckpoint = hqOn(store, defined, init)
  await fromCheckpoint.start()
  assert.equal(state(fromCheckpoint), expected, 'from the newest checkpoint and the log after it')
  assert.equal(await served(fromCheckpoint), expectedOrders, 'the orders served to the tills, from the newest checkpoint')
  await fromCheckpoint.stop()
  const whole = hqOn(store, defined, { ...init, rebuild: 'full' })
  const summary = await whole.start()
  assert.ok('log' in summary.from, '--rebuild full folds the whole log')
  assert.equal(state(whole), expected, 'from the whole log')
  assert.equal(await served(whole), expectedOrders, 'the orders served to the tills, from the whole log')
  await whole.stop()
  if (!threaded) return
  // The whole log on fold threads: each till folded there, restored here as a checkpoint's
  // blocks (flushed every few entries, so a log makes many bases), with what waits for the
  // catalogue and what sits at a fork folded here.
  const onThreads = hqOn(store, defined, { ...init, rebuild: 'full', rebuildThreads: 1 + (p.order & 1), rebuildThreadsFromEntries: 0, rebuildThreadsFlushEntries: 1 + (p.order >>> 1) % 5 })
  await onThreads.start()
  // Its blocks name the threads' strings: a base written now (before anything decodes them)
  // encodes them against the books' own, and a start from it gives the same books.
  await onThreads.checkpoint()
  assert.equal(state(onThreads), expected, 'from the whole log, folded on threads')
  await onThreads.stop()
  const again = hqOn(store, defined, init)
  await again.start()
  assert.equal(state(again), expected, 'from a base written after a start on threads')
  await again.stop()
}

function seeded (): number {
  return Number(process.env.FC_SEED ?? (Date.now() % 1_000_000))
}

describe('HQ checkpoints of the books', function () {
  this.timeout(300_000)

  it('a start from the newest checkpoint and the log after it equals a start from the whole log (random logs and checkpoint points)', async () => {
    const seed = seeded()
    await fc.assert(fc.asyncProperty(planArb, async p => { await runPlan(p) }), { seed, numRuns: Number(process.env.FC_RUNS ?? 40) })
      .catch((err: Error) => { throw new Error(`FC_SEED=${seed}: ${err.message}`) })
  })

  it('a start that folds the whole log on threads equals a start on HQ\'s own thread, and so does a start from the base written after it (random logs)', async () => {
    const seed = seeded()
    await fc.assert(fc.asyncProperty(planArb, async p => { await runPlan(p, true) }), { seed, numRuns: Number(process.env.FC_RUNS ?? 12) })
      .catch((err: Error) => { throw new Error(`FC_SEED=${seed}: ${err.message}`) })
  })

  it('a start reads only the log after the checkpoint, and a new checkpoint builds on the last (incremental), then a new base', async () => {
    const entries = entriesOf({ tills: 4, days: 6, forks: [], breaks: [], dups: [], newSku: [], order: 1, checkpoints: [], thresholds: 0 })
    const defined = new Set(SKUS)
    const store = new MemoryStore()
    const hq = hqOn(store, defined, { checkpointRecordsEvery: 5, checkpointBaseMinItems: 8 })
    await hq.start()
    await enrolAll(hq, entries)
    await hq.submit(entries.slice(0, 10).map(e => e.bytes))
    assert.equal(hq.checkpointDue, true, 'ten entries since the last: due')
    const first = await hq.checkpoint()
    assert.ok(first !== null && first.base, 'the first is a base')
    assert.equal(first.items, 10)
    assert.equal(hq.checkpointDue, false)
    await hq.submit(entries.slice(10, 16).map(e => e.bytes))
    const second = await hq.checkpoint()
    assert.ok(second !== null && !second.base && second.items === 6, 'the second holds the six since')
    assert.equal(await hq.checkpoint(), null, 'nothing new: nothing written')
    await hq.submit(entries.slice(16, 20).map(e => e.bytes))
    const expected = state(hq)
    await hq.stop()
    const again = hqOn(store, defined, { checkpointRecordsEvery: 5, checkpointBaseMinItems: 8 })
    const summary = await again.start()
    assert.ok('checkpoint' in summary.from)
    assert.deepEqual(summary.from.checkpoint, { watermark: 16, items: 16, segments: 2, readFromLog: 4, ordersReadFromLog: 0, certificatesVouched: 4 })
    assert.equal(state(again), expected)
    assert.equal(again.checkpointPending, 4, 'the log after the watermark goes into the next checkpoint')
    // Incremental ones until they hold as many entries as the base (and at least 8 here): then a new base of everything.
    const third = await again.checkpoint()
    assert.ok(third !== null && !third.base && third.items === 4)
    await again.submit(entries.slice(20).map(e => e.bytes))
    const fourth = await again.checkpoint()
    assert.ok(fourth !== null && fourth.base && fourth.items === entries.length, `a new base: ${JSON.stringify(fourth)}`)
    const manifests: string[] = []
    for await (const [k] of store.entries({ gte: 'x!m!', lt: 'x!m!\uffff' })) manifests.push(k)
    assert.equal(manifests.length, 2, 'the newest two manifests are kept')
    const final = state(again)
    await again.stop()
    const last = hqOn(store, defined)
    const s2 = await last.start()
    assert.ok('checkpoint' in s2.from && s2.from.checkpoint.segments === 1 && s2.from.checkpoint.readFromLog === 0, JSON.stringify(s2.from))
    assert.equal(state(last), final)
    await last.stop()
  })

  it('orders are in the checkpoint: a start reads (and re-verifies) only the orders logged after it; a checkpoint from before orders were kept makes a start read them all, then a base', async () => {
    const entries = entriesOf({ tills: 2, days: 3, forks: [], breaks: [], dups: [], newSku: [], order: 3, checkpoints: [], thresholds: 0 })
    const defined = new Set(SKUS)
    const store = new MemoryStore()
    const verifying = { rebuildVerify: true }
    const hq = hqOn(store, defined, verifying)
    await hq.start()
    await enrolAll(hq, entries)
    await hq.submit(entries.map(e => e.bytes))
    for (const n of [0, 1, 2, 3]) await hq.dispatchReplenishment(orderOf(n, 3))
    const first = await hq.checkpoint()
    assert.ok(first !== null && first.base && first.items === entries.length + 4, `entries and orders in the base: ${JSON.stringify(first)}`)
    for (const n of [4, 5]) await hq.dispatchReplenishment(orderOf(n, 3))
    const expected = state(hq)
    const expectedOrders = await served(hq)
    await hq.stop()

    // Alter the log between starts (HQ is stopped: the store is closed).
    const onDisk = async <T>(fn: () => Promise<T>): Promise<T> => {
      await store.open()
      try { return await fn() } finally { await store.close() }
    }
    const alter = async (key: string): Promise<Uint8Array> => await onDisk(async () => {
      const good = await store.get(key)
      assert.ok(good !== undefined)
      // A copy (a Buffer's slice is a view of the same bytes).
      const altered = Uint8Array.from(good)
      // A byte of its signature ({ v, sig: 64 bytes, … }: the signature starts at byte 10).
      altered[20] = (altered[20] as number) ^ 1
      await store.batch([{ type: 'put', key, value: altered }], { sync: true })
      return good
    })
    const put = async (key: string, value: Uint8Array): Promise<void> => { await onDisk(async () => { await store.batch([{ type: 'put', key, value }], { sync: true }) }) }
    // An order logged before the checkpoint, altered on disk: a start from the checkpoint never
    // reads it; the whole log, re-verified, stops on it.
    const key = replenishmentKey(orderOf(0, 3).id)
    const good = await alter(key)
    const fromCheckpoint = hqOn(store, defined, verifying)
    const summary = await fromCheckpoint.start()
    assert.ok('checkpoint' in summary.from && summary.from.checkpoint.ordersReadFromLog === 2, `only the two orders after it: ${JSON.stringify(summary.from)}`)
    assert.equal(state(fromCheckpoint), expected)
    await fromCheckpoint.stop()
    await assert.rejects(hqOn(store, defined, { ...verifying, rebuild: 'full' }).start(), /HQ log corrupt: replenishment order r!R-0 fails its signature/)
    await store.close()
    await put(key, good)
    // One logged after it, altered: read, re-verified, and the start stops on it.
    const after = replenishmentKey(orderOf(5, 3).id)
    const goodAfter = await alter(after)
    await assert.rejects(hqOn(store, defined, verifying).start(), /HQ log corrupt: replenishment order r!R-5 fails its signature/)
    await store.close()
    await put(after, goodAfter)

    // The same checkpoint as one written before orders were kept (its manifest names no
    // orders): every order read from the log, the same books, and the next checkpoint a base.
    await onDisk(async () => {
      let newest: [string, Uint8Array] | null = null
      for await (const kv of store.entries({ gte: 'x!m!', lt: 'x!m!\uffff' })) newest = kv
      assert.ok(newest !== null)
      const body = canonicalDecode((canonicalDecode(newest[1]) as { body: Uint8Array }).body) as unknown as Manifest
      const { orders: held, ...old } = body
      assert.equal(held, 4)
      await store.batch([checkpointOps(root, old, []).manifestOp], { sync: true })
    })
    const fromOld = hqOn(store, defined, verifying)
    const s2 = await fromOld.start()
    assert.ok('checkpoint' in s2.from && s2.from.checkpoint.ordersReadFromLog === 6, JSON.stringify(s2.from))
    assert.equal(state(fromOld), expected)
    assert.equal(await served(fromOld), expectedOrders)
    assert.equal(fromOld.checkpointDue, true, 'a base is due: the checkpoint holds no order')
    const base = await fromOld.checkpoint()
    assert.ok(base !== null && base.base)
    await fromOld.stop()
    const last = hqOn(store, defined, verifying)
    const s3 = await last.start()
    assert.ok('checkpoint' in s3.from && s3.from.checkpoint.ordersReadFromLog === 0, JSON.stringify(s3.from))
    assert.equal(state(last), expected)
    assert.equal(await served(last), expectedOrders, 'the orders served to the tills: those from the checkpoint read from the log when asked')
    await last.stop()
  })

  it('certificates the checkpoint vouches for (by their hash) are not re-verified at a start; one enrolled after it, or one altered on disk, is', async () => {
    const entries = entriesOf({ tills: 3, days: 2, forks: [], breaks: [], dups: [], newSku: [], order: 5, checkpoints: [], thresholds: 0 })
    const defined = new Set(SKUS)
    const store = new MemoryStore()
    /** Signatures verified one by one (root-signed certificates and orders; entries go through `open`). */
    class Counting extends InlineVerifier {
      count = 0
      override async verify (items: VerifyItem[]): Promise<boolean[]> {
        this.count += items.length
        return await super.verify(items)
      }
    }
    const hq = hqOn(store, defined, { rebuildVerify: true })
    await hq.start()
    await enrolAll(hq, entries)
    await hq.submit(entries.map(e => e.bytes))
    assert.ok(await hq.checkpoint() !== null)
    // One enrolled after the checkpoint: not vouched for.
    const late = new Writer('S9', 9)
    await hq.enrol({ store: asStoreId('S9'), till: 9, tillKey: late.signer.publicKey })
    const expected = state(hq)
    await hq.stop()
    const counting = new Counting()
    const again = hqOn(store, defined, { rebuildVerify: true, verifier: counting })
    const s1 = await again.start()
    assert.ok('checkpoint' in s1.from && s1.from.checkpoint.certificatesVouched === 3, JSON.stringify(s1.from))
    assert.equal(counting.count, 1, 'only the certificate enrolled after the checkpoint is verified')
    assert.equal(state(again), expected)
    assert.ok(await again.checkpoint() !== null, 'the next checkpoint vouches for it too')
    await again.stop()
    const third = new Counting()
    const s2 = await hqOn(store, defined, { rebuildVerify: true, verifier: third }).start()
    assert.ok('checkpoint' in s2.from && s2.from.checkpoint.certificatesVouched === 4)
    assert.equal(third.count, 0)
    await store.close()
    // A vouched-for certificate altered on disk is no longer the one vouched for: verified, and the start stops on it.
    await store.open()
    let key = ''
    for await (const [k] of store.entries({ gte: 'c!', lt: 'c"' })) { key = k; break }
    const good = await store.get(key) as Uint8Array
    const altered = Uint8Array.from(good)
    altered[20] = (altered[20] as number) ^ 1
    await store.batch([{ type: 'put', key, value: altered }], { sync: true })
    await store.close()
    await assert.rejects(hqOn(store, defined, { rebuildVerify: true }).start(), /HQ log corrupt: certificate .* fails its signature/)
    await store.close()
    // The whole log verifies every certificate.
    await store.open()
    await store.batch([{ type: 'put', key, value: good }], { sync: true })
    await store.close()
    const all = new Counting()
    const whole = hqOn(store, defined, { rebuildVerify: true, verifier: all, rebuild: 'full' })
    await whole.start()
    assert.equal(all.count, 4)
    await whole.stop()

    // A trusting start does not vouch for what it did not check: a certificate altered on disk,
    // then a trusting start that writes a new certificate segment (a till enrolled), then a
    // re-verifying start: the altered certificate is verified, and stops it.
    await store.open()
    await store.batch([{ type: 'put', key, value: altered }], { sync: true })
    await store.close()
    const trusting = hqOn(store, defined, { rebuildVerify: false })
    await trusting.start()
    const later = new Writer('S8', 8)
    await trusting.enrol({ store: asStoreId('S8'), till: 8, tillKey: later.signer.publicKey })
    assert.ok(await trusting.checkpoint() !== null)
    await trusting.stop()
    await assert.rejects(hqOn(store, defined, { rebuildVerify: true }).start(), /HQ log corrupt: certificate .* fails its signature/)
    await store.close()
    await store.open()
    await store.batch([{ type: 'put', key, value: good }], { sync: true })
    // A certificate segment altered on disk: its checkpoint is passed over, saying why.
    let segment = ''
    for await (const [k] of store.entries({ gte: 'x!s!', lt: 'x!s"' })) if (k.endsWith('.certificates')) segment = k
    assert.ok(segment !== '')
    const bytes = Uint8Array.from(await store.get(segment) as Uint8Array)
    bytes[0] = (bytes[0] as number) ^ 1
    await store.batch([{ type: 'put', key: segment, value: bytes }], { sync: true })
    await store.close()
    const s3 = await hqOn(store, defined, { rebuildVerify: true }).start()
    assert.ok(s3.from.skipped.some(x => /certificate segment .* fails its hash/.test(x)), JSON.stringify(s3.from.skipped))
  })

  it('a crash at any point of writing a checkpoint (a base, then an incremental one) leaves a start that gives the same books', async () => {
    const entries = entriesOf({ tills: 3, days: 4, forks: [2], breaks: [], dups: [], newSku: [], order: 7, checkpoints: [], thresholds: 0 })
    const defined = new Set(SKUS)
    const init = { checkpointSegmentBytes: 300 }
    /** An HQ on `store` with the first six entries logged; `crashIn` (0: the base, 1: the incremental one) crashes after `crashAt` writes. */
    const run = async (store: CountingStore, crashIn: number, crashAt: number, onCrash: () => void): Promise<{ writes: number[], expected: string }> => {
      const hq = hqOn(store, defined, init)
      await hq.start()
      await enrolAll(hq, entries)
      const writes: number[] = []
      let expected = ''
      for (const [k, slice] of [entries.slice(0, 6), entries.slice(6)].entries()) {
        await hq.submit(slice.map(e => e.bytes))
        if (k === crashIn) {
          expected = state(hq)
          store.failAfter(crashAt, onCrash)
        }
        const before = store.writes
        await hq.checkpoint().catch(() => {})
        writes.push(store.writes - before)
        store.failAfter(Number.POSITIVE_INFINITY)
        if (k === crashIn) return { writes, expected }
      }
      return { writes, expected: state(hq) }
    }
    // Count the store writes each checkpoint makes, then crash after each of them in turn.
    const { writes } = await run(new CountingStore(new MemoryStore()), 2, 0, () => {})
    assert.ok(writes.every(n => n >= 2), `segments, then the manifest (${writes.join(', ')} writes)`)
    for (const crashIn of [0, 1]) {
      for (let crashAt = 0; crashAt <= (writes[crashIn] as number); crashAt++) {
        const mem = new MemoryStore()
        const { expected } = await run(new CountingStore(mem), crashIn, crashAt, () => { mem.crash() })
        if (crashAt >= (writes[crashIn] as number)) mem.crash() // every write went through; the power goes after them
        await mem.open()
        const again = hqOn(mem, defined, init)
        await again.start()
        assert.equal(state(again), expected, `crash in checkpoint ${crashIn + 1} after ${crashAt} of ${writes[crashIn]} writes`)
        await again.stop()
      }
    }
  })

  it('a checkpoint that fails its hash, is signed by another key, or claims arrivals the log lacks is passed over, saying why', async () => {
    const entries = entriesOf({ tills: 2, days: 5, forks: [], breaks: [], dups: [], newSku: [], order: 3, checkpoints: [], thresholds: 0 })
    const defined = new Set(SKUS)
    for (const damage of ['segment', 'other key', 'watermark'] as const) {
      const mem = new MemoryStore()
      const hq = hqOn(mem, defined)
      await hq.start()
      await enrolAll(hq, entries)
      await hq.submit(entries.slice(0, 4).map(e => e.bytes))
      await hq.checkpoint()
      await hq.submit(entries.slice(4).map(e => e.bytes))
      await hq.checkpoint()
      const expected = state(hq)
      await hq.stop()
      await mem.open()
      const manifests = await keys(mem, 'x!m!')
      const newest = manifests.at(-1) as string
      if (damage === 'segment') {
        const segments = await keys(mem, 'x!s!')
        const last = segments.at(-1) as string
        const bytes = (await mem.get(last) as Uint8Array).slice()
        bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1
        await mem.batch([{ type: 'put', key: last, value: bytes }], { sync: true })
      } else if (damage === 'other key') {
        const value = await mem.get(newest) as Uint8Array
        const { canonicalDecode, canonicalEncode } = await import('@tillbooks/protocol')
        const o = canonicalDecode(value) as { body: Uint8Array, sig: Uint8Array }
        const forged = new Signer(keyPairFromSeed(seedBytes('another-hq'))).sign(new Uint8Array([...new TextEncoder().encode('tillbooks/checkpoint/v1\u0000'), ...o.body]))
        await mem.batch([{ type: 'put', key: newest, value: canonicalEncode({ body: o.body, sig: forged }) }], { sync: true })
      } else {
        // The log lost its newest arrivals (restored from an older backup): the checkpoint claims more than it holds.
        await mem.batch([{ type: 'put', key: 'jn', value: new TextEncoder().encode('6') }], { sync: true })
      }
      await mem.close()
      const again = hqOn(mem, defined)
      const summary = await again.start()
      assert.ok(summary.from.skipped.length >= 1 && summary.from.skipped[0]?.startsWith(newest), `${damage}: passed over (${summary.from.skipped.join('; ')})`)
      if (damage === 'watermark') {
        assert.ok('checkpoint' in summary.from && summary.from.checkpoint.watermark === 4, 'the one before, within the log, is used')
      } else {
        assert.ok('checkpoint' in summary.from && summary.from.checkpoint.watermark === 4, `${damage}: the one before is used`)
        assert.equal(state(again), expected)
      }
      await again.stop()
    }
  })
})

async function keys (store: KvStore, prefix: string): Promise<string[]> {
  const out: string[] = []
  for await (const [k] of store.entries({ gte: prefix, lt: prefix + '\uffff' })) out.push(k)
  return out
}

/** A store that counts batches, and can make the n-th one from now on fail (the power going off). */
class CountingStore implements KvStore {
  writes = 0
  #failAt = Number.POSITIVE_INFINITY
  #onFail: (() => void) | undefined
  readonly inner: MemoryStore
  constructor (inner: MemoryStore) { this.inner = inner }
  failAfter (n: number, onFail?: () => void): void {
    this.#failAt = this.writes + n
    this.#onFail = onFail
  }

  async open (): Promise<void> { await this.inner.open() }
  async close (): Promise<void> { await this.inner.close() }
  async get (key: string): Promise<Uint8Array | undefined> { return await this.inner.get(key) }
  async batch (ops: KvOp[], opts: { sync: boolean }): Promise<void> {
    if (this.writes >= this.#failAt) {
      this.#onFail?.()
      this.#onFail = undefined
      throw new Error('power off')
    }
    this.writes++
    await this.inner.batch(ops, opts)
  }

  entries (range: KvRange): AsyncIterable<[string, Uint8Array]> { return this.inner.entries(range) }
}

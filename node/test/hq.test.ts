import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { asBusinessDay, canonicalDecode, canonicalEncode, keyPairFromSeed, openReplenishment, signEntry, Signer, type Close, type TillId } from '@tillbooks/protocol'
import { FaultyKvStore, InlineVerifier, LevelStore, MemoryStore, submitAll, WorkerVerifier, type Verifier } from '../src/index.ts'
import { CatalogueBusyError, HeldLimitBusyError, HqBusyError } from '../src/hq/HqNode.ts'
import { catalogue, DAY1, DAY2, ManualClock, root, seedBytes, startHq, startTill } from './helpers/fleet.ts'

/** A whole-log rebuild on fold threads, whatever the log's length. */
const FOLD_THREADS = { rebuildThreads: 2, rebuildThreadsFromEntries: 0 }

async function countKeys (kv: MemoryStore): Promise<number> {
  let n = 0
  for await (const _ of kv.entries({})) n++
  return n
}

async function closedDay (hq: Awaited<ReturnType<typeof startHq>>, opts: { store?: string, till?: number } = {}) {
  const t = await startTill(hq, opts)
  await t.till.openDay(DAY1)
  await t.till.sell({ lines: [{ sku: 'patio-set', qty: 1 }], tenders: [{ type: 'card', amountCents: 50_000 }] })
  await t.till.sell({ lines: [{ sku: 'cappuccino', qty: 2 }] })
  await t.till.closeDay()
  return t
}

describe('HqNode', () => {
  it('accepts a close once, folds it into the books, and ignores resends', async () => {
    const hq = await startHq()
    const { till } = await closedDay(hq)
    const first = await hq.submit(till.outbox())
    assert.deepEqual(first.map(a => a.status), ['accepted'])
    const again = await hq.submit([...till.outbox(), ...till.outbox()])
    assert.deepEqual(again.map(a => a.status), ['duplicate', 'duplicate'])
    const books = hq.books.snapshot()
    assert.equal(books.stores.S001?.takingsCents, 50_000 + 760)
    assert.equal(books.accounts['assets:card clearing'], 50_000)
    assert.equal(books.trialBalance.debitsCents, books.trialBalance.creditsCents)
  })

  it('rejects forged, unenrolled, malformed and oversized input with a reason, and the books do not move', async () => {
    const hq = await startHq()
    const { till } = await closedDay(hq)
    await hq.submit(till.outbox())
    const before = JSON.stringify(hq.books.snapshot().accounts)
    const real = till.log[0]!
    const attacker = new Signer(keyPairFromSeed(seedBytes('attacker')))
    const r = real.record as Close
    const forged = signEntry({ ...r, seq: 2, prevHash: real.hashBytes }, attacker)
    const fields = canonicalDecode(real.bytes) as { sig: Uint8Array }
    fields.sig[10] = (fields.sig[10] as number) ^ 0x40
    const flipped = canonicalEncode(fields as never)
    const stranger = signEntry({ ...r, store: 'S999' as never }, attacker)
    const oversized = canonicalEncode({ v: 1, kind: 'close', body: new Uint8Array(70_000), signer: new Uint8Array(32), sig: new Uint8Array(64) })
    const answers = await hq.submit([forged.bytes, flipped, stranger.bytes, new Uint8Array([1, 2, 3]), oversized])
    assert.deepEqual(answers.map(a => a.status), ['rejected', 'rejected', 'rejected', 'rejected', 'rejected'])
    assert.deepEqual(answers.map(a => a.code), ['UNENROLLED', 'FORGED', 'UNENROLLED', 'MALFORMED', 'OVERSIZED'])
    for (const a of answers) assert.ok((a.reason ?? '').length > 5, `a reason is given: ${a.reason}`)
    assert.equal(JSON.stringify(hq.books.snapshot().accounts), before)
    assert.equal(hq.counters.rejected, 5)
  })

  it('refuses a batch larger than its limit, whole', async () => {
    const hq = await startHq()
    const answers = await hq.submit(Array.from({ length: 5_000 }, () => new Uint8Array([0])))
    assert.ok(answers.every(a => a.status === 'rejected' && a.code === 'OVERSIZED'))
  })

  it('detects a fork (two signed closes at one seq), keeps it as evidence and folds neither', async () => {
    const hq = await startHq()
    const { till, signer } = await closedDay(hq)
    const real = till.log[0]!
    const r = real.record as Close
    const twin = signEntry({ ...r, takingsCents: { ...r.takingsCents, cash: r.takingsCents.cash - 100 }, tax: r.tax.map((l, i) => i === 0 ? { ...l, netCents: l.netCents - 100 } : l) }, signer)
    const a = await hq.submit([real.bytes])
    assert.equal(a[0]?.status, 'accepted')
    const b = await hq.submit([twin.bytes])
    assert.equal(b[0]?.status, 'rejected')
    assert.equal(b[0]?.code, 'FORK')
    const books = hq.books.snapshot()
    assert.equal(books.tills['S001-1']?.forked, true)
    assert.equal(books.stores.S001?.takingsCents ?? 0, 0, 'the forked close is un-folded')
  })

  it('holds an entry whose predecessor is missing, and folds both once it arrives', async () => {
    const hq = await startHq()
    const { till } = await startTill(hq)
    await till.openDay(DAY1)
    await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
    await till.closeDay()
    await till.openDay(DAY2)
    await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
    await till.closeDay()
    const [first, second] = till.outbox()
    const b = await hq.submit([second!])
    assert.equal(b[0]?.status, 'accepted')
    assert.equal(b[0]?.folded, false)
    assert.equal(hq.books.snapshot().stores.S001?.takingsCents ?? 0, 0)
    await hq.submit([first!])
    assert.equal(hq.books.snapshot().stores.S001?.takingsCents, 840)
  })

  it('rebuilds identical books from its LevelDB log after a restart, re-verifying every signature', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tillbooks-hq-'))
    try {
      const hq = await startHq(new LevelStore(dir))
      for (let t = 1; t <= 3; t++) {
        const { till } = await closedDay(hq, { till: t })
        await hq.submit(till.outbox())
      }
      await hq.dispatchReplenishment({ id: 'R-x', store: 'S001' as never, businessDay: DAY1, lines: [{ sku: 'patio-chair', qty: 4 }] })
      const before = hq.books.snapshot()
      await hq.stop()
      const again = await startHq(new LevelStore(dir))
      const after = again.books.snapshot()
      assert.deepEqual(after.accounts, before.accounts)
      assert.deepEqual(after.stores, before.stores)
      assert.deepEqual(after.tills, before.tills)
      await again.stop()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  for (const rebuildVerify of [true, false]) {
    it(`rebuilds ${rebuildVerify ? 're-verifying' : 'trusting the log'}: the same books, forks, held entries and dedup, from LevelDB and from memory`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tillbooks-hq-'))
      try {
        for (const kv of [new LevelStore(dir), new MemoryStore()]) {
          const hq = await startHq(kv)
          const sent: Uint8Array[] = []
          for (let t = 1; t <= 4; t++) {
            const { till, signer } = await closedDay(hq, { store: t <= 2 ? 'S001' : 'S002', till: t })
            const [close] = till.outbox()
            if (t === 3) {
              // A fork: two closes signed at seq 1. Both are logged as evidence.
              const r = till.log[0]!.record as Close
              const twin = signEntry({ ...r, takingsCents: { ...r.takingsCents, cash: r.takingsCents.cash - 100 }, tax: r.tax.map((l, i) => i === 0 ? { ...l, netCents: l.netCents - 100 } : l) }, signer)
              await hq.submit([close!, twin.bytes])
            } else if (t === 4) {
              // A held entry: seq 2 without seq 1.
              await till.openDay(DAY2)
              await till.closeDay()
              await hq.submit([till.outbox()[1]!])
            } else {
              await hq.submit([close!])
            }
            sent.push(...till.outbox())
          }
          for (const [id, day] of [['R-2', DAY2], ['R-1', DAY1]] as const) {
            await hq.dispatchReplenishment({ id, store: 'S002' as never, businessDay: day, lines: [{ sku: 'patio-chair', qty: 4 }] })
          }
          const orders = await hq.ordersFor('S002' as never)
          assert.equal(orders.length, 2)
          const before = hq.books.snapshot()
          await hq.stop()
          // The whole log folded on threads (as a long log is): the same books, forks and held entries.
          const threaded = await startHq(kv, undefined, { rebuildVerify, rebuild: 'full', ...FOLD_THREADS })
          const onThreads = threaded.books.snapshot()
          assert.deepEqual({ ...onThreads, counts: { ...onThreads.counts, duplicates: 0 } }, { ...before, counts: { ...before.counts, duplicates: 0 } }, 'folded on threads')
          assert.equal(onThreads.tills['S002-3']?.forked, true)
          await threaded.stop()
          const again = await startHq(kv, undefined, { rebuildVerify, verifier: new WorkerVerifier({ threads: 2 }) })
          assert.deepEqual(await again.ordersFor('S002' as never), orders, 'the orders a store fetches at opening, oldest day first')
          assert.equal(openReplenishment(orders[0]!, root.publicKey).id, 'R-1')
          const after = again.books.snapshot()
          assert.deepEqual({ ...after, counts: { ...after.counts, duplicates: 0 } }, { ...before, counts: { ...before.counts, duplicates: 0 } })
          assert.equal(after.tills['S002-3']?.forked, true)
          assert.equal(after.tills['S002-4']?.pending, 1)
          // What was logged before the restart is a duplicate after it; what was not is new.
          const answers = await again.submit(sent)
          const logged = answers.filter(a => a.status === 'duplicate').length
          assert.equal(logged + answers.filter(a => a.status === 'accepted').length, sent.length)
          assert.equal(again.books.snapshot().tills['S002-4']?.lastSeq, 2, 'the held entry folds once its predecessor arrives')
          await again.stop()
        }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  }

  it('after a restart, a resent envelope is verified once and then answered from memory; a copy with a bad signature is still refused', async () => {
    const kv = new MemoryStore()
    const hq = await startHq(kv)
    const { till } = await closedDay(hq)
    await hq.submit(till.outbox())
    await hq.stop()
    const inline = new InlineVerifier()
    let verified = 0
    const counting: Verifier = { verify: async items => { verified += items.length; return await inline.verify(items) }, close: async () => {} }
    const again = await startHq(kv, undefined, { verifier: counting, rebuildVerify: false })
    assert.equal(verified, 0, 'trusting the log, the rebuild verifies nothing')
    const [envelope] = till.outbox()
    assert.deepEqual((await again.submit([envelope!])).map(a => a.status), ['duplicate'])
    assert.equal(verified, 1, 'the first copy after the restart is verified')
    assert.deepEqual((await again.submit([envelope!, envelope!])).map(a => a.status), ['duplicate', 'duplicate'])
    assert.equal(verified, 1, 'exact copies after it are not')
    const fields = canonicalDecode(envelope!) as { sig: Uint8Array }
    fields.sig[3] = (fields.sig[3] as number) ^ 0x10
    const [bad] = await again.submit([canonicalEncode(fields as never)])
    assert.equal(bad?.code, 'FORGED')
    assert.equal(verified, 2)
  })

  it('re-verifying, a tampered log entry, certificate or order stops the rebuild loudly (never folded)', async () => {
    for (const prefix of ['e!', 'c!', 'r!']) {
      const kv = new MemoryStore()
      const hq = await startHq(kv)
      const { till } = await closedDay(hq)
      await hq.submit(till.outbox())
      await hq.dispatchReplenishment({ id: 'R-t', store: 'S001' as never, businessDay: DAY2, lines: [{ sku: 'patio-chair', qty: 4 }] })
      await hq.stop()
      await kv.open()
      let tampered = 0
      for await (const [key, bytes] of kv.entries({ gte: prefix, lt: `${prefix}\uffff` })) {
        const fields = canonicalDecode(bytes) as { sig: Uint8Array }
        fields.sig[5] = (fields.sig[5] as number) ^ 0x01
        await kv.batch([{ type: 'put', key, value: canonicalEncode(fields as never) }], { sync: true })
        tampered++
      }
      assert.ok(tampered > 0)
      await kv.close()
      const named = { 'e!': /HQ log corrupt: the entry under e!/, 'c!': /HQ log corrupt: certificate c!.* fails its signature/, 'r!': /HQ log corrupt: replenishment order r!.* fails its signature/ }[prefix] as RegExp
      await assert.rejects(startHq(kv), named, `a tampered ${prefix}`)
      // On the verifier's threads (as the daemon runs it), as strictly.
      const threads = new WorkerVerifier({ threads: 2 })
      try {
        await assert.rejects(startHq(kv, undefined, { verifier: threads }), named, `a tampered ${prefix}, on the verify threads`)
      } finally {
        await threads.close()
      }
      // The whole log folded on threads (as a long log is) checks each entry there, as strictly.
      if (prefix === 'e!') await assert.rejects(startHq(kv, undefined, FOLD_THREADS), /HQ log corrupt: the entry under e!.*: its signature fails/, 'a tampered entry, on fold threads')
    }
  })

  it('re-verifying, an entry under another entry\'s key (signed, but not the one its key names) stops the rebuild loudly', async () => {
    const kv = new MemoryStore()
    const hq = await startHq(kv)
    for (const t of [1, 2]) {
      const { till } = await closedDay(hq, { till: t })
      await hq.submit(till.outbox())
    }
    await hq.stop()
    await kv.open()
    const logged: Array<[string, Uint8Array]> = []
    for await (const kvp of kv.entries({ gte: 'e!', lt: 'e!\uffff' })) logged.push(kvp)
    assert.ok(logged.length >= 2)
    const [[firstKey], [, secondBytes]] = logged as [[string, Uint8Array], [string, Uint8Array]]
    await kv.batch([{ type: 'put', key: firstKey, value: secondBytes }], { sync: true })
    await kv.close()
    await assert.rejects(startHq(kv), /HQ log corrupt: the entry under e!.* hashes to/)
    await assert.rejects(startHq(kv, undefined, FOLD_THREADS), /HQ log corrupt: the entry under e!.* hashes to/, 'on fold threads')
  })

  it('an order or opening id reused with other content is refused before anything is written; the same again changes nothing', async () => {
    const kv = new MemoryStore()
    const hq = await startHq(kv)
    const order = { id: 'R-1', store: 'S001' as never, businessDay: DAY1, lines: [{ sku: 'patio-chair', qty: 4 }] }
    const first = await hq.dispatchReplenishment(order)
    await hq.openingStock([{ sku: 'patio-chair', qty: 100 }], DAY1)
    const before = JSON.stringify(hq.books.snapshot())
    // The same order and opening again: the same signed bytes, nothing folded twice.
    assert.deepEqual(await hq.dispatchReplenishment(order), first)
    await hq.openingStock([{ sku: 'patio-chair', qty: 100 }], DAY1)
    assert.equal(JSON.stringify({ ...hq.books.snapshot(), counts: null }), JSON.stringify({ ...JSON.parse(before), counts: null }))
    // Reused with other content: refused, the books and the log unchanged.
    await assert.rejects(hq.dispatchReplenishment({ ...order, lines: [{ sku: 'patio-chair', qty: 5 }] }), { name: 'IdReusedError' })
    await assert.rejects(hq.openingStock([{ sku: 'patio-chair', qty: 7 }], DAY1), { name: 'IdReusedError' })
    assert.equal(JSON.stringify({ ...hq.books.snapshot(), counts: null }), JSON.stringify({ ...JSON.parse(before), counts: null }))
    assert.deepEqual(await hq.ordersFor('S001' as never), [first])
    await hq.stop()
    // A restart from the log rebuilds the first order and opening, not the refused ones.
    await kv.open()
    const again = await startHq(kv)
    assert.equal(JSON.stringify({ ...again.books.snapshot(), counts: null }), JSON.stringify({ ...JSON.parse(before), counts: null }))
    assert.deepEqual(await again.ordersFor('S001' as never), [first])
    // Two at once with one id and different content: one wins, the other is refused, and
    // the log holds the winner (both must not pass the check before either is folded).
    const racing = await Promise.allSettled([
      again.dispatchReplenishment({ ...order, id: 'R-2', lines: [{ sku: 'patio-chair', qty: 1 }] }),
      again.dispatchReplenishment({ ...order, id: 'R-2', lines: [{ sku: 'patio-chair', qty: 2 }] })
    ])
    assert.deepEqual(racing.map(r => r.status), ['fulfilled', 'rejected'])
    const won = JSON.stringify({ ...again.books.snapshot(), counts: null })
    await again.stop()
    await kv.open()
    const third = await startHq(kv)
    assert.equal(JSON.stringify({ ...third.books.snapshot(), counts: null }), won)
  })

  it('an order or opening the books would refuse (unknown sku, a sum past exact integers) is refused before it is written', async () => {
    const kv = new MemoryStore()
    // A costly sku (a shop fit-out at $100,000): one line of it can pass 2^53 cents.
    const costCents = (sku: string): number => sku === 'patio-chair' ? 10_000_000 : catalogue.costCents(sku)
    const hq = await startHq(kv, undefined, { costCents })
    await hq.openingStock([{ sku: 'patio-chair', qty: 100 }], DAY1)
    const before = JSON.stringify(hq.books.snapshot())
    const keysBefore = await countKeys(kv)
    const order = { id: 'R-1', store: 'S001' as never, businessDay: DAY1, lines: [{ sku: 'no-such-sku', qty: 4 }] }
    await assert.rejects(hq.dispatchReplenishment(order), /unknown sku/)
    await assert.rejects(hq.openingStock([{ sku: 'no-such-sku', qty: 1 }], DAY2), /unknown sku/)
    // One line within the per-line cap, its value past 2^53 cents.
    await assert.rejects(hq.openingStock([{ sku: 'patio-chair', qty: 1_000_000_000 }], DAY2), /passes 9007199254740991 cents|past 9007199254740991 cents/)
    assert.equal(await countKeys(kv), keysBefore, 'nothing refused was written')
    // Two that each fit, the second pushing the warehouse balance past the range.
    await hq.openingStock([{ sku: 'patio-chair', qty: 600_000_000 }], DAY2)
    const afterHalf = JSON.stringify(hq.books.snapshot())
    const keysAfterHalf = await countKeys(kv)
    assert.ok(keysAfterHalf === keysBefore + 1 && before !== afterHalf)
    await assert.rejects(hq.openingStock([{ sku: 'patio-chair', qty: 600_000_000 }], '2026-03-04' as never), /opening 2026-03-04: it would take assets:inventory:warehouse past 9007199254740991 cents/)
    assert.equal(JSON.stringify(hq.books.snapshot()), afterHalf, 'the refused opening moved nothing')
    assert.equal(await countKeys(kv), keysAfterHalf, 'the refused opening was not written')
    await hq.stop()
    // The log holds only what the books took: the restart rebuilds them, where a logged
    // refused order would fail every restart.
    await kv.open()
    const again = await startHq(kv, undefined, { costCents })
    assert.equal(JSON.stringify({ ...again.books.snapshot(), counts: null }), JSON.stringify({ ...JSON.parse(afterHalf), counts: null }))
    await again.stop()
  })

  it('a crash loses no acknowledged entry (acks only after fsync)', async () => {
    const kv = new MemoryStore()
    const hq = await startHq(kv)
    const { till } = await closedDay(hq)
    const answers = await hq.submit(till.outbox())
    assert.equal(answers[0]?.status, 'accepted')
    kv.crash()
    const again = await startHq(kv)
    assert.ok(again.books.has(answers[0]!.hash as never))
  })

  it('verifies on worker threads with the same answers as inline', async () => {
    const verifier = new WorkerVerifier({ threads: 2 })
    try {
      const hq = await startHq()
      const { till } = await closedDay(hq)
      const good = till.log[0]!
      const bad = { signature: new Uint8Array(good.sig).map((b, i) => i === 0 ? b ^ 1 : b), message: new Uint8Array(0), publicKey: good.signer }
      const { signingBytes } = await import('@tillbooks/protocol')
      const item = { signature: good.sig, message: signingBytes('close', good.body), publicKey: good.signer }
      const res = await verifier.verify([item, { ...bad, message: item.message }, item, item, item, item, item, item, item])
      assert.deepEqual(res, [true, false, true, true, true, true, true, true, true])
    } finally {
      await verifier.close()
    }
  })
})

describe('HqNode: entries it cannot fold yet, bounded per till before they are logged', () => {
  type Hq = Awaited<ReturnType<typeof startHq>>
  /** A till of `days` closed days: its entries' bytes (seq 1 to `days`), and signed twins of any of them (a forger with its key). */
  async function closedDays (hq: Hq, days: number, till = 1): Promise<{ bytes: Uint8Array[], tillId: TillId, twin: (seq: number, k?: number) => Uint8Array, ghost: (seq: number, k?: number) => Uint8Array }> {
    const t = await startTill(hq, { till })
    for (let d = 1; d <= days; d++) {
      await t.till.openDay(asBusinessDay(`2026-05-${String(d).padStart(2, '0')}`))
      await t.till.sell({ lines: [{ sku: 'cappuccino', qty: d }] })
      await t.till.closeDay()
    }
    assert.equal(t.till.log.length, days, 'one entry a day')
    const twin = (seq: number, k = 1): Uint8Array => {
      const r = t.till.log[seq - 1]?.record as Close
      return signEntry({ ...r, takingsCents: { ...r.takingsCents, cash: r.takingsCents.cash + 100 * k }, tax: r.tax.map((l, i) => i === 0 ? { ...l, netCents: l.netCents + 100 * k } : l) }, t.signer).bytes
    }
    /** A variant naming a product the catalogue does not define: HQ keeps it waiting for the catalogue. */
    const ghost = (seq: number, k = 1): Uint8Array => {
      const r = t.till.log[seq - 1]?.record as Close
      const consumed = [...r.consumed, { sku: 'ghost-of-a-product', qty: k }].sort((a, b) => a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0)
      return signEntry({ ...r, atMs: r.atMs + k, consumed }, t.signer).bytes
    }
    return { bytes: t.till.log.map(e => e.bytes), tillId: t.till.tillId, twin, ghost }
  }
  const booksOf = (hq: Hq): string => JSON.stringify({ accounts: hq.books.snapshot().accounts, tills: hq.books.snapshot().tills })
  const statuses = async (hq: Hq, bytes: Array<Uint8Array | undefined>): Promise<string[]> => (await hq.submit(bytes as Uint8Array[])).map(o => o.code === undefined ? o.status : `${o.status} ${o.code}`)
  const LIMIT = { heldEntriesPerTillMax: 3, submitBatchMax: 3 }
  const busy = (err: unknown): boolean => err instanceof HeldLimitBusyError
  /** The catalogue's costs, and none for a product nobody defined (entries naming it wait for the catalogue). */
  const ghostly = (sku: string): number | undefined => sku === 'ghost-of-a-product' ? undefined : catalogue.costCents(sku)

  it('at the limit, a jump past the window is answered busy, whole, nothing logged; the till\'s own outbox in order still goes in, then the rest; the books equal a rebuild from the log', async () => {
    const kv = new MemoryStore()
    const clock = new ManualClock()
    const hq = await startHq(kv, clock, LIMIT)
    const { bytes, tillId } = await closedDays(hq, 8)
    // Seqs 1 to 4 missing (a peer relayed 5 to 7): three held, the most.
    assert.deepEqual(await statuses(hq, bytes.slice(4, 7)), ['accepted', 'accepted', 'accepted'])
    assert.equal(hq.books.heldCount(tillId), 3)
    const logged = await countKeys(kv)
    await assert.rejects(hq.submit([bytes[7] as Uint8Array]), (err: Error) => busy(err) && /S001-1 holds 3 entries HQ cannot fold yet \(at most 3\): seq 8 waits until the gap before them is filled/.test(err.message))
    assert.equal(hq.counters.heldLimitBusy, 1)
    assert.equal(await countKeys(kv), logged, 'nothing logged')
    // The till's own outbox, in order, a batch at a time.
    assert.deepEqual(await statuses(hq, bytes.slice(0, 3)), ['accepted', 'accepted', 'accepted'])
    assert.deepEqual(await statuses(hq, bytes.slice(3, 6)), ['accepted', 'duplicate', 'duplicate'])
    assert.deepEqual(await statuses(hq, bytes.slice(6, 8)), ['duplicate', 'accepted'])
    assert.equal(hq.books.snapshot().tills['S001-1']?.lastSeq, 8)
    assert.equal(hq.books.heldCount(tillId), 0)
    const live = booksOf(hq)
    await hq.stop()
    for (const init of [{ rebuild: 'full' as const }, { rebuild: 'full' as const, ...FOLD_THREADS }, {}]) {
      const again = await startHq(kv, clock, { ...LIMIT, ...init })
      assert.equal(booksOf(again), live, JSON.stringify(init))
      await again.stop()
    }
  })

  it('at the limit, entries that fill the gap pass, whatever else is in flight: a resend of the outbox while its first batch commits', async () => {
    const hq = await startHq(new MemoryStore(), new ManualClock(), LIMIT)
    const { bytes, tillId } = await closedDays(hq, 6)
    assert.deepEqual(await statuses(hq, bytes.slice(3, 6)), ['accepted', 'accepted', 'accepted'])
    const first = hq.submit(bytes.slice(0, 3))
    const resend = hq.submit(bytes.slice(1, 4))
    assert.deepEqual((await first).map(o => o.status), ['accepted', 'accepted', 'accepted'])
    assert.deepEqual((await resend).map(o => o.status), ['duplicate', 'duplicate', 'duplicate'])
    assert.equal(hq.books.snapshot().tills['S001-1']?.lastSeq, 6)
    assert.equal(hq.books.heldCount(tillId), 0)
    assert.equal(hq.counters.heldLimitBusy, 0)
  })

  it('a forged entry ahead of the till\'s prefix does not hold up its own outbox: its entry at that seq goes in as the fork\'s second side', async () => {
    const hq = await startHq(new MemoryStore(), new ManualClock(), LIMIT)
    const { bytes, tillId, twin } = await closedDays(hq, 9)
    assert.deepEqual(await statuses(hq, bytes.slice(6, 9)), ['accepted', 'accepted', 'accepted'])
    assert.deepEqual(await statuses(hq, [twin(2)]), ['accepted'], 'a forged seq 2, at the limit: it could fill the chain')
    assert.deepEqual(await statuses(hq, bytes.slice(0, 3)), ['accepted', 'rejected FORK', 'rejected FORK'])
    const till = hq.books.snapshot().tills['S001-1']
    assert.deepEqual([till?.lastSeq, till?.forked], [1, true])
    assert.equal(hq.counters.heldLimitBusy, 0)
    assert.ok(hq.books.heldCount(tillId) <= 4 * LIMIT.heldEntriesPerTillMax)
  })

  it('a forger\'s variants at one seq pass one at a time: in one batch, or in batches in flight at once, the second is busy; at or after the halt they are refused as the fork, not kept; the held entries stay bounded', async () => {
    let gate: Promise<void> | null = null
    const kv = new MemoryStore({ syncDelay: async () => { if (gate !== null) await gate } })
    const hq = await startHq(kv, new ManualClock(), LIMIT)
    const { bytes, tillId, twin } = await closedDays(hq, 9)
    assert.deepEqual(await statuses(hq, bytes.slice(6, 9)), ['accepted', 'accepted', 'accepted'])
    const entries = async (): Promise<number> => { let n = 0; for await (const _ of kv.entries({ gte: 'e!', lt: 'e"' })) n++; return n }
    const keptBefore = await entries()
    assert.deepEqual(await statuses(hq, [twin(9)]), ['rejected FORK'], 'a second side at a held seq past the window: the fork\'s evidence')
    assert.equal(await entries(), keptBefore + 1, 'kept')
    await assert.rejects(hq.submit([twin(3, 1), twin(3, 2), twin(3, 3)]), busy, 'two new entries at seq 3 in one batch')
    // Twenty batches at seq 3 while the first is in flight: one goes in.
    let release!: () => void
    gate = new Promise(resolve => { release = resolve })
    const answers = Array.from({ length: 20 }, async (_, j) => await hq.submit([twin(3, 10 + j)]).then(o => o[0]?.status, (err: Error) => busy(err) ? 'busy' : err.message))
    await new Promise(resolve => setTimeout(resolve, 50))
    release()
    gate = null
    const got = await Promise.all(answers)
    assert.deepEqual([got.filter(a => a === 'accepted').length, got.filter(a => a === 'busy').length], [1, 19], JSON.stringify(got))
    // A second side at 3 halts the chain there: logged, as evidence.
    assert.deepEqual(await statuses(hq, [twin(3, 4)]), ['rejected FORK'])
    // A third side, or anything after the halt: refused as the fork, not kept.
    const logged = await countKeys(kv)
    assert.deepEqual(await statuses(hq, [twin(3, 5), bytes[3], twin(8, 2)]), ['rejected FORK', 'rejected FORK', 'rejected FORK'])
    assert.equal(await countKeys(kv), logged, 'nothing after the halt kept once at the limit')
    // A march down the seqs, a side at a time: each lowers the halt, and the pile stays bounded.
    for (const seq of [2, 1]) for (const k of [1, 2, 3]) await hq.submit([twin(seq, 20 + k)]).catch(() => {})
    const folded = hq.books.chainAt(tillId, 1).foldedSeq
    assert.ok(hq.books.heldCount(tillId) <= 4 * LIMIT.heldEntriesPerTillMax + 2 * folded, `held ${hq.books.heldCount(tillId)}`)
    assert.equal(hq.books.snapshot().tills['S001-1']?.forked, true)
  })

  it('entries of a failed commit written again with a later one are counted out of their till\'s entries in flight once', async () => {
    let gate: Promise<void> | null = null
    const disk = new FaultyKvStore(new MemoryStore({ syncDelay: async () => { if (gate !== null) await gate } }))
    const hq = await startHq(disk, new ManualClock(), LIMIT)
    const { bytes } = await closedDays(hq, 12)
    const other = await closedDays(hq, 1, 2)
    disk.failNext(1, { code: 'EIO' })
    await assert.rejects(hq.submit(bytes.slice(0, 3)), HqBusyError, '1 to 3 in doubt')
    // Another till's commit writes 1 to 3 again; 4 to 6 wait behind it, then stay in flight.
    let release!: () => void
    gate = new Promise(resolve => { release = resolve })
    const otherDone = hq.submit(other.bytes)
    await new Promise(resolve => setTimeout(resolve, 20))
    const next = hq.submit(bytes.slice(3, 6))
    await new Promise(resolve => setTimeout(resolve, 20))
    const first = release
    gate = new Promise(resolve => { release = resolve })
    first()
    await otherDone
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(hq.books.snapshot().tills['S001-1']?.lastSeq, 3)
    // 4 to 6 in flight: the till is at the limit, so a jump to 12 is busy.
    await assert.rejects(hq.submit([bytes[11] as Uint8Array]), busy)
    release()
    gate = null
    assert.deepEqual((await next).map(o => o.status), ['accepted', 'accepted', 'accepted'])
  })

  it('an in-doubt entry written again while its resend waits, the resend\'s own commit then failing, is in the books and in doubt no more: checkpoints go on', async () => {
    let gate: Promise<void> | null = null
    const disk = new FaultyKvStore(new MemoryStore({ syncDelay: async () => { if (gate !== null) await gate } }))
    const hq = await startHq(disk, new ManualClock())
    const one = await closedDays(hq, 1)
    const two = await closedDays(hq, 1, 2)
    disk.failNext(1, { code: 'EIO' })
    await assert.rejects(hq.submit(one.bytes), HqBusyError, 'in doubt')
    let release!: () => void
    gate = new Promise(resolve => { release = resolve })
    // Till 2's commit writes the in-doubt entry again; the till's resend of it queues behind, and its commit fails.
    const other = hq.submit(two.bytes)
    await new Promise(resolve => setTimeout(resolve, 20))
    const resend = hq.submit(one.bytes).then(o => o.map(x => x.status), (err: Error) => err.name)
    await new Promise(resolve => setTimeout(resolve, 5))
    disk.failNext(1, { code: 'EIO' })
    release()
    gate = null
    await other
    assert.equal(await resend, 'HqBusyError')
    assert.equal(hq.books.snapshot().tills['S001-1']?.lastSeq, 1, 'in the books, by the commit before')
    await hq.checkpoint()
    assert.deepEqual(await statuses(hq, one.bytes), ['duplicate'])
  })

  it('a start folds every entry its log holds, however many wait for a gap (a log written under a higher limit)', async () => {
    const kv = new MemoryStore()
    const clock = new ManualClock()
    const hq = await startHq(kv, clock, { heldEntriesPerTillMax: 4, submitBatchMax: 4 })
    const { bytes } = await closedDays(hq, 6)
    assert.deepEqual(await statuses(hq, bytes.slice(2)), ['accepted', 'accepted', 'accepted', 'accepted'])
    const live = booksOf(hq)
    await hq.stop()
    for (const init of [{ rebuild: 'full' as const }, { rebuild: 'full' as const, ...FOLD_THREADS }, {}]) {
      const again = await startHq(kv, clock, { ...LIMIT, ...init })
      assert.equal(booksOf(again), live, `four held under a limit of three: ${JSON.stringify(init)}`)
      await again.stop()
    }
    const again = await startHq(kv, clock, LIMIT)
    assert.deepEqual(await statuses(again, bytes.slice(0, 2)), ['accepted', 'accepted'])
    assert.equal(again.books.snapshot().tills['S001-1']?.lastSeq, 6)
    await again.stop()
  })

  it('a replica\'s pull: a chunk answered busy for a till\'s pile is split until only what cannot go in is left, the other tills\' entries and the till\'s own going in', async () => {
    // Batches as large as the replica's chunks (at most the limit).
    const hq = await startHq(new MemoryStore(), new ManualClock(), { heldEntriesPerTillMax: 5, submitBatchMax: 5 })
    const { bytes, tillId } = await closedDays(hq, 12)
    const other = await closedDays(hq, 2, 2)
    assert.deepEqual(await statuses(hq, bytes.slice(6, 11)), ['accepted', 'accepted', 'accepted', 'accepted', 'accepted'])
    // Seq 12 is past the window; 1 and 2 fill the chain; till 2's are new.
    const accepted = await submitAll(hq, [bytes[11] as Uint8Array, bytes[0] as Uint8Array, ...other.bytes, bytes[1] as Uint8Array])
    assert.equal(accepted, 4)
    assert.equal(hq.books.snapshot().tills['S001-2']?.lastSeq, 2)
    assert.equal(hq.books.snapshot().tills['S001-1']?.lastSeq, 2)
    assert.equal(hq.books.heldCount(tillId), 5, 'seq 12 left for the next round')
    assert.ok(hq.counters.heldLimitBusy >= 1)
  })

  it('entries waiting for the catalogue count toward the limit, one a seq: a forger\'s variants naming a product nobody defined do not pile up', async () => {
    const hq = await startHq(new MemoryStore(), new ManualClock(), { ...LIMIT, costCents: ghostly })
    const { bytes, tillId, ghost } = await closedDays(hq, 9)
    assert.deepEqual(await statuses(hq, bytes.slice(6, 9)), ['accepted', 'accepted', 'accepted'])
    const answers: string[] = []
    for (let k = 1; k <= 12; k++) {
      const seq = 1 + (k % 3)
      answers.push(await hq.submit([ghost(seq, k)]).then(o => o[0]?.status as string, (err: Error) => busy(err) ? 'busy' : err.message))
    }
    assert.deepEqual([answers.filter(a => a === 'accepted').length, answers.filter(a => a === 'busy').length], [3, 9], JSON.stringify(answers))
    assert.equal(hq.awaitingCatalogue, 3)
    assert.equal(hq.books.heldCount(tillId), 3)
    // Below the limit in the books, at it with one waiting: a jump past the window waits too.
    const other = await closedDays(hq, 9, 2)
    assert.deepEqual(await statuses(hq, [other.bytes[7], other.bytes[8], other.ghost(7)]), ['accepted', 'accepted', 'accepted'])
    assert.deepEqual([hq.books.heldCount(other.tillId), hq.awaitingCatalogue], [2, 4])
    await assert.rejects(hq.submit([other.bytes[5] as Uint8Array]), busy)
  })

  it('a replica\'s pull: entries that would wait for a full catalogue queue are left for the next round, the other tills\' go in', async () => {
    const hq = await startHq(new MemoryStore(), new ManualClock(), { awaitingCatalogueMax: 1, costCents: ghostly })
    const { ghost } = await closedDays(hq, 2)
    const other = await closedDays(hq, 3, 2)
    assert.deepEqual(await statuses(hq, [ghost(1, 1)]), ['accepted'])
    assert.equal(hq.awaitingCatalogue, 1)
    await assert.rejects(hq.submit([ghost(2, 1), ...other.bytes]), CatalogueBusyError)
    assert.equal(await submitAll(hq, [ghost(2, 1), ...other.bytes]), 3)
    assert.equal(hq.books.snapshot().tills['S001-2']?.lastSeq, 3)
    assert.equal(hq.awaitingCatalogue, 1)
  })

  it('refuses a configuration whose batches could outrun the window', async () => {
    await assert.rejects(startHq(new MemoryStore(), new ManualClock(), { heldEntriesPerTillMax: 3, submitBatchMax: 4 }), /heldEntriesPerTillMax \(3\) must be an integer at least submitBatchMax \(4\)/)
  })
})

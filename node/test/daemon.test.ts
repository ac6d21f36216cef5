/**
 * The daemons in one process, with every real part: LevelDB on disk, libp2p over TCP on
 * 127.0.0.1, fastify HTTP. A sale posted to a till's API reaches HQ's books exactly, after
 * the close; the till keeps selling while HQ is down and catches up; a neighbour keeps a
 * replica from which a burnt till is recovered, and a replacement continues the numbering.
 */
import assert from 'node:assert/strict'
import * as A from '@automerge/automerge'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { asStoreId, canonicalDecode, canonicalEncode, type Canonical, keyPairFromSeed, signEntry, Signer, openEntry } from '@tillbooks/protocol'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon, type TillDaemon } from '../src/daemon/tillDaemon.ts'
import { enrolTill } from '../src/daemon/enrol.ts'
import { addressOf, codeFor, freePort, request, tokenOf, until } from './helpers/daemons.ts'

const call = request


describe('daemons in-process: HTTP → till → libp2p → HQ (LevelDB)', function () {
  this.timeout(60_000)
  let dir: string
  let hq: HqDaemon | null = null
  const tills: TillDaemon[] = []
  const hqDir = (): string => join(dir, 'hq')

  before(async () => { dir = await mkdtemp(join(tmpdir(), 'tillbooks-daemon-')) })
  after(async () => {
    for (const t of tills) await t.stop().catch(() => {})
    await hq?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  // HQ keeps its address across restarts (same port, same key), as a real HQ does.
  let hqListen = '/ip4/127.0.0.1/tcp/0'
  let firstTakings = 0
  const startHq = async (): Promise<HqDaemon> => {
    const d = await startHqDaemon({ dataDir: hqDir(), listen: [hqListen], httpPort: 0, logger: silentLogger, verifyWorkers: 1, booksDb: 'off' })
    hqListen = (d.ready.multiaddrs[0] as string).split('/p2p/')[0] as string
    return d
  }
  const startTill = async (store: string, n: number, neighbours: string[] = [], port = 0): Promise<TillDaemon> => {
    const d = await startTillDaemon({
      dataDir: join(dir, `${store}-${n}`), store: asStoreId(store), till: n, hq: (hq as HqDaemon).ready.multiaddrs[0] as string,
      httpPort: 0, listen: [`/ip4/127.0.0.1/tcp/${port}`], neighbours, logger: silentLogger, retryMinMs: 50, retryMaxMs: 200, callTimeoutMs: 2_000
    })
    tills.push(d)
    return d
  }

  it('a sale posted over HTTP reaches the books exactly after close; bad bodies get a 400 and change nothing', async () => {
    hq = await startHq()
    const hqUrl = hq.ready.http
    await enrolTill({ hqUrl, dataDir: join(dir, 'N-1'), store: asStoreId('N'), till: 1, auth: { bearer: await codeFor(hqUrl, hqDir(), 'N', 1) }, logger: silentLogger })
    const r = await call<{ id: string }>(hqUrl, 'POST', '/admin/replenishment', { id: 'R-N-1', store: 'N', businessDay: '2026-03-02', lines: [{ sku: 'patio-chair', qty: 8 }, { sku: 'patio-table', qty: 2 }, { sku: 'patio-sunscreen', qty: 2 }] }, await tokenOf(hqDir()))
    assert.equal(r.status, 200, JSON.stringify(r.json))
    const t = await startTill('N', 1)
    const base = t.ready.http
    const cat = await call<{ products: Array<{ sku: string, priceCents: number, taxRateBp: number }> }>(base, 'GET', '/catalogue')
    assert.ok(cat.json.products.some(p => p.sku === 'patio-set' && p.priceCents === 50000))

    const opened = await call<{ stockIn: { replenishmentId: string } | null }>(base, 'POST', '/day/open', { businessDay: '2026-03-02' })
    assert.equal(opened.status, 200, JSON.stringify(opened.json))
    assert.equal(opened.json.stockIn?.replenishmentId, 'R-N-1')
    const sale = await call<{ docNo: string, totalCents: number }>(base, 'POST', '/sales', { lines: [{ sku: 'patio-set', qty: 1 }] })
    assert.equal(sale.status, 200, JSON.stringify(sale.json))
    assert.deepEqual(sale.json, { ...sale.json, docNo: 'N-1-1', totalCents: 50000 })
    const card = await call<{ totalCents: number }>(base, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 2 }], tenders: [{ type: 'card', amountCents: 0 }] })
    // A card tender short of the total is refused: nothing is written.
    assert.equal(card.status, 400)
    const latte = await call<{ docNo: string, totalCents: number }>(base, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 2 }] })
    assert.equal(latte.json.docNo, 'N-1-2')
    for (const bad of [{}, { lines: [] }, { lines: [{ sku: 'latte', qty: 1.5 }] }, { lines: [{ sku: 'nope', qty: 1 }] }, { lines: [{ sku: 'latte', qty: 1 }], extra: 1 }]) {
      const res = await call<{ error: string }>(base, 'POST', '/sales', bad)
      assert.equal(res.status, 400, JSON.stringify(bad))
      assert.ok(typeof res.json.error === 'string' && res.json.error.length > 0)
    }
    const garbage = await fetch(`${base}/sales`, { method: 'POST', body: '{"lines": [', headers: { 'content-type': 'application/json' } })
    assert.equal(garbage.status, 400)
    const status = await call<{ nextDocNo: string }>(base, 'GET', '/status')
    assert.equal(status.json.nextDocNo, 'N-1-3')

    const before = await call<{ stores: Record<string, { takingsCents: number }> }>(hqUrl, 'GET', '/books')
    assert.equal(before.json.stores.N?.takingsCents ?? 0, 0, 'no takings reach the books before the close')
    const closed = await call<{ takingsCents: number, docFirst: number, docLast: number }>(base, 'POST', '/day/close', {})
    assert.equal(closed.json.takingsCents, 50000 + latte.json.totalCents)
    assert.deepEqual([closed.json.docFirst, closed.json.docLast], [1, 2])
    firstTakings = closed.json.takingsCents
    await until('the close at HQ', async () => (await call<{ stores: Record<string, { takingsCents: number }> }>(hqUrl, 'GET', '/books')).json.stores.N?.takingsCents === closed.json.takingsCents)
    const books = await call<{ trialBalance: { debitsCents: number, creditsCents: number } }>(hqUrl, 'GET', '/books')
    assert.equal(books.json.trialBalance.debitsCents, books.json.trialBalance.creditsCents)
    const fleet = await call<{ tills: Record<string, { lastSeq: number, lastClosedDay: string }> }>(hqUrl, 'GET', '/fleet')
    assert.deepEqual([fleet.json.tills['N-1']?.lastSeq, fleet.json.tills['N-1']?.lastClosedDay], [2, '2026-03-02'])
    const ledger = await call<string>(hqUrl, 'GET', '/books.hledger')
    assert.match(ledger.json, /2026-03-02/)
    // Resending changes nothing.
    await t.sync()
    const again = await call<{ accounts: Record<string, number> }>(hqUrl, 'GET', '/books')
    assert.deepEqual(again.json.accounts, (await call<{ accounts: Record<string, number> }>(hqUrl, 'GET', '/books')).json.accounts)
  })

  it('HQ admin API refuses forged and malformed entries with a reason, and the books do not move', async () => {
    const hqUrl = (hq as HqDaemon).ready.http
    const before = await call<{ accounts: Record<string, number> }>(hqUrl, 'GET', '/books')
    const log = await call<{ entries: string[] }>(hqUrl, 'GET', '/admin/log/N-1', undefined, await tokenOf(hqDir()))
    assert.equal(log.json.entries.length, 2)
    const real = openEntry(new Uint8Array(Buffer.from(log.json.entries[1] as string, 'base64')), { verify: true })
    const forger = new Signer(keyPairFromSeed(new Uint8Array(32).fill(77)))
    const forged = signEntry({ ...real.record, seq: 3, prevHash: real.hashBytes }, forger)
    const envelope = canonicalDecode(real.bytes) as { sig: Uint8Array }
    const sig = new Uint8Array(envelope.sig)
    sig[7] = (sig[7] as number) ^ 1
    const tampered = canonicalEncode({ ...envelope, sig } as unknown as Canonical)
    const res = await call<{ outcomes: Array<{ status: string, code?: string, reason?: string }> }>(hqUrl, 'POST', '/admin/entries', {
      entries: [forged.bytes, tampered, new Uint8Array([1, 2, 3])].map(b => Buffer.from(b).toString('base64'))
    }, await tokenOf(hqDir()))
    assert.deepEqual(res.json.outcomes.map(o => o.status), ['rejected', 'rejected', 'rejected'])
    assert.ok(res.json.outcomes.every(o => typeof o.reason === 'string' && o.reason.length > 0))
    assert.deepEqual(res.json.outcomes.map(o => o.code), ['UNENROLLED', 'FORGED', 'MALFORMED'])
    assert.equal((await call(hqUrl, 'POST', '/admin/entries', { entries: ['not base64!'] }, await tokenOf(hqDir()))).status, 400)
    assert.equal((await call(hqUrl, 'POST', '/admin/enrol', { store: 'n', till: 1, tillKey: 'xx' }, await tokenOf(hqDir()))).status, 400)
    assert.deepEqual((await call<{ accounts: Record<string, number> }>(hqUrl, 'GET', '/books')).json.accounts, before.json.accounts)
  })

  it('a till sells on with HQ down, catches up after, and the books are as if nothing failed', async () => {
    const hqUrl = (hq as HqDaemon).ready.http
    await enrolTill({ hqUrl, dataDir: join(dir, 'N-2'), store: asStoreId('N'), till: 2, auth: { bearer: await codeFor(hqUrl, hqDir(), 'N', 2) }, logger: silentLogger })
    const t = await startTill('N', 2)
    await (hq as HqDaemon).stop()
    let expected = 0
    for (const day of ['2026-03-02', '2026-03-03', '2026-03-04']) {
      assert.equal((await call(t.ready.http, 'POST', '/day/open', { businessDay: day })).status, 200)
      for (let i = 0; i < 3; i++) expected += (await call<{ totalCents: number }>(t.ready.http, 'POST', '/sales', { lines: [{ sku: 'espresso', qty: 1 + i }] })).json.totalCents
      assert.equal((await call(t.ready.http, 'POST', '/day/close', {})).status, 200)
    }
    const st = await call<{ outbox: number, hqReachable: boolean, nextDocNo: string }>(t.ready.http, 'GET', '/status')
    assert.equal(st.json.outbox, 3)
    assert.equal(st.json.hqReachable, false)
    assert.equal(st.json.nextDocNo, 'N-2-10')
    hq = await startHq()
    const hqUrl2 = hq.ready.http
    // The till's own resend loop finds HQ back at its address.
    await until('the outbox drained', async () => (await call<{ outbox: number }>(t.ready.http, 'GET', '/status')).json.outbox === 0)
    const books = await call<{ stores: Record<string, { takingsCents: number }>, trialBalance: { debitsCents: number, creditsCents: number } }>(hqUrl2, 'GET', '/books')
    assert.equal(books.json.stores.N?.takingsCents, firstTakings + expected)
    assert.equal(books.json.trialBalance.debitsCents, books.json.trialBalance.creditsCents)
    const fleet = await call<{ tills: Record<string, { lastSeq: number, lastClosedDay: string }> }>(hqUrl2, 'GET', '/fleet')
    assert.equal(fleet.json.tills['N-2']?.lastClosedDay, '2026-03-04')
    void hqUrl
  })

  it('a neighbour keeps a replica; after a fire the last close comes back from it, a forged copy is refused, and the replacement numbers on', async () => {
    let hqUrl = (hq as HqDaemon).ready.http
    const eastDir = join(dir, 'E-1')
    await enrolTill({ hqUrl, dataDir: eastDir, store: asStoreId('E'), till: 1, auth: { bearer: await codeFor(hqUrl, hqDir(), 'E', 1) }, logger: silentLogger })
    await enrolTill({ hqUrl, dataDir: join(dir, 'W-1'), store: asStoreId('W'), till: 1, auth: { bearer: await codeFor(hqUrl, hqDir(), 'W', 1) }, logger: silentLogger })
    const [pe, pw] = [await freePort(), await freePort()]
    const [ae, aw] = [await addressOf(eastDir, pe), await addressOf(join(dir, 'W-1'), pw)]
    const west = await startTill('W', 1, [ae], pw)
    let east = await startTill('E', 1, [aw], pe)
    const takings: number[] = []
    const day = async (d: string): Promise<{ docLast: number, seq: number, hash: string }> => {
      await call(east.ready.http, 'POST', '/day/open', { businessDay: d })
      await call(east.ready.http, 'POST', '/sales', { lines: [{ sku: 'croissant', qty: 2 }] })
      await call(east.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }], tenders: [{ type: 'card', amountCents: 100000 }] }).then(r => assert.equal(r.status, 400))
      await call(east.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }], tenders: [{ type: 'card', amountCents: 100 }, { type: 'cash', amountCents: 10000 }] })
      const c = await call<{ takingsCents: number, docLast: number, seq: number, hash: string }>(east.ready.http, 'POST', '/day/close', {})
      takings.push(c.json.takingsCents)
      return c.json
    }
    await day('2026-03-02')
    await until('HQ has E-1 day 1', async () => (await call<{ tills: Record<string, { lastSeq: number }> }>(hqUrl, 'GET', '/fleet')).json.tills['E-1']?.lastSeq === 1)
    // The evening link to HQ is down: day 2's close reaches only the neighbour.
    await (hq as HqDaemon).stop()
    const last = await day('2026-03-03')
    await until('the neighbour replica', async () => (await call<{ replicas: Record<string, number> }>(west.ready.http, 'GET', '/status')).json.replicas['E-1'] === 2)
    // A forger plants a copy of "seq 3" at the neighbour (its own signature is valid; its key is not enrolled).
    const head = east.till.head
    assert.ok(head !== undefined)
    const forger = new Signer(keyPairFromSeed(new Uint8Array(32).fill(66)))
    await east.peer.submit(aw, [signEntry({ ...head.record, seq: 3, prevHash: head.hashBytes }, forger).bytes]).catch(() => [])
    // Fire.
    await east.stop()
    tills.splice(tills.indexOf(east), 1)
    await rm(eastDir, { recursive: true, force: true })
    hq = await startHq()
    hqUrl = hq.ready.http
    const r = await enrolTill({ hqUrl, dataDir: eastDir, store: asStoreId('E'), till: 1, auth: { bearer: await codeFor(hqUrl, hqDir(), 'E', 1) }, recoverFrom: [aw], logger: silentLogger })
    assert.equal(r.recovered?.seq, last.seq)
    assert.equal(r.recovered?.hash, last.hash)
    assert.equal(r.recovered?.docLast, last.docLast)
    assert.equal(r.fromSeq, last.seq + 1)
    // Recovered by Automerge sync from the neighbour, and taken over with its history (the
    // document's own changes, not the entries re-appended): the forgery stays out.
    assert.equal(r.recovered?.withHistory, true, JSON.stringify(r))
    assert.ok(r.rejected.some(x => /enrolled|FORGED/i.test(x.reason)), JSON.stringify(r.rejected))
    // HQ has the recovered close exactly once.
    const books = await call<{ stores: Record<string, { takingsCents: number }> }>(hqUrl, 'GET', '/books')
    assert.equal(books.json.stores.E?.takingsCents, (takings[0] as number) + (takings[1] as number))
    east = await startTill('E', 1, [aw], pe)
    const st = await call<{ nextDocNo: string, headSeq: number }>(east.ready.http, 'GET', '/status')
    assert.equal(st.json.nextDocNo, `E-1-${last.docLast + 1}`)
    await call(east.ready.http, 'POST', '/day/open', { businessDay: '2026-03-04' })
    const sale = await call<{ docNo: string }>(east.ready.http, 'POST', '/sales', { lines: [{ sku: 'espresso', qty: 1 }] })
    assert.equal(sale.json.docNo, `E-1-${last.docLast + 1}`)
    await call(east.ready.http, 'POST', '/day/close', {})
    await until('the replacement close at HQ', async () => (await call<{ tills: Record<string, { lastSeq: number }> }>(hqUrl, 'GET', '/fleet')).json.tills['E-1']?.lastSeq === last.seq + 1)
    // The neighbour keeps replicating the slot, though the replacement has a new key and peer id.
    // (Its seq was already last.seq + 1 by the forgery planted there; the genuine close must replicate all the same.)
    const newHead = east.till.head
    // Heard by gossip (the replacement's key is new to the neighbour): announce until the mesh has formed.
    await until('the neighbour replica follows the replacement', async () => {
      await east.sync()
      const theirs = A.load(new Uint8Array(await (await fetch(`${west.ready.http}/replicas/E-1.automerge`)).arrayBuffer())) as unknown as { entries: Record<string, Uint8Array> }
      return Object.keys(theirs.entries).some(k => k.includes(newHead?.hash ?? 'none'))
    })
    // The neighbour's replica holds the replacement's whole history (the same changes), plus the planted forgery as evidence.
    const mine = A.load(new Uint8Array(await (await fetch(`${east.ready.http}/log.automerge`)).arrayBuffer()))
    const theirs = A.load(new Uint8Array(await (await fetch(`${west.ready.http}/replicas/E-1.automerge`)).arrayBuffer()))
    assert.ok(A.hasHeads(theirs, A.getHeads(mine)), 'the replica has every change of the replacement')
    assert.equal(A.getAllChanges(mine).length, last.seq + 2, 'genesis, the recovered chain\'s changes, and the new close')
  })

  it('a store with no neighbour burns: its log comes back from HQ by sync, with the till\'s own history (HQ kept its changes)', async () => {
    const hqUrl = (hq as HqDaemon).ready.http
    const soloDir = join(dir, 'L-1')
    await enrolTill({ hqUrl, dataDir: soloDir, store: asStoreId('L'), till: 1, auth: { bearer: await codeFor(hqUrl, hqDir(), 'L', 1) }, logger: silentLogger })
    const solo = await startTill('L', 1)
    let close = { seq: 0, docLast: 0 }
    for (const d of ['2026-03-02', '2026-03-03']) {
      await call(solo.ready.http, 'POST', '/day/open', { businessDay: d })
      await call(solo.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }] })
      close = (await call<{ seq: number, docLast: number }>(solo.ready.http, 'POST', '/day/close', {})).json
    }
    await until('HQ has L-1\'s closes', async () => (await call<{ tills: Record<string, { lastSeq: number }> }>(hqUrl, 'GET', '/fleet')).json.tills['L-1']?.lastSeq === close.seq)
    const heads = A.getHeads(A.load(new Uint8Array(await (await fetch(`${solo.ready.http}/log.automerge`)).arrayBuffer())))
    await solo.stop()
    tills.splice(tills.indexOf(solo), 1)
    await rm(soloDir, { recursive: true, force: true })
    // Recovered from HQ alone, by Automerge's sync protocol against its libp2p address.
    const r = await enrolTill({ hqUrl, dataDir: soloDir, store: asStoreId('L'), till: 1, auth: { bearer: await codeFor(hqUrl, hqDir(), 'L', 1) }, recoverFrom: [(hq as HqDaemon).ready.multiaddrs[0] as string], logger: silentLogger })
    assert.deepEqual([r.recovered?.seq, r.recovered?.docLast, r.recovered?.withHistory, r.fromSeq], [close.seq, close.docLast, true, close.seq + 1], JSON.stringify(r))
    const back = await startTill('L', 1)
    // The replacement's log is the burnt till's own document: the same changes, the same heads.
    assert.deepEqual(A.getHeads(A.load(new Uint8Array(await (await fetch(`${back.ready.http}/log.automerge`)).arrayBuffer()))), heads)
    const st = await call<{ nextDocNo: string }>(back.ready.http, 'GET', '/status')
    assert.equal(st.json.nextDocNo, `L-1-${close.docLast + 1}`)
  })
})

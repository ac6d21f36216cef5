/**
 * Both daemons in one process (LevelDB, libp2p over TCP, fastify) with a FaultyKvStore
 * around their stores (the test-only `wrapStoreForTests` option). A till whose disk fails
 * refuses the sale with a 503 and a reason, gives no receipt, and sells the next with the same
 * number; HQ whose disk fails answers its writes 503 (HTTP) and BUSY (libp2p), serves its reads,
 * and takes the till's close once the disk works: in the books once, to the cent.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { asStoreId } from '@tillbooks/protocol'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon, type TillDaemon } from '../src/daemon/tillDaemon.ts'
import { enrolTill } from '../src/daemon/enrol.ts'
import { NetError } from '../src/net/TillbooksPeer.ts'
import { FaultyKvStore } from '../src/storage/FaultyKvStore.ts'
import { codeFor, request, tokenOf, until } from './helpers/daemons.ts'

describe('daemons on a failing disk (in-process, LevelDB under FaultyKvStore)', function () {
  this.timeout(60_000)
  let dir: string
  let hq: HqDaemon | null = null
  let till: TillDaemon | null = null
  let hqDisk: FaultyKvStore | null = null
  let tillDisk: FaultyKvStore | null = null
  const hqDir = (): string => join(dir, 'hq')

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-disk-'))
    hq = await startHqDaemon({
      dataDir: hqDir(), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off',
      wrapStoreForTests: store => (hqDisk = new FaultyKvStore(store))
    })
    await enrolTill({ hqUrl: hq.ready.http, dataDir: join(dir, 'D-1'), store: asStoreId('D'), till: 1, auth: { bearer: await codeFor(hq.ready.http, hqDir(), 'D', 1) }, logger: silentLogger })
    till = await startTillDaemon({
      dataDir: join(dir, 'D-1'), store: asStoreId('D'), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], neighbours: [],
      logger: silentLogger, retryMinMs: 50, retryMaxMs: 200, callTimeoutMs: 5_000, gossipRing: null,
      wrapStoreForTests: store => (tillDisk = new FaultyKvStore(store))
    })
  })
  after(async () => {
    await till?.stop().catch(() => {})
    await hq?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  it('a till refuses a sale its disk would not take (503, a reason, Retry-After), changes nothing, and sells the next with the same number', async () => {
    const base = (till as TillDaemon).ready.http
    assert.equal((await request(base, 'POST', '/day/open', { businessDay: '2026-03-02' })).status, 200)
    const first = await request<{ docNo: string }>(base, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }] })
    assert.equal(first.json.docNo, 'D-1-1')
    const before = (await request<Record<string, unknown>>(base, 'GET', '/status')).json
    ;(tillDisk as FaultyKvStore).failUntilHealed({ code: 'ENOSPC', syncOnly: true })
    const res = await fetch(`${base}/sales`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lines: [{ sku: 'patio-set', qty: 1 }] }) })
    assert.equal(res.status, 503)
    assert.ok(Number(res.headers.get('retry-after')) > 0, 'Retry-After is given')
    const body = await res.json() as { error: string, docNo?: string }
    assert.match(body.error, /ENOSPC/)
    assert.equal(body.docNo, undefined, 'no receipt')
    // Reads go on, and say the same as before.
    const during = await request<Record<string, unknown>>(base, 'GET', '/status')
    assert.equal(during.status, 200)
    assert.equal(during.json.nextDocNo, before.nextDocNo)
    assert.equal(during.json.headSeq, before.headSeq)
    assert.equal((await request(base, 'GET', '/receipts/D-1-2')).status, 404)
    ;(tillDisk as FaultyKvStore).heal()
    const next = await request<{ docNo: string }>(base, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 2 }] })
    assert.equal(next.status, 200, JSON.stringify(next.json))
    assert.equal(next.json.docNo, 'D-1-2')
  })

  it('HQ answers 503 (HTTP) and BUSY (libp2p) while its disk fails, serves reads, and takes the close once it works: folded once', async () => {
    const base = (till as TillDaemon).ready.http
    const hqUrl = (hq as HqDaemon).ready.http
    const disk = hqDisk as FaultyKvStore
    disk.failUntilHealed({ code: 'EIO' })
    const closed = await request<{ takingsCents: number }>(base, 'POST', '/day/close', {})
    assert.equal(closed.status, 200, JSON.stringify(closed.json))
    // The till's pump sends the close (and the StockIn-less day's entries): HQ answers BUSY, the outbox keeps them.
    await until('HQ to refuse a commit', async () => { await request(base, 'POST', '/sync', {}).catch(() => {}); return (hq as HqDaemon).hq.counters.diskErrors > 0 })
    const status = await request<{ outbox: number }>(base, 'GET', '/status')
    assert.ok(status.json.outbox > 0, `the till keeps its outbox: ${JSON.stringify(status.json)}`)
    const books = await request<{ stores: Record<string, { takingsCents: number }> }>(hqUrl, 'GET', '/books')
    assert.equal(books.status, 200, 'reads are served')
    assert.equal(books.json.stores.D?.takingsCents ?? 0, 0, 'nothing of a failed commit is folded')
    const counters = await request<{ diskErrors: number, lastDiskError: { code: string } | null }>(hqUrl, 'GET', '/counters')
    assert.ok(counters.json.diskErrors > 0)
    assert.equal(counters.json.lastDiskError?.code, 'EIO')
    // The admin API's write: 503 with a reason and Retry-After.
    const entries = (till as TillDaemon).till.outbox().map(b => Buffer.from(b).toString('base64'))
    assert.ok(entries.length > 0)
    const res = await fetch(`${hqUrl}/admin/entries`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenOf(hqDir())}` }, body: JSON.stringify({ entries }) })
    assert.equal(res.status, 503)
    assert.ok(Number(res.headers.get('retry-after')) > 0)
    assert.match((await res.json() as { error: string }).error, /EIO/)
    // The libp2p answer: BUSY with the reason (the till's pump keeps its outbox on it).
    const t = till as TillDaemon
    await assert.rejects(t.peer.submit((hq as HqDaemon).ready.multiaddrs[0] as string, t.till.outbox(), { timeoutMs: 5_000 }), (err: unknown) => {
      assert.ok(err instanceof NetError, String(err))
      assert.equal(err.code, 'BUSY')
      assert.match(err.message, /EIO/)
      return true
    })
    assert.ok((await t.sync()).outbox > 0)
    disk.heal()
    await until('the close in the books', async () => {
      await request(base, 'POST', '/sync', {}).catch(() => {})
      return (await request<{ stores: Record<string, { takingsCents: number }> }>(hqUrl, 'GET', '/books')).json.stores.D?.takingsCents === closed.json.takingsCents
    })
    // Resent again: nothing moves.
    await request(base, 'POST', '/sync', {})
    const after = await request<{ stores: Record<string, { takingsCents: number }>, trialBalance: { debitsCents: number, creditsCents: number } }>(hqUrl, 'GET', '/books')
    assert.equal(after.json.stores.D?.takingsCents, closed.json.takingsCents)
    assert.equal(after.json.trialBalance.debitsCents, after.json.trialBalance.creditsCents)
    assert.equal((await request<{ outbox: number }>(base, 'GET', '/status')).json.outbox, 0)
  })
})

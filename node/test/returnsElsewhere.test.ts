/**
 * Returns at another store: the store that sold is asked over libp2p and consents only within
 * what is left to refund; out of reach, the other store refunds within its daily allowance,
 * against the receipt's own lines, flagged in its Close; told later, the selling till records
 * it and reports any line refunded twice, with both refunds named, which HQ lists.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { asStoreId } from '@tillbooks/protocol'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon, type TillDaemon } from '../src/daemon/tillDaemon.ts'
import { addressOf, enrolStores, freePort, request, until } from './helpers/daemons.ts'

interface Sold { docNo: string, receipt: { docNo: string, qr: string } }
interface Lines { lines: Array<{ sku: string, qty: number, priceCents: number }> }
interface Refunded { docNo: string, totalCents: number, elsewhere?: string, error?: string }
interface Returns { consented: number, refused: number, told: number, asked: number, flagged: number }

describe('returns at another store: asked of the store that sold, or flagged', function () {
  this.timeout(90_000)
  let dir: string
  let hq: HqDaemon
  let east: TillDaemon | undefined
  let west: TillDaemon
  let ae = ''
  let aw = ''
  let pe = 0
  const CHAIR = 7900
  const startEast = async (): Promise<TillDaemon> => await startTillDaemon({
    dataDir: join(dir, 'E'), store: asStoreId('E'), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: [`/ip4/127.0.0.1/tcp/${pe}`],
    neighbours: [aw], logger: silentLogger, retryMinMs: 50, retryMaxMs: 200, callTimeoutMs: 2_000, gossipRing: null
  })
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-returns-'))
    hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    await enrolStores(hq, join(dir, 'hq'), dir, ['E', 'W'])
    pe = await freePort()
    const pw = await freePort()
    ;[ae, aw] = [await addressOf(join(dir, 'E'), pe), await addressOf(join(dir, 'W'), pw)]
    east = await startEast()
    west = await startTillDaemon({
      dataDir: join(dir, 'W'), store: asStoreId('W'), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: [`/ip4/127.0.0.1/tcp/${pw}`],
      neighbours: [ae], logger: silentLogger, retryMinMs: 50, retryMaxMs: 200, callTimeoutMs: 2_000, gossipRing: null
    })
    for (const t of [east, west]) assert.equal((await request(t.ready.http, 'POST', '/day/open', { businessDay: '2026-03-02' })).status, 200)
  })
  after(async () => {
    await east?.stop().catch(() => {})
    await west?.stop().catch(() => {})
    await hq?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  const returnsAt = async (t: TillDaemon): Promise<Returns> => (await request<{ returns: Returns }>(t.ready.http, 'GET', '/status')).json.returns

  it('the selling store consents within what is left, and refuses beyond it; its own refunds count what others refunded', async () => {
    const e = east as TillDaemon
    const sale = (await request<Sold>(e.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 3 }] })).json
    const first = await request<Refunded>(west.ready.http, 'POST', '/refunds', { receipt: sale.receipt.qr, lines: [{ sku: 'patio-chair', qty: 2 }], tender: 'card' })
    assert.deepEqual([first.status, first.json.elsewhere, first.json.totalCents], [200, 'consented', -2 * CHAIR], JSON.stringify(first.json))
    const atHome = await request<Refunded>(e.ready.http, 'POST', '/refunds', { receipt: sale.receipt.qr, lines: [{ sku: 'patio-chair', qty: 2 }] })
    assert.deepEqual([atHome.status, /1 left to refund/.test(atHome.json.error ?? '')], [400, true], 'the store that sold counts the refund made elsewhere')
    assert.equal((await request(e.ready.http, 'POST', '/refunds', { receipt: sale.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }] })).status, 200)
    const beyond = await request<Refunded>(west.ready.http, 'POST', '/refunds', { receipt: sale.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }], tender: 'card' })
    assert.equal(beyond.status, 409)
    assert.match(beyond.json.error ?? '', /till E-1, which sold it, refused: .*1 × patio-chair asked back, 0 left to refund \(sold 3, refunded 3\)/)
    assert.deepEqual([(await returnsAt(e)).consented, (await returnsAt(e)).refused, (await returnsAt(west)).asked], [1, 1, 2])
  })

  it('out of reach: refunded within the allowance against the receipt\'s own lines, flagged; told later, a line refunded twice is reported with both refunds named', async () => {
    const e = east as TillDaemon
    const sale = (await request<Sold>(e.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }, { sku: 'latte', qty: 2 }] })).json
    const file = (await request<Lines>(e.ready.http, 'GET', `/receipts/${sale.docNo}`)).json
    // Returned at the store that sold it first; then the customer tries again at the other store, while the first is cut off.
    const home = await request<Refunded>(e.ready.http, 'POST', '/refunds', { receipt: sale.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }] })
    assert.equal(home.status, 200)
    await e.stop()
    east = undefined
    const noLines = await request<Refunded>(west.ready.http, 'POST', '/refunds', { receipt: sale.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }], tender: 'card' })
    assert.deepEqual([noLines.status, /out of reach: without the receipt's lines/.test(noLines.json.error ?? '')], [409, true], JSON.stringify(noLines.json))
    const forged = await request<Refunded>(west.ready.http, 'POST', '/refunds', { receipt: sale.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }], receiptLines: [{ ...file.lines[0], qty: 5 }, ...file.lines.slice(1)] })
    assert.deepEqual([forged.status, /not the lines the receipt was signed with/.test(forged.json.error ?? '')], [400, true])
    const flagged = await request<Refunded>(west.ready.http, 'POST', '/refunds', { receipt: sale.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }], receiptLines: file.lines, tender: 'card' })
    assert.deepEqual([flagged.status, flagged.json.elsewhere], [200, 'flagged'], JSON.stringify(flagged.json))
    const again = await request<Refunded>(west.ready.http, 'POST', '/refunds', { receipt: sale.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }], receiptLines: file.lines, tender: 'card' })
    assert.deepEqual([again.status, /are left to refund here; these lines are worth 7900/.test(again.json.error ?? '')], [409, true], 'never twice here: ' + (again.json.error ?? ''))
    // The selling store back: the flagged return is told to it, and it finds the chair refunded twice.
    east = await startEast()
    await request(west.ready.http, 'POST', '/sync', {})
    await until('the flagged return is told to the store that sold', async () => (await returnsAt(east as TillDaemon)).told === 1, 20_000)
    for (const t of [east, west]) {
      assert.equal((await request(t.ready.http, 'POST', '/day/close', {})).status, 200)
      await request(t.ready.http, 'POST', '/sync', {})
    }
    await until('HQ lists the conflict', async () => (await request<{ conflicts: unknown[] }>(hq.ready.http, 'GET', '/refunds/flagged')).json.conflicts.length > 0, 20_000)
    const report = (await request<{ flagged: unknown[], conflicts: unknown[] }>(hq.ready.http, 'GET', '/refunds/flagged')).json
    await until('HQ lists the flagged refund', async () => (await request<{ flagged: unknown[] }>(hq.ready.http, 'GET', '/refunds/flagged')).json.flagged.length > 0, 20_000)
    assert.deepEqual((await request<{ flagged: unknown[] }>(hq.ready.http, 'GET', '/refunds/flagged')).json.flagged, [{ till: 'W-1', receipt: sale.docNo, refund: flagged.json.docNo, amountCents: CHAIR }])
    assert.deepEqual(report.conflicts, [{ till: 'E-1', receipt: sale.docNo, sku: 'patio-chair', soldQty: 1, refundedQty: 2, refunds: [home.json.docNo, flagged.json.docNo].sort() }])
  })

  it('without consent, a till refunds no more than its allowance a day', async () => {
    for (const t of [east as TillDaemon, west]) assert.equal((await request(t.ready.http, 'POST', '/day/open', { businessDay: '2026-03-03' })).status, 200)
    const sale = (await request<Sold>((east as TillDaemon).ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 3 }] })).json
    const file = (await request<Lines>((east as TillDaemon).ready.http, 'GET', `/receipts/${sale.docNo}`)).json
    await (east as TillDaemon).stop()
    east = undefined
    const notSold = await request<Refunded>(west.ready.http, 'POST', '/refunds', { receipt: sale.receipt.qr, lines: [{ sku: 'latte', qty: 1 }], receiptLines: file.lines, tender: 'card' })
    assert.deepEqual([notSold.status, /1 × latte asked back, 0 left on it/.test(notSold.json.error ?? '')], [409, true], 'only what the receipt\'s lines show was sold')
    const two = await request<Refunded>(west.ready.http, 'POST', '/refunds', { receipt: sale.receipt.qr, lines: [{ sku: 'patio-chair', qty: 2 }], receiptLines: file.lines, tender: 'card' })
    assert.deepEqual([two.status, two.json.elsewhere], [200, 'flagged'])
    const third = await request<Refunded>(west.ready.http, 'POST', '/refunds', { receipt: sale.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }], receiptLines: file.lines, tender: 'card' })
    assert.equal(third.status, 409)
    assert.match(third.json.error ?? '', /refunded 15800 cents of other tills' receipts without consent today: at most 20000/)
  })
})

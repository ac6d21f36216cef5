/**
 * Points redeemed at the till, never overspent: a till redeems within the rights HQ granted it
 * (with no round trip, offline too); beyond them it asks HQ, which grants only what the member
 * has vested and not escrowed elsewhere; with HQ out of reach, beyond its rights is 409 and no
 * sale. The Close reports the redemptions; HQ's member view and books (the points liability,
 * to the cent) follow; a refund gives the sale's money back first, then its points.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { asStoreId, fromHex, type PublicKey } from '@tillbooks/protocol'
import { verifyReceipt } from '@tillbooks/wallet'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon, type TillDaemon } from '../src/daemon/tillDaemon.ts'
import { enrolStores, request, tokenOf, untilFolded } from './helpers/daemons.ts'

interface MemberView { member: string, earned: number, vested: number, redeemed: number, balance: number, spendable: number, rights: Record<string, number>, liabilityCents: number }
interface Sold { docNo: string, totalCents: number, points: number, receipt: { docNo: string, qr: string } }

describe('redemption: points spent at the till within its rights, never overspent', function () {
  this.timeout(90_000)
  let dir: string
  let hq: HqDaemon
  let till: TillDaemon
  let admin: string
  let member: string
  const CHAIR = 7900
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-redeem-'))
    hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    admin = await tokenOf(join(dir, 'hq'))
    await enrolStores(hq, join(dir, 'hq'), dir, ['S1'])
    till = await startTillDaemon({ dataDir: join(dir, 'S1'), store: asStoreId('S1'), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], neighbours: [], logger: silentLogger, gossipRing: null, retryMinMs: 50, retryMaxMs: 200, callTimeoutMs: 2_000 })
    member = (await request<{ member: string }>(hq.ready.http, 'POST', '/admin/members', { phone: '+447700900321' }, admin)).json.member
  })
  after(async () => {
    await till?.stop().catch(() => {})
    await hq?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  const view = async (): Promise<MemberView> => (await request<MemberView>(hq.ready.http, 'GET', `/members/${member}`)).json
  const rightsAtTill = async (): Promise<number> => (await request<{ rights: number }>(till.ready.http, 'GET', `/members/${member}/rights`)).json.rights
  const closeAndSync = async (): Promise<void> => {
    assert.equal((await request(till.ready.http, 'POST', '/day/close', {})).status, 200)
    await untilFolded(hq.ready.http, till.ready.http, 'S1-1')
  }

  it('earned points vest after the return window, once HQ has the till\'s Closes through it', async () => {
    await request(till.ready.http, 'POST', '/day/open', { businessDay: '2026-01-05' })
    const sale = await request<Sold>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 10 }], member })
    assert.deepEqual([sale.status, sale.json.points], [200, 790])
    await closeAndSync()
    assert.deepEqual([(await view()).earned, (await view()).vested], [790, 0], 'the window\'s last day is not closed yet')
    await request(till.ready.http, 'POST', '/day/open', { businessDay: '2026-02-03' })
    await closeAndSync()
    const v = await view()
    assert.deepEqual([v.earned, v.vested, v.spendable, v.balance, v.liabilityCents], [790, 790, 790, 790, 790])
  })

  it('beyond its rights, the till asks HQ and redeems on the same path; the receipt shows the points tender; earning is on what was paid', async () => {
    await request(till.ready.http, 'POST', '/day/open', { businessDay: '2026-02-04' })
    assert.equal(await rightsAtTill(), 0)
    const sale = await request<Sold>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }], member, redeemPoints: 500 })
    assert.equal(sale.status, 200, JSON.stringify(sale.json))
    assert.deepEqual([sale.json.totalCents, sale.json.points], [CHAIR, Math.floor((CHAIR - 500) / 100)])
    const r = verifyReceipt(sale.json.receipt.qr, fromHex(hq.ready.rootKey) as PublicKey).receipt
    assert.deepEqual(r.tenders, [{ type: 'cash', amountCents: CHAIR - 500 }, { type: 'points', amountCents: 500 }])
    assert.equal(await rightsAtTill(), 0, 'HQ granted exactly the shortfall, and it was spent')
    const v = await view()
    assert.deepEqual([v.spendable, v.rights], [290, { 'S1-1': 500 }], 'escrowed at the till until its Close reports the redemption')
  })

  it('HQ grants no more than the member has spendable: 409 and no sale', async () => {
    const before = (await request<{ nextDocNo: string }>(till.ready.http, 'GET', '/status')).json.nextDocNo
    const refused = await request<{ error: string }>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }], member, redeemPoints: 291 })
    assert.equal(refused.status, 409)
    assert.match(refused.json.error, /HQ granted no more: .*291 points asked of member .*rights to 290/)
    assert.equal((await request<{ nextDocNo: string }>(till.ready.http, 'GET', '/status')).json.nextDocNo, before, 'no sale')
    const counters = (await request<{ members: { rightsGranted: number, rightsRefused: number } }>(hq.ready.http, 'GET', '/counters', undefined, admin)).json.members
    assert.deepEqual(counters, { rightsGranted: 1, rightsReturned: 0, rightsRefused: 1, lookups: 0 })
  })

  it('the Close reports redemptions; HQ\'s view and books keep the points liability to the cent', async () => {
    assert.equal((await request(till.ready.http, 'POST', `/members/${member}/rights`, { points: 200 })).status, 200)
    assert.equal(await rightsAtTill(), 200, 'reserved ahead: held at the till')
    await closeAndSync()
    const v = await view()
    const earned = 790 + Math.floor((CHAIR - 500) / 100)
    assert.deepEqual([v.earned, v.redeemed, v.rights, v.spendable, v.liabilityCents], [earned, 500, { 'S1-1': 200 }, 90, earned - 500])
    const books = (await request<{ accounts: Record<string, number> }>(hq.ready.http, 'GET', '/books')).json.accounts
    assert.equal(books['liabilities:loyalty points'], -(earned - 500), 'owed to members: earned less redeemed, a cent a point')
    assert.equal(books['expenses:loyalty points'], earned)
  })

  it('a refund gives the sale\'s money back first, then its points (to the till\'s rights), and cancels its pending points', async () => {
    await request(till.ready.http, 'POST', '/day/open', { businessDay: '2026-02-05' })
    // Two chairs: 15,800, 1,000 of it in points.
    const sale = await request<Sold>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 2 }], member, redeemPoints: 100 })
    assert.equal(sale.status, 200, JSON.stringify(sale.json))
    assert.equal(await rightsAtTill(), 100)
    const earnedHere = Math.floor((2 * CHAIR - 100) / 100)
    const first = await request<{ totalCents: number, receipt: { qr: string } }>(till.ready.http, 'POST', '/refunds', { receipt: sale.json.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }] })
    assert.equal(first.status, 200, JSON.stringify(first.json))
    const r1 = verifyReceipt(first.json.receipt.qr, fromHex(hq.ready.rootKey) as PublicKey).receipt
    assert.deepEqual(r1.tenders, [{ type: 'cash', amountCents: -CHAIR }], 'the first chair: all money')
    const kept = Math.floor((2 * CHAIR - 100 - CHAIR) / 100)
    assert.equal(r1.points, -(earnedHere - kept), 'the points the refunded money had earned are taken back')
    const second = await request<{ receipt: { qr: string } }>(till.ready.http, 'POST', '/refunds', { receipt: sale.json.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }] })
    const r2 = verifyReceipt(second.json.receipt.qr, fromHex(hq.ready.rootKey) as PublicKey).receipt
    assert.deepEqual(r2.tenders, [{ type: 'cash', amountCents: -(CHAIR - 100) }, { type: 'points', amountCents: -100 }], 'the rest: money, then the points')
    assert.equal(r2.points, -kept)
    assert.equal(await rightsAtTill(), 200, 'the points given back are this till\'s rights again')
    assert.equal((await request(till.ready.http, 'POST', '/refunds', { receipt: sale.json.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }] })).status, 400, 'refunded at most once')
    await closeAndSync()
    const v = await view()
    const earned = 790 + Math.floor((CHAIR - 500) / 100)
    assert.deepEqual([v.earned, v.redeemed, v.rights, v.liabilityCents], [earned, 500, { 'S1-1': 200 }, earned - 500], 'the sale and its refunds cancel out')
    const books = (await request<{ accounts: Record<string, number> }>(hq.ready.http, 'GET', '/books')).json.accounts
    assert.equal(books['liabilities:loyalty points'], -(earned - 500))
  })

  it('unused rights go back to HQ: spendable here no more, grantable elsewhere at once (HQ told straight away), counted once when the Close reports them too', async () => {
    await request(till.ready.http, 'POST', '/day/open', { businessDay: '2026-02-06' })
    const spendable = (await view()).spendable
    const back = await request<{ rights: number }>(till.ready.http, 'POST', `/members/${member}/rights/return`, { points: 50 })
    assert.deepEqual([back.status, back.json.rights], [200, 150])
    assert.equal((await request(till.ready.http, 'POST', `/members/${member}/rights/return`, { points: 151 })).status, 400, 'no more than it holds')
    let v = await view()
    assert.deepEqual([v.rights, v.spendable], [{ 'S1-1': 150 }, spendable + 50], 'at once')
    await closeAndSync()
    v = await view()
    assert.deepEqual([v.rights, v.spendable], [{ 'S1-1': 150 }, spendable + 50], 'the Close reports the same return: counted once')
    assert.equal((await request<{ members: { rightsReturned: number } }>(hq.ready.http, 'GET', '/counters', undefined, admin)).json.members.rightsReturned, 1)
  })

  it('with HQ out of reach, the till redeems within its rights (no round trip) and refuses beyond them: 409, no sale', async () => {
    await request(till.ready.http, 'POST', '/day/open', { businessDay: '2026-02-07' })
    await hq.stop()
    const t0 = performance.now()
    const within = await request<Sold>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }], member, redeemPoints: 100 })
    const ms = performance.now() - t0
    assert.equal(within.status, 200, JSON.stringify(within.json))
    assert.ok(ms < 1_000, `within rights, HQ is not asked (took ${ms.toFixed(0)} ms; asking an unreachable HQ takes its timeout)`)
    assert.equal(await rightsAtTill(), 50)
    const before = (await request<{ nextDocNo: string }>(till.ready.http, 'GET', '/status')).json.nextDocNo
    const beyond = await request<{ error: string }>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }], member, redeemPoints: 51 })
    assert.equal(beyond.status, 409)
    assert.match(beyond.json.error, /holds rights to 50 .*HQ granted no more/)
    assert.equal((await request<{ nextDocNo: string }>(till.ready.http, 'GET', '/status')).json.nextDocNo, before, 'no sale')
    const phone = await request<{ error: string }>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }], member: '+447700900321' })
    assert.deepEqual([phone.status, /looked up at HQ, which is out of reach: scan the member's card/.test(phone.json.error)], [409, true], 'a phone number needs HQ')
  })
})

/**
 * Members' points across real processes: HQ and two stores' tills as `tillbooks` daemons, each
 * till's link to HQ through a TCP gate this test cuts. Points escrowed at each till before the
 * partition are redeemed there with HQ out of reach, and not one point more; neither store can
 * overspend, and what they redeemed HQ books to the cent once the partition heals. A receipt
 * refunded at its own store is refused when the customer tries again at the other store (which
 * asks the selling till over libp2p: the stores still reach each other).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addressOf, freePort, request, tokenOf, untilFolded } from '../node/test/helpers/daemons.ts'
import { TcpGate, portOf, withPort } from '../sim/src/net/gate.ts'
import { killAll, run, startDaemon, type Daemon } from './helpers/processes.ts'

interface MemberView { earned: number, vested: number, redeemed: number, balance: number, spendable: number, rights: Record<string, number>, liabilityCents: number }
interface Sold { docNo: string, totalCents: number, points: number, receipt: { docNo: string, qr: string } }
const CHAIR = 7900

describe('members across processes: two stores partitioned from HQ redeem what they hold, and no more', function () {
  this.timeout(180_000)
  let dir: string
  const gates: TcpGate[] = []
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'tillbooks-members-procs-')) })
  after(async () => {
    await killAll()
    for (const g of gates) await g.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('redeems offline within each till\'s rights, refuses beyond them, books the liability; a refunded receipt is refused at the other store', async () => {
    const hq = await startDaemon(['hq', '--data', join(dir, 'hq'), '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '0', '--books-db', 'off'])
    const admin = await tokenOf(join(dir, 'hq'))
    const hqAddr = hq.ready.multiaddrs.find(m => m.startsWith('/ip4/127.0.0.1/')) as string
    const stores = ['S1', 'S2']
    const ports = [await freePort(), await freePort()]
    for (const s of stores) {
      const code = JSON.parse((await run(['codes', 'new', '--hq', hq.ready.http, '--store', s, '--till', '1', '--token-file', join(dir, 'hq', 'admin.token'), '--json'])).trim().split('\n').pop() as string) as { code: string }
      await run(['enrol', '--hq', hq.ready.http, '--code', code.code, '--data', join(dir, s), '--store', s, '--till', '1'])
    }
    const addrs = [await addressOf(join(dir, 'S1'), ports[0] as number), await addressOf(join(dir, 'S2'), ports[1] as number)]
    const tills: Daemon[] = []
    for (const [i, s] of stores.entries()) {
      // Each till reaches HQ through its own gate (its store's uplink), and the other store directly.
      const gate = new TcpGate({ host: '127.0.0.1', port: portOf(hqAddr) })
      gates.push(gate)
      const via = withPort(hqAddr, await gate.listen())
      tills.push(await startDaemon(['till', '--data', join(dir, s), '--store', s, '--till', '1', '--hq', via, '--http', '0', '--listen', `/ip4/127.0.0.1/tcp/${ports[i] as number}`,
        '--neighbours', addrs[1 - i] as string, '--retry-max-ms', '300', '--no-gossip']))
    }
    const [t1, t2] = tills as [Daemon, Daemon]
    const call = async <T>(base: string, method: string, path: string, body?: unknown, token?: string): Promise<T> => {
      const r = await request<T>(base, method, path, body, token)
      assert.ok(r.status === 200, `${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`)
      return r.json
    }
    const closeAndFold = async (t: Daemon, tillId: string): Promise<void> => {
      await call(t.ready.http, 'POST', '/day/close', {})
      await untilFolded(hq.ready.http, t.ready.http, tillId)
    }
    const view = async (member: string): Promise<MemberView> => await call<MemberView>(hq.ready.http, 'GET', `/members/${member}`)
    const granted = async (): Promise<number> => (await call<{ members: { rightsGranted: number } }>(hq.ready.http, 'GET', '/counters', undefined, admin)).members.rightsGranted

    // A member earns 790 points at S1; they vest once the return window is over and S1 has closed through it.
    const { member, memberQr } = await call<{ member: string, memberQr: string }>(hq.ready.http, 'POST', '/admin/members', { phone: '+447700900654' }, admin)
    await call(t1.ready.http, 'POST', '/day/open', { businessDay: '2026-01-05' })
    assert.equal((await call<Sold>(t1.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 10 }], member: memberQr })).points, 790)
    await closeAndFold(t1, 'S1-1')
    await call(t1.ready.http, 'POST', '/day/open', { businessDay: '2026-02-03' })
    await closeAndFold(t1, 'S1-1')
    assert.deepEqual([(await view(member)).vested, (await view(member)).spendable], [790, 790])

    // Each store escrows 300 of them before its uplink goes down: 190 stay at HQ.
    for (const t of tills) assert.equal((await call<{ rights: number }>(t.ready.http, 'POST', `/members/${member}/rights`, { points: 300 })).rights, 300)
    assert.deepEqual([(await view(member)).spendable, (await view(member)).rights], [190, { 'S1-1': 300, 'S2-1': 300 }])
    for (const t of tills) await call(t.ready.http, 'POST', '/day/open', { businessDay: '2026-02-04' })

    // The partition: both stores cut off from HQ (not from each other).
    for (const g of gates) g.cut()
    const before = await granted()
    const sales: Sold[] = []
    for (const t of tills) {
      const s = await request<Sold>(t.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }], member: memberQr, redeemPoints: 300 })
      assert.equal(s.status, 200, `within its rights, offline: ${JSON.stringify(s.json)}`)
      sales.push(s.json)
      const more = await request<{ error: string }>(t.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }], member: memberQr, redeemPoints: 1 })
      assert.equal(more.status, 409, 'one point beyond its rights, HQ out of reach: no sale')
    }
    assert.equal(await granted(), before, 'no grant was asked for: redemptions within rights made no round trip')

    // A refund at the issuing store; the customer tries the same receipt again at the other store.
    const sold = await call<Sold>(t1.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }] })
    await call(t1.ready.http, 'POST', '/refunds', { receipt: sold.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }] })
    const elsewhere = await request<{ error: string }>(t2.ready.http, 'POST', '/refunds', { receipt: sold.receipt.qr, lines: [{ sku: 'patio-chair', qty: 1 }], tender: 'card' })
    assert.equal(elsewhere.status, 409, JSON.stringify(elsewhere.json))
    assert.match(elsewhere.json.error, /which sold it, refused: .*0 left to refund/)

    // Healed: the Closes reach HQ, which books both stores' redemptions to the cent.
    for (const g of gates) g.heal()
    await closeAndFold(t1, 'S1-1')
    await closeAndFold(t2, 'S2-1')
    const v = await view(member)
    const earned = 790 + 2 * Math.floor((CHAIR - 300) / 100)
    assert.deepEqual([v.earned, v.redeemed, v.rights, v.spendable], [earned, 600, {}, 190])
    assert.ok(v.redeemed <= v.vested, 'never overspent')
    const books = await call<{ accounts: Record<string, number> }>(hq.ready.http, 'GET', '/books')
    assert.equal(books.accounts['liabilities:loyalty points'], -(earned - 600), 'the points liability, a cent a point: earned less redeemed')
    assert.equal(v.liabilityCents, earned - 600)
  })
})

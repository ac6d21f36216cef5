/**
 * Members without phone numbers in the logs: HQ enrols a member by phone and keeps a random id
 * and a keyed hash of the number (never the number); the member's card (the id signed by HQ)
 * is read by the till offline; the sale, its receipt, the Close and HQ's books carry the id.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { asStoreId, fromHex, keyPairFromSeed, openMemberCard, signEntry, signMemberCard, Signer, type Entry, type PublicKey } from '@tillbooks/protocol'
import { verifyReceipt } from '@tillbooks/wallet'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon, type TillDaemon } from '../src/daemon/tillDaemon.ts'
import { HqMembers } from '../src/hq/HqMembers.ts'
import { MemoryStore } from '../src/storage/MemoryStore.ts'
import { enrolStores, request, tokenOf, until } from './helpers/daemons.ts'
import { ManualClock } from './helpers/fleet.ts'

/** A till's Close of S1 (one cash sale of 10.00), signed by `signer`, with `extra` fields (points, redemptions…). */
function closeBy (signer: Signer, till: number, seq: number, day: string, prevHash: Uint8Array, extra: object): Entry {
  return signEntry({
    v: 1, kind: 'close', store: 'S1' as never, till, businessDay: day as never, seq, prevHash, atMs: seq,
    docFirst: seq, docLast: seq, saleCount: 1, refundCount: 0, takingsCents: { cash: 1000, card: 0 }, tax: [{ rateBp: 0, netCents: 1000, taxCents: 0 }],
    refundsCents: 0, cashCountedCents: 1000, consumed: [], points: [], ...extra
  } as never, signer)
}

describe('members: enrolled at HQ by phone, known everywhere else by id', function () {
  this.timeout(60_000)
  let dir: string
  let hq: HqDaemon
  let till: TillDaemon
  let admin: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-members-'))
    hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    admin = await tokenOf(join(dir, 'hq'))
    await enrolStores(hq, join(dir, 'hq'), dir, ['S1'])
    till = await startTillDaemon({ dataDir: join(dir, 'S1'), store: asStoreId('S1'), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], neighbours: [], logger: silentLogger, gossipRing: null, retryMinMs: 50, retryMaxMs: 200 })
    await request(till.ready.http, 'POST', '/day/open', {})
  })
  after(async () => {
    await till?.stop().catch(() => {})
    await hq?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  it('HQ enrols a member by phone once (any way of writing it), refuses a number without its country code, and keeps no number', async () => {
    const first = await request<{ member: string, memberQr: string, created: boolean }>(hq.ready.http, 'POST', '/admin/members', { phone: '+44 7700 900123' }, admin)
    assert.deepEqual([first.status, first.json.created], [200, true])
    assert.match(first.json.member, /^m-[A-Za-z0-9_-]{22}$/)
    assert.equal(openMemberCard(first.json.memberQr, fromHex(hq.ready.rootKey) as PublicKey).member, first.json.member)
    const again = await request<{ member: string, created: boolean }>(hq.ready.http, 'POST', '/admin/members', { phone: '0044 7700-900123' }, admin)
    assert.deepEqual([again.status, again.json.member, again.json.created], [200, first.json.member, false])
    assert.equal((await request(hq.ready.http, 'POST', '/admin/members', { phone: '07700 900123' }, admin)).status, 400)
    assert.equal((await request(hq.ready.http, 'POST', '/admin/members', { phone: '+447700900123' })).status, 401, 'the admin token\'s')
  })

  it('the till reads a member\'s card offline; the receipt, the Close and HQ\'s books carry the member id, never the number', async () => {
    const { member, memberQr } = (await request<{ member: string, memberQr: string }>(hq.ready.http, 'POST', '/admin/members', { phone: '+447700900777' }, admin)).json
    const sale = await request<{ docNo: string, points: number, receipt: { qr: string } }>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }], member: memberQr })
    assert.equal(sale.status, 200, JSON.stringify(sale.json))
    assert.ok(sale.json.points > 0)
    assert.equal(verifyReceipt(sale.json.receipt.qr, fromHex(hq.ready.rootKey) as PublicKey).receipt.member, member)
    // A card another HQ signed is refused, and no sale is made.
    const forged = signMemberCard(new Signer(keyPairFromSeed(new Uint8Array(32).fill(5))), { member, issuedAtMs: 0 })
    const refused = await request<{ error: string }>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }], member: forged })
    assert.deepEqual([refused.status, /member card refused/.test(refused.json.error)], [400, true])
    await request(till.ready.http, 'POST', '/day/close', {})
    await request(till.ready.http, 'POST', '/sync', {})
    await until('HQ books the Close', async () => (await request<{ members: Record<string, number> }>(hq.ready.http, 'GET', '/books')).json.members[member] !== undefined)
    const books = (await request<{ members: Record<string, number> }>(hq.ready.http, 'GET', '/books')).json
    assert.equal(books.members[member], sale.json.points)
    assert.ok(!Object.keys(books.members).some(k => k.startsWith('+')), 'no phone number in the books')
    // What HQ says of the member: earned today, not vested within the return window; nothing redeemed.
    const view = await request<{ member: string, earned: number, vested: number, redeemed: number, balance: number, rights: Record<string, number> }>(hq.ready.http, 'GET', `/members/${member}`)
    assert.deepEqual(view.json, { member, enrolled: true, earned: sale.json.points, vested: 0, redeemed: 0, balance: 0, rights: {}, spendable: 0, forfeited: 0, liabilityCents: sale.json.points, heldAtForks: 0 })
    assert.equal((await request(hq.ready.http, 'GET', '/members/m-ZZZZZZZZZZZZZZZZZZZZZZ')).status, 404)
    assert.equal((await request(hq.ready.http, 'GET', '/members/+447700900777')).status, 400, 'looked up by id, never by number')
  })

  it('a phone number given at the till is looked up at HQ (enrolled if new): only the member id reaches the sale and its receipt', async () => {
    const day = (await request<{ lastClosedDay: string }>(till.ready.http, 'GET', '/status')).json.lastClosedDay
    const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)
    assert.equal((await request(till.ready.http, 'POST', '/day/open', { businessDay: next })).status, 200)
    const sale = await request<{ points: number, receipt: { qr: string } }>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }], member: '+447700900888' })
    assert.equal(sale.status, 200, JSON.stringify(sale.json))
    const member = verifyReceipt(sale.json.receipt.qr, fromHex(hq.ready.rootKey) as PublicKey).receipt.member
    const enrolled = (await request<{ member: string, created: boolean }>(hq.ready.http, 'POST', '/admin/members', { phone: '+44 7700 900888' }, admin)).json
    assert.deepEqual([member, enrolled.created], [enrolled.member, false], 'the lookup enrolled the number; the receipt has its id')
    assert.ok(!JSON.stringify(await request(till.ready.http, 'GET', `/receipts/${(verifyReceipt(sale.json.receipt.qr, fromHex(hq.ready.rootKey) as PublicKey).receipt.docNo)}`)).includes('7700900888'), 'no number in the receipt')
    const bad = await request<{ error: string }>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }], member: '07700900123' })
    assert.deepEqual([bad.status, /country code/.test(bad.json.error), bad.json.error.includes('07700900123')], [400, true, false], 'refused, and the reason does not repeat the number')
    const counters = (await request<{ members: { lookups: number } }>(hq.ready.http, 'GET', '/counters', undefined, admin)).json.members
    assert.equal(counters.lookups, 1)
  })

  it('points vest once their sale\'s day is the return window behind and HQ holds the till\'s Closes through it (a refund it has not heard of can no longer exist)', async () => {
    const { startHq } = await import('./helpers/fleet.ts')
    const { GENESIS_HASH, signEntry } = await import('@tillbooks/protocol')
    const hqNode = await startHq()
    const signer = new Signer(keyPairFromSeed(new Uint8Array(32).fill(12)))
    await hqNode.enrol({ store: 'S1' as never, till: 1, tillKey: signer.publicKey })
    const member = 'm-CCCCCCCCCCCCCCCCCCCCCC'
    const closeOf = (seq: number, day: string, prevHash: Uint8Array, points: Array<{ member: string, points: number }>): ReturnType<typeof signEntry> => signEntry({
      v: 1, kind: 'close', store: 'S1' as never, till: 1, businessDay: day as never, seq, prevHash, atMs: seq,
      docFirst: seq, docLast: seq, saleCount: 1, refundCount: 0, takingsCents: { cash: 1000, card: 0 }, tax: [{ rateBp: 0, netCents: 1000, taxCents: 0 }],
      refundsCents: 0, cashCountedCents: 1000, consumed: [], points
    }, signer)
    const first = closeOf(1, '2026-03-02', GENESIS_HASH, [{ member, points: 10 }])
    assert.equal((await hqNode.submit([first.bytes]))[0]?.status, 'accepted')
    const kv = new MemoryStore()
    await kv.open()
    const m = new HqMembers({ store: kv, key: new Uint8Array(32).fill(7), root: new Signer(keyPairFromSeed(new Uint8Array(32).fill(8))), clock: new ManualClock(), hq: hqNode })
    assert.equal((await m.view(member, '2026-04-01')).vested, 0, 'the window is over, but HQ has not heard the till close its last day')
    // The till's Close of the window's last day (2026-03-31): nothing can take the points back now.
    assert.equal((await hqNode.submit([closeOf(2, '2026-03-31', first.hashBytes, []).bytes]))[0]?.status, 'accepted')
    assert.deepEqual([(await m.view(member, '2026-03-31')).vested, (await m.view(member, '2026-04-01')).vested], [0, 10], 'the 30 days of the return window')
    assert.equal((await m.view(member, '2026-04-01')).earned, 10)
    await hqNode.stop()
  })

  it('rights: granted only to the till as it is now enrolled, within what is vested and not escrowed; given back, spendable again; a replaced till\'s forfeit; a forked till\'s refused', async () => {
    const { startHq } = await import('./helpers/fleet.ts')
    const { GENESIS_HASH, openRightsGrant, toHex } = await import('@tillbooks/protocol')
    const { tillInstance } = await import('@tillbooks/members')
    const hqNode = await startHq()
    const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(8)))
    const first = new Signer(keyPairFromSeed(new Uint8Array(32).fill(21)))
    const other = new Signer(keyPairFromSeed(new Uint8Array(32).fill(23)))
    await hqNode.enrol({ store: 'S1' as never, till: 1, tillKey: first.publicKey })
    await hqNode.enrol({ store: 'S1' as never, till: 2, tillKey: other.publicKey })
    const kv = new MemoryStore()
    await kv.open()
    const clock = new ManualClock(Date.parse('2026-04-01T12:00:00Z'))
    const m = new HqMembers({ store: kv, key: new Uint8Array(32).fill(7), root, clock, hq: hqNode })
    const { member } = await m.enrol('+447700900999')
    const c1 = closeBy(first, 1, 1, '2026-03-02', GENESIS_HASH, { points: [{ member, points: 500 }] })
    const c2 = closeBy(first, 1, 2, '2026-03-31', c1.hashBytes, {})
    for (const e of [c1, c2]) assert.equal((await hqNode.submit([e.bytes]))[0]?.status, 'accepted')
    const s11 = tillInstance('S1-1', toHex(first.publicKey))
    const s12 = tillInstance('S1-2', toHex(other.publicKey))
    // To the till itself, as it is enrolled now, and within what is spendable.
    await assert.rejects(m.grant({ grantId: `${s11}:g0`, member, till: s11, points: 10 }, other.publicKey), /not the asking peer/)
    await assert.rejects(m.grant({ grantId: `${s12}:g1`, member, till: s11, points: 10 }, first.publicKey), /is not one of S1-1:/, 'a till numbers its own grants')
    const first1 = await m.grant({ grantId: `${s11}:g1`, member, till: s11, points: 300 }, first.publicKey)
    const g1 = openRightsGrant(first1, root.publicKey)
    assert.deepEqual([g1.till, g1.points], [s11, 300])
    assert.deepEqual(await m.grant({ grantId: `${s11}:g1`, member, till: s11, points: 5 }, first.publicKey), first1, 'the same grant id again (a lost answer): the grant made the first time')
    await assert.rejects(m.grant({ grantId: `${s12}:g1`, member, till: s12, points: 201 }, other.publicKey), /201 points asked of member .* rights to 200/)
    await m.grant({ grantId: `${s12}:g1`, member, till: s12, points: 150 }, other.publicKey)
    assert.deepEqual([(await m.view(member, '2026-04-01')).spendable, (await m.view(member, '2026-04-01')).rights], [50, { 'S1-1': 300, 'S1-2': 150 }])
    // S1-1 gives 50 back, told straight away: grantable elsewhere at once; never more than HQ knows it holds, and only by itself.
    await assert.rejects(m.giveBack({ returnId: 'q1', member, till: s11, points: 301 }, first.publicKey), /HQ knows it to hold 300/)
    await assert.rejects(m.giveBack({ returnId: 'q1', member, till: s11, points: 50 }, other.publicKey), /not the asking peer/)
    await m.giveBack({ returnId: 'q1', member, till: s11, points: 50 }, first.publicKey)
    await m.giveBack({ returnId: 'q1', member, till: s11, points: 50 }, first.publicKey)
    await assert.rejects(m.giveBack({ returnId: 'q1', member, till: s11, points: 40 }, first.publicKey), /other content/)
    assert.deepEqual([(await m.view(member, '2026-04-01')).spendable, (await m.view(member, '2026-04-01')).rights], [100, { 'S1-1': 250, 'S1-2': 150 }])
    // S1-1 redeems 100, and its next Close reports the same return: counted once.
    const c3 = closeBy(first, 1, 3, '2026-04-01', c2.hashBytes, { takingsCents: { cash: 900, card: 0 }, cashCountedCents: 900, redeemed: [{ member, points: 100, amountCents: 100 }], rightsReturned: [{ id: 'q1', member, points: 50 }] })
    assert.equal((await hqNode.submit([c3.bytes]))[0]?.status, 'accepted')
    let v = await m.view(member, '2026-04-01')
    assert.deepEqual([v.redeemed, v.rights, v.spendable, v.balance], [100, { 'S1-1': 150, 'S1-2': 150 }, 100, 400])
    // S1-1 burns and is enrolled anew with another key: its 150 are forfeit (its last, burnt, hours may have spent them); grants go to the new key.
    const replacement = new Signer(keyPairFromSeed(new Uint8Array(32).fill(22)))
    await hqNode.enrol({ store: 'S1' as never, till: 1, tillKey: replacement.publicKey, fromSeq: 4 })
    v = await m.view(member, '2026-04-01')
    assert.deepEqual([v.rights, v.forfeited, v.spendable], [{ 'S1-2': 150 }, 150, 100])
    await assert.rejects(m.grant({ grantId: `${s11}:g2`, member, till: s11, points: 10 }, first.publicKey), /not S1-1's current key/)
    const s11b = tillInstance('S1-1', toHex(replacement.publicKey))
    await m.grant({ grantId: `${s11b}:g1`, member, till: s11b, points: 10 }, replacement.publicKey)
    // S1-2 found forked (two Closes signed at one seq): its rights are forfeit, and it is granted nothing.
    for (const e of [closeBy(other, 2, 1, '2026-04-01', GENESIS_HASH, {}), closeBy(other, 2, 1, '2026-04-01', GENESIS_HASH, { atMs: 99 })]) await hqNode.submit([e.bytes])
    assert.equal(hqNode.fleet()['S1-2']?.forked, true)
    await assert.rejects(m.grant({ grantId: `${s12}:g2`, member, till: s12, points: 1 }, other.publicKey), /forked/)
    v = await m.view(member, '2026-04-01')
    assert.deepEqual([v.rights, v.forfeited], [{ 'S1-1': 10 }, 300])
    await hqNode.stop()
  })

  it('a fork found after its points vested and were spent elsewhere: the member below zero by at most what the fork holds, granted nothing until later points repay it', async () => {
    const { startHq } = await import('./helpers/fleet.ts')
    const { GENESIS_HASH } = await import('@tillbooks/protocol')
    const { tillInstance } = await import('@tillbooks/members')
    const { toHex } = await import('@tillbooks/protocol')
    const hqNode = await startHq()
    const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(8)))
    const forker = new Signer(keyPairFromSeed(new Uint8Array(32).fill(31)))
    const honest = new Signer(keyPairFromSeed(new Uint8Array(32).fill(32)))
    await hqNode.enrol({ store: 'S1' as never, till: 1, tillKey: forker.publicKey })
    await hqNode.enrol({ store: 'S1' as never, till: 2, tillKey: honest.publicKey })
    const kv = new MemoryStore()
    await kv.open()
    const clock = new ManualClock(Date.parse('2026-04-01T12:00:00Z'))
    const m = new HqMembers({ store: kv, key: new Uint8Array(32).fill(7), root, clock, hq: hqNode })
    const { member } = await m.enrol('+447700900777')
    // 500 points earned at S1-1, vested once its Closes through the window are in.
    const c1 = closeBy(forker, 1, 1, '2026-03-02', GENESIS_HASH, { points: [{ member, points: 500 }] })
    const c2 = closeBy(forker, 1, 2, '2026-03-31', c1.hashBytes, {})
    for (const e of [c1, c2]) assert.equal((await hqNode.submit([e.bytes]))[0]?.status, 'accepted')
    assert.equal((await m.view(member, '2026-04-01')).spendable, 500)
    // 300 of them granted to S1-2 and redeemed there.
    const s12 = tillInstance('S1-2', toHex(honest.publicKey))
    await m.grant({ grantId: `${s12}:g1`, member, till: s12, points: 300 }, honest.publicKey)
    const h1 = closeBy(honest, 2, 1, '2026-04-01', GENESIS_HASH, { takingsCents: { cash: 700, card: 0 }, cashCountedCents: 700, redeemed: [{ member, points: 300, amountCents: 300 }] })
    assert.equal((await hqNode.submit([h1.bytes]))[0]?.status, 'accepted')
    let v = await m.view(member, '2026-04-01')
    assert.deepEqual([v.balance, v.spendable, v.heldAtForks], [200, 200, 0])
    // Then S1-1's twin of its first Close arrives: forked at seq 1, none of its Closes folded, their points with them.
    const twin = closeBy(forker, 1, 1, '2026-03-02', GENESIS_HASH, { atMs: 99, points: [{ member, points: 450 }] })
    await hqNode.submit([twin.bytes])
    assert.equal(hqNode.fleet()['S1-1']?.forked, true)
    v = await m.view(member, '2026-04-01')
    assert.deepEqual([v.earned, v.vested, v.redeemed, v.balance, v.spendable], [0, 0, 300, -300, -300], 'the books and the member agree: the fork\'s points are in neither')
    assert.equal(v.heldAtForks, 500, 'the most either side of the fork claims for the member')
    assert.ok(-v.spendable <= v.heldAtForks, 'below zero by at most what the fork holds')
    // A third side at seq 1, claiming more, logged after a view read the fork: read again.
    const third = closeBy(forker, 1, 1, '2026-03-02', GENESIS_HASH, { atMs: 98, points: [{ member, points: 700 }] })
    await hqNode.submit([third.bytes])
    assert.equal((await m.view(member, '2026-04-01')).heldAtForks, 700)
    await assert.rejects(m.grant({ grantId: `${s12}:g2`, member, till: s12, points: 1 }, honest.publicKey), /rights to -300/)
    // Later points repay it first: 400 earned at S1-2 and vested leave 100 to spend.
    const h2 = closeBy(honest, 2, 2, '2026-04-02', h1.hashBytes, { points: [{ member, points: 400 }] })
    const h3 = closeBy(honest, 2, 3, '2026-05-01', h2.hashBytes, {})
    for (const e of [h2, h3]) assert.equal((await hqNode.submit([e.bytes]))[0]?.status, 'accepted')
    v = await m.view(member, '2026-05-02')
    assert.deepEqual([v.earned, v.vested, v.balance, v.spendable, v.heldAtForks], [400, 400, 100, 100, 700])
    clock.ms = Date.parse('2026-05-02T12:00:00Z')
    await m.grant({ grantId: `${s12}:g2`, member, till: s12, points: 100 }, honest.publicKey)
    await assert.rejects(m.grant({ grantId: `${s12}:g3`, member, till: s12, points: 1 }, honest.publicKey), /rights to 0/)
    await hqNode.stop()
  })

  it('one number enrolled as two members at two replicas: once found, one member with one balance, whichever card is shown', async () => {
    const { startHq } = await import('./helpers/fleet.ts')
    const { GENESIS_HASH, toHex } = await import('@tillbooks/protocol')
    const { phoneKey, tillInstance } = await import('@tillbooks/members')
    const hqNode = await startHq()
    const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(8)))
    const tillKey = new Signer(keyPairFromSeed(new Uint8Array(32).fill(41)))
    await hqNode.enrol({ store: 'S1' as never, till: 1, tillKey: tillKey.publicKey })
    const kv = new MemoryStore()
    await kv.open()
    const memberKey = new Uint8Array(32).fill(7)
    const m = new HqMembers({ store: kv, key: memberKey, root, clock: new ManualClock(Date.parse('2026-04-01T12:00:00Z')), hq: hqNode })
    const phone = '+447700900555'
    const here = (await m.enrol(phone)).member
    // The same number was enrolled at another replica, cut off from this one, as another member.
    const there = here === 'm-AAAAAAAAAAAAAAAAAAAAAA' ? 'm-BBBBBBBBBBBBBBBBBBBBBB' : 'm-AAAAAAAAAAAAAAAAAAAAAA'
    const [first, second] = here < there ? [here, there] : [there, here]
    // Points earned under each id, at a till (each card was shown on some sale), vested.
    const close = (seq: number, day: string, prevHash: Uint8Array, extra: object): Entry => closeBy(tillKey, 1, seq, day, prevHash, extra)
    const c1 = close(1, '2026-03-01', GENESIS_HASH, { points: [{ member: here, points: 200 }, { member: there, points: 300 }].sort((a, b) => a.member < b.member ? -1 : 1) })
    const c2 = close(2, '2026-03-31', c1.hashBytes, {})
    for (const e of [c1, c2]) assert.equal((await hqNode.submit([e.bytes]))[0]?.status, 'accepted')
    assert.deepEqual([(await m.view(here, '2026-04-01')).spendable, (await m.view(there, '2026-04-01')).spendable], [200, 300], 'two members until the replicas meet')
    // The other replica's record of the number arrives: the number stays with the smaller id, and the two are one.
    await m.adoptRecord(`k!${phoneKey(memberKey, phone)}`, new TextEncoder().encode(there))
    await m.adoptRecord(`M!${there}`, new TextEncoder().encode('1775000000000'))
    assert.equal(await m.lookup(phone), first)
    for (const id of [here, there]) {
      const v = await m.view(id, '2026-04-01')
      assert.deepEqual([v.member, v.earned, v.vested, v.spendable, v.sameMember], [id, 500, 500, 500, [first, second]], `asked by ${id}`)
    }
    // Either card spends the one balance: 400 to a till under the second id (it earned 300 alone), then no more than is left.
    const s11 = tillInstance('S1-1', toHex(tillKey.publicKey))
    await m.grant({ grantId: `${s11}:g1`, member: second, till: s11, points: 400 }, tillKey.publicKey)
    await assert.rejects(m.grant({ grantId: `${s11}:g2`, member: first, till: s11, points: 101 }, tillKey.publicKey), /rights to 100/)
    assert.deepEqual([(await m.view(first, '2026-04-01')).spendable, (await m.view(first, '2026-04-01')).rights], [100, { 'S1-1': 400 }])
    // The record that says so is shared with replicas like any member record; a bad one is refused.
    assert.equal(new TextDecoder().decode(await kv.get(`A!${second}`)), first)
    await assert.rejects(m.adoptRecord(`A!${first}`, new TextEncoder().encode(second)), /one with a smaller id/)
    await assert.rejects(m.adoptRecord('A!m-x', new TextEncoder().encode(first)), /not a member id/)
    await hqNode.stop()
  })

  it('records of one member told in any order at three replicas: the same records at each, every id naming the smallest', async () => {
    const ids = ['m-CCCCCCCCCCCCCCCCCCCCCC', 'm-BBBBBBBBBBBBBBBBBBBBBB', 'm-AAAAAAAAAAAAAAAAAAAAAA', 'm-DDDDDDDDDDDDDDDDDDDDDD']
    const [c, b, a, d] = ids as [string, string, string, string]
    // Each replica learnt one pair before they met (A! records a replica shares), then every record the others hold, in its own order.
    const told: Array<Array<[string, string]>> = [[[c, b], [d, a], [b, a]], [[d, c], [b, a], [c, a]], [[b, a], [c, b], [d, b]]]
    const replicas: Array<{ m: HqMembers, kv: MemoryStore }> = []
    for (const pairs of told) {
      const kv = new MemoryStore()
      await kv.open()
      const m = new HqMembers({ store: kv, key: new Uint8Array(32).fill(7), root: new Signer(keyPairFromSeed(new Uint8Array(32).fill(8))), clock: new ManualClock() })
      for (const [from, to] of pairs) await m.adoptRecord(`A!${from}`, new TextEncoder().encode(to))
      replicas.push({ m, kv })
    }
    const records = async (kv: MemoryStore): Promise<string[]> => {
      const out: string[] = []
      for await (const [k, v] of kv.entries({ gte: 'A!', lt: 'A"' })) out.push(`${k}=${new TextDecoder().decode(v)}`)
      return out
    }
    // Two rounds of everyone bringing over everyone's records (a settled record may differ until the peer learns more).
    for (let round = 0; round < 2; round++) {
      for (const to of replicas) {
        for (const from of replicas) {
          if (from === to) continue
          for (const r of await records(from.kv)) {
            const [k, v] = r.split('=') as [string, string]
            await to.m.adoptRecord(k, new TextEncoder().encode(v))
          }
        }
      }
    }
    const want = [b, c, d].map(x => `A!${x}=${a}`).sort()
    for (const { kv, m } of replicas) {
      assert.deepEqual(await records(kv), want)
      for (const id of ids) assert.deepEqual((await m.view(id, '2026-03-02')).sameMember, [...ids].sort())
    }
  })

  it('a view reading while a record is written never keeps what the write changed (grants, members one with another)', async () => {
    const { openRightsGrant, signRightsGrant } = await import('@tillbooks/protocol')
    // A store whose next write waits until released: a view runs while it is under way.
    class GatedStore extends MemoryStore {
      gate: Promise<void> | null = null
      override async batch (...args: Parameters<MemoryStore['batch']>): Promise<void> {
        if (this.gate !== null) await this.gate
        await super.batch(...args)
      }
    }
    const kv = new GatedStore()
    await kv.open()
    const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(8)))
    const m = new HqMembers({ store: kv, key: new Uint8Array(32).fill(7), root, clock: new ManualClock() })
    const [first, second] = ['m-AAAAAAAAAAAAAAAAAAAAAA', 'm-BBBBBBBBBBBBBBBBBBBBBB']
    let release = (): void => {}
    kv.gate = new Promise(resolve => { release = resolve })
    const adopting = m.adoptRecord(`A!${second}`, new TextEncoder().encode(first))
    const reading = m.view(second, '2026-03-02')
    await new Promise(resolve => setTimeout(resolve, 10))
    kv.gate = null
    release()
    await Promise.all([adopting, reading])
    assert.deepEqual((await m.view(second, '2026-03-02')).sameMember, [first, second], 'the view that read during the write did not keep its map')
    // The same for a grant a replica brings over.
    const grant = signRightsGrant(root, { id: 'S1-1:abababab:g1', member: first, till: 'S1-1:abababab', points: 5, issuedAtMs: 1 })
    assert.equal(openRightsGrant(grant, root.publicKey).points, 5)
    kv.gate = new Promise(resolve => { release = resolve })
    const adoptingGrant = m.adoptRecord('G!S1-1:abababab:g1', grant)
    const reading2 = m.view(first, '2026-03-02')
    await new Promise(resolve => setTimeout(resolve, 10))
    kv.gate = null
    release()
    await Promise.all([adoptingGrant, reading2])
    assert.deepEqual((await m.view(first, '2026-03-02')).rights, { 'S1-1': 5 }, 'the grant is counted')
  })

  it('keeps only the keyed hash: nothing HQ stores holds the number', async () => {
    const store = new MemoryStore()
    await store.open()
    const m = new HqMembers({ store, key: new Uint8Array(32).fill(7), root: new Signer(keyPairFromSeed(new Uint8Array(32).fill(8))), clock: new ManualClock() })
    const { member } = await m.enrol('+447700900555')
    assert.equal(await m.has(member), true)
    for await (const [k, v] of store.entries({ gte: '', lt: '\uffff' })) {
      assert.ok(!`${k}${Buffer.from(v).toString('latin1')}`.includes('7700900555'), `${k} holds the number`)
    }
  })
})

/**
 * Till logs over Automerge's sync protocol between real daemons (libp2p TCP on 127.0.0.1,
 * LevelDB): a till's new close reaches its neighbour's replica in one message each way,
 * with equal Automerge heads on both sides; a neighbour a week behind catches up in two
 * round trips; HQ holds the till's own changes and serves them by sync with the till's heads;
 * a neighbour restarted from an empty disk catches up; and forged, foreign
 * and garbage sync messages are refused with a reason, counted, and change nothing.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as A from '@automerge/automerge'
import { actorIdFor, initSyncState, keyOfBytes, TillLog } from '@tillbooks/crdt'
import { asStoreId, openEntry } from '@tillbooks/protocol'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon, type TillDaemon } from '../src/daemon/tillDaemon.ts'
import { NetError, TillbooksPeer } from '../src/net/TillbooksPeer.ts'
import { addressOf, enrolStores, freePort, request, tokenOf, until } from './helpers/daemons.ts'

interface ReplicasJson { replicas: Record<string, { seq: number, heads: string[] }>, sync: { messagesIn: number, messagesOut: number, refused: number, lastPull: { doc: string, trips: number, added: number } | null } }

describe('till logs over /tillbooks/am-sync/1.0.0 between real daemons', function () {
  this.timeout(60_000)
  let dir: string
  let hq: HqDaemon
  let east: TillDaemon
  let west: TillDaemon
  let ae = ''
  let aw = ''
  let pe = 0
  let pw = 0
  let day = 0
  const dayOf = (i: number): string => new Date(Date.UTC(2026, 2, 2) + i * 86_400_000).toISOString().slice(0, 10)
  const startTill = async (s: string, port: number, neighbour: string): Promise<TillDaemon> => await startTillDaemon({
    dataDir: join(dir, s), store: asStoreId(s), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: [`/ip4/127.0.0.1/tcp/${port}`],
    neighbours: [neighbour], logger: silentLogger, retryMinMs: 50, retryMaxMs: 200, callTimeoutMs: 3_000
  })
  const closeADay = async (t: TillDaemon): Promise<{ seq: number, hash: string }> => {
    await request(t.ready.http, 'POST', '/day/open', { businessDay: dayOf(day++) })
    await request(t.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }] })
    return (await request<{ seq: number, hash: string }>(t.ready.http, 'POST', '/day/close', {})).json
  }
  const replicasAt = async (t: TillDaemon): Promise<ReplicasJson> => (await request<ReplicasJson>(t.ready.http, 'GET', '/replicas')).json
  const ownHeads = async (t: TillDaemon): Promise<string[]> => {
    const res = await fetch(`${t.ready.http}/log.automerge`)
    assert.equal(res.headers.get('content-type'), 'application/octet-stream')
    return A.getHeads(A.load(new Uint8Array(await res.arrayBuffer())))
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-amsync-'))
    hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    await enrolStores(hq, join(dir, 'hq'), dir, ['E', 'W'])
    ;[pe, pw] = [await freePort(), await freePort()]
    ;[ae, aw] = [await addressOf(join(dir, 'E'), pe), await addressOf(join(dir, 'W'), pw)]
    west = await startTill('W', pw, ae)
    east = await startTill('E', pe, aw)
  })
  after(async () => {
    await east?.stop().catch(() => {})
    await west?.stop().catch(() => {})
    await hq?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  it('a new close reaches the neighbour\'s replica by sync, in one message each way; equal heads on both sides', async () => {
    await closeADay(east)
    await until('the first close at the neighbour', async () => (await replicasAt(west)).replicas['E-1']?.seq === 1)
    const before = (await replicasAt(west)).sync
    const c = await closeADay(east)
    await until('the second close at the neighbour', async () => (await replicasAt(west)).replicas['E-1']?.seq === c.seq)
    const after = await replicasAt(west)
    // One message each way carried it: the neighbour's request (its heads), the owner's answer (the change).
    assert.equal(after.sync.messagesIn - before.messagesIn, 1, JSON.stringify({ before, after: after.sync }))
    assert.ok((after.sync.lastPull?.trips ?? 99) <= 2, JSON.stringify(after.sync.lastPull))
    assert.deepEqual(after.replicas['E-1']?.heads, await ownHeads(east))
    // The replica's document as served: anyone can load it and find the signed close.
    const doc = A.load<{ entries: Record<string, Uint8Array> }>(new Uint8Array(await (await fetch(`${west.ready.http}/replicas/E-1.automerge`)).arrayBuffer()))
    assert.deepEqual(A.getHeads(doc), after.replicas['E-1']?.heads)
    assert.ok(Object.values(doc.entries).some(b => openEntry(b, { verify: true }).hash === c.hash))
    assert.equal((await request(west.ready.http, 'GET', '/replicas/Z-9.automerge')).status, 404)
    // HQ's copy as a document (admin token): the same signed entries, loadable with Automerge alone,
    // and merged into a replica, screened, it adds nothing the replica lacks.
    await east.sync()
    const res = await fetch(`${hq.ready.http}/admin/log/E-1.automerge`, { headers: { authorization: `Bearer ${await tokenOf(join(dir, 'hq'))}` } })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/octet-stream')
    const hqDoc = TillLog.load(new Uint8Array(await res.arrayBuffer()))
    assert.deepEqual([...hqDoc.entryBytes()].map(b => openEntry(b, { verify: true }).hash).sort(), Object.values(doc.entries).map(b => openEntry(b, { verify: false }).hash).sort())
    // HQ took the till's own changes: its document has the till's heads, like the neighbour's replica.
    assert.deepEqual(hqDoc.getHeads(), await ownHeads(east))
    assert.equal((await fetch(`${hq.ready.http}/admin/log/E-1.automerge`)).status, 401)
  })

  it('HQ serves any till\'s document by sync, read-only: a peer with nothing gets the till\'s own heads, and a message carrying changes is refused', async () => {
    await east.sync()
    const heads = await ownHeads(east)
    const peer = await TillbooksPeer.create({ seed: new Uint8Array(32).fill(42), listen: [], logger: silentLogger })
    const hqAddr = hq.ready.multiaddrs[0] as string
    try {
      const replica = TillLog.create('E-1' as never, { actorId: actorIdFor('E-1' as never, 'a peer') })
      let state = initSyncState()
      for (let trip = 0; trip < 4; trip++) {
        const out = replica.generateSyncMessage(state)
        state = out.state
        const answer = await peer.amSync(hqAddr, 'E-1', out.message)
        if (answer === null && out.message === null) break
        if (answer !== null) state = replica.receiveSyncMessage(state, answer).state
      }
      assert.deepEqual(replica.getHeads(), heads)
      const evil = A.change(A.load<{ entries: Record<string, unknown> }>(replica.save(), { actor: 'ef'.repeat(16) }), { time: 0 }, d => { d.entries.x = 1 })
      const forged = A.encodeSyncMessage({ heads: A.getHeads(evil), need: [], have: [], changes: [A.getLastLocalChange(evil) as Uint8Array] })
      await assert.rejects(peer.amSync(hqAddr, 'E-1', forged), (e: Error) => e instanceof NetError && e.code === 'REFUSED' && /read-only/.test(e.message))
      await assert.rejects(peer.amSync(hqAddr, 'Q-1', null), (e: Error) => e instanceof NetError && e.code === 'REFUSED')
      replica.free()
    } finally {
      await peer.stop()
    }
  })

  it('a neighbour a week behind (14 records) catches up in at most two round trips, its sync states persisted across its restart', async () => {
    await west.stop()
    for (let i = 0; i < 14; i++) await closeADay(east)
    west = await startTill('W', pw, ae)
    const head = (await request<{ headSeq: number }>(east.ready.http, 'GET', '/status')).json.headSeq
    await east.sync()
    await until('the week at the neighbour', async () => (await replicasAt(west)).replicas['E-1']?.seq === head)
    const r = await replicasAt(west)
    assert.ok((r.sync.lastPull?.trips ?? 99) <= 2, JSON.stringify(r.sync.lastPull))
    assert.equal(r.sync.lastPull?.added, 14)
    assert.deepEqual(r.replicas['E-1']?.heads, await ownHeads(east))
  })

  it('a neighbour restarted from an empty disk catches up on the whole log', async () => {
    await west.stop()
    await rm(join(dir, 'W', 'replicas'), { recursive: true, force: true })
    west = await startTill('W', pw, ae)
    assert.deepEqual((await replicasAt(west)).replicas, {})
    const head = (await request<{ headSeq: number }>(east.ready.http, 'GET', '/status')).json.headSeq
    await east.sync()
    await until('the whole log at the emptied neighbour', async () => (await replicasAt(west)).replicas['E-1']?.seq === head)
    assert.deepEqual((await replicasAt(west)).replicas['E-1']?.heads, await ownHeads(east))
  })

  it('forged, foreign and garbage sync messages are refused with a reason, counted, and change nothing', async () => {
    const mallory = await TillbooksPeer.create({ seed: new Uint8Array(32).fill(99), listen: [], logger: silentLogger })
    try {
      const headsBefore = await ownHeads(east)
      const replicaBefore = (await replicasAt(west)).replicas['E-1']?.heads
      const refusedBefore = (await replicasAt(west)).sync.refused
      // A document the peer does not serve.
      await assert.rejects(mallory.amSync(aw, 'Q-1', null), (e: Error) => e instanceof NetError && e.code === 'REFUSED' && /serves no document for Q-1/.test(e.message))
      // Garbage where a sync message belongs.
      await assert.rejects(mallory.amSync(aw, 'E-1', new Uint8Array([0x42, 1, 2, 3])), (e: Error) => e instanceof NetError && e.code === 'REFUSED')
      // A whole document that deletes an entry, sent to the replica and to the owner itself.
      const own = TillLog.load(new Uint8Array(await (await fetch(`${east.ready.http}/log.automerge`)).arrayBuffer()), { actorId: actorIdFor('E-1' as never, 'mallory') })
      const first = own.entryBytes()[0] as Uint8Array
      let evil = A.load<{ entries: Record<string, unknown> }>(own.save(), { actor: 'ee'.repeat(16) })
      evil = A.change(evil, { time: 0 }, d => { delete d.entries[keyOfBytes(first).key] })
      // Mallory needs no politeness: the doctored change, in a sync message of her own making.
      const forged = A.encodeSyncMessage({ heads: A.getHeads(evil), need: [], have: [], changes: [A.getLastLocalChange(evil) as Uint8Array] })
      for (const target of [aw, ae]) {
        // Served read-only, both refuse a message carrying changes unread (a pull screens each change: crdt/test/sync.test.ts).
        await assert.rejects(mallory.amSync(target, 'E-1', forged), (e: Error) => e instanceof NetError && e.code === 'REFUSED' && /served read-only here: a message carrying 1 change/.test(e.message), target)
      }
      assert.deepEqual(await ownHeads(east), headsBefore, 'the owner imported nothing')
      const after = await replicasAt(west)
      assert.deepEqual(after.replicas['E-1']?.heads, replicaBefore, 'the replica took nothing')
      assert.ok(after.sync.refused >= refusedBefore + 3, JSON.stringify(after.sync))
      // Both still sync: the next close reaches the neighbour.
      const c = await closeADay(east)
      await until('a close after the forgeries', async () => (await replicasAt(west)).replicas['E-1']?.seq === c.seq)
    } finally {
      await mallory.stop()
    }
  })
})

/**
 * HQ replicas bringing each other up to date (HqReplication, in process, over a direct
 * transport): certificates, orders and opening stock adopted, till entries verified again and
 * folded, the same books byte for byte (booksDigest). A peer that alters or forges a record,
 * names a record under another key, replays what is held, claims another root key, or asks
 * before its hello is refused and counted, and nothing it sent is written.
 */
import assert from 'node:assert/strict'
import { asBusinessDay, asStoreId, canonicalDecode, canonicalEncode, keyPairFromSeed, Signer, type Canonical, type TillId } from '@tillbooks/protocol'
import { silentLogger } from '../src/components.ts'
import { HqReplication, hqRecordKinds, type HqReplicationInit, type ReplicaTransport } from '../src/hq/HqReplication.ts'
import { HqMembers, memberRecordKinds } from '../src/hq/HqMembers.ts'
import type { HqNode } from '../src/hq/HqNode.ts'
import { booksDigest } from '../src/hq/booksDigest.ts'
import { REPLICA_DEFER_MAX_MS, REPLICA_REFUSED_RETRY_MS } from '../src/hq/constants.ts'
import { MemoryStore } from '../src/storage/MemoryStore.ts'
import { RefusedError } from '../src/net/TillbooksPeer.ts'
import { DAY1, ManualClock, root, seedBytes, startHq, startTill } from './helpers/fleet.ts'

type Tamper = (op: string, answer: Uint8Array) => Uint8Array

/** HQ's member key (the same at every replica: hqDaemon copies it with the root key). */
const memberKey = new Uint8Array(32).fill(7)

async function keysOf (store: MemoryStore, prefix: string): Promise<string[]> {
  const out: string[] = []
  for await (const [k] of store.entries({ gte: prefix, lt: `${prefix}\uffff` })) out.push(k)
  return out
}

/** A replica of `hq` as peer `peerId`, reaching the others through `peers` (their serve, as `peerId`). */
function replicaOf (hq: HqNode, store: MemoryStore, peerId: string, peers: Map<string, HqReplication>, signer: Signer = root, tamper: Tamper = (_op, a) => a, extra: Partial<HqReplicationInit> = {}): HqReplication {
  const transport: ReplicaTransport = {
    askReplica: async (addr, op, body) => {
      const to = peers.get(addr.split('/p2p/')[1] as string)
      if (to === undefined) throw new Error(`no replica at ${addr}`)
      return tamper(op, await to.serve(op, body, peerId))
    }
  }
  const r = new HqReplication({
    hq,
    store,
    root: signer,
    peerId,
    multiaddrs: () => [`/memory/p2p/${peerId}`],
    transport,
    logger: silentLogger,
    nowMs: () => Date.now(),
    pullCatalogue: async () => {},
    // The entries themselves (the daemon pulls the till's log by Automerge sync; see test/replicas.test.ts).
    pullTill: async (addr, _peerId, tillId) => {
      const from = peers.get(addr.split('/p2p/')[1] as string) as unknown as { hq: HqNode }
      const outcomes = await hq.submit(await from.hq.tillLog(tillId as TillId))
      return outcomes.filter(o => o.status === 'accepted').length
    },
    ...extra
  })
  Object.assign(r, { hq })
  peers.set(peerId, r)
  return r
}

async function twoReplicas (tamper?: Tamper, extra: Partial<HqReplicationInit> = {}, serverExtra: Partial<HqReplicationInit> = {}): Promise<{ a: HqNode, b: HqNode, ra: HqReplication, rb: HqReplication, aStore: MemoryStore, bStore: MemoryStore }> {
  const peers = new Map<string, HqReplication>()
  const aStore = new MemoryStore()
  const a = await startHq(aStore)
  const bStore = new MemoryStore()
  const b = await startHq(bStore)
  const ra = replicaOf(a, aStore, 'peerA', peers, root, undefined, serverExtra)
  const rb = replicaOf(b, bStore, 'peerB', peers, root, tamper, extra)
  rb.addPeer('/memory/p2p/peerA')
  // A's decisions: two tills enrolled (one closes a day), opening stock, an order.
  const t = await startTill(a)
  await t.till.openDay(DAY1)
  await t.till.sell({ lines: [{ sku: 'patio-set', qty: 1 }], tenders: [{ type: 'card', amountCents: 50_000 }] })
  await t.till.closeDay()
  await a.submit(t.till.outbox())
  await startTill(a, { store: 'S002' })
  await a.openingStock([{ sku: 'patio-set', qty: 10 }], asBusinessDay('2026-03-01'))
  await a.dispatchReplenishment({ id: 'R-1', store: asStoreId('S001'), businessDay: DAY1, lines: [{ sku: 'patio-set', qty: 2 }] })
  return { a, b, ra, rb, aStore, bStore }
}

describe('HqReplication', () => {
  it('brings a replica up to another: HQ records adopted, entries verified and folded, the same books byte for byte; again, nothing moves', async () => {
    const { a, b, rb } = await twoReplicas()
    assert.notDeepEqual(booksDigest(b.books), booksDigest(a.books))
    const r = await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.equal(r.records, 4, 'two certificates, an opening, an order')
    assert.equal(r.entries, 1)
    assert.deepEqual(booksDigest(b.books), booksDigest(a.books))
    assert.ok(b.enrolment.has('S002-1' as TillId))
    const again = await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.deepEqual(again, { records: 0, entries: 0, tills: 0 })
    assert.deepEqual(rb.counters.refused, { rootKey: 0, signature: 0, record: 0, notReplica: 0, malformed: 0 })
  })

  it('takes the whole log of tills it holds nothing of in bulk (`logged`: the log values as they are, a till\'s own changes kept), no till pulled one by one', async () => {
    let pulls = 0
    const { a, b, rb } = await twoReplicas(undefined, { pullTill: async () => { pulls++; return 0 } })
    // A second till whose entries reached A inside the changes of its log (the first's came bare).
    const t3 = await startTill(a, { store: 'S003' })
    await t3.till.openDay(DAY1)
    await t3.till.sell({ lines: [{ sku: 'patio-set', qty: 1 }], tenders: [{ type: 'card', amountCents: 50_000 }] })
    await t3.till.closeDay()
    await a.submit(t3.till.outboxChanges().map(c => c.bytes))
    const tills = ['S001-1', 'S003-1'] as TillId[]
    const logged = await Promise.all(tills.map(async t => await a.tillLogged(t)))
    assert.ok(logged[1]?.every(v => v[0] === 0x85), 'S003-1\'s entries are held as its log\'s changes (Automerge chunks)')
    const r = await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.deepEqual({ entries: r.entries, tills: r.tills, bulk: rb.counters.tillsPulledInBulk, pulls }, { entries: logged.flat().length, tills: 2, bulk: 2, pulls: 0 })
    assert.deepEqual(booksDigest(b.books), booksDigest(a.books))
    for (const [i, t] of tills.entries()) assert.deepEqual(await b.tillLogged(t), logged[i], `B holds ${t}'s log values byte for byte`)
    assert.deepEqual(await rb.syncWith('/memory/p2p/peerA', 'peerA'), { records: 0, entries: 0, tills: 0 })
  })

  it('takes in HQ records needing more requests than are asked ahead, each once, every one adopted', async () => {
    let asks = 0
    const { a, b, rb } = await twoReplicas((op, answer) => { if (op === 'records') asks++; return answer })
    // 1,100 more certificates: five requests of REPLICA_RECORDS_PER_CALL (256) for the kind, four asked ahead at a time.
    await a.enrolMany(Array.from({ length: 1_100 }, (_, i) => ({ store: asStoreId(`S${String(100 + i).padStart(4, '0')}`), till: 1, tillKey: new Signer(keyPairFromSeed(seedBytes(`bulk ${i}`))).publicKey })))
    const r = await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.equal(r.records, 1_104, 'the certificates, an opening, an order')
    assert.equal(asks, 5 + 1 + 1, 'one request per chunk of certificates, one for the order, one for the opening')
    for (const i of [0, 255, 256, 1_099]) assert.ok(b.enrolment.has(`S${String(100 + i).padStart(4, '0')}-1` as TillId))
    assert.deepEqual(booksDigest(b.books), booksDigest(a.books))
  })

  /** A's second till with entries, taken in inside its log's changes. */
  const secondTill = async (a: HqNode): Promise<void> => {
    const t = await startTill(a, { store: 'S003' })
    await t.till.openDay(DAY1)
    await t.till.sell({ lines: [{ sku: 'patio-set', qty: 1 }], tenders: [{ type: 'card', amountCents: 50_000 }] })
    await t.till.closeDay()
    await a.submit(t.till.outboxChanges().map(c => c.bytes))
  }
  const sizeOf = (values: Uint8Array[] | null): number => (values ?? []).reduce((n, v) => n + v.length + 8, 0)

  it('a `logged` answer holds whole tills within its bytes; the tills it had no room for are asked again', async () => {
    let asks = 0
    let pulls = 0
    const count: Tamper = (op, answer) => { if (op === 'logged') asks++; return answer }
    // Room for the larger till's log, not for both: one till an answer (sizes from a probe of the same
    // setup, with half the smaller till's size to spare either way).
    const probe = await twoReplicas()
    await secondTill(probe.a)
    const sizes = [sizeOf(await probe.a.tillLogged('S001-1' as TillId)), sizeOf(await probe.a.tillLogged('S003-1' as TillId))]
    const { a, b, rb } = await twoReplicas(count, { pullTill: async () => { pulls++; return 0 } }, { answerBytesMax: Math.max(...sizes) + Math.floor(Math.min(...sizes) / 2) })
    await secondTill(a)
    const real = [sizeOf(await a.tillLogged('S001-1' as TillId)), sizeOf(await a.tillLogged('S003-1' as TillId))]
    assert.ok(Math.abs(real[0]! - sizes[0]!) < Math.min(...sizes) / 2 && Math.abs(real[1]! - sizes[1]!) < Math.min(...sizes) / 2, `${String(real)} against ${String(sizes)}`)
    const r = await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.deepEqual({ tills: r.tills, bulk: rb.counters.tillsPulledInBulk, pulls, asks }, { tills: 2, bulk: 2, pulls: 0, asks: 2 })
    assert.deepEqual(booksDigest(b.books), booksDigest(a.books))
  })

  it('a till too large for one `logged` answer is sent as nothing, and comes by Automerge sync, till by till', async () => {
    let pulls = 0
    const { a, b, rb } = await twoReplicas(undefined, {
      pullTill: async (_addr, _peerId, tillId) => {
        pulls++
        return (await b.submit(await a.tillLog(tillId))).filter(o => o.status === 'accepted').length
      }
    }, { answerBytesMax: 64 })
    await secondTill(a)
    const r = await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.deepEqual({ tills: r.tills, bulk: rb.counters.tillsPulledInBulk, pulls }, { tills: 2, bulk: 0, pulls: 2 })
    assert.deepEqual(booksDigest(b.books), booksDigest(a.books))
    // HQ reads a till's log no further than the room it is given.
    assert.equal(await a.tillLogged('S003-1' as TillId, { bytesMax: 64 }), null)
    assert.equal((await a.tillLogged('S003-1' as TillId, { bytesMax: 1 << 20 }))?.length, (await a.tillLogged('S003-1' as TillId))?.length)
  })

  it('counts what a round brought as it comes: a round failing on one till keeps the others pulled in it counted', async () => {
    const { a, b, rb } = await twoReplicas(undefined, {
      pullTill: async (_addr, _peerId, tillId) => {
        if (tillId === 'S003-1') throw Object.assign(new Error('no answer within 10000 ms'), { code: 'TIMEOUT' })
        return (await b.submit(await a.tillLog(tillId))).filter(o => o.status === 'accepted').length
      }
    }, { answerBytesMax: 64 })
    await secondTill(a)
    await assert.rejects(rb.syncWith('/memory/p2p/peerA', 'peerA'), /no answer within/)
    assert.ok(b.tillSums.has('S001-1' as TillId) && !b.tillSums.has('S003-1' as TillId))
    assert.deepEqual({ tillsPulled: rb.counters.tillsPulled, entriesAdded: rb.counters.entriesAdded, tillPullsFailed: rb.counters.tillPullsFailed }, { tillsPulled: 1, entriesAdded: 1, tillPullsFailed: 1 })
  })

  it('leaves the tills to Automerge sync, one by one, when the other HQ does not serve `logged` (one from before it), and does not ask it again for a while', async () => {
    let asked = 0
    const { a, b, rb } = await twoReplicas((op, answer) => {
      if (op === 'logged') {
        asked++
        throw Object.assign(new Error('replica to peerA: MALFORMED: op must be one of hello, summary, tills, keys, records'), { code: 'MALFORMED' })
      }
      return answer
    })
    const r = await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.deepEqual({ entries: r.entries, tills: r.tills, bulk: rb.counters.tillsPulledInBulk, asked }, { entries: 1, tills: 1, bulk: 0, asked: 1 })
    assert.deepEqual(booksDigest(b.books), booksDigest(a.books))
    // A new till at A: the next round pulls it by sync without asking `logged` again.
    const t = await startTill(a, { store: 'S004' })
    await t.till.openDay(DAY1)
    await t.till.closeDay()
    await a.submit(t.till.outbox())
    const again = await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.deepEqual({ tills: again.tills, asked }, { tills: 1, asked: 1 })
    assert.deepEqual(booksDigest(b.books), booksDigest(a.books))
  })

  it('a round whose `logged` request fails for any other reason (the peer gone, busy) fails, and submits nothing after it', async () => {
    const { b, rb } = await twoReplicas((op, answer) => {
      if (op === 'logged') throw Object.assign(new Error('no answer within 10000 ms'), { code: 'TIMEOUT' })
      return answer
    })
    await assert.rejects(rb.syncWith('/memory/p2p/peerA', 'peerA'), /no answer within/)
    assert.equal(b.books.snapshot().counts.folded, 0)
    assert.equal(rb.counters.tillsPulledInBulk, 0)
  })

  it('an altered value in a `logged` answer is refused by HQ\'s own checks and counted; its till is then pulled by Automerge sync in the same round', async () => {
    let synced = 0
    const { a, b, rb } = await twoReplicas((op, answer) => {
      if (op !== 'logged') return answer
      const o = canonicalDecode(answer) as unknown as { tills: Array<[string, Uint8Array[]]> }
      for (const row of o.tills) row[1] = row[1].map(v => { const c = new Uint8Array(v); c[c.length - 40] = (c[c.length - 40] as number) ^ 1; return c })
      return canonicalEncode(o as unknown as Canonical)
    }, {
      pullTill: async (_addr, _peerId, tillId) => {
        synced++
        return (await b.submit(await a.tillLog(tillId))).filter(o => o.status === 'accepted').length
      }
    })
    const r = await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.equal(b.counters.rejected, 1, JSON.stringify(b.counters.rejectedByCode))
    assert.deepEqual({ entries: r.entries, tills: r.tills, bulk: rb.counters.tillsPulledInBulk, synced }, { entries: 1, tills: 1, bulk: 0, synced: 1 })
    assert.deepEqual(booksDigest(b.books), booksDigest(a.books))
  })

  it('refuses a `logged` answer that is not the tills asked, in order, and takes nothing of it', async () => {
    const { b, rb } = await twoReplicas((op, answer) => {
      if (op !== 'logged') return answer
      const o = canonicalDecode(answer) as unknown as { tills: Array<[string, Uint8Array[]]> }
      for (const row of o.tills) row[0] = 'S009-9'
      return canonicalEncode(o as unknown as Canonical)
    })
    await assert.rejects(rb.syncWith('/memory/p2p/peerA', 'peerA'), (err: Error) => err.name === 'RefusedError' && /the till asked/.test(err.message))
    assert.equal(rb.counters.refused.malformed, 1)
    assert.equal(b.books.snapshot().counts.folded, 0)
  })

  /** Re-sign a record as a replica holding the root key could (the wire's signature is over key and value). */
  const resign = (key: string, value: Uint8Array): Uint8Array => {
    const head = new TextEncoder().encode(`tillbooks/hq-record/1\n${key}\n`)
    const m = new Uint8Array(head.length + value.length)
    m.set(head, 0)
    m.set(value, head.length)
    return root.sign(m)
  }
  type Records = { records: Array<{ key: string, value: Uint8Array, sig: Uint8Array }>, tooLarge: string[] }
  const onRecords = (change: (o: Records) => void): Tamper => (op, answer) => {
    if (op !== 'records') return answer
    const o = canonicalDecode(answer) as unknown as Records
    change(o)
    return canonicalEncode(o as unknown as Canonical)
  }
  for (const [what, kind, tamper] of [
    ['an altered record (a byte of its value changed)', 'signature', onRecords(o => {
      for (const r of o.records) { const v = new Uint8Array(r.value); v[v.length - 1] = (v[v.length - 1] as number) ^ 1; r.value = v }
    })],
    ['a forged record (signed by another key)', 'signature', onRecords(o => {
      const other = new Signer(keyPairFromSeed(seedBytes('not hq')))
      for (const r of o.records) r.sig = other.sign(r.value)
    })],
    ['a record under a key not asked for (signed: by a replica holding the root key)', 'malformed', onRecords(o => {
      for (const r of o.records) { r.key = `${r.key}x`; r.sig = resign(r.key, r.value) }
    })]
  ] as const) {
    it(`refuses ${what}, counts it, and writes nothing of it`, async () => {
      const { b, rb } = await twoReplicas(tamper)
      await rb.syncWith('/memory/p2p/peerA', 'peerA')
      assert.equal(rb.counters.refused[kind], 4, JSON.stringify(rb.status()))
      assert.equal(rb.counters.recordsAdopted, 0)
      assert.equal(b.enrolment.has('S001-1' as TillId), false)
      assert.equal(b.books.snapshot().counts.replenishments, 0)
      // Its entries cannot be folded without the certificate: refused by B's own checks.
      assert.equal(b.books.snapshot().counts.folded, 0)
    })
  }

  it('refuses a record under a key its content does not give, even signed by the root key: nothing written', async () => {
    const { b, aStore, bStore } = await twoReplicas()
    const order = await aStore.get('r!R-1')
    const cert = await aStore.get((await keysOf(aStore, 'c!'))[0] as string)
    assert.ok(order !== undefined && cert !== undefined)
    await assert.rejects(b.adoptRecord('r!R-2', order), /order R-1 under r!R-2/)
    await assert.rejects(b.adoptRecord('c!S001-1!000000000009!00', cert), /its content puts it under/)
    await assert.rejects(b.adoptRecord('x!anything', order), /not an HQ record replicas share/)
    assert.deepEqual(await keysOf(bStore, 'r!'), [])
    assert.equal(b.books.snapshot().counts.replenishments, 0)
  })

  it('a replayed record (one already held) changes nothing and is counted as a duplicate', async () => {
    const { b, rb, aStore } = await twoReplicas()
    await rb.syncWith('/memory/p2p/peerA', 'peerA')
    const before = booksDigest(b.books)
    // Records B holds, sent again as if new.
    for (const key of ['r!R-1', 'o!2026-03-01']) {
      const value = await aStore.get(key)
      assert.ok(value !== undefined)
      assert.equal(await b.adoptRecord(key, value), 'duplicate')
    }
    assert.deepEqual(booksDigest(b.books), before)
  })

  it('leaves till logs for later while the other HQ\'s intake is busy (a close wave), HQ records not; at most REPLICA_DEFER_MAX_MS', async () => {
    const peers = new Map<string, HqReplication>()
    const aStore = new MemoryStore()
    const a = await startHq(aStore)
    const t = await startTill(a)
    await t.till.openDay(DAY1)
    await t.till.sell({ lines: [{ sku: 'patio-set', qty: 1 }] })
    await t.till.closeDay()
    await a.submit(t.till.outbox())
    let busy = true
    let now = 1_000_000
    replicaOf(a, aStore, 'peerA', peers, root, undefined, { busy: () => busy, nowMs: () => now })
    const bStore = new MemoryStore()
    const b = await startHq(bStore)
    const said: Array<{ fields: object, msg: string }> = []
    const logger = { ...silentLogger, info (fields: object, msg: string) { said.push({ fields, msg }) } }
    const rb = replicaOf(b, bStore, 'peerB', peers, root, undefined, { nowMs: () => now, logger })
    const first = await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.deepEqual([first.records, first.entries], [1, 0], 'the certificate now, the till log later')
    assert.equal(rb.counters.tillsDeferred, 1)
    // The round brought records: it says so, and that the till logs wait.
    assert.deepEqual(said.map(s => ({ ...s.fields, ms: undefined })), [{ peer: 'peerA', records: 1, entries: 0, tills: 0, ms: undefined, tillsDeferred: true }])
    now += REPLICA_DEFER_MAX_MS
    assert.equal((await rb.syncWith('/memory/p2p/peerA', 'peerA')).entries, 1, 'busy for too long: pulled anyway')
    busy = false
    assert.deepEqual(booksDigest(b.books), booksDigest(a.books))
  })

  it('a replica that knows a member id knows its number, whichever request of a round fails: the number given there finds the member, never enrols another', async () => {
    const phones = ['+44 20 7946 0018', '+44 20 7946 0019', '+33 1 23 45 67 89']
    const peers = new Map<string, HqReplication>()
    const aStore = new MemoryStore()
    const a = await startHq(aStore)
    const aMembers = new HqMembers({ store: aStore, key: memberKey, root, clock: new ManualClock(), hq: a })
    const ids = new Map<string, string>()
    for (const phone of phones) ids.set(phone, (await aMembers.enrol(phone)).member)
    replicaOf(a, aStore, 'peerA', peers, root, undefined, { kinds: [...hqRecordKinds(a), ...memberRecordKinds(aMembers)] })
    // B's rounds: the n-th records request of each fails (the peer gone), n = 1, 2, … until one round completes.
    let failAt = 1
    let recordsAsked = 0
    const tamper: Tamper = (op, answer) => {
      if (op === 'records' && ++recordsAsked === failAt) throw Object.assign(new Error('no answer within 10000 ms'), { code: 'TIMEOUT' })
      return answer
    }
    let completed = false
    for (; !completed && failAt < 20; failAt++) {
      // Each attempt starts from an empty B: the cut falls at another request each time.
      const bStore = new MemoryStore()
      const b = await startHq(bStore)
      const bMembers = new HqMembers({ store: bStore, key: memberKey, root, clock: new ManualClock(), hq: b })
      const rb = replicaOf(b, bStore, 'peerB', peers, root, tamper, { kinds: [...hqRecordKinds(b), ...memberRecordKinds(bMembers)] })
      recordsAsked = 0
      completed = await rb.syncWith('/memory/p2p/peerA', 'peerA').then(() => true, () => false)
      for (const phone of phones) {
        if (!await bMembers.has(ids.get(phone) as string)) continue
        assert.equal(await bMembers.lookup(phone), ids.get(phone), `cut at records request ${failAt}: B knows the member, not the number`)
        assert.deepEqual(await bMembers.enrol(phone).then(r => [r.member, r.created]), [ids.get(phone), false])
      }
      if (completed) for (const phone of phones) assert.equal(await bMembers.has(ids.get(phone) as string), true)
      await b.stop()
    }
    assert.ok(completed && failAt > 2, `a round completed after ${failAt - 1} cut ones`)
  })

  it('one number enrolled at two replicas cut off from each other: once they sync, either way first, the number finds the same member at both (the smaller id), both members stay enrolled, and the records agree', async () => {
    for (const firstPuller of ['A', 'B'] as const) {
      const peers = new Map<string, HqReplication>()
      const side = async (peerId: string): Promise<{ hq: HqNode, store: MemoryStore, members: HqMembers, r: HqReplication }> => {
        const store = new MemoryStore()
        const hq = await startHq(store)
        const members = new HqMembers({ store, key: memberKey, root, clock: new ManualClock(), hq })
        const r = replicaOf(hq, store, peerId, peers, root, undefined, { kinds: [...hqRecordKinds(hq), ...memberRecordKinds(members)] })
        return { hq, store, members, r }
      }
      const a = await side('peerA')
      const b = await side('peerB')
      const phone = '+44 20 7946 0020'
      const idA = (await a.members.enrol(phone)).member
      const idB = (await b.members.enrol(phone)).member
      assert.notEqual(idA, idB, 'two random ids')
      const [first, second] = firstPuller === 'A' ? [a, b] : [b, a]
      const addrOf = (x: typeof a): string => x === a ? '/memory/p2p/peerA' : '/memory/p2p/peerB'
      const idOf = (x: typeof a): string => x === a ? 'peerA' : 'peerB'
      await first.r.syncWith(addrOf(second), idOf(second))
      await second.r.syncWith(addrOf(first), idOf(first))
      const winner = idA < idB ? idA : idB
      for (const x of [a, b]) {
        assert.equal(await x.members.lookup(phone), winner, `${firstPuller} pulled first`)
        assert.deepEqual(await x.members.enrol(phone).then(r => [r.member, r.created]), [winner, false])
        assert.equal(await x.members.has(idA), true)
        assert.equal(await x.members.has(idB), true)
      }
      assert.deepEqual(await keysOf(a.store, 'k!'), await keysOf(b.store, 'k!'))
      // And the two members are one, at both: one balance whichever card is shown.
      assert.deepEqual(await keysOf(a.store, 'A!'), [`A!${idA < idB ? idB : idA}`])
      assert.deepEqual(await keysOf(b.store, 'A!'), await keysOf(a.store, 'A!'))
      for (const x of [a, b]) for (const id of [idA, idB]) assert.deepEqual((await x.members.view(id, '2026-03-02')).sameMember, [idA, idB].sort())
      const adopted = first.r.counters.recordsAdopted + second.r.counters.recordsAdopted
      await first.r.syncWith(addrOf(second), idOf(second))
      await second.r.syncWith(addrOf(first), idOf(first))
      assert.equal(first.r.counters.recordsAdopted + second.r.counters.recordsAdopted, adopted, 'nothing more to bring')
      assert.equal(a.members.numbersSettled + b.members.numbersSettled, 1, 'the replica that held the larger id gave the number to the smaller')
      await a.hq.stop()
      await b.hq.stop()
    }
  })

  it('a record refused for contradicting what is held is not fetched again every round, only after REPLICA_REFUSED_RETRY_MS', async () => {
    const peers = new Map<string, HqReplication>()
    let now = 1_000_000
    const aStore = new MemoryStore()
    const a = await startHq(aStore)
    const bStore = new MemoryStore()
    const b = await startHq(bStore)
    // B enrolled S001-1 and holds its entries; A enrolled another key for the same slot from seq 1.
    const t = await startTill(b)
    await t.till.openDay(DAY1)
    await t.till.closeDay()
    await b.submit(t.till.outbox())
    await a.enrol({ store: asStoreId('S001'), till: 1, tillKey: new Signer(keyPairFromSeed(seedBytes('another key'))).publicKey })
    replicaOf(a, aStore, 'peerA', peers, root, undefined, { nowMs: () => now })
    const rb = replicaOf(b, bStore, 'peerB', peers, root, undefined, { nowMs: () => now })
    await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.equal(rb.counters.refused.record, 1, JSON.stringify(rb.refusals))
    assert.match(rb.refusals[0]?.reason ?? '', /already holds entries/)
    await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.equal(rb.counters.refused.record, 1, 'not fetched again')
    now += REPLICA_REFUSED_RETRY_MS
    await rb.syncWith('/memory/p2p/peerA', 'peerA')
    assert.equal(rb.counters.refused.record, 2, 'asked for again after the retry time')
  })

  it('an address the operator configured wins over one learnt from a hello that came first', async () => {
    const r = new HqReplication({ hq: await startHq(), store: new MemoryStore(), root, peerId: 'peerA', multiaddrs: () => [], transport: { askReplica: async () => new Uint8Array() }, logger: silentLogger, nowMs: () => Date.now(), pullCatalogue: async () => {}, pullTill: async () => 0 })
    r.addPeer('/ip4/127.0.0.1/tcp/4003/p2p/peerC', false)
    r.addPeer('/ip4/127.0.0.1/tcp/5003/p2p/peerC')
    r.addPeer('/ip4/127.0.0.1/tcp/6003/p2p/peerC', false)
    assert.deepEqual(r.status().peers.map(p => [p.peerId, p.addr, p.configured]), [['peerC', '/ip4/127.0.0.1/tcp/5003/p2p/peerC', true]])
  })

  it('refuses malformed bodies from a replica with a reason, counted, and serves on', async () => {
    const { ra, rb } = await twoReplicas()
    await rb.syncWith('/memory/p2p/peerA', 'peerA')
    const bodies: Array<[string, Uint8Array]> = [
      ['tills', new Uint8Array([0xff, 0x00])],
      ['tills', canonicalEncode([1, 2])],
      ['keys', canonicalEncode({ prefix: 'e!', after: '' })],
      ['keys', canonicalEncode({ prefix: 'c!', after: 7 })],
      ['records', canonicalEncode({ keys: ['e!S001-1!000000000001!00'] })],
      ['records', canonicalEncode({ keys: Array.from({ length: 300 }, (_, i) => `c!${i}`) })],
      ['logged', canonicalEncode({ tills: 'S001-1' })],
      ['logged', canonicalEncode({ tills: [7] })],
      ['logged', canonicalEncode({ tills: Array.from({ length: 257 }, (_, i) => `S${i}-1`) })]
    ]
    for (const [op, body] of bodies) await assert.rejects(ra.serve(op as never, body, 'peerB'), (err: Error) => err.name === 'RefusedError' && err.message.length > 0, op)
    assert.equal(ra.counters.refused.malformed, bodies.length)
    assert.ok((canonicalDecode(await ra.serve('summary', canonicalEncode({}), 'peerB')) as { tills: unknown }).tills !== undefined, 'still serving')
  })

  it('refuses a hello signed by another root key, and a request before any hello, counting both', async () => {
    const peers = new Map<string, HqReplication>()
    const a = await startHq()
    const ra = replicaOf(a, new MemoryStore(), 'peerA', peers)
    const otherRoot = new Signer(keyPairFromSeed(seedBytes('another hq')))
    const rogue = replicaOf(await startHq(new MemoryStore(), undefined, { root: otherRoot }), new MemoryStore(), 'peerR', peers, otherRoot)
    rogue.addPeer('/memory/p2p/peerA')
    await assert.rejects(rogue.syncWith('/memory/p2p/peerA', 'peerA'), /another HQ: root key/)
    assert.equal(ra.counters.refused.rootKey, 1)
    await assert.rejects(ra.serve('summary', canonicalEncode({}), 'peerStranger'), /say hello first/)
    assert.equal(ra.counters.refused.notReplica, 1)
    // A hello for another pair of peers (captured from an honest replica and replayed by a third) is refused too.
    let captured: Uint8Array | null = null
    const spy: ReplicaTransport = { askReplica: async (_addr, op, body) => { if (op === 'hello') captured = body; throw new Error('captured') } }
    const honest = new HqReplication({ hq: a, store: new MemoryStore(), root, peerId: 'peerH', multiaddrs: () => [], transport: spy, logger: silentLogger, nowMs: () => Date.now(), pullCatalogue: async () => {}, pullTill: async () => 0 })
    await assert.rejects(honest.syncWith('/memory/p2p/peerA', 'peerA'), /captured/)
    assert.ok(captured !== null)
    await assert.rejects(ra.serve('hello', captured as Uint8Array, 'peerThief'), /another peer id/)
    assert.equal(ra.counters.refused.rootKey, 2)
  })
})

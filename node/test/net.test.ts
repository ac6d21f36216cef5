import assert from 'node:assert/strict'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import { keyPairFromSeed, nextBusinessDay, openEntry, openReplenishment, signEntry, type Signer, type BusinessDay, type Close, type Entry } from '@tillbooks/protocol'
import { silentLogger, type HqNode, type TillNode } from '../src/index.ts'
import { TillbooksPeer, NetError, type SubmitAnswer } from '../src/net/TillbooksPeer.ts'
import { logPage } from '../src/net/paging.ts'
import { FrameDecoder, encodeFrame, FramingError } from '../src/net/framing.ts'
import { FRAME_BYTES_MAX, LOG_PAGE_ENTRIES_MAX, SUBMIT_ENTRIES_MAX } from '../src/net/limits.ts'
import { DAY1, root, seedBytes, startHq, startTill } from './helpers/fleet.ts'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']

/** Peers made by a test, all stopped after it. */
const peers: TillbooksPeer[] = []
async function peer (label: string, extra: Partial<Parameters<typeof TillbooksPeer.create>[0]> = {}): Promise<TillbooksPeer> {
  const p = await TillbooksPeer.create({ seed: seedBytes(label), listen: LISTEN, logger: silentLogger, ...extra })
  peers.push(p)
  return p
}

const unhandled: unknown[] = []
const onUnhandled = (err: unknown): void => { unhandled.push(err) }

/** A till that has closed `days` days (one Close entry each), selling a latte a day. */
async function tillWithDays (hq: HqNode | null, days: number, opts: { store?: string, till?: number } = {}): Promise<{ till: TillNode, signer: Signer }> {
  const t = await startTill(hq, opts)
  let day: BusinessDay = DAY1
  for (let d = 0; d < days; d++) {
    await t.till.openDay(day)
    await t.till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
    await t.till.closeDay()
    day = nextBusinessDay(day)
  }
  return t
}

function bytesOf (n: number): Uint8Array {
  return new Uint8Array([n >> 8, n & 0xff, 7, 7, 7])
}

describe('net: TillbooksPeer over libp2p (127.0.0.1)', function () {
  this.timeout(15_000)
  before(() => { process.on('unhandledRejection', onUnhandled) })
  after(() => {
    process.off('unhandledRejection', onUnhandled)
    assert.deepEqual(unhandled, [], 'no unhandled rejections')
  })
  afterEach(async () => {
    // One after the other: two ends closing one connection at once each wait libp2p's 500 ms close timeout.
    for (const p of peers.splice(0).reverse()) await p.stop()
  })

  it('the peer id is the node\'s Ed25519 key (a till\'s enrolled key)', async () => {
    const seed = seedBytes('till-S001-1')
    const p = await peer('till-S001-1')
    const id = peerIdFromString(p.peerId)
    assert.equal(id.type, 'Ed25519')
    assert.deepEqual(new Uint8Array(id.publicKey!.raw), new Uint8Array(keyPairFromSeed(seed).publicKey))
    assert.deepEqual(p.publicKey, keyPairFromSeed(seed).publicKey)
    assert.ok(p.multiaddrs().length > 0)
    for (const a of p.multiaddrs()) assert.ok(a.startsWith('/ip4/127.0.0.1/tcp/') && a.endsWith(`/p2p/${p.peerId}`), a)
  })

  it('submits a batch to a fake handler and gets its answers, with the sender\'s peer id', async () => {
    const server = await peer('server')
    const client = await peer('client')
    let seen: { n: number, from: string } | null = null
    server.handleSubmit(async (entries, from) => {
      seen = { n: entries.length, from }
      return entries.map((e, i) => i === 1 ? { status: 'rejected', code: 'MALFORMED', reason: 'no' } : { status: 'accepted', seq: e[1] as number })
    })
    const answers = await client.submit(server.multiaddrs()[0]!, [bytesOf(5), bytesOf(6), bytesOf(7)])
    assert.deepEqual(answers, [{ status: 'accepted', seq: 5 }, { status: 'rejected', code: 'MALFORMED', reason: 'no' }, { status: 'accepted', seq: 7 }])
    assert.deepEqual(seen, { n: 3, from: client.peerId })
    assert.deepEqual(await client.submit(server.multiaddrs()[0]!, []), [])
  })

  it('submits to a real HqNode: accepted once, duplicate after, garbage rejected, books move once', async () => {
    const hq = await startHq()
    const server = await peer('hq', { seed: seedBytes('hq-root') })
    server.handleSubmit(async entries => await hq.submit(entries))
    const { till } = await tillWithDays(hq, 2)
    const tillPeer = await peer('till-S001-1')
    const addr = server.multiaddrs()[0]!
    const first = await tillPeer.submit(addr, till.outbox())
    assert.deepEqual(first.map(a => a.status), ['accepted', 'accepted'])
    assert.deepEqual(first.map(a => a.seq), [1, 2])
    assert.equal(first[0]?.hash, till.log[0]?.hash)
    assert.equal(first[0]?.tillId, 'S001-1')
    const takings = hq.books.snapshot().stores.S001?.takingsCents
    assert.ok(takings !== undefined && takings > 0)
    const again = await tillPeer.submit(addr, [...till.outbox(), new Uint8Array([0xff, 1, 2])])
    assert.deepEqual(again.map(a => a.status), ['duplicate', 'duplicate', 'rejected'])
    assert.equal(again[2]?.code, 'MALFORMED')
    assert.equal(hq.books.snapshot().stores.S001?.takingsCents, takings)
    await till.acknowledge(first.map(a => ({ seq: a.seq!, status: a.status })))
    assert.deepEqual(till.outbox(), [])
  })

  it('pipelines 500 concurrent submits over one connection and one stream, answers matched by id', async () => {
    const server = await peer('server')
    const client = await peer('client')
    server.handleSubmit(async entries => {
      // Answer out of order: later requests often finish first.
      await new Promise(resolve => setTimeout(resolve, Math.floor(Math.random() * 20)))
      return entries.map(e => ({ status: 'accepted', seq: ((e[0] as number) << 8) | (e[1] as number) }))
    })
    const addr = server.multiaddrs()[0]!
    const answers = await Promise.all(Array.from({ length: 500 }, async (_, i) => await client.submit(addr, [bytesOf(i), bytesOf(i + 1000)])))
    answers.forEach((a, i) => { assert.deepEqual(a.map(x => x.seq), [i, i + 1000]) })
    assert.equal(client.stats().connections, 1)
    assert.equal(client.stats().streams, 1)
    assert.equal(server.stats().streams, 1)
    assert.equal(client.stats().framesOut, 500)
    assert.equal(server.stats().framesIn, 500)
    assert.equal(server.stats().rejectedFrames, 0)
    // The other protocols open their own stream on the same connection.
    server.handleHeads(() => {})
    await client.announceHeads(addr, [])
    assert.equal(client.stats().connections, 1)
    assert.equal(client.stats().streams, 2)
  })

  it('splits a batch larger than one request and keeps the order of outcomes', async () => {
    const server = await peer('server')
    const client = await peer('client')
    const sizes: number[] = []
    server.handleSubmit(async entries => {
      sizes.push(entries.length)
      return entries.map(e => ({ status: 'accepted', seq: ((e[0] as number) << 8) | (e[1] as number) }))
    })
    const n = SUBMIT_ENTRIES_MAX * 3 + 5
    const answers = await client.submit(server.multiaddrs()[0]!, Array.from({ length: n }, (_, i) => bytesOf(i)))
    assert.deepEqual(answers.map(a => a.seq), Array.from({ length: n }, (_, i) => i))
    assert.deepEqual(sizes.sort((a, b) => b - a), [SUBMIT_ENTRIES_MAX, SUBMIT_ENTRIES_MAX, SUBMIT_ENTRIES_MAX, 5])
    // An entry too big for any frame is answered locally; the others keep their places.
    const mixed = await client.submit(server.multiaddrs()[0]!, [bytesOf(1), new Uint8Array(FRAME_BYTES_MAX), bytesOf(3)])
    assert.deepEqual(mixed.map(a => [a.status, a.seq ?? a.code]), [['accepted', 1], ['rejected', 'OVERSIZED'], ['accepted', 3]])
  })

  it('fetches a log in pages (a replica of a till\'s log served by HQ)', async () => {
    const hq = await startHq()
    const { till } = await tillWithDays(hq, 150)
    await hq.submit(till.outbox())
    const server = await peer('hq', { seed: seedBytes('hq-root') })
    server.handleLog(async (tillId, afterSeq) => (await hq.tillLog(tillId as never)).filter(b => openEntry(b, { verify: false }).record.seq > afterSeq))
    const client = await peer('neighbour')
    const addr = server.multiaddrs()[0]!
    const all = await client.fetchLog(addr, 'S001-1', 0)
    assert.equal(all.length, 150)
    assert.deepEqual(all.map(b => openEntry(b).record.seq), Array.from({ length: 150 }, (_, i) => i + 1))
    assert.deepEqual(all, till.log.map(e => e.bytes))
    assert.equal(server.stats().framesOut, Math.ceil(150 / LOG_PAGE_ENTRIES_MAX))
    const tail = await client.fetchLog(addr, 'S001-1', 140)
    assert.deepEqual(tail.map(b => openEntry(b).record.seq), [141, 142, 143, 144, 145, 146, 147, 148, 149, 150])
    assert.deepEqual(await client.fetchLog(addr, 'S001-2', 0), [])
    // A handler that gives the whole log whatever was asked is paged all the same.
    server.handleLog(async tillId => await hq.tillLog(tillId as never))
    assert.deepEqual(await client.fetchLog(addr, 'S001-1', 0), all)
    assert.equal((await client.fetchLog(addr, 'S001-1', 100)).length, 50)
    await assert.rejects(client.fetchLog(addr, 'not a till', 0), /till/)
  })

  it('never splits a fork (two entries at one seq) across log pages', async () => {
    const { till, signer } = await tillWithDays(null, LOG_PAGE_ENTRIES_MAX + 2)
    const log = till.log.map(e => e.bytes)
    const atEdge = till.log[LOG_PAGE_ENTRIES_MAX - 1] as Entry
    const r = atEdge.record as Close
    const twin = signEntry({ ...r, takingsCents: { ...r.takingsCents, cash: r.takingsCents.cash - 1 }, tax: r.tax.map((l, i) => i === 0 ? { ...l, netCents: l.netCents - 1 } : l) }, signer)
    log.splice(LOG_PAGE_ENTRIES_MAX, 0, twin.bytes)
    const page = logPage(log, 0)
    assert.equal(page.entries.length, LOG_PAGE_ENTRIES_MAX + 1)
    assert.equal(page.lastSeq, LOG_PAGE_ENTRIES_MAX)
    assert.equal(page.more, true)
    const next = logPage(log.slice(LOG_PAGE_ENTRIES_MAX + 1), page.lastSeq)
    assert.deepEqual(next, { entries: log.slice(LOG_PAGE_ENTRIES_MAX + 1), lastSeq: LOG_PAGE_ENTRIES_MAX + 2, more: false })
  })

  it('announces heads', async () => {
    const server = await peer('store-2')
    const client = await peer('store-1')
    const got: Array<{ heads: unknown, from: string }> = []
    server.handleHeads(async (heads, from) => { got.push({ heads, from }) })
    const heads = [{ tillId: 'S001-1', seq: 4, hash: 'ab'.repeat(32) }, { tillId: 'S001-2', seq: 1, hash: '01'.repeat(32) }]
    await client.announceHeads(server.multiaddrs()[0]!, heads)
    assert.deepEqual(got, [{ heads, from: client.peerId }])
    await assert.rejects(client.announceHeads(server.multiaddrs()[0]!, [{ tillId: 'S001-1', seq: 4, hash: 'XY' }]), /hash/)
  })

  it('serves HQ-signed replenishment orders for a store, in pages, after an id', async () => {
    const hq = await startHq()
    const orders: Array<{ id: string, store: string, bytes: Uint8Array }> = []
    for (let i = 1; i <= 70; i++) {
      const id = `R-${String(i).padStart(3, '0')}`
      const store = i % 10 === 0 ? 'S002' : 'S001'
      orders.push({ id, store, bytes: await hq.dispatchReplenishment({ id, store: store as never, businessDay: DAY1, lines: [{ sku: 'patio-chair', qty: i }] }) })
    }
    const server = await peer('hq', { seed: seedBytes('hq-root') })
    server.handleReplenishment(async (store, afterId) => orders.filter(o => o.store === store && (afterId === null || o.id > afterId)).map(o => o.bytes))
    const client = await peer('till-S001-1')
    const addr = server.multiaddrs()[0]!
    const s1 = await client.fetchReplenishment(addr, 'S001', null)
    assert.equal(s1.length, 63)
    const opened = s1.map(b => openReplenishment(b, root.publicKey))
    assert.ok(opened.every(o => o.store === 'S001'))
    assert.deepEqual(opened.map(o => o.id), orders.filter(o => o.store === 'S001').map(o => o.id))
    assert.equal(server.stats().framesOut, 1)
    const all2 = await client.fetchReplenishment(addr, 'S002', null)
    assert.equal(all2.length, 7)
    const after = await client.fetchReplenishment(addr, 'S001', 'R-065')
    assert.deepEqual(after.map(b => openReplenishment(b, root.publicKey).id), ['R-066', 'R-067', 'R-068', 'R-069'])
    // A handler that ignores afterId (gives every order each time) is paged all the same.
    server.handleReplenishment(async () => orders.map(o => o.bytes))
    assert.deepEqual((await client.fetchReplenishment(addr, 'S001', null)).map(b => openReplenishment(b, root.publicKey).id), orders.map(o => o.id))
    assert.deepEqual((await client.fetchReplenishment(addr, 'S001', 'R-068')).map(b => openReplenishment(b, root.publicKey).id), ['R-069', 'R-070'])
  })

  it('times out with a clear error when the handler hangs, and the server frees the slot on its own deadline', async () => {
    const server = await peer('server', { handlerTimeoutMs: 400 })
    const client = await peer('client')
    server.handleSubmit(async () => await new Promise<never>(() => {}))
    const addr = server.multiaddrs()[0]!
    const t0 = Date.now()
    await assert.rejects(client.submit(addr, [bytesOf(1)], { timeoutMs: 200 }), (err: NetError) => {
      assert.equal(err.code, 'TIMEOUT')
      assert.match(err.message, /submit to .* no answer within 200 ms/)
      return true
    })
    assert.ok(Date.now() - t0 < 1_000)
    // The server's own deadline answers TIMEOUT for a hung handler.
    await assert.rejects(client.submit(addr, [bytesOf(1)], { timeoutMs: 5_000 }), (err: NetError) => err.code === 'TIMEOUT' && /handler within 400 ms/.test(err.message))
    // The stream survived both.
    server.handleSubmit(async entries => entries.map(() => ({ status: 'duplicate' })))
    assert.deepEqual(await client.submit(addr, [bytesOf(1)]), [{ status: 'duplicate' }])
    assert.equal(client.stats().streams, 1)
  })

  it('sheds load: past its in-flight budget a server answers BUSY at once', async () => {
    const server = await peer('server', { servingMax: 2 })
    const client = await peer('client')
    let release: () => void = () => {}
    const gate = new Promise<void>(resolve => { release = resolve })
    server.handleSubmit(async entries => { await gate; return entries.map(() => ({ status: 'accepted' })) })
    const addr = server.multiaddrs()[0]!
    const calls = [1, 2, 3].map(async i => await client.submit(addr, [bytesOf(i)]).then(() => 'ok', (err: NetError) => err.code))
    const third = await Promise.race(calls.map(async (c, i) => await c.then(r => `${i}:${r}`)))
    assert.match(third, /^\d:BUSY$/)
    release()
    assert.deepEqual((await Promise.all(calls)).sort(), ['BUSY', 'ok', 'ok'])
    assert.deepEqual(await client.submit(addr, [bytesOf(4)]), [{ status: 'accepted' }])
  })

  it('turns handler failures into error answers, never a crash', async () => {
    const server = await peer('server')
    const client = await peer('client')
    const addr = server.multiaddrs()[0]!
    await assert.rejects(client.submit(addr, [bytesOf(1)]), (err: NetError) => err.code === 'NO_HANDLER')
    server.handleSubmit(async () => { throw new Error('disk on fire') })
    await assert.rejects(client.submit(addr, [bytesOf(1)]), (err: NetError) => err.code === 'HANDLER_FAILED' && /disk on fire/.test(err.message))
    server.handleSubmit(async () => [] as SubmitAnswer[])
    await assert.rejects(client.submit(addr, [bytesOf(1)]), (err: NetError) => err.code === 'HANDLER_FAILED' && /0 outcomes for 1/.test(err.message))
    server.handleSubmit(async () => [{ status: 'bogus' } as never])
    await assert.rejects(client.submit(addr, [bytesOf(1)]), (err: NetError) => err.code === 'HANDLER_FAILED')
    server.handleLog(async () => [new Uint8Array([1, 2, 3])])
    await assert.rejects(client.fetchLog(addr, 'S001-1', 0), (err: NetError) => err.code === 'HANDLER_FAILED')
    server.handleHeads(() => { throw new Error('sync throw') })
    await assert.rejects(client.announceHeads(addr, []), (err: NetError) => err.code === 'HANDLER_FAILED' && /sync throw/.test(err.message))
    server.handleSubmit(async entries => entries.map(() => ({ status: 'accepted' })))
    assert.deepEqual(await client.submit(addr, [bytesOf(1)]), [{ status: 'accepted' }])
  })

  it('works as a client only (no listen addresses)', async () => {
    const server = await peer('server')
    server.handleHeads(() => {})
    const client = await peer('client', { listen: [] })
    assert.deepEqual(client.multiaddrs(), [])
    await client.announceHeads(server.multiaddrs()[0]!, [])
  })

  it('fails fast with DIAL when nobody listens, and rejects bad addresses', async () => {
    const gone = await peer('gone')
    const addr = gone.multiaddrs()[0]!
    await gone.stop()
    const client = await peer('client')
    await assert.rejects(client.submit(addr, [bytesOf(1)], { timeoutMs: 3_000 }), (err: NetError) => err.code === 'DIAL' || err.code === 'TIMEOUT')
    await assert.rejects(client.submit('not a multiaddr', [bytesOf(1)]), (err: NetError) => err.code === 'DIAL')
  })

  it('reopens the stream (and the connection) after the remote restarts', async () => {
    const seed = seedBytes('hq-restarts')
    let server = await TillbooksPeer.create({ seed, listen: LISTEN, logger: silentLogger })
    peers.push(server)
    const addr = server.multiaddrs()[0]!
    const port = addr.split('/')[4]
    const answer = async (entries: Uint8Array[]): Promise<SubmitAnswer[]> => entries.map(() => ({ status: 'accepted' }))
    server.handleSubmit(answer)
    const client = await peer('client')
    assert.deepEqual(await client.submit(addr, [bytesOf(1)]), [{ status: 'accepted' }])
    await server.stop()
    await assert.rejects(client.submit(addr, [bytesOf(2)], { timeoutMs: 2_000 }))
    server = await TillbooksPeer.create({ seed, listen: [`/ip4/127.0.0.1/tcp/${port}`], logger: silentLogger })
    peers.push(server)
    server.handleSubmit(answer)
    assert.equal(server.multiaddrs()[0], addr)
    assert.deepEqual(await client.submit(addr, [bytesOf(3)]), [{ status: 'accepted' }])
    const burst = await Promise.all(Array.from({ length: 50 }, async (_, i) => await client.submit(addr, [bytesOf(i)])))
    assert.equal(burst.length, 50)
    assert.equal(client.stats().streams, 1)
    assert.equal(client.stats().connections, 1)
  })

  it('retries requests cut off by a dropped connection on a new one (every protocol is idempotent)', async () => {
    const server = await peer('server')
    const client = await peer('client')
    const addr = server.multiaddrs()[0]!
    let calls = 0
    let allInFlight: () => void = () => {}
    const inFlight = new Promise<void>(resolve => { allInFlight = resolve })
    server.handleSubmit(async entries => {
      if (++calls === 20) allInFlight()
      await new Promise(resolve => setTimeout(resolve, 100))
      return entries.map(e => ({ status: 'accepted', seq: ((e[0] as number) << 8) | (e[1] as number) }))
    })
    const pending = Array.from({ length: 20 }, async (_, i) => await client.submit(addr, [bytesOf(i)]))
    await inFlight
    // HQ drops the connection with 20 requests in flight (as when it sheds load).
    await server.hangUp(client.peerId)
    const answers = await Promise.all(pending)
    answers.forEach((a, i) => { assert.deepEqual(a, [{ status: 'accepted', seq: i }]) })
    assert.equal(calls, 40, 'every request was served again on the new stream')
    assert.equal(client.stats().connections, 1)
  })

  it('a stream not opened in time (a peer too busy to finish the handshake) is tried again within the call\'s own deadline, whichever deadline passed: the opening\'s or libp2p\'s dial of an address', async function () {
    this.timeout(60_000)
    const server = await peer('server')
    server.handleSubmit(async entries => entries.map(() => ({ status: 'accepted' })))
    const [, , , , port, , serverId] = (server.multiaddrs()[0] as string).split('/')
    // A TCP hop in front of the server that leaves the next connection unanswered when told to, and passes the others through.
    const held: Socket[] = []
    let connections = 0
    let holdNext = true
    const hop = createServer(sock => {
      connections++
      if (holdNext) { holdNext = false; held.push(sock); return }
      const up = connect(Number(port), '127.0.0.1')
      held.push(sock, up)
      sock.pipe(up).pipe(sock)
      sock.on('error', () => { up.destroy() })
      up.on('error', () => { sock.destroy() })
    })
    await new Promise<void>(resolve => hop.listen(0, '127.0.0.1', resolve))
    try {
      const addr = `/ip4/127.0.0.1/tcp/${(hop.address() as AddressInfo).port}/p2p/${serverId as string}`
      // 1 s: long enough for a handshake through the hop on a loaded machine (a slower one is
      // given up and tried again too, which the count allows).
      for (const [label, init] of [['opening', { openTimeoutMs: 1_000 }], ['address dial', { connectionManager: { addressDialTimeout: 1_000 } }]] as const) {
        connections = 0
        holdNext = true
        const client = await peer(`client ${label}`, init)
        assert.deepEqual(await client.submit(addr, [bytesOf(1)], { timeoutMs: 20_000 }), [{ status: 'accepted' }], label)
        assert.ok(connections >= 2, `${label}: the stalled opening given up, and another made (${connections} connections)`)
      }
      // A call whose own deadline is the shorter one ends with it, as TIMEOUT.
      const stalled = await peer('stalled', { openTimeoutMs: 5_000 })
      holdNext = true
      await assert.rejects(stalled.submit(addr, [bytesOf(2)], { timeoutMs: 300 }), (err: NetError) => err.code === 'TIMEOUT' && /no answer within 300 ms/.test(err.message))
    } finally {
      for (const s of held) s.destroy()
      await new Promise(resolve => hop.close(resolve))
    }
  })

  it('frames: the decoder refuses an oversized length before buffering and survives any chunking', () => {
    const d = new FrameDecoder(100)
    const payloads = [new Uint8Array(0), new Uint8Array(1).fill(1), new Uint8Array(100).fill(2), new Uint8Array(3).fill(3)]
    const wire = new Uint8Array(payloads.reduce((n, p) => n + encodeFrame(p).length, 0))
    let at = 0
    for (const p of payloads) { const f = encodeFrame(p); wire.set(f, at); at += f.length }
    for (const step of [1, 2, 7, wire.length]) {
      const dec = new FrameDecoder(100)
      const got: Uint8Array[] = []
      for (let i = 0; i < wire.length; i += step) for (const f of dec.push(wire.subarray(i, i + step))) got.push(new Uint8Array(f))
      assert.deepEqual(got, payloads)
      assert.equal(dec.pendingBytes, 0)
    }
    assert.throws(() => [...d.push(encodeFrame(new Uint8Array(101)).subarray(0, 1))], (err: FramingError) => err.code === 'OVERSIZED')
    assert.throws(() => [...new FrameDecoder(100).push(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))], (err: FramingError) => err.code === 'MALFORMED')
  })
})

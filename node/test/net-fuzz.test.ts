/**
 * Fuzzing the wire: random bytes and mutated valid frames on every protocol, from a raw libp2p
 * node that speaks the protocols' ids but none of their rules. The server must answer with an
 * error (or close the stream), stay up (a valid request still works afterwards) and HQ's books
 * must not move. Then the other way round: a raw server answering garbage to a real client.
 *
 * Seeded: FUZZ_SEED=<n> replays a run; the seed is in the suite's title and in every failure.
 */
import assert from 'node:assert/strict'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Stream, StreamMessageEvent } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { canonicalDecode, canonicalEncode, keyPairFromSeed, nextBusinessDay, openEntry, parseTillId, signRightsGrant, Signer, type BusinessDay, type Canonical } from '@tillbooks/protocol'
import { silentLogger, type HqNode } from '../src/index.ts'
import { TillbooksPeer, NetError } from '../src/net/TillbooksPeer.ts'
import { encodeFrame, FrameDecoder } from '../src/net/framing.ts'
import { PROTOCOLS, type ProtocolName } from '../src/net/messages.ts'
import { FRAME_BYTES_MAX, SUBMIT_ENTRIES_MAX } from '../src/net/limits.ts'
import { DAY1, seedBytes, startHq, startTill } from './helpers/fleet.ts'
import { actorIdFor, TillLog } from '@tillbooks/crdt'
import { MemoryStore } from '../src/storage/MemoryStore.ts'
import { DocSync } from '../src/sync/DocSync.ts'

const SEED = Number(process.env.FUZZ_SEED ?? (Date.now() % 2 ** 32))
const CASES_PER_PROTOCOL = Number(process.env.FUZZ_CASES ?? 250)
const LISTEN = ['/ip4/127.0.0.1/tcp/0']

/** mulberry32: small, fast, seeded. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class Rng {
  readonly next: () => number
  constructor (seed: number) { this.next = prng(seed) }
  int (n: number): number { return Math.floor(this.next() * n) }
  pick<T> (xs: readonly T[]): T { return xs[this.int(xs.length)] as T }
  bytes (n: number): Uint8Array { return Uint8Array.from({ length: n }, () => this.int(256)) }
}

function randomValue (rng: Rng, depth = 0): Canonical {
  switch (rng.int(depth > 2 ? 8 : 11)) {
    case 0: return rng.int(2) === 0 ? rng.int(100) : -rng.int(1_000_000)
    case 1: return rng.pick([0, 1, -1, 2 ** 40, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 32])
    case 2: return rng.pick(['', 'S001-1', 'S001', 'x'.repeat(rng.int(2000)), 'R-001', '💥', 'a'.repeat(64), '../..'])
    case 3: return rng.bytes(rng.int(80))
    case 4: return null
    case 5: return rng.int(2) === 0
    case 6: return 'ab'.repeat(32)
    case 7: return rng.int(3)
    case 8: {
      // Long lists (past SUBMIT_ENTRIES_MAX, HEADS_MAX) of one small value: cheap to make, over the limits.
      const one = randomValue(rng, 3)
      return Array.from({ length: rng.pick([0, 1, 65, 1025]) }, () => one)
    }
    case 9: {
      const o: { [k: string]: Canonical } = {}
      for (let i = rng.int(4); i > 0; i--) o[rng.pick(['id', 'tillId', 'seq', 'hash', 'entries', 'x', 'error', 'ok'])] = randomValue(rng, depth + 1)
      return o
    }
    default: return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1))
  }
}

/** Replace, delete or add one field somewhere in a (JSON-like) value. */
function mutateValue (rng: Rng, v: Canonical): Canonical {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return randomValue(rng)
  if (Array.isArray(v)) {
    const out = [...v]
    const op = rng.int(4)
    if (op === 0 || out.length === 0) out.push(randomValue(rng))
    else if (op === 1) out.splice(rng.int(out.length), 1)
    else { const i = rng.int(out.length); out[i] = mutateValue(rng, out[i] as Canonical) }
    return out
  }
  const out = { ...v }
  const keys = Object.keys(out)
  const op = rng.int(5)
  if (op === 0 || keys.length === 0) out[rng.pick(['extra', 'id2', 'zz', 'a'])] = randomValue(rng)
  else if (op === 1) delete out[rng.pick(keys)]
  else { const k = rng.pick(keys); out[k] = rng.int(3) === 0 ? randomValue(rng) : mutateValue(rng, out[k] as Canonical) }
  return out
}

function mutateBytes (rng: Rng, b: Uint8Array): Uint8Array {
  let out = new Uint8Array(b)
  for (let m = 1 + rng.int(4); m > 0; m--) {
    const op = rng.int(5)
    const at = rng.int(Math.max(1, out.length))
    if (op === 0 && out.length > 0) out[at] = (out[at] as number) ^ (1 << rng.int(8))
    else if (op === 1 && out.length > 0) out[at] = rng.int(256)
    else if (op === 2) out = out.slice(0, at)
    else if (op === 3) out = Uint8Array.from([...out.slice(0, at), rng.int(256), ...out.slice(at)])
    else out = Uint8Array.from([...out, ...rng.bytes(rng.int(8))])
  }
  return out
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80) }
  out.push(n)
  return Uint8Array.from(out)
}

/** A stream seen from a raw client: frames received, and whether the server has closed. */
class RawStream {
  readonly stream: Stream
  readonly frames: Uint8Array[] = []
  closed = false
  #decoder = new FrameDecoder(FRAME_BYTES_MAX * 2)
  #wake: (() => void) | null = null

  constructor (stream: Stream) {
    this.stream = stream
    stream.addEventListener('message', (evt: StreamMessageEvent) => {
      const data = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
      for (const f of this.#decoder.push(data)) this.frames.push(new Uint8Array(f))
      this.#wake?.()
    })
    const onClose = (): void => { this.closed = true; this.#wake?.() }
    stream.addEventListener('remoteCloseWrite', onClose)
    stream.addEventListener('close', onClose)
    // Reset before we listened (e.g. refused by the server's per-connection stream limit).
    if (stream.status !== 'open' || stream.remoteWriteStatus !== 'writable') this.closed = true
  }

  send (bytes: Uint8Array): void {
    if (this.stream.writeStatus === 'writable') this.stream.send(bytes)
  }

  /** The next frame, or 'closed'; throws after timeoutMs. */
  async next (timeoutMs: number): Promise<Uint8Array | 'closed'> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const f = this.frames.shift()
      if (f !== undefined) return f
      if (this.closed) return 'closed'
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('no answer and the stream is still open')
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, left)
        this.#wake = () => { clearTimeout(t); this.#wake = null; resolve() }
      })
    }
  }

  async closedWithin (timeoutMs: number): Promise<void> {
    while ((await this.next(timeoutMs)) !== 'closed') { /* drain answers */ }
  }
}

async function rawNode (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: LISTEN },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 10_000 }
  })
}

function withSeed<T> (fn: () => Promise<T>): () => Promise<T> {
  return async () => {
    try {
      return await fn()
    } catch (err) {
      (err as Error).message = `[FUZZ_SEED=${SEED}] ${(err as Error).message}`
      console.error(`net fuzz failed: replay with FUZZ_SEED=${SEED}`)
      throw err
    }
  }
}

describe(`net fuzz (FUZZ_SEED=${SEED})`, function () {
  this.timeout(30_000)
  let hq: HqNode
  let server: TillbooksPeer
  let client: TillbooksPeer
  let attacker: Libp2p
  let addr: string
  let entries: Uint8Array[]
  /** The same entries inside the changes of the till's log that put them (what tills send HQ). */
  let changes: Uint8Array[]
  let booksBefore: string
  let acceptedBefore: number
  const handlerViolations: string[] = []
  let served: TillLog
  let servedHeads = ''
  const unhandled: unknown[] = []
  const onUnhandled = (err: unknown): void => { unhandled.push(err) }

  before(async () => {
    process.on('unhandledRejection', onUnhandled)
    hq = await startHq()
    const t = await startTill(hq)
    let day: BusinessDay = DAY1
    for (let d = 0; d < 3; d++) {
      await t.till.openDay(day)
      await t.till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
      await t.till.closeDay()
      day = nextBusinessDay(day)
    }
    entries = t.till.outbox()
    changes = t.till.outboxChanges().map(c => c.bytes)
    const first = await hq.submit(changes)
    assert.ok(first.every(a => a.status === 'accepted'))
    const order = await hq.dispatchReplenishment({ id: 'R-001', store: 'S001' as never, businessDay: DAY1, lines: [{ sku: 'patio-chair', qty: 2 }] })
    server = await TillbooksPeer.create({ seed: seedBytes('hq-root'), listen: LISTEN, logger: process.env.NET_FUZZ_LOG !== undefined ? { info: console.log, warn: console.log, error: console.log } : silentLogger })
    server.handleSubmit(async (batch, from) => {
      if (!Array.isArray(batch) || batch.length > SUBMIT_ENTRIES_MAX || !batch.every(b => b instanceof Uint8Array) || typeof from !== 'string') handlerViolations.push('submit')
      return await hq.submit(batch)
    })
    server.handleLog(async (tillId, afterSeq) => {
      if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) handlerViolations.push(`log afterSeq ${afterSeq}`)
      parseTillId(tillId)
      return (await hq.tillLog(tillId as never)).filter(b => openEntry(b, { verify: false }).record.seq > afterSeq)
    })
    server.handleHeads(heads => {
      for (const h of heads) {
        try { parseTillId(h.tillId) } catch { handlerViolations.push(`heads tillId ${h.tillId}`) }
        if (!Number.isSafeInteger(h.seq) || h.seq < 0 || !/^[0-9a-f]{64}$/.test(h.hash)) handlerViolations.push(`heads ${JSON.stringify(h)}`)
      }
    })
    // Automerge sync of the till's log as HQ holds it, served read-only: fuzzed sync messages
    // reach TillLog's screening through the real DocSync.
    served = TillLog.create('S001-1' as never, { actorId: actorIdFor('S001-1' as never, 'fuzz') })
    for (const e of entries) served.ingest({ bytes: e })
    servedHeads = served.getHeads().join()
    const states = new MemoryStore()
    await states.open()
    const docSync = new DocSync({ peer: server, store: states, logger: silentLogger, docs: { served: id => id === 'S001-1' ? { log: served, own: true } : undefined, replicaFor: () => undefined, changed: async () => {} } })
    server.handleAmSync(async (doc, msg, from) => {
      if (typeof doc !== 'string' || (msg !== null && !(msg instanceof Uint8Array)) || typeof from !== 'string') handlerViolations.push('amSync')
      return await docSync.answer(from, doc as never, msg)
    })
    const grantSigner = new Signer(keyPairFromSeed(seedBytes('hq-root')))
    server.handleRights(async (req, from) => {
      if (typeof req.grantId !== 'string' || typeof req.member !== 'string' || typeof req.till !== 'string' || !Number.isSafeInteger(req.points) || typeof from !== 'string') handlerViolations.push('rights')
      return signRightsGrant(grantSigner, { id: req.grantId, member: req.member, till: req.till, points: req.points, issuedAtMs: 0 })
    })
    server.handleRightsReturn(async (req, from) => {
      if (typeof req.returnId !== 'string' || typeof req.member !== 'string' || typeof req.till !== 'string' || !Number.isSafeInteger(req.points) || typeof from !== 'string') handlerViolations.push('rights return')
    })
    server.handleReturns(async (req, from) => {
      if (typeof req.refund !== 'string' || !(req.receipt instanceof Uint8Array) || !(req.cert instanceof Uint8Array) || !Array.isArray(req.lines) || typeof req.made !== 'boolean' || typeof from !== 'string') handlerViolations.push('returns')
    })
    server.handleMemberLookup(async (phone, from) => {
      if (typeof phone !== 'string' || typeof from !== 'string') handlerViolations.push('lookup')
      return 'm-AAAAAAAAAAAAAAAAAAAAAA'
    })
    // HQ replicas: the frame and its op checked here; the bodies are HqReplication's (hqReplication.test.ts).
    server.handleReplica(async (op, body, from) => {
      if (typeof op !== 'string' || !(body instanceof Uint8Array) || typeof from !== 'string') handlerViolations.push('replica')
      return new Uint8Array([0xa0])
    })
    server.handleReplenishment(async (store, afterId) => {
      if (typeof store !== 'string' || (afterId !== null && typeof afterId !== 'string')) handlerViolations.push('replenishment')
      return store === 'S001' && afterId === null ? [order] : []
    })
    addr = server.multiaddrs()[0]!
    client = await TillbooksPeer.create({ seed: seedBytes('till-S001-1'), listen: LISTEN, logger: silentLogger })
    attacker = await rawNode()
    booksBefore = JSON.stringify(hq.books.snapshot())
    acceptedBefore = hq.counters.accepted
  })

  after(async () => {
    process.off('unhandledRejection', onUnhandled)
    await attacker?.stop()
    await client?.stop()
    await server?.stop()
    assert.deepEqual(unhandled, [], `no unhandled rejections [FUZZ_SEED=${SEED}]`)
  })

  function validRequest (protocol: ProtocolName, id: number): { [k: string]: Canonical } {
    switch (protocol) {
      // Bare envelopes, or the changes that carry them: both are mutated below.
      case 'submit': return { id, entries: id % 2 === 0 ? entries : changes }
      case 'log': return { id, tillId: 'S001-1', afterSeq: 0 }
      case 'heads': return { id, heads: [{ tillId: 'S001-1', seq: 3, hash: 'ab'.repeat(32) }] }
      case 'replenishment': return { id, store: 'S001', afterId: null }
      case 'amSync': return { id, doc: 'S001-1', msg: null }
      case 'returns': return { id, refund: 'S002-1-7', receipt: new Uint8Array([0xd2, 0x84]), lines: [{ sku: 'BREAD', qty: 1 }], made: false, cert: new Uint8Array([0xa1]) }
      case 'rights': return { id, grantId: 'S001-1:g1', member: 'm-AAAAAAAAAAAAAAAAAAAAAA', till: 'S001-1:0123456789abcdef', points: 5 }
      case 'replica': return { id, op: 'summary', body: new Uint8Array([0xa0]) }
    }
  }

  async function serverStillServes (): Promise<void> {
    const answers = await client.submit(addr, [...entries, ...changes], { timeoutMs: 5_000 })
    assert.deepEqual(answers.map(a => a.status), [...entries, ...changes].map(() => 'duplicate'))
    assert.equal((await client.fetchLog(addr, 'S001-1', 0, { timeoutMs: 5_000 })).length, entries.length)
    await client.announceHeads(addr, [{ tillId: 'S001-1', seq: 3, hash: 'cd'.repeat(32) }], { timeoutMs: 5_000 })
    assert.equal((await client.fetchReplenishment(addr, 'S001', null, { timeoutMs: 5_000 })).length, 1)
    assert.ok((await client.askRights(addr, { grantId: 'S001-1:g1', member: 'm-AAAAAAAAAAAAAAAAAAAAAA', till: 'S001-1:0123456789abcdef', points: 5 }, { timeoutMs: 5_000 })).length > 0, 'rights are still granted')
    await client.giveBackRights(addr, { returnId: 'q1', member: 'm-AAAAAAAAAAAAAAAAAAAAAA', till: 'S001-1:0123456789abcdef', points: 5 }, { timeoutMs: 5_000 })
    await client.askReturn(addr, { refund: 'S002-1-7', receipt: new Uint8Array([1]), lines: [{ sku: 'BREAD', qty: 1 }], made: false, cert: new Uint8Array([1]) }, { timeoutMs: 5_000 })
    assert.equal(await client.lookupMember(addr, '+447700900123', { timeoutMs: 5_000 }), 'm-AAAAAAAAAAAAAAAAAAAAAA', 'members are still looked up')
    const m = await client.amSync(addr, 'S001-1', null, { timeoutMs: 5_000 })
    assert.ok(m === null || m instanceof Uint8Array, 'the log is still served by sync')
    assert.equal(served.getHeads().join(), servedHeads, 'nothing a peer sent changed the served log')
    assert.equal(JSON.stringify(hq.books.snapshot()), booksBefore, 'the books did not move')
    assert.equal(hq.counters.accepted, acceptedBefore, 'nothing new was accepted')
    assert.deepEqual(handlerViolations, [], 'handlers only ever saw validated input')
  }

  for (const protocol of Object.keys(PROTOCOLS) as ProtocolName[]) {
    it(`${protocol}: random and mutated frames get an error answer or a closed stream; the server stays up`, withSeed(async () => {
      const rng = new Rng(SEED ^ [...protocol].reduce((h, c) => Math.imul(h, 31) + c.charCodeAt(0), 7))
      const target = multiaddr(addr)
      const open = async (): Promise<RawStream> => new RawStream(await attacker.dialProtocol(target, PROTOCOLS[protocol]))
      let s = await open()
      const rejectedBefore = server.stats().rejectedFrames
      const kinds: Record<string, number> = {}
      for (let i = 0; i < CASES_PER_PROTOCOL; i++) {
        if (s.closed) {
          // As a well-behaved client does: close our end too, so the server can forget the stream.
          s.stream.close().catch(() => {})
          s = await open()
        }
        const kind = rng.pick(['garbage-frame', 'mutated-bytes', 'mutated-bytes', 'mutated-value', 'mutated-value', 'mutated-value', 'oversized-prefix', 'raw', 'valid'] as const)
        kinds[kind] = (kinds[kind] ?? 0) + 1
        const tCase = Date.now()
        const id = 1 + rng.int(1_000_000)
        const what = `case ${i} (${kind})`
        switch (kind) {
          case 'garbage-frame':
            s.send(encodeFrame(rng.bytes(rng.int(300))))
            break
          case 'mutated-bytes':
            s.send(encodeFrame(mutateBytes(rng, canonicalEncode(validRequest(protocol, id)))))
            break
          case 'mutated-value': {
            let v: Canonical
            try {
              v = mutateValue(rng, validRequest(protocol, id))
              s.send(encodeFrame(canonicalEncode(v)))
            } catch {
              continue // not encodable: nothing sent
            }
            break
          }
          case 'oversized-prefix':
            s.send(Uint8Array.from([...varint(FRAME_BYTES_MAX + 1 + rng.int(2 ** 31)), ...rng.bytes(rng.int(16))]))
            break
          case 'raw': {
            // Random bytes with no framing at all on a fresh stream, then the end of it.
            const r = await open()
            const raw = rng.bytes(1 + rng.int(200))
            r.send(raw)
            await r.stream.close()
            await r.closedWithin(3_000).catch((err: Error) => { throw new Error(`${what}: ${err.message}; sent ${Buffer.from(raw).toString('hex')}`) })
            if (process.env.NET_FUZZ_TIMES !== undefined) console.log(kind, Date.now() - tCase)
            continue
          }
          case 'valid':
            s.send(encodeFrame(canonicalEncode(validRequest(protocol, id))))
            break
        }
        const got = await s.next(3_000).catch((err: Error) => { throw new Error(`${what}: ${err.message}; streams ${JSON.stringify(attacker.getConnections().map(c => c.streams.map(x => [x.protocol, x.status, x.readStatus, x.writeStatus, x.remoteWriteStatus])))}; this: ${[s.stream.status, s.stream.readStatus, s.stream.writeStatus, s.stream.remoteWriteStatus]}`) })
        if (process.env.NET_FUZZ_TIMES !== undefined) console.log(kind, Date.now() - tCase, got === 'closed' ? 'closed' : 'answer')
        if (got === 'closed') continue
        // Whatever the server says is itself a well-formed frame with a request id.
        const answer = canonicalDecode(got) as { id?: unknown, error?: unknown }
        assert.ok(typeof answer.id === 'number', `${what}: the answer carries an id`)
        if (kind === 'oversized-prefix') {
          assert.equal(answer.id, 0)
          await s.closedWithin(3_000)
        }
        if (kind === 'valid') assert.equal(answer.error, undefined, `${what}: a valid request is answered`)
      }
      await s.stream.close().catch(() => {})
      assert.ok(server.stats().rejectedFrames > rejectedBefore + CASES_PER_PROTOCOL / 4, `bad frames were counted (${server.stats().rejectedFrames - rejectedBefore}; ${JSON.stringify(kinds)})`)
      await serverStillServes()
    }))
  }

  it('a raw server answering garbage never breaks a client: each call fails with a NetError or gets a valid answer', withSeed(async () => {
    const rng = new Rng(SEED ^ 0x5eed)
    const evil = await rawNode()
    try {
      await evil.handle(PROTOCOLS.submit, (stream: Stream) => {
        const dec = new FrameDecoder(FRAME_BYTES_MAX)
        stream.addEventListener('message', (evt: StreamMessageEvent) => {
          const data = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
          try {
            for (const f of dec.push(data)) {
              const req = canonicalDecode(f) as { id: number, entries: Uint8Array[] }
              const good = { id: req.id, outcomes: req.entries.map(() => ({ status: 'accepted' })) }
              const mode = rng.int(7)
              if (stream.writeStatus !== 'writable') return
              if (mode === 0) stream.send(encodeFrame(mutateBytes(rng, canonicalEncode(good))))
              else if (mode === 1) stream.send(encodeFrame(canonicalEncode(mutateValue(rng, good))))
              else if (mode === 2) stream.send(encodeFrame(rng.bytes(rng.int(100))))
              else if (mode === 3) stream.send(rng.bytes(1 + rng.int(50)))
              else if (mode === 4) stream.send(varint(FRAME_BYTES_MAX + 1))
              else if (mode === 5) stream.abort(new Error('evil reset'))
              else stream.send(encodeFrame(canonicalEncode(good)))
            }
          } catch {
            stream.abort(new Error('evil gave up'))
          }
        })
      })
      const evilAddr = evil.getMultiaddrs()[0]!.toString()
      const tally: Record<string, number> = {}
      const rejectedBefore = client.stats().rejectedFrames
      for (let i = 0; i < 40; i++) {
        try {
          const a = await client.submit(evilAddr, [entries[0]!], { timeoutMs: 100 })
          assert.equal(a.length, 1)
          tally.answered = (tally.answered ?? 0) + 1
        } catch (err) {
          assert.ok(err instanceof NetError, `a NetError, not ${(err as Error).name}: ${(err as Error).message}`)
          tally[err.code] = (tally[err.code] ?? 0) + 1
        }
      }
      if (process.env.NET_FUZZ_TIMES !== undefined) console.log(tally)
      assert.ok(client.stats().rejectedFrames > rejectedBefore, `bad answers were counted: ${JSON.stringify(tally)}`)
      await serverStillServes()
    } finally {
      await evil.stop()
    }
  }))
})

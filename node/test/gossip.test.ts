/**
 * Heads announced by gossip between real till daemons (gossipsub over libp2p TCP on
 * 127.0.0.1): with direct announcements off, a till's new close reaches its neighbour's
 * replica because the neighbour heard the gossip announcement and synced; announcements
 * that are forged (a key that is not the certificate's), undecodable or for an earlier
 * seq than the key covers are rejected by the validator and counted; stale ones ignored.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { asStoreId, keyPairFromSeed } from '@tillbooks/protocol'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon, type TillDaemon } from '../src/daemon/tillDaemon.ts'
import { TillbooksPeer } from '../src/net/TillbooksPeer.ts'
import { ANNOUNCEMENT_BYTES_MAX, encodeAnnouncement, headsTopic, judgeAnnouncement } from '../src/net/gossip.ts'
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import { issueCertificate, Signer, type PublicKey } from '@tillbooks/protocol'
import { VerifiedCertificates } from '../src/net/VerifiedCertificates.ts'
import { addressOf, enrolStores, freePort, request, until } from './helpers/daemons.ts'

interface ReplicasJson { replicas: Record<string, { seq: number }>, gossip: { accepted: number, ignored: number, rejected: number, published: number } }

describe('heads gossip between real till daemons', function () {
  this.timeout(60_000)
  let dir: string
  let hq: HqDaemon
  let east: TillDaemon
  let west: TillDaemon
  let ae = ''
  let aw = ''
  const topic = headsTopic('ring-1')
  const replicasAt = async (t: TillDaemon): Promise<ReplicasJson> => (await request<ReplicasJson>(t.ready.http, 'GET', '/replicas')).json

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-gossip-'))
    hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    await enrolStores(hq, join(dir, 'hq'), dir, ['E', 'W'])
    const [pe, pw] = [await freePort(), await freePort()]
    ;[ae, aw] = [await addressOf(join(dir, 'E'), pe), await addressOf(join(dir, 'W'), pw)]
    const start = async (s: string, port: number, neighbour: string): Promise<TillDaemon> => await startTillDaemon({
      dataDir: join(dir, s), store: asStoreId(s), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: [`/ip4/127.0.0.1/tcp/${port}`],
      neighbours: [neighbour], logger: silentLogger, retryMinMs: 50, retryMaxMs: 200, callTimeoutMs: 3_000, gossipRing: 'ring-1', announceDirect: false
    })
    west = await start('W', pw, ae)
    east = await start('E', pe, aw)
    // The mesh forms once they are connected and a heartbeat has grafted each into the other's.
    await until('the gossip mesh', async () => (east.peer.pubsub?.getSubscribers(topic).length ?? 0) > 0 && (west.peer.pubsub?.getSubscribers(topic).length ?? 0) > 0, 15_000)
  })
  after(async () => {
    await east?.stop().catch(() => {})
    await west?.stop().catch(() => {})
    await hq?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  it('with direct announcements off, a close reaches the neighbour by gossip and sync', async () => {
    await request(east.ready.http, 'POST', '/day/open', { businessDay: '2026-03-02' })
    await request(east.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }] })
    await request(east.ready.http, 'POST', '/day/close', {})
    await east.sync()
    await until('the close at the neighbour, by gossip', async () => (await replicasAt(west)).replicas['E-1']?.seq === 1, 20_000)
    const w = await replicasAt(west)
    assert.ok(w.gossip.accepted >= 1, JSON.stringify(w.gossip))
    assert.ok((await replicasAt(east)).gossip.published >= 1)
    // Announcing the same head again is stale at the neighbour: ignored, not pulled.
    await east.sync()
    await until('the repeat ignored', async () => (await replicasAt(west)).gossip.ignored >= 1, 10_000)
  })

  it('forged and garbage announcements are rejected by the validator and counted, and pull nothing', async () => {
    // Mallory: a key HQ never enrolled, in the same ring, connected to the neighbour.
    const mallory = await TillbooksPeer.create({ seed: new Uint8Array(32).fill(7), listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, gossip: { topic } })
    try {
      await mallory.connect(aw)
      await until('mallory in the mesh', async () => (mallory.pubsub?.getSubscribers(topic).length ?? 0) > 0, 15_000)
      const eastCert = new Uint8Array(Buffer.from((JSON.parse(await readFile(join(dir, 'E', 'till.json'), 'utf8')) as { certificate: string }).certificate, 'base64'))
      const before = (await replicasAt(west)).gossip.rejected
      const pub = async (data: Uint8Array): Promise<void> => { await mallory.pubsub?.publish(topic, data) }
      // E's own certificate, but signed by Mallory's key: the till's key did not sign it.
      await pub(encodeAnnouncement({ tillId: 'E-1', seq: 9, hash: 'ab'.repeat(32), cert: eastCert }))
      // A certificate that is not HQ's.
      await pub(encodeAnnouncement({ tillId: 'E-1', seq: 9, hash: 'ab'.repeat(32), cert: new Uint8Array([1, 2, 3]) }))
      // Not an announcement at all.
      await pub(new Uint8Array([0xff, 0x00, 0x13]))
      await until('three rejections at the neighbour', async () => (await replicasAt(west)).gossip.rejected >= before + 3, 10_000)
      // Nothing was pulled for them: the replica is as it was.
      assert.equal((await replicasAt(west)).replicas['E-1']?.seq, 1)
    } finally {
      await mallory.stop()
    }
  })
})

const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31)

describe('the heads gossip validator, case by case', () => {
  const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(1)))
  const till = new Signer(keyPairFromSeed(new Uint8Array(32).fill(2)))
  const other = new Signer(keyPairFromSeed(new Uint8Array(32).fill(3)))
  const cert = issueCertificate(root, { store: asStoreId('S1'), till: 1, tillKey: till.publicKey, fromSeq: 5, issuedAtMs: 0 }).bytes
  const ctx = { hqRootKey: root.publicKey as PublicKey, holds: (id: string, seq: number, hash: string) => id === 'S1-1' && seq === 6 && hash === 'cd'.repeat(32) }
  const signed = (data: Uint8Array): Message => ({ type: 'signed', data, topic: 't', from: null as never, sequenceNumber: 1n, signature: new Uint8Array(64), key: null as never })
  const judge = (data: Uint8Array, key: Uint8Array | undefined = till.publicKey): ReturnType<typeof judgeAnnouncement> => judgeAnnouncement(signed(data), key, ctx)
  const ann = (o: Partial<{ tillId: string, seq: number, hash: string, cert: Uint8Array }> = {}): Uint8Array => encodeAnnouncement({ tillId: 'S1-1', seq: 7, hash: 'ab'.repeat(32), cert, ...o })

  it('accepts a head signed by the enrolled key, ignores one already held, rejects the rest with a reason', () => {
    assert.equal(judge(ann()).result, TopicValidatorResult.Accept)
    assert.equal(judge(ann({ seq: 6, hash: 'cd'.repeat(32) })).result, TopicValidatorResult.Ignore)
    const cases: Array<[string, { result: TopicValidatorResult, reason: string }, RegExp]> = [
      ['signed by another key', judge(ann(), other.publicKey), /not signed by its enrolled key/],
      ['unsigned', judgeAnnouncement({ type: 'unsigned', data: ann(), topic: 't' } as Message, undefined, ctx), /unsigned/],
      ['a certificate for another till', judge(ann({ tillId: 'S1-2' })), /certificate is for S1-1/],
      ['a seq below the key\'s first', judge(ann({ seq: 4 })), /below the key's first seq 5/],
      ['a certificate not signed by HQ', judge(ann({ cert: issueCertificate(other, { store: asStoreId('S1'), till: 1, tillKey: till.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes })), /certificate/],
      ['garbage', judge(new Uint8Array([0xa1, 0x01])), /undecodable|map|fields/],
      ['oversized', judge(new Uint8Array(ANNOUNCEMENT_BYTES_MAX + 1)), /at most/],
      ['a bad hash', judge(ann({ hash: 'xyz' })), /hash/]
    ]
    for (const [name, v, re] of cases) {
      assert.equal(v.result, TopicValidatorResult.Reject, name)
      assert.match(v.reason, re, name)
    }
  })

  const kept = { ...ctx, certificates: new VerifiedCertificates(root.publicKey as PublicKey) }

  it('a certificate is verified once per exact bytes: a bit changed is opened as new and refused; the least recently used goes first past the bound', () => {
    const certs = new VerifiedCertificates(root.publicKey as PublicKey, 2)
    const ctxKept = { ...ctx, certificates: certs }
    for (let k = 0; k < 3; k++) assert.equal(judgeAnnouncement(signed(ann({ seq: 7 + k })), till.publicKey, ctxKept).result, TopicValidatorResult.Accept)
    assert.deepEqual([certs.size, certs.hits], [1, 2])
    // The same certificate with its root signature's last bit flipped: not the kept one, verified, refused.
    const forged = new Uint8Array(cert)
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1
    const v = judgeAnnouncement(signed(ann({ cert: forged })), till.publicKey, ctxKept)
    assert.equal(v.result, TopicValidatorResult.Reject)
    assert.match(v.reason, /certificate/)
    assert.deepEqual([certs.size, certs.hits], [1, 2])
    // Two more tills' certificates: the bound is two, and the first (least recently used) is dropped.
    const tills = [4, 5].map(b => new Signer(keyPairFromSeed(new Uint8Array(32).fill(b))))
    const theirs = tills.map((t, k) => issueCertificate(root, { store: asStoreId('S1'), till: 2 + k, tillKey: t.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes)
    theirs.forEach((c, k) => { assert.equal(judgeAnnouncement(signed(ann({ tillId: `S1-${2 + k}`, cert: c })), tills[k]?.publicKey, ctxKept).result, TopicValidatorResult.Accept) })
    assert.deepEqual([certs.size, certs.hits], [2, 2])
    assert.equal(certs.open(theirs[1] as Uint8Array).tillId, 'S1-3')
    assert.equal(certs.hits, 3)
    certs.open(cert)
    assert.equal(certs.hits, 3, 'S1-1\'s certificate was dropped, and verified again')
    // Kept for one root key only: judging under another with them is a bug, said loudly.
    assert.throws(() => judgeAnnouncement(signed(ann()), till.publicKey, { ...ctxKept, hqRootKey: other.publicKey as PublicKey }), /another root key/)
  })

  it(`random and mutated announcements are judged, never thrown on: only the enrolled key's well-formed head is accepted (FUZZ_SEED=${FUZZ_SEED})`, () => {
    const good = ann()
    fc.assert(fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: ANNOUNCEMENT_BYTES_MAX + 8 }),
        fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }).map(edits => {
          const m = new Uint8Array(good)
          for (const { at, byte } of edits) m[at % m.length] = byte
          return m
        }),
        fc.nat(good.length - 1).map(n => good.subarray(0, n))
      ),
      fc.constantFrom('till', 'other', 'none'),
      (data, who) => {
        const key = who === 'till' ? till.publicKey : who === 'other' ? other.publicKey : undefined
        const v = judgeAnnouncement(signed(data), key, ctx)
        // The same verdict with the certificates a node keeps verified (shared across the runs, as a node's are).
        assert.deepEqual(judgeAnnouncement(signed(data), key, kept), v)
        assert.ok(v.reason.length > 0)
        if (v.result === TopicValidatorResult.Accept) {
          // Accepted only when signed by the enrolled key and it decodes to a head of S1-1 at or past seq 5.
          assert.equal(key, till.publicKey)
          assert.equal(v.announcement?.tillId, 'S1-1')
          assert.ok((v.announcement?.seq ?? 0) >= 5)
        }
      }), { seed: FUZZ_SEED, numRuns: 3_000 })
  })
})

/**
 * The till's log of record as an Automerge document on disk (TillLogStore): every append
 * durable as one chunk in the batch that moves the day on, compacted every LOG_CHUNKS_MAX
 * chunks in one atomic batch, loaded again with every entry verified, readable by anyone
 * with @automerge/automerge alone, and a directory of the old layout (`l!<seq>`) migrated
 * on first start, once.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash, createPublicKey, verify } from 'node:crypto'
import * as A from '@automerge/automerge'
import * as cborg from 'cborg'
import { asBusinessDay, keyPairFromSeed, openEntry, Signer, type Close } from '@tillbooks/protocol'
import { LevelStore, MemoryStore, silentLogger, TillNode, type KvStore } from '../src/index.ts'
import { LEGACY_LOG_PREFIX, LOG_CHUNK_PREFIX, LOG_CHUNKS_MAX, LOG_DOC_KEY } from '../src/till/TillLogStore.ts'
import { catalogue, ManualClock, root, seedBytes, startTill } from './helpers/fleet.ts'

const day = (i: number) => asBusinessDay(new Date(Date.UTC(2026, 2, 2) + i * 86_400_000).toISOString().slice(0, 10))

async function trade (till: TillNode, days: number, from = 0): Promise<void> {
  for (let i = from; i < from + days; i++) {
    await till.openDay(day(i))
    await till.sell({ lines: [{ sku: 'latte', qty: 1 + (i % 3) }] })
    await till.closeDay()
  }
}

async function keys (kv: KvStore, prefix: string): Promise<string[]> {
  const out: string[] = []
  for await (const [k] of kv.entries({ gte: prefix, lt: prefix + '\uffff' })) out.push(k)
  return out
}

function reopen (kv: KvStore, signer: Signer): TillNode {
  return new TillNode({ store: kv, clock: new ManualClock(), logger: silentLogger }, { store: 'S001' as never, till: 1, signer, catalogue, hqRootKey: root.publicKey })
}

describe('the till log on disk as an Automerge document', () => {
  it('each close is one chunk in the batch that closes the day; a restart loads the same document, verified', async () => {
    const { till, signer, kv } = await startTill(null)
    assert.deepEqual(await keys(kv, 'a!'), [], 'a new till writes nothing until its first record')
    await trade(till, 3)
    assert.equal((await keys(kv, LOG_CHUNK_PREFIX)).length, 3, 'the first chunk carries the genesis change')
    assert.equal(till.logChunks, 3)
    const heads = A.getHeads(A.load(till.logDocument()))
    await till.stop()
    const again = reopen(kv, signer)
    await again.start()
    assert.deepEqual(again.log.map(e => e.hash), till.log.map(e => e.hash))
    assert.deepEqual(A.getHeads(A.load(again.logDocument())), heads)
    assert.equal(again.nextDocN, 4)
    assert.equal(again.state, 'closed')
    // It goes on appending after the restart, numbering on.
    await trade(again, 1, 3)
    assert.equal(again.log.length, 4)
    assert.equal((again.log[3]?.record as Close).docFirst, 4)
  })

  it('anyone with @automerge/automerge alone can load GET /log.automerge\'s bytes and list the signed entries', async () => {
    const { till } = await startTill(null)
    await trade(till, 2)
    const doc = A.load<{ tillId: string, v: number, entries: Record<string, Uint8Array> }>(till.logDocument())
    assert.equal(doc.tillId.toString(), 'S001-1')
    assert.equal(doc.v, 1)
    const listed = Object.keys(doc.entries).sort().map(k => openEntry(doc.entries[k] as Uint8Array, { verify: true }))
    assert.deepEqual(listed.map(e => [e.seq, e.hash]), till.log.map(e => [e.seq, e.hash]))
    // What crdt/README.md says of each value, checked with cborg and node:crypto, not our decoder.
    for (const [k, value] of Object.entries(doc.entries)) {
      const m = /^(\d{12}):([0-9a-f]{64}):([0-9a-f]{32})$/.exec(k)
      assert.ok(m !== null, k)
      const env = cborg.decode(value) as { v: number, kind: string, body: Uint8Array, signer: Uint8Array, sig: Uint8Array }
      assert.equal(env.v, 1)
      const tag = Buffer.from(`tillbooks/${env.kind}/v1\u0000`)
      const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), env.signer])
      assert.ok(verify(null, Buffer.concat([tag, env.body]), createPublicKey({ key: spki, format: 'der', type: 'spki' }), env.sig), 'signature over tag ‖ body')
      assert.equal(createHash('sha256').update(Buffer.from('tillbooks/entry/v1\u0000')).update(env.body).digest('hex'), m[2], 'entry hash')
      assert.equal(createHash('sha256').update(value).digest('hex').slice(0, 32), m[3], 'envelope digest')
      assert.equal((cborg.decode(env.body) as { seq: number }).seq, Number(m[1]))
    }
  })

  it(`keeps at most ${LOG_CHUNKS_MAX} chunks: the next append compacts them into a new snapshot, in one batch; the document is the same after`, async function () {
    this.timeout(60_000)
    const { till, signer, kv } = await startTill(null)
    await trade(till, LOG_CHUNKS_MAX)
    assert.equal(till.logChunks, LOG_CHUNKS_MAX)
    const before = A.getHeads(A.load(till.logDocument()))
    await trade(till, 1, LOG_CHUNKS_MAX)
    assert.equal(till.logChunks, 0, 'the append after the last chunk compacts instead')
    assert.deepEqual(await keys(kv, 'a!'), [LOG_DOC_KEY])
    await trade(till, 2, LOG_CHUNKS_MAX + 1)
    assert.equal((await keys(kv, LOG_CHUNK_PREFIX)).length, 2)
    const heads = A.getHeads(A.load(till.logDocument()))
    assert.notDeepEqual(heads, before)
    await till.stop()
    const again = reopen(kv, signer)
    await again.start()
    assert.equal(again.log.length, LOG_CHUNKS_MAX + 3)
    assert.deepEqual(A.getHeads(A.load(again.logDocument())), heads)
  })

  it('a crash right after a close answered loses nothing; a crash before its batch leaves the day open', async () => {
    const kv = new MemoryStore()
    const { till, signer } = await startTill(null, { kv })
    await trade(till, 1)
    await till.openDay(day(1))
    await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
    const close = await till.closeDay()
    kv.crash()
    await kv.open()
    const after = reopen(kv, signer)
    await after.start()
    assert.equal(after.head?.hash, close.hash)
    assert.equal(after.state, 'closed')
    // Power lost during the next close's fsync: the day is still open, the log as it was.
    await after.openDay(day(2))
    await after.sell({ lines: [{ sku: 'latte', qty: 1 }] })
    kv.crash()
    await assert.rejects(after.closeDay())
    await kv.open()
    const third = reopen(kv, signer)
    await third.start()
    assert.equal(third.head?.hash, close.hash)
    assert.equal(third.state, 'open')
    assert.equal((await third.closeDay()).seq, close.seq + 1)
  })

  it('a directory of the old layout (l!<seq>) is migrated on first start, once, and trades on', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tillbooks-migrate-'))
    try {
      const signer = new Signer(keyPairFromSeed(seedBytes('till-S001-1')))
      const lines: string[] = []
      const logger = { ...silentLogger, info: (o: object, m?: string) => { lines.push(`${m ?? ''} ${JSON.stringify(o)}`) } }
      const open = (): TillNode => new TillNode({ store: new LevelStore(join(dir, 'db')), clock: new ManualClock(), logger }, { store: 'S001' as never, till: 1, signer, catalogue, hqRootKey: root.publicKey })
      // Three days traded, then the log laid down as the code before the document wrote it:
      // one `l!<seq>` key per signed entry beside the journal and the state, no `a!` keys.
      let t = open()
      await t.start()
      await trade(t, 3)
      const src = [...t.log]
      await t.stop()
      const db = new LevelStore(join(dir, 'db'))
      await db.open()
      await db.batch([
        ...src.map(e => ({ type: 'put' as const, key: `${LEGACY_LOG_PREFIX}${String(e.seq).padStart(12, '0')}`, value: e.bytes })),
        ...(await keys(db, 'a!')).map(key => ({ type: 'del' as const, key }))
      ], { sync: true })
      await db.close()

      t = open()
      await t.start()
      assert.ok(lines.some(l => /migrated/.test(l) && /"entries":3/.test(l)), lines.join('\n'))
      assert.deepEqual(t.log.map(e => e.hash), src.map(e => e.hash))
      assert.equal(t.nextDocN, 4)
      await t.stop()
      await db.open()
      assert.deepEqual(await keys(db, LEGACY_LOG_PREFIX), [], 'the old keys are gone')
      assert.deepEqual(await keys(db, 'a!'), [LOG_DOC_KEY], 'one snapshot holds the migrated log')
      await db.close()
      // The second start finds a document: nothing to migrate; selling goes on, numbering on.
      lines.length = 0
      t = open()
      await t.start()
      assert.ok(!lines.some(l => /migrated/.test(l)))
      await trade(t, 1, 3)
      assert.deepEqual([t.log.length, (t.log[3]?.record as Close).docFirst], [4, 4])
      await t.stop()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

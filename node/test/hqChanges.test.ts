/**
 * HQ takes a till's entries inside the changes of the till's own log (TillNode.outboxChanges):
 * checked as entries always were (decode, signature, enrolment, dedup), plus the change held
 * to its entry (the till's entries map, the key the entry's bytes give). HQ logs the change
 * itself, so the document it serves (HqNode.tillDoc) has the till's own heads; it rebuilds
 * from such a log, trusting or re-verifying; the same happens on the worker threads as inline.
 */
import assert from 'node:assert/strict'
import * as A from '@automerge/automerge'
import { keyOfBytes, readEntryChange, TillLog } from '@tillbooks/crdt'
import { canonicalDecode, canonicalEncode, keyPairFromSeed, signEntry, Signer, toHex, type Close } from '@tillbooks/protocol'
import { InlineVerifier, MemoryStore, WorkerVerifier, type Verifier } from '../src/index.ts'
import { DAY1, DAY2, seedBytes, startHq, startTill } from './helpers/fleet.ts'

interface Raw { entries: Record<string, Uint8Array> }

async function tradedTill (hq: Awaited<ReturnType<typeof startHq>>, opts: { store?: string, till?: number } = {}): Promise<Awaited<ReturnType<typeof startTill>>> {
  const t = await startTill(hq, opts)
  for (const day of [DAY1, DAY2]) {
    await t.till.openDay(day)
    await t.till.sell({ lines: [{ sku: 'patio-set', qty: 1 }], tenders: [{ type: 'card', amountCents: 50_000 }] })
    await t.till.sell({ lines: [{ sku: 'cappuccino', qty: 2 }] })
    await t.till.closeDay()
  }
  return t
}

for (const [name, make] of [['inline', () => new InlineVerifier()], ['worker threads', () => new WorkerVerifier({ threads: 2 })]] as Array<[string, () => Verifier]>) {
  describe(`HQ takes entries inside the till's changes (${name})`, () => {
    it('accepts them as the bare entries, keeps the changes, serves the till\'s own heads, and rebuilds from them both ways', async () => {
      const kv = new MemoryStore()
      const hq = await startHq(kv, undefined, { verifier: make() })
      const { till } = await tradedTill(hq)
      const sent = till.outboxChanges()
      assert.equal(sent.length, till.log.length)
      assert.ok(sent.length >= 2)
      for (const s of sent) assert.ok(readEntryChange(s.bytes).entry.length > 0, 'each is a change carrying its entry')
      const answers = await hq.submit(sent.map(s => s.bytes))
      assert.deepEqual(answers.map(a => [a.status, a.seq]), sent.map(s => ['accepted', s.seq]))
      // Resent as changes or as bare envelopes: duplicates, nothing moves.
      const books = JSON.stringify(hq.books.snapshot())
      assert.deepEqual((await hq.submit([...sent.map(s => s.bytes), ...till.outbox()])).map(a => a.status), Array(2 * sent.length).fill('duplicate'))
      assert.equal(JSON.stringify(hq.books.snapshot()), books)
      // The document HQ serves has the till's own history: the same heads.
      const doc = await hq.tillDoc(till.tillId)
      assert.ok(doc !== undefined)
      assert.deepEqual(doc.getHeads(), till.logDoc.getHeads())
      assert.deepEqual(await hq.tillLog(till.tillId), till.log.map(e => e.bytes), 'the log protocol still serves envelopes')
      await hq.stop()
      for (const rebuildVerify of [true, false]) {
        const again = await startHq(kv, undefined, { verifier: make(), rebuildVerify })
        assert.equal(JSON.stringify(again.books.snapshot()), books, `rebuilt ${rebuildVerify ? 're-verifying' : 'trusting'}`)
        assert.deepEqual((await again.tillDoc(till.tillId))?.getHeads(), till.logDoc.getHeads())
        await again.stop()
      }
    })

    it('refuses a change that is not what an honest till writes for its entry, with a reason, and logs nothing of it', async () => {
      const hq = await startHq(new MemoryStore(), undefined, { verifier: make() })
      const { till } = await tradedTill(hq)
      const honest = till.outboxChanges()[0]?.bytes as Uint8Array
      const e1 = till.log[0] as (typeof till.log)[number]
      const base = TillLog.create(till.tillId).save()
      const put = (actor: string, f: (d: Raw) => void): Uint8Array => A.getLastLocalChange(A.change(A.load<Raw>(base, { actor }), { time: 0 }, f)) as Uint8Array
      // The genuine entry under a key it does not give; the entry of another seq's key; a forged envelope inside.
      const wrongKey = put('a1'.repeat(16), d => { d.entries[keyOfBytes(till.log[1]?.bytes as Uint8Array).key] = e1.bytes })
      const fields = canonicalDecode(e1.bytes) as { sig: Uint8Array }
      fields.sig[3] = (fields.sig[3] as number) ^ 1
      const flipped = canonicalEncode(fields as never)
      const forged = put('a2'.repeat(16), d => { d.entries[keyOfBytes(flipped).key] = flipped })
      // Into another till's map (its own genesis), and two entries in one change.
      const other = TillLog.create('S002-1' as never).save()
      const foreign = A.getLastLocalChange(A.change(A.load<Raw>(other, { actor: 'a3'.repeat(16) }), { time: 0 }, d => { d.entries[keyOfBytes(e1.bytes).key] = e1.bytes })) as Uint8Array
      const two = put('a4'.repeat(16), d => { for (const e of till.log.slice(0, 2)) d.entries[keyOfBytes(e.bytes).key] = e.bytes })
      // A bad checksum; an unenrolled key's record in an honest-looking change.
      const broken = new Uint8Array(honest)
      broken[broken.length - 3] = (broken[broken.length - 3] as number) ^ 1
      const mallory = new Signer(keyPairFromSeed(seedBytes('mallory')))
      const stranger = signEntry({ ...(till.log[1]?.record as Close), store: 'S777' as never }, mallory)
      const strangerLog = TillLog.create('S777-1' as never)
      strangerLog.ingest(stranger)
      const unenrolled = strangerLog.lastLocalChange() as Uint8Array
      const answers = await hq.submit([wrongKey, forged, foreign, two, broken, unenrolled])
      assert.deepEqual(answers.map(a => a.code), ['MALFORMED', 'FORGED', 'MALFORMED', 'MALFORMED', 'MALFORMED', 'UNENROLLED'])
      assert.match(answers[0]?.reason ?? '', /key its bytes do not give/)
      assert.match(answers[2]?.reason ?? '', /entries map/)
      assert.match(answers[3]?.reason ?? '', /2 ops/)
      assert.match(answers[4]?.reason ?? '', /checksum/)
      assert.equal(hq.heldSeq(till.tillId), 0, 'nothing of them is logged')
      assert.equal(await hq.tillDoc(till.tillId), undefined)
      // The honest change still goes in afterwards.
      assert.equal((await hq.submit([honest]))[0]?.status, 'accepted')
      for (const l of [strangerLog]) l.free()
      await hq.stop()
    })
  })
}

describe('HQ\'s till documents', () => {
  it('are dropped from the cache when the till sends more, and entries that came bare are in them too', async () => {
    const hq = await startHq(new MemoryStore(), undefined, { docsCachedMax: 1 })
    const a = await tradedTill(hq)
    const b = await tradedTill(hq, { store: 'S002' })
    // A's first record comes bare (a relay, an email backup), the rest in their changes.
    await hq.submit(a.till.outbox().slice(0, 1))
    await hq.submit(a.till.outboxChanges().slice(1).map(s => s.bytes))
    const docA = await hq.tillDoc(a.till.tillId)
    assert.equal(docA?.entryCount, a.till.log.length, 'every entry HQ holds is in the document')
    assert.notDeepEqual(docA?.getHeads(), a.till.logDoc.getHeads(), 'the bare ones are HQ\'s own changes')
    await hq.submit(b.till.outboxChanges().slice(0, 1).map(s => s.bytes))
    assert.equal((await hq.tillDoc(b.till.tillId))?.entryCount, 1)
    await hq.submit(b.till.outboxChanges().slice(1).map(s => s.bytes))
    const docB = await hq.tillDoc(b.till.tillId)
    assert.equal(docB?.entryCount, b.till.log.length, 'made again after the till sent more')
    assert.deepEqual(docB?.getHeads(), b.till.logDoc.getHeads())
    assert.equal(toHex(docB?.save() ?? new Uint8Array()).length > 0, true)
    await hq.stop()
  })
})

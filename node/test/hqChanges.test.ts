/**
 * HQ takes a till's entries inside the changes of the till's own log (TillNode.outboxChanges):
 * checked as entries always were (decode, signature, enrolment, dedup), plus the change held
 * to its entry (the till's entries map, the key the entry's bytes give). HQ logs the change
 * itself, so the document it serves (HqNode.tillDoc) has the till's own heads; it rebuilds
 * from such a log, trusting or re-verifying; the same happens on the worker threads as inline.
 */
import assert from 'node:assert/strict'
import * as A from '@automerge/automerge'
import { changeHashOf, entryChangeLayout, isAutomergeChunk, keyOfBytes, readEntryChange, TillLog, tillActorOf } from '@tillbooks/crdt'
import { canonicalDecode, canonicalEncode, keyPairFromSeed, nextBusinessDay, signEntry, Signer, toHex, type Close } from '@tillbooks/protocol'
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
      // Written as the till's own log would (its actor, the op after genesis): only the signature is wrong.
      const forgedLog = TillLog.create(till.tillId, { actorId: tillActorOf(till.tillId, e1.signer) })
      forgedLog.ingest({ bytes: flipped })
      const forged = forgedLog.lastLocalChange() as Uint8Array
      // Into another till's map (its own genesis), and two entries in one change.
      const other = TillLog.create('S002-1' as never).save()
      const foreign = A.getLastLocalChange(A.change(A.load<Raw>(other, { actor: 'a3'.repeat(16) }), { time: 0 }, d => { d.entries[keyOfBytes(e1.bytes).key] = e1.bytes })) as Uint8Array
      const two = put('a4'.repeat(16), d => { for (const e of till.log.slice(0, 2)) d.entries[keyOfBytes(e.bytes).key] = e.bytes })
      // A bad checksum; an unenrolled key's record in an honest-looking change.
      const broken = new Uint8Array(honest)
      broken[broken.length - 3] = (broken[broken.length - 3] as number) ^ 1
      const mallory = new Signer(keyPairFromSeed(seedBytes('mallory')))
      const stranger = signEntry({ ...(e1.record as Close), store: 'S777' as never }, mallory)
      const strangerLog = TillLog.create('S777-1' as never, { actorId: tillActorOf('S777-1' as never, mallory.publicKey) })
      strangerLog.ingest(stranger)
      const unenrolled = strangerLog.lastLocalChange() as Uint8Array
      // The genuine entry in a change a relay wrote (another actor), or one whose op counter is not the till's.
      const relay = TillLog.create(till.tillId, { actorId: 'b1'.repeat(16) })
      relay.ingest(e1)
      const relabelled = relay.lastLocalChange() as Uint8Array
      const shifted = TillLog.create(till.tillId, { actorId: tillActorOf(till.tillId, till.log[0]?.signer as Uint8Array) })
      shifted.ingest(till.log[1] as (typeof till.log)[number])
      shifted.ingest(e1)
      const offByOne = shifted.lastLocalChange() as Uint8Array
      const answers = await hq.submit([wrongKey, forged, foreign, two, broken, unenrolled, relabelled, offByOne])
      assert.deepEqual(answers.map(a => a.code), ['MALFORMED', 'FORGED', 'MALFORMED', 'MALFORMED', 'MALFORMED', 'UNENROLLED', 'MALFORMED', 'MALFORMED'])
      assert.match(answers[6]?.reason ?? '', /not written by the log of the entry's signer/)
      assert.match(answers[7]?.reason ?? '', /op counter is 5, not seq \+ 3/)
      assert.match(answers[0]?.reason ?? '', /key its bytes do not give/)
      assert.match(answers[2]?.reason ?? '', /entries map/)
      assert.match(answers[3]?.reason ?? '', /2 ops/)
      assert.match(answers[4]?.reason ?? '', /checksum/)
      assert.equal(hq.heldSeq(till.tillId), 0, 'nothing of them is logged')
      assert.equal(await hq.tillDoc(till.tillId), undefined)
      // The honest change still goes in afterwards.
      assert.equal((await hq.submit([honest]))[0]?.status, 'accepted')
      for (const l of [strangerLog, relay, shifted, forgedLog]) l.free()
      await hq.stop()
    })
  })
}

describe('HQ\'s till documents', () => {
  it('a change re-labelled by a relay (its seq rewritten) and taken first costs the till its history at HQ, never the document', async () => {
    const hq = await startHq()
    const { till } = await tradedTill(hq)
    const sent = till.outboxChanges()
    // The second record's change with its actor seq rewritten from 2 to 1 (the checksum made right): it
    // carries the genuine entry, the till's actor and op counter, so HQ takes it; Automerge would not.
    const genuine = sent[1]?.bytes as Uint8Array
    const layout = entryChangeLayout(genuine)
    assert.ok(layout !== null && genuine[layout.actorEnd] === 2)
    const relabelled = new Uint8Array(genuine)
    relabelled[layout.actorEnd] = 1
    relabelled.set(changeHashOf(relabelled).subarray(0, 4), 4)
    assert.equal((await hq.submit([relabelled]))[0]?.status, 'accepted')
    assert.deepEqual((await hq.submit(sent.map(s => s.bytes))).map(a => a.status), ['accepted', 'duplicate'])
    const doc = await hq.tillDoc(till.tillId)
    assert.equal(doc?.entryCount, till.log.length, 'every entry is still served')
    assert.deepEqual(doc?.verify(e => hq.enrolment.keyFor(e, 1) ?? hq.enrolment.keyFor(e, 2)).invalid, [])
    await hq.stop()
  })

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

describe('HqDocs, the bounded cache of till documents', () => {
  it('makes a few documents at once and refuses more as busy; two asks for one till make one document', async () => {
    const { HqDocs, DocsBusyError } = await import('../src/hq/HqDocs.ts')
    const docs = new HqDocs({ max: 2, loadsMax: 1 })
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    const slow = async (): Promise<Uint8Array[]> => { await gate; return [] }
    const a = docs.get('S1-1' as never, slow)
    const again = docs.get('S1-1' as never, slow)
    await assert.rejects(docs.get('S1-2' as never, slow), DocsBusyError)
    release()
    assert.deepEqual(await Promise.all([a, again]), [undefined, undefined])
    assert.equal(await docs.get('S1-2' as never, async () => []), undefined, 'free again once the first is made')
  })
})

describe('what a till sends HQ', () => {
  it('its own records inside their changes; a replacement\'s re-appended history (another key\'s entries) bare, and HQ takes both', async () => {
    const hq = await startHq()
    const burnt = await tradedTill(hq)
    const entries = [...burnt.till.log]
    // A replacement with a key of its own takes the chain over without its history (as from an email backup).
    const { till } = await startTill(hq, { signer: new Signer(keyPairFromSeed(seedBytes('replacement'))), fromSeq: entries.length + 1 })
    await till.adoptRecoveredLog(entries, null)
    const sent = till.outboxChanges()
    assert.deepEqual(sent.map(s => [s.seq, isAutomergeChunk(s.bytes)]), entries.map(e => [e.record.seq, false]))
    await till.openDay(nextBusinessDay(DAY2))
    await till.closeDay()
    const next = till.outboxChanges().at(-1)
    assert.ok(next !== undefined && isAutomergeChunk(next.bytes), 'its own new record goes inside its change')
    assert.ok((await hq.submit(till.outboxChanges().map(s => s.bytes))).every(a => a.status === 'accepted'))
    await hq.stop()
  })
})

import assert from 'node:assert/strict'
import { ENTRY_BYTES_MAX, ForgedError, MalformedError, OversizedError, canonicalDecode, canonicalEncode, type Canonical } from '@tillbooks/protocol'
import {
  ChainBrokenError, ForkDetectedError, LogFullError, NotVerifiedError, OutOfOrderError, TillLog, UnenrolledError, WrongTillError, actorIdFor
} from '../src/index.ts'
import { OTHER_TILL_ID, TILL_ID, TillWriter, enrolment, keyForOf, mallory, otherTillKey, tillKey, withBadSignature } from './helpers/fixtures.ts'

describe('TillLog.append: the owning till extends its chain', () => {
  it('appends in order and keeps the head', () => {
    const log = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till') })
    assert.equal(log.head(), null)
    const w = new TillWriter()
    for (const entry of w.chain(6)) {
      log.append(entry)
      assert.deepEqual(log.head(), { seq: entry.record.seq, hash: entry.hash })
    }
    assert.equal(log.entryCount, 6)
    const report = log.verify(keyForOf(enrolment()))
    assert.equal(report.chain.length, 6)
    assert.deepEqual(report.head, log.head())
  })

  it('refuses a wrong seq (a skip or a repeat) with OutOfOrderError', () => {
    const log = TillLog.create(TILL_ID)
    const w = new TillWriter()
    log.append(w.next())
    const skip = new TillWriter()
    skip.chain(2)
    assert.throws(() => log.append(skip.next()), OutOfOrderError) // seq 3 after 1
    const again = new TillWriter()
    assert.throws(() => log.append(again.next()), OutOfOrderError) // seq 1 again
    assert.equal(log.entryCount, 1)
  })

  it('refuses a prevHash that is not the head hash with ChainBrokenError', () => {
    const log = TillLog.create(TILL_ID)
    const w = new TillWriter()
    log.append(w.next())
    w.prevHash = new Uint8Array(32).fill(7)
    assert.throws(() => log.append(w.next()), ChainBrokenError)
    assert.equal(log.head()?.seq, 1)
  })

  it("refuses another till's entry with WrongTillError", () => {
    const log = TillLog.create(TILL_ID)
    const other = new TillWriter(otherTillKey, undefined, 2)
    assert.throws(() => log.append(other.next()), WrongTillError)
    assert.throws(() => log.ingest(other.next()), WrongTillError)
    assert.throws(() => TillLog.create(OTHER_TILL_ID).merge(log), WrongTillError)
  })

  it('refuses a bad signature, and a signer the enrolment does not know', () => {
    const log = TillLog.create(TILL_ID)
    assert.throws(() => log.append(withBadSignature(new TillWriter().next())), ForgedError)
    const enrolled = TillLog.create(TILL_ID, { keyFor: keyForOf(enrolment()) })
    assert.throws(() => enrolled.append(new TillWriter(mallory).next()), UnenrolledError)
    enrolled.append(new TillWriter().next())
    assert.equal(enrolled.head()?.seq, 1)
  })

  it('refuses an entry whose hash does not match its bytes', () => {
    const log = TillLog.create(TILL_ID)
    const w = new TillWriter()
    const a = w.next()
    assert.throws(() => log.append({ ...a, hash: w.next().hash }), MalformedError)
  })

  it('needs a verified head once entries came from elsewhere (NotVerifiedError until verify)', () => {
    const log = TillLog.create(TILL_ID)
    const w = new TillWriter()
    log.ingest(w.next())
    assert.throws(() => log.head(), NotVerifiedError)
    assert.throws(() => log.append(w.peek()), NotVerifiedError)
    log.verify(keyForOf(enrolment()))
    log.append(w.next())
    assert.equal(log.head()?.seq, 2)
    // keyFor is now known: later arrivals are re-verified by head() itself.
    const w3 = new TillWriter()
    w3.chain(2)
    log.ingest(w3.next())
    assert.equal(log.head()?.seq, 3) // re-verified by itself
    assert.throws(() => log.append(w.next()), OutOfOrderError) // seq 3 again
    log.append(w3.next())
    assert.equal(log.head()?.seq, 4)
  })

  it('refuses to equivocate: the next seq already holds another validly-signed entry', () => {
    const log = TillLog.create(TILL_ID, { keyFor: keyForOf(enrolment()) })
    const w = new TillWriter()
    for (const e of w.chain(2)) log.append(e)
    const a = w.peek(1)
    const b = w.peek(2)
    log.ingest(a)
    log.ingest(b)
    assert.equal(log.head()?.seq, 2)
    assert.throws(() => log.append(w.peek(3)), ForkDetectedError)
    // one valid entry at seq 3 that does not link to seq 2: appending another one would fork too
    const log2 = TillLog.create(TILL_ID, { keyFor: keyForOf(enrolment()) })
    const w2 = new TillWriter()
    for (const e of w2.chain(2)) log2.append(e)
    const stray = new TillWriter()
    stray.chain(2)
    stray.prevHash = new Uint8Array(32).fill(1)
    log2.ingest(stray.next())
    assert.equal(log2.verify(keyForOf(enrolment())).stop?.code, 'CHAIN')
    assert.throws(() => log2.append(w2.peek()), ForkDetectedError)
  })

  it('an entry appended after a gap lets the chain run on through what was beyond it', () => {
    const keyFor = keyForOf(enrolment())
    const log = TillLog.create(TILL_ID, { keyFor })
    const w = new TillWriter()
    const entries = w.chain(5)
    for (const e of entries.slice(0, 2)) log.append(e)
    for (const e of entries.slice(3)) log.ingest(e) // 4 and 5 arrive, 3 is missing
    assert.deepEqual(log.verify(keyFor).gaps, [3])
    log.append(entries[2]!)
    assert.equal(log.head()?.seq, 5)
  })
})

describe('TillLog.ingest: evidence from anyone', () => {
  it('adds once, then reports a duplicate', () => {
    const log = TillLog.create(TILL_ID)
    const e = new TillWriter().next()
    assert.equal(log.ingest(e), 'added')
    assert.equal(log.ingest(e), 'duplicate')
    assert.equal(log.ingest({ bytes: new Uint8Array(e.bytes) }), 'duplicate')
    assert.equal(log.entryCount, 1)
  })

  it('stores forgeries and forks without judging them', () => {
    const log = TillLog.create(TILL_ID)
    const w = new TillWriter()
    assert.equal(log.ingest(withBadSignature(w.peek(0))), 'added')
    assert.equal(log.ingest(w.peek(0)), 'added') // same record, genuine envelope: its own key
    assert.equal(log.ingest(w.peek(1)), 'added')
    assert.equal(log.ingest(new TillWriter(mallory).next()), 'added')
    assert.equal(log.entryCount, 4)
  })

  it('refuses bytes that are not an entry, oversized entries, and a full log', () => {
    const log = TillLog.create(TILL_ID, { entriesMax: 2 })
    assert.throws(() => log.ingest({ bytes: new Uint8Array([1, 2, 3]) }), MalformedError)
    assert.throws(() => log.ingest({ bytes: new Uint8Array(ENTRY_BYTES_MAX + 1) }), OversizedError)
    // a well-formed envelope whose body is too big
    const e = new TillWriter().next()
    const envelope = canonicalDecode(e.bytes) as { [k: string]: Canonical }
    const big = canonicalEncode({ ...envelope, body: new Uint8Array(ENTRY_BYTES_MAX) })
    assert.throws(() => log.ingest({ bytes: big }), OversizedError)
    const w = new TillWriter()
    log.ingest(w.next())
    log.ingest(w.next())
    assert.throws(() => log.ingest(w.next()), LogFullError)
    assert.equal(log.entryCount, 2)
  })

  it('refuses an actor id that is not hex, or is the reserved genesis actor', () => {
    assert.throws(() => TillLog.create(TILL_ID, { actorId: 'not hex' }), MalformedError)
    assert.throws(() => TillLog.create(TILL_ID, { actorId: 'abc' }), MalformedError)
    assert.equal(TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'hq') }).actorId, actorIdFor(TILL_ID, 'hq'))
    assert.notEqual(actorIdFor(TILL_ID, 'hq'), actorIdFor(TILL_ID, 'till'))
    void tillKey
  })
})

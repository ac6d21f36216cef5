import assert from 'node:assert/strict'
import { Enrolment, issueCertificate } from '@tillbooks/protocol'
import { TillLog, keyOfBytes, verifyEntries } from '../src/index.ts'
import { STORE, TILL_ID, TILL_NO, TillWriter, enrolment, keyForOf, mallory, otherTillKey, root, summary, withBadSignature } from './helpers/fixtures.ts'

describe('TillLog.verify', () => {
  it('a clean log: the whole chain, its head, nothing else', () => {
    const log = TillLog.create(TILL_ID)
    const entries = new TillWriter().chain(8)
    for (const e of entries) log.append(e)
    const report = log.verify(keyForOf(enrolment()))
    assert.deepEqual(report.chain.map(e => e.hash), entries.map(e => e.hash))
    assert.deepEqual(report.head, { seq: 8, hash: entries[7]!.hash })
    assert.deepEqual([report.forks, report.invalid, report.gaps, report.stop], [[], [], [], null])
    assert.ok(Object.isFrozen(report) && Object.isFrozen(report.chain))
  })

  it('a forgery a relay stored is reported invalid and kept out of the chain', () => {
    const keyFor = keyForOf(enrolment())
    const w = new TillWriter()
    const relay = TillLog.create(TILL_ID)
    const genuine = w.chain(3)
    for (const e of genuine) relay.ingest(e)
    // seq 2 again with a broken signature (same body: it must not hide the genuine one) ...
    relay.ingest(withBadSignature(genuine[1]!))
    // ... and seq 4 signed by a key HQ never enrolled, linked to the genuine seq 3
    const forger = new TillWriter(mallory)
    forger.seq = 3
    forger.prevHash = genuine[2]!.hashBytes
    const forged = forger.next()
    relay.ingest(forged)
    const report = relay.verify(keyFor)
    assert.deepEqual(report.chain.map(e => e.hash), genuine.map(e => e.hash))
    assert.deepEqual(report.invalid.map(i => i.code).sort(), ['FORGED', 'UNENROLLED'])
    assert.match(report.invalid.find(i => i.code === 'FORGED')!.reason, /signature/)
    assert.ok(report.invalid.find(i => i.code === 'UNENROLLED')!.key.startsWith('000000000004:'))
    assert.deepEqual([report.forks, report.gaps, report.stop], [[], [], null])
    assert.equal(relay.entryCount, 5)
  })

  it('a missing seq: gaps name the first missing seq of each hole, the chain stops before it', () => {
    const log = TillLog.create(TILL_ID)
    const entries = new TillWriter().chain(9)
    for (const e of entries) if (![3, 4, 7].includes(e.record.seq)) log.ingest(e)
    const report = log.verify(keyForOf(enrolment()))
    assert.equal(report.head?.seq, 2)
    assert.deepEqual(report.gaps, [3, 7])
    assert.equal(report.stop?.code, 'GAP')
    assert.equal(report.stop?.seq, 3)
  })

  it('a seq holding only forgeries counts as missing', () => {
    const log = TillLog.create(TILL_ID)
    const entries = new TillWriter().chain(4)
    log.ingest(entries[0]!)
    log.ingest(withBadSignature(entries[1]!))
    log.ingest(entries[2]!)
    log.ingest(entries[3]!)
    const report = log.verify(keyForOf(enrolment()))
    assert.equal(report.head?.seq, 1)
    assert.deepEqual(report.gaps, [2])
    assert.equal(report.invalid.length, 1)
  })

  it('a validly-signed entry that does not link stops the chain (CHAIN)', () => {
    const log = TillLog.create(TILL_ID)
    const w = new TillWriter()
    for (const e of w.chain(2)) log.ingest(e)
    w.prevHash = new Uint8Array(32).fill(9)
    log.ingest(w.next())
    const report = log.verify(keyForOf(enrolment()))
    assert.equal(report.head?.seq, 2)
    assert.equal(report.stop?.code, 'CHAIN')
    assert.deepEqual([report.forks, report.invalid, report.gaps], [[], [], []])
  })

  it('without an enrolled key every entry is invalid (UNENROLLED)', () => {
    const log = TillLog.create(TILL_ID)
    for (const e of new TillWriter().chain(2)) log.append(e)
    const report = log.verify(keyForOf(new Enrolment(root.publicKey)))
    assert.equal(report.head, null)
    assert.deepEqual(report.invalid.map(i => i.code), ['UNENROLLED', 'UNENROLLED'])
    assert.match(report.invalid[0]!.reason, /no key is enrolled/)
  })

  it('checks the signer against the key enrolled for each seq', () => {
    const e = enrolment()
    e.add(issueCertificate(root, { store: STORE, till: TILL_NO, tillKey: mallory.publicKey, fromSeq: 3, issuedAtMs: 1 }).bytes)
    const log = TillLog.create(TILL_ID)
    for (const entry of new TillWriter().chain(4)) log.append(entry)
    const report = log.verify(keyForOf(e))
    assert.equal(report.head?.seq, 2)
    assert.deepEqual(report.invalid.map(i => [i.key.slice(0, 12), i.code]), [['000000000003', 'UNENROLLED'], ['000000000004', 'UNENROLLED']])
  })

  it('is a pure function of the stored set: order and duplicates do not matter', () => {
    const w = new TillWriter()
    const entries = [...w.chain(3), w.peek(1), w.peek(2), withBadSignature(w.peek(0))]
    const log = TillLog.create(TILL_ID)
    for (const e of entries) log.ingest(e)
    const keyFor = keyForOf(enrolment())
    const fromLog = summary(log.verify(keyFor))
    const pairs = entries.map(e => ({ key: keyOfBytes(e.bytes).key, bytes: e.bytes }))
    const shuffled = [...pairs.slice(3), ...pairs, ...pairs.slice(0, 2)].reverse()
    assert.deepEqual(summary(verifyEntries(TILL_ID, shuffled, keyFor)), fromLog)
  })

  it('reports junk stored under any key: wrong key, wrong value type, wrong till', () => {
    const keyFor = keyForOf(enrolment())
    const [a, b] = new TillWriter().chain(2)
    const other = new TillWriter(otherTillKey, STORE, 2).next()
    const report = verifyEntries(TILL_ID, [
      { key: keyOfBytes(a!.bytes).key, bytes: a!.bytes },
      { key: keyOfBytes(a!.bytes).key.replace(/^000000000001/, '000000000002'), bytes: a!.bytes },
      { key: keyOfBytes(b!.bytes).key, bytes: 'not bytes' },
      { key: 'nonsense', bytes: b!.bytes },
      { key: keyOfBytes(other.bytes).key, bytes: other.bytes }
    ], keyFor)
    assert.equal(report.head?.seq, 1)
    assert.deepEqual(report.invalid.map(i => i.code).sort(), ['INVALID', 'MALFORMED', 'MALFORMED', 'MALFORMED'])
  })
})

import assert from 'node:assert/strict'
import { GENESIS_HASH, issueCertificate, nextBusinessDay, type Close } from '@tillbooks/protocol'
import { TillLog, UnenrolledError, actorIdFor, resumePointOf } from '../src/index.ts'
import { STORE, TILL_ID, TILL_NO, TillWriter, enrolment, hexes, keyForOf, root, signerOf, summary, tillKey } from './helpers/fixtures.ts'

describe('fire recovery: a replacement till continues the log from a neighbour', () => {
  it('takes the verified head and last docLast, enrols a new key from head.seq + 1, and appends', () => {
    const hqEnrolment = enrolment()
    const keyFor = keyForOf(hqEnrolment)

    // The old till trades 5 days (seqs 1..10). The neighbour last synced after day 4, HQ after day 5.
    const old = new TillWriter()
    const till = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till'), keyFor })
    const neighbour = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'neighbour:S2') })
    const hq = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'hq') })
    for (let seq = 1; seq <= 10; seq++) {
      till.append(old.next())
      if (seq === 8) neighbour.applyChanges(till.getChangesSince(neighbour.getHeads()))
    }
    hq.applyChanges(till.getChangesSince(hq.getHeads()))
    const neighbourBytes = neighbour.save()
    // Fire: `till` is gone.

    // The replacement fetches the neighbour's document and screens it into a log of its own.
    const replacement = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till#2') })
    assert.deepEqual(replacement.merge(TillLog.load(neighbourBytes)).rejected, [])
    const report = replacement.verify(keyFor)
    assert.equal(report.head?.seq, 8)
    const resume = resumePointOf(report)
    const lastClose = report.chain[7]!.record as Close
    assert.equal(lastClose.kind, 'close')
    assert.deepEqual(resume, { nextSeq: 9, prevHash: report.chain[7]!.hashBytes, lastBusinessDay: lastClose.businessDay, nextDocN: lastClose.docLast + 1 })

    // HQ enrols the new key from seq 9: the old key signs below 9, the new one from 9 on.
    const newKey = signerOf('till S1-1 replacement')
    hqEnrolment.add(issueCertificate(root, { store: STORE, till: TILL_NO, tillKey: newKey.publicKey, fromSeq: resume.nextSeq, issuedAtMs: 1 }).bytes)
    assert.deepEqual(hqEnrolment.keyFor(TILL_ID, 8), tillKey.publicKey)
    assert.deepEqual(hqEnrolment.keyFor(TILL_ID, 9), newKey.publicKey)

    const w = new TillWriter(newKey)
    w.seq = resume.nextSeq - 1
    w.prevHash = resume.prevHash
    w.nextDocN = resume.nextDocN
    w.day = nextBusinessDay(resume.lastBusinessDay!)
    // The old key can no longer extend the log.
    const stale = new TillWriter(tillKey)
    Object.assign(stale, { seq: w.seq, prevHash: w.prevHash, nextDocN: w.nextDocN, day: w.day })
    assert.throws(() => replacement.append(stale.next()), UnenrolledError)
    for (let i = 0; i < 4; i++) replacement.append(w.next())
    assert.equal(replacement.head()?.seq, 12)
    const firstNewClose = replacement.verify(keyFor).chain[9]!.record as Close
    assert.equal(firstNewClose.docFirst, lastClose.docLast + 1) // document numbers continue, none reused

    // HQ takes in the replacement's log: the old till's seqs 9 and 10 (signed after the
    // new key took over) are evidence, not chain; the chain runs 1..8 old key, 9..12 new.
    hq.merge(replacement)
    neighbour.merge(replacement)
    const atHq = hq.verify(keyFor)
    assert.equal(atHq.head?.seq, 12)
    assert.deepEqual(atHq.chain.map(e => Buffer.compare(e.signer, newKey.publicKey) === 0), [...Array(8).fill(false), ...Array(4).fill(true)])
    assert.deepEqual(atHq.invalid.map(i => [Number(i.key.slice(0, 12)), i.code]), [[9, 'UNENROLLED'], [10, 'UNENROLLED']])
    assert.deepEqual(atHq.forks, [])
    replacement.merge(hq)
    neighbour.merge(hq)
    assert.deepEqual(hexes(neighbour.entryBytes()), hexes(hq.entryBytes()))
    assert.deepEqual(summary(replacement.verify(keyFor)), summary(atHq))
    assert.deepEqual(summary(neighbour.verify(keyFor)), summary(atHq))
  })

  it('from an empty log, starts at seq 1, document 1', () => {
    const report = TillLog.create(TILL_ID).verify(keyForOf(enrolment()))
    assert.deepEqual(resumePointOf(report), { nextSeq: 1, prevHash: GENESIS_HASH, lastBusinessDay: null, nextDocN: 1 })
  })
})

import assert from 'node:assert/strict'
import * as A from '@automerge/automerge'
import { MalformedError } from '@tillbooks/protocol'
import { LogFullError, TillLog, actorIdFor } from '../src/index.ts'
import { OTHER_TILL_ID, TILL_ID, TillWriter, enrolment, hexes, keyForOf, summary, withBadSignature } from './helpers/fixtures.ts'

const keyFor = keyForOf(enrolment())

describe('TillLog save/load', () => {
  it('round-trips entries, heads and the report; the loaded log carries on', () => {
    const w = new TillWriter()
    const log = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till') })
    for (const e of w.chain(5)) log.append(e)
    log.ingest(withBadSignature(w.peek()))
    const loaded = TillLog.load(log.save(), { actorId: actorIdFor(TILL_ID, 'till#restart') })
    assert.equal(loaded.tillId, TILL_ID)
    assert.deepEqual(hexes(loaded.entryBytes()), hexes(log.entryBytes()))
    assert.deepEqual(loaded.getHeads(), log.getHeads())
    assert.deepEqual(summary(loaded.verify(keyFor)), summary(log.verify(keyFor)))
    loaded.append(w.next())
    assert.equal(loaded.head()?.seq, 6)
    assert.equal(TillLog.load(loaded.save()).verify(keyFor).head?.seq, 6)
  })

  it('a till restarting under its own actor id carries on its Automerge history (the old instance is gone)', () => {
    const w = new TillWriter()
    const actorId = actorIdFor(TILL_ID, 'till')
    const before = TillLog.create(TILL_ID, { actorId })
    const hq = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'hq') })
    for (const e of w.chain(3)) before.append(e)
    hq.applyChanges(before.getChangesSince(hq.getHeads()))
    const after = TillLog.load(before.save(), { actorId, keyFor })
    assert.equal(after.actorId, actorId)
    for (const e of w.chain(3)) after.append(e)
    assert.deepEqual(hq.applyChanges(after.getChangesSince(hq.getHeads())), { accepted: 3, rejected: [] })
    assert.equal(hq.verify(keyFor).head?.seq, 6)
    assert.deepEqual(hq.getHeads(), after.getHeads())
  })

  it('a loaded log of only appended entries still needs a keyFor for its head', () => {
    const log = TillLog.create(TILL_ID)
    for (const e of new TillWriter().chain(2)) log.append(e)
    assert.throws(() => TillLog.load(log.save()).head(), /verify/)
    assert.equal(TillLog.load(log.save(), { keyFor }).head()?.seq, 2)
    assert.equal(TillLog.load(TillLog.create(TILL_ID).save()).head(), null)
  })

  it('saves the same bytes for the same history (deterministic actors, time 0): the simulator can replay', () => {
    const build = (): Uint8Array => {
      const log = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till') })
      for (const e of new TillWriter().chain(4)) log.append(e)
      return log.save()
    }
    assert.deepEqual(build(), build())
  })

  it('every replica of a till starts from the same genesis change (pinned: an Automerge upgrade that changes it must fail here)', () => {
    const a = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'a') })
    const b = TillLog.create(TILL_ID)
    assert.deepEqual(a.getHeads(), b.getHeads())
    assert.deepEqual(a.getHeads(), ['4750cc09d519ed1bd0deb8a2bc11a7c0fc8e74a12a93882e5579271259d41dbf'])
    assert.notDeepEqual(TillLog.create(OTHER_TILL_ID).getHeads(), a.getHeads())
  })

  it('refuses bytes that are not a till log', () => {
    assert.throws(() => TillLog.load(new Uint8Array([1, 2, 3])), MalformedError)
    const plain = A.save(A.from({ hello: 'world' }))
    assert.throws(() => TillLog.load(plain), MalformedError)
    // a document with a tillId but its own entries map, not the genesis one
    const fake = A.save(A.from({ tillId: new A.ImmutableString(TILL_ID), v: 1, entries: {} }))
    assert.throws(() => TillLog.load(fake), /genesis/)
    const log = TillLog.create(TILL_ID)
    assert.throws(() => TillLog.load(log.save(), { logBytesMax: 10 }), LogFullError)
    const w = new TillWriter()
    for (const e of w.chain(3)) log.append(e)
    assert.throws(() => TillLog.load(log.save(), { entriesMax: 2 }), LogFullError)
  })
})

describe('TillLog changes: incremental sync', () => {
  it('a till sends HQ only what HQ lacks; applying twice changes nothing', () => {
    const w = new TillWriter()
    const till = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till') })
    const hq = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'hq') })
    for (let day = 0; day < 4; day++) {
      till.append(w.next())
      till.append(w.next())
      const changes = till.getChangesSince(hq.getHeads())
      assert.equal(changes.length, 2)
      assert.deepEqual(hq.applyChanges(changes), { accepted: 2, rejected: [] })
      const again = hq.getHeads()
      hq.applyChanges(changes)
      assert.deepEqual(hq.getHeads(), again)
      assert.deepEqual(hq.getHeads(), till.getHeads())
    }
    assert.deepEqual(summary(hq.verify(keyFor)), summary(till.verify(keyFor)))
    assert.equal(hq.head()?.seq, 8)
    assert.deepEqual(till.getChangesSince(hq.getHeads()), [])
  })

  it('changes out of order wait for their dependencies', () => {
    const till = TillLog.create(TILL_ID)
    const hq = TillLog.create(TILL_ID)
    for (const e of new TillWriter().chain(3)) till.append(e)
    const changes = till.getChangesSince(hq.getHeads())
    hq.applyChanges([changes[2]!])
    assert.equal(hq.entryCount, 0)
    hq.applyChanges([changes[1]!, changes[0]!])
    assert.equal(hq.entryCount, 3)
    assert.equal(hq.verify(keyFor).head?.seq, 3)
  })

  it('from unknown heads, sends everything', () => {
    const till = TillLog.create(TILL_ID)
    for (const e of new TillWriter().chain(2)) till.append(e)
    const changes = till.getChangesSince(['ab'.repeat(32)])
    const hq = TillLog.create(TILL_ID)
    hq.applyChanges(changes)
    assert.deepEqual(hexes(hq.entryBytes()), hexes(till.entryBytes()))
    assert.throws(() => till.getChangesSince(['not a hash']), MalformedError)
  })

  it('refuses more changes at once than applyChangesMax, and entries past entriesMax', () => {
    const till = TillLog.create(TILL_ID)
    for (const e of new TillWriter().chain(3)) till.append(e)
    const changes = till.getChangesSince([])
    assert.throws(() => TillLog.create(TILL_ID, { applyChangesMax: 2 }).applyChanges(changes), LogFullError)
    const small = TillLog.create(TILL_ID, { entriesMax: 2 })
    assert.throws(() => small.applyChanges(changes), LogFullError)
    assert.equal(small.entryCount, 0)
  })
})

/**
 * Automerge's own sync protocol on TillLog: replicas converge to equal heads, a log served
 * read-only never takes a change, one new record is one message each way, a peer a week
 * behind with a persisted sync state catches up in two round trips, and a message carrying
 * a change no honest TillLog writes (a delete, an overwrite, a forged whole document) is
 * refused whole, before Automerge applies any of it.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as A from '@automerge/automerge'
import { SyncRefusedError, TillLog, actorIdFor, servingStateFor, keyOfBytes, decodeSyncState, encodeSyncState, initSyncState, type SyncState } from '../src/index.ts'
import { TILL_ID, TillWriter, enrolment, keyForOf, withBadSignature } from './helpers/fixtures.ts'

const keyFor = keyForOf(enrolment())
const FC_SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = any

/**
 * One exchange until both sides are quiet, as DocSync runs it: the replica pulls (a request
 * per round, its message or nothing), the owner answers each from its serving state
 * (read-only, servingStateFor). Returns round trips and messages each way.
 */
function sync (owner: TillLog, replica: TillLog, s: { owner: SyncState, replica: SyncState }): { trips: number, toOwner: number, toReplica: number } {
  let trips = 0
  let toOwner = 0
  let toReplica = 0
  for (let i = 0; i < 20; i++) {
    const a = replica.generateSyncMessage(s.replica)
    s.replica = a.state
    // Each round is one request of DocSync's: the owner answers it, from its serving state.
    s.owner = servingStateFor(s.owner, a.message)
    if (a.message !== null) { toOwner++; s.owner = owner.receiveSyncMessage(s.owner, a.message).state }
    const b = owner.generateSyncMessage(s.owner)
    s.owner = b.state
    if (b.message !== null) { toReplica++; s.replica = replica.receiveSyncMessage(s.replica, b.message).state }
    if (a.message === null && b.message === null) return { trips, toOwner, toReplica }
    trips++
  }
  assert.fail('sync did not settle in 20 rounds')
}

const fresh = (): { owner: SyncState, replica: SyncState } => ({ owner: initSyncState({ readOnly: true }), replica: initSyncState() })

describe(`TillLog over Automerge's sync protocol (FC_SEED=${FC_SEED})`, () => {
  it('a replica from nothing converges to equal heads and the same verified chain; the owner imports nothing', () => {
    const w = new TillWriter()
    const owner = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till'), keyFor })
    for (const e of w.chain(5)) owner.append(e)
    const replica = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'neighbour') })
    const ownerHeads = owner.getHeads()
    sync(owner, replica, fresh())
    assert.deepEqual(replica.getHeads(), owner.getHeads())
    assert.deepEqual(owner.getHeads(), ownerHeads)
    assert.deepEqual(replica.verify(keyFor).chain.map(e => e.hash), owner.verify(keyFor).chain.map(e => e.hash))
  })

  it('one new record reaches a synced replica in one message each way; a week behind (14 records) with persisted states: two round trips', () => {
    const w = new TillWriter()
    const owner = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till'), keyFor })
    const replica = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'neighbour') })
    for (const e of w.chain(2)) owner.append(e)
    const s = fresh()
    sync(owner, replica, s)
    owner.append(w.next())
    const one = sync(owner, replica, s)
    // The replica says what it has; the owner answers with the change; then the replica's ack.
    assert.deepEqual([one.toReplica, one.toOwner <= 2, one.trips <= 2], [1, true, true], JSON.stringify(one))
    assert.deepEqual(replica.getHeads(), owner.getHeads())
    // Both sides persist their states, go offline for a week, and come back.
    const saved = { owner: encodeSyncState(s.owner), replica: encodeSyncState(s.replica) }
    for (let i = 0; i < 14; i++) owner.append(w.next())
    const restarted = { owner: decodeSyncState(saved.owner), replica: decodeSyncState(saved.replica) }
    const back = TillLog.load(replica.save(), { actorId: actorIdFor(TILL_ID, 'neighbour') })
    const week = sync(owner, back, restarted)
    assert.ok(week.trips <= 2, JSON.stringify(week))
    assert.equal(week.toReplica, 1, 'the 14 records come in one message')
    assert.deepEqual(back.getHeads(), owner.getHeads())
    assert.equal(back.verify(keyFor).chain.length, 17)
  })

  it('any interleaving of appends, syncs, lost and repeated messages and restarts converges, every entry verified', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom('append', 'sync', 'lose', 'repeat', 'restart'), { minLength: 1, maxLength: 30 }), ops => {
      const w = new TillWriter()
      const owner = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till'), keyFor })
      let replica = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'neighbour') })
      let s = fresh()
      let last: Uint8Array | null = null
      for (const op of ops) {
        if (op === 'append') owner.append(w.next())
        else if (op === 'sync') sync(owner, replica, s)
        else if (op === 'lose') {
          // A message generated and lost on the wire: the sender's state moved, the receiver's did not.
          const m = owner.generateSyncMessage(s.owner)
          s.owner = m.state
          last = m.message
        } else if (op === 'repeat' && last !== null) {
          // A late copy of a lost message: it may carry a change whose parent was lost with an
          // earlier one; screened, it waits in Automerge's queue and the replica asks for the parent.
          s.replica = replica.receiveSyncMessage(s.replica, last).state
        } else if (op === 'restart') {
          replica = TillLog.load(replica.save(), { actorId: actorIdFor(TILL_ID, 'neighbour') })
          s = { owner: decodeSyncState(encodeSyncState(s.owner)), replica: decodeSyncState(encodeSyncState(s.replica)) }
        }
      }
      // After the faults, the session goes on and settles them; so does a new session of the
      // puller (as after a dropped one) against the serving side's state as it stands.
      sync(owner, replica, s)
      assert.deepEqual(replica.getHeads(), owner.getHeads())
      assert.equal(replica.pendingChanges, 0)
      owner.append(w.next())
      sync(owner, replica, { owner: s.owner, replica: initSyncState() })
      assert.deepEqual(replica.getHeads(), owner.getHeads())
      const report = replica.verify(keyFor)
      assert.equal(report.chain.length, owner.entryCount)
      assert.deepEqual(report.invalid, [])
    }), { seed: FC_SEED, numRuns: 60 })
  })

  it('a message carrying a delete, an overwrite, or a forged whole document is refused whole, and nothing of it is applied', () => {
    const w = new TillWriter()
    const entries = w.chain(3)
    const owner = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till'), keyFor })
    for (const e of entries) owner.append(e)
    // Mallory holds a doctored copy: her own changes delete one entry and overwrite another.
    let evil = A.load<Raw>(owner.save(), { actor: 'ee'.repeat(16) })
    evil = A.change(evil, { time: 0 }, (d: Raw) => { delete d.entries[keyOfBytes(entries[0]!.bytes).key] })
    evil = A.change(evil, { time: 0 }, (d: Raw) => { d.entries[keyOfBytes(entries[1]!.bytes).key] = withBadSignature(entries[1]!).bytes })
    // To a peer that has nothing, Automerge sends the whole document in one chunk: the forgery hides in it.
    const victim = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'neighbour') })
    let es = A.initSyncState()
    let m: Uint8Array | null
    const first = victim.generateSyncMessage(initSyncState())
    ;[evil, es] = A.receiveSyncMessage(evil, es, first.message as Uint8Array)
    ;[es, m] = A.generateSyncMessage(evil, es)
    assert.ok(m !== null)
    const decoded = A.decodeSyncMessage(m)
    assert.throws(() => A.decodeChange(decoded.changes[0] as Uint8Array), 'a whole-document chunk, not a change')
    const heads = victim.getHeads()
    assert.throws(() => victim.receiveSyncMessage(first.state, m as Uint8Array), (e: Error) => e instanceof SyncRefusedError && /refused: op 0 is del/.test(e.message))
    assert.deepEqual(victim.getHeads(), heads)
    assert.equal(victim.entryCount, 0)
    // The same forgeries as single changes, to a peer that has the honest entries.
    const honest = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'neighbour') })
    sync(owner, honest, fresh())
    let hs = initSyncState()
    let es2 = A.initSyncState()
    for (let i = 0; i < 6; i++) {
      let a: Uint8Array | null
      let b: Uint8Array | null
      ;({ state: hs, message: a } = honest.generateSyncMessage(hs))
      if (a !== null) [evil, es2] = A.receiveSyncMessage(evil, es2, a)
      ;[es2, b] = A.generateSyncMessage(evil, es2)
      if (b === null) break
      if (A.decodeSyncMessage(b).changes.length > 0) {
        const before = honest.getHeads()
        // A chunk of just what honest lacks: Mallory's two changes, on top of the honest ones.
        assert.throws(() => honest.receiveSyncMessage(hs, b as Uint8Array), (e: Error) => e instanceof SyncRefusedError && /op 0 is del/.test(e.message))
        assert.deepEqual(honest.getHeads(), before)
        break
      }
      hs = honest.receiveSyncMessage(hs, b).state
    }
    assert.equal(honest.verify(keyFor).chain.length, 3)
    // Garbage is refused with a reason, never thrown as anything else.
    for (const junk of [new Uint8Array(0), new Uint8Array([0x42, 1, 2, 3]), new Uint8Array(64).fill(0xff)]) {
      assert.throws(() => honest.receiveSyncMessage(initSyncState(), junk), SyncRefusedError)
    }
  })

  it('refused unread or unapplied: too many items, two document chunks, past the byte bound', () => {
    const w = new TillWriter()
    const owner = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till'), keyFor })
    for (const e of w.chain(3)) owner.append(e)
    const replica = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'neighbour'), applyChangesMax: 50, logBytesMax: 1_500 })
    const heads = replica.getHeads()
    const chunk = A.save(A.init())
    const msg = (changes: Uint8Array[]): Uint8Array => A.encodeSyncMessage({ heads: [], need: [], have: [], changes })
    assert.throws(() => replica.receiveSyncMessage(initSyncState(), msg(Array.from({ length: 51 }, () => chunk))), /51 items in one message, at most 50/)
    assert.throws(() => replica.receiveSyncMessage(initSyncState(), msg([chunk, chunk])), /more than one document chunk/)
    const all = A.getAllChanges(A.load(owner.save()))
    // All of them (three entries of ~600 bytes), past a 1,500-byte bound.
    assert.throws(() => replica.receiveSyncMessage(initSyncState(), msg(all)), /would pass 1500 bytes/)
    assert.deepEqual(replica.getHeads(), heads)
    assert.equal(replica.entryCount, 0)
  })

  it('changes back to back in one item (as a peer may send them) are screened one by one and wait for a missing dependency like changes sent alone (simulator seed 5039: a replica stayed behind for good)', () => {
    const w = new TillWriter()
    const owner = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till'), keyFor })
    for (const e of w.chain(4)) owner.append(e)
    const [, c1, c2, c3, c4] = A.getAllChanges(A.load(owner.save())) as Uint8Array[]
    const replica = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'neighbour') })
    const msg = (changes: Uint8Array[]): Uint8Array => A.encodeSyncMessage({ heads: [], need: [], have: [], changes })
    const concat = (...cs: Uint8Array[]): Uint8Array => { const out = new Uint8Array(cs.reduce((n, c) => n + c.length, 0)); let at = 0; for (const c of cs) { out.set(c, at); at += c.length } return out }
    assert.equal(replica.receiveSyncMessage(initSyncState(), msg([c1 as Uint8Array])).added, 1)
    // c3 and c4 in one item, c2 not held: they wait (before: the item was refused whole, every time).
    assert.equal(replica.receiveSyncMessage(initSyncState(), msg([concat(c3 as Uint8Array, c4 as Uint8Array)])).added, 0)
    assert.equal(replica.pendingChanges, 2)
    // c2 comes: all apply, and the entries verify.
    assert.equal(replica.receiveSyncMessage(initSyncState(), msg([c2 as Uint8Array])).added, 3)
    assert.deepEqual([replica.pendingChanges, replica.getHeads()], [0, owner.getHeads()])
    assert.equal(replica.verify(keyFor).chain.length, 4)
    // A forgery back to back with honest changes is refused with the item, nothing of it taken.
    const evil = A.change(A.load<Raw>(owner.save(), { actor: 'ee'.repeat(16) }), { time: 0 }, (d: Raw) => { delete d.entries[Object.keys(d.entries)[0] as string] })
    const other = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'neighbour 2') })
    const before = other.getHeads()
    assert.throws(() => other.receiveSyncMessage(initSyncState(), msg([concat(c1 as Uint8Array, A.getLastLocalChange(evil) as Uint8Array)])), (e: Error) => e instanceof SyncRefusedError && /op 0 is del/.test(e.message))
    assert.deepEqual([other.getHeads(), other.entryCount], [before, 0])
  })

  it('a change whose dependencies have not come waits, screened, in a bounded queue, and is applied when they come', () => {
    const w = new TillWriter()
    const owner = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till'), keyFor })
    for (const e of w.chain(3)) owner.append(e)
    const [, c1, c2, c3] = A.getAllChanges(A.load(owner.save())) as Uint8Array[]
    const replica = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'neighbour'), pendingChangesMax: 1 })
    const msg = (changes: Uint8Array[]): Uint8Array => A.encodeSyncMessage({ heads: [], need: [], have: [], changes })
    // The last change alone (as after a loss, or a Bloom filter false positive): it waits.
    assert.equal(replica.receiveSyncMessage(initSyncState(), msg([c3 as Uint8Array])).added, 0)
    assert.deepEqual([replica.pendingChanges, replica.entryCount], [1, 0])
    // Another that would wait too: past the bound, refused, and nothing of it is taken.
    assert.throws(() => replica.receiveSyncMessage(initSyncState(), msg([c2 as Uint8Array])), (e: Error) => e instanceof SyncRefusedError && /would wait for changes this replica lacks, at most 1/.test(e.message))
    // A screened forgery waits nowhere: refused before Automerge sees it.
    const evil = A.change(A.load<Raw>(owner.save(), { actor: 'ee'.repeat(16) }), { time: 0 }, (d: Raw) => { delete d.entries[Object.keys(d.entries)[0] as string] })
    assert.throws(() => replica.receiveSyncMessage(initSyncState(), msg([A.getLastLocalChange(evil) as Uint8Array])), /refused: op 0 is del/)
    // The missing ones come: everything applies, the queue is empty, the entries verify.
    assert.equal(replica.receiveSyncMessage(initSyncState(), msg([c1 as Uint8Array, c2 as Uint8Array])).added, 3)
    assert.equal(replica.pendingChanges, 0)
    assert.deepEqual(replica.getHeads(), owner.getHeads())
    assert.equal(replica.verify(keyFor).chain.length, 3)
    // A chain hanging off one missing change waits as a whole: nine changes past a bound of four
    // are refused (not counted as one), and the message that brings the missing one takes them all.
    for (const e of w.chain(7)) owner.append(e)
    const all = (A.getAllChanges(A.load(owner.save())) as Uint8Array[]).slice(1)
    const fresh = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'neighbour 2'), pendingChangesMax: 4 })
    assert.throws(() => fresh.receiveSyncMessage(initSyncState(), msg(all.slice(1))), /9 changes would wait for changes this replica lacks, at most 4/)
    assert.equal(fresh.pendingChanges, 0)
    assert.equal(fresh.receiveSyncMessage(initSyncState(), msg(all)).added, 10)
    assert.deepEqual([fresh.pendingChanges, fresh.getHeads()], [0, owner.getHeads()])
  })
})

import assert from 'node:assert/strict'
import * as A from '@automerge/automerge'
import { TillLog, actorIdFor, keyOfBytes } from '../src/index.ts'
import { OTHER_TILL_ID, TILL_ID, TillWriter, enrolment, keyForOf, otherTillKey, withBadSignature } from './helpers/fixtures.ts'

const keyFor = keyForOf(enrolment())
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = any

/** A peer that edits the document directly, as no honest TillLog would; returns its one change. */
function rawChange (log: TillLog, edit: (d: Raw) => void): Uint8Array {
  const doc = A.load<Raw>(log.save(), { actor: 'ee'.repeat(16) })
  const changed = A.change(doc, { time: 0 }, edit)
  const change = A.getLastLocalChange(changed)
  assert.ok(change !== undefined)
  return change
}

describe('the boundary check on changes from peers', () => {
  const w = new TillWriter()
  const entries = w.chain(3)
  const next = w.peek()
  const keyOf = (bytes: Uint8Array): string => keyOfBytes(bytes).key

  function replica (): TillLog {
    const log = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'hq') })
    for (const e of entries) log.append(e)
    return log
  }

  const cases: [string, (d: Raw) => void, RegExp][] = [
    ['deletes an entry', d => { delete d.entries[keyOf(entries[1]!.bytes)] }, /del/],
    ['overwrites an entry with other bytes', d => { d.entries[keyOf(entries[1]!.bytes)] = withBadSignature(entries[1]!).bytes }, /key its bytes do not give/],
    ['puts under a key of its own making', d => { d.entries['000000000004:x'] = next.bytes }, /key its bytes do not give/],
    ['puts a text', d => { d.entries[keyOf(next.bytes)] = 'hello' }, /only puts into the entries map/],
    ['puts a string', d => { d.entries[keyOf(next.bytes)] = new A.ImmutableString('hello') }, /entry bytes/],
    ['puts a number', d => { d.entries[keyOf(next.bytes)] = 7 }, /entry bytes/],
    ['puts bytes that are not an entry', d => { d.entries[keyOf(next.bytes)] = new Uint8Array([1, 2, 3]) }, /not an entry/],
    ['puts a map', d => { d.entries[keyOf(next.bytes)] = { a: 1 } }, /only puts into the entries map/],
    ['changes the till id', d => { d.tillId = new A.ImmutableString(OTHER_TILL_ID) }, /only puts into the entries map/],
    ['replaces the entries map', d => { d.entries = {} }, /only puts into the entries map/],
    ["puts another till's entry", d => { const o = new TillWriter(otherTillKey, undefined, 2).next(); d.entries[keyOf(o.bytes)] = o.bytes }, /entry of till S1-2/]
  ]

  for (const [what, edit, reason] of cases) {
    it(`refuses a change that ${what}; the log is unchanged`, () => {
      const log = replica()
      const before = log.getHeads()
      const change = rawChange(log, edit)
      const report = log.applyChanges([change])
      assert.equal(report.accepted, 0)
      assert.equal(report.rejected.length, 1)
      assert.match(report.rejected[0]!.reason, reason)
      assert.deepEqual(log.getHeads(), before)
      assert.equal(log.verify(keyFor).head?.seq, 3)
    })
  }

  it('takes a change that puts an entry under its own key, even one written outside TillLog', () => {
    const log = replica()
    const change = rawChange(log, d => { d.entries[keyOf(next.bytes)] = next.bytes })
    assert.deepEqual(log.applyChanges([change]), { accepted: 1, rejected: [] })
    assert.equal(log.verify(keyFor).head?.seq, 4)
  })

  it("refuses another till's genesis, and garbage", () => {
    const log = replica()
    const other = TillLog.create(OTHER_TILL_ID)
    const report = log.applyChanges([...other.getChangesSince([]), new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3])])
    assert.equal(report.rejected.length, 2)
    assert.match(report.rejected[1]!.reason, /not an Automerge change/)
  })

  it('merge screens too: a replica loaded from doctored bytes cannot delete from ours', () => {
    const good = replica()
    const doctored = A.applyChanges(A.load<Raw>(good.save(), { actor: 'dd'.repeat(16) }), [rawChange(good, d => { delete d.entries[keyOf(entries[0]!.bytes)] })])[0]
    const evil = TillLog.load(A.save(doctored)) // load checks the shape, not the history
    assert.equal(evil.entryCount, 2)
    const fresh = TillLog.create(TILL_ID)
    const report = fresh.merge(evil)
    assert.equal(report.rejected.length, 1)
    assert.equal(fresh.entryCount, 3)
    good.merge(evil)
    assert.equal(good.entryCount, 3)
    assert.equal(good.verify(keyFor).head?.seq, 3)
  })

  it('verify judges every value of a key that doctored bytes made conflict', () => {
    const log = TillLog.create(TILL_ID)
    log.ingest(entries[0]!)
    const key = keyOf(entries[1]!.bytes)
    const base = A.load<Raw>(log.save(), { actor: 'a1'.repeat(16) })
    const x = A.change(base, { time: 0 }, (d: Raw) => { d.entries[key] = entries[1]!.bytes })
    const y = A.change(A.load<Raw>(log.save(), { actor: 'b2'.repeat(16) }), { time: 0 }, (d: Raw) => { d.entries[key] = withBadSignature(entries[1]!).bytes })
    const loaded = TillLog.load(A.save(A.merge(x, y)))
    const report = loaded.verify(keyFor)
    assert.equal(report.head?.seq, 2)
    assert.deepEqual(report.invalid.map(i => i.code), ['FORGED'])
    assert.equal(loaded.entryBytes().length, 2) // one value per key: the conflict's winner
  })
})

import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { Entry } from '@tillbooks/protocol'
import { TillLog, actorIdFor, keyOfBytes, verifyEntries } from '../src/index.ts'
import { check } from './helpers/seed.ts'
import { TILL_ID, TillWriter, enrolment, hexes, keyForOf, mallory, summary, withBadSignature } from './helpers/fixtures.ts'

const keyFor = keyForOf(enrolment())

describe('equivocation: two signed records at one seq', () => {
  const w = new TillWriter()
  const common = w.chain(2)
  const a = w.peek(1) // seq 3, one version
  const b = w.peek(2) // seq 3, another, same key, same prevHash
  assert.notEqual(a.hash, b.hash)

  function replicaWith (name: string, extra: Entry): TillLog {
    const log = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, name) })
    for (const e of [...common, extra]) log.ingest(e)
    return log
  }

  it('is reported as a fork; the chain stops at 2', () => {
    const log = replicaWith('hq', a)
    log.ingest(b)
    const report = log.verify(keyFor)
    assert.deepEqual(report.forks, [{ seq: 3, hashes: [a.hash, b.hash].sort() }])
    assert.equal(report.head?.seq, 2)
    assert.deepEqual(report.stop?.code, 'FORK')
    assert.deepEqual(report.invalid, [])
  })

  for (const direction of ['hq ← neighbour', 'neighbour ← hq']) {
    it(`both records survive a merge (${direction}), as separate keys, not an Automerge conflict`, () => {
      const hq = replicaWith('hq', a)
      const neighbour = replicaWith('neighbour:S2', b)
      // each alone sees a clean chain of 3
      assert.equal(hq.verify(keyFor).head?.seq, 3)
      assert.equal(neighbour.verify(keyFor).head?.seq, 3)
      const [into, from] = direction === 'hq ← neighbour' ? [hq, neighbour] : [neighbour, hq]
      into.merge(from)
      assert.equal(into.entryCount, 4)
      const report = into.verify(keyFor)
      assert.deepEqual(report.forks, [{ seq: 3, hashes: [a.hash, b.hash].sort() }])
      assert.equal(report.head?.seq, 2)
      from.merge(into)
      assert.deepEqual(hexes(from.entryBytes()), hexes(into.entryBytes()))
      assert.deepEqual(summary(from.verify(keyFor)), summary(report))
      assert.deepEqual(from.getHeads().sort(), into.getHeads().sort())
    })
  }

  it('both survive a sync through getChangesSince/applyChanges', () => {
    const hq = replicaWith('hq', a)
    const neighbour = replicaWith('neighbour:S2', b)
    const toHq = neighbour.getChangesSince(hq.getHeads())
    const toNeighbour = hq.getChangesSince(neighbour.getHeads())
    assert.deepEqual(hq.applyChanges(toHq).rejected, [])
    assert.deepEqual(neighbour.applyChanges(toNeighbour).rejected, [])
    assert.deepEqual(hexes(hq.entryBytes()), hexes(neighbour.entryBytes()))
    assert.deepEqual(summary(hq.verify(keyFor)), summary(neighbour.verify(keyFor)))
    assert.equal(hq.verify(keyFor).forks.length, 1)
  })
})

describe('merge convergence (property)', () => {
  // A pool of entries: a genuine chain, forks at 3 and 5 (one branch continuing), a forged
  // copy of seq 2 and an unenrolled key's seq 4.
  const w = new TillWriter()
  const genuine = w.chain(6)
  const forkAt = (seq: number, variant: number): TillWriter => {
    const f = new TillWriter()
    f.chain(seq - 1)
    f.next(variant)
    return f
  }
  const fork3 = forkAt(3, 1)
  const pool: Entry[] = [
    ...genuine,
    { ...genuine[0]!, bytes: new Uint8Array(genuine[0]!.bytes) }, // the same bytes again
    fork3.next(), // seq 4 on the other branch
    (() => { const f = new TillWriter(); f.chain(2); return f.next(1) })(), // seq 3, the other branch
    (() => { const f = new TillWriter(); f.chain(4); return f.next(2) })(), // seq 5, a second fork
    withBadSignature(genuine[1]!), // seq 2, forged copy
    (() => { const f = new TillWriter(mallory); f.seq = 3; f.prevHash = genuine[2]!.hashBytes; return f.next() })() // seq 4, unenrolled
  ]

  type Op =
    | { kind: 'ingest', replica: number, entry: number }
    | { kind: 'merge' | 'sync', into: number, from: number }
  const replica = fc.integer({ min: 0, max: 2 })
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('ingest' as const), replica, entry: fc.integer({ min: 0, max: pool.length - 1 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('merge' as const, 'sync' as const), into: replica, from: replica }) }
  )

  function sync (into: TillLog, from: TillLog): void {
    const report = into.applyChanges(from.getChangesSince(into.getHeads()))
    assert.deepEqual(report.rejected, [])
  }

  it('any interleaving of ingests and merges across 3 replicas, merged in any order, converges', async () => {
    await check(fc.property(
      fc.array(op, { maxLength: 40 }),
      fc.constantFrom([0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]),
      fc.boolean(),
      (ops, order, viaChanges) => {
        const names = ['hq', 'neighbour:S2', 'neighbour:S3']
        const logs = names.map(n => TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, n) }))
        const ingested = new Set<number>()
        for (const o of ops) {
          if (o.kind === 'ingest') {
            logs[o.replica]!.ingest(pool[o.entry]!)
            ingested.add(o.entry)
          } else if (o.kind === 'merge') {
            logs[o.into]!.merge(logs[o.from]!)
          } else {
            sync(logs[o.into]!, logs[o.from]!)
          }
        }
        const [x, y, z] = order.map(i => logs[i]!) as [TillLog, TillLog, TillLog]
        const join = viaChanges ? sync : (into: TillLog, from: TillLog) => { into.merge(from) }
        join(y, x)
        join(z, y)
        join(x, z)
        join(y, z)
        const expected = [...ingested].map(i => pool[i]!)
        const oracle = summary(verifyEntries(TILL_ID, expected.map(e => ({ key: keyOfBytes(e.bytes).key, bytes: e.bytes })), keyFor))
        const bytes = hexes(x.entryBytes())
        assert.deepEqual([...new Set(bytes)].sort(), [...new Set(hexes(expected.map(e => e.bytes)))].sort())
        for (const log of logs) {
          assert.deepEqual(hexes(log.entryBytes()), bytes)
          assert.deepEqual(summary(log.verify(keyFor)), oracle)
          assert.deepEqual(log.getHeads().sort(), x.getHeads().sort())
        }
      }
    ), 150)
  })
})

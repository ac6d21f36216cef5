/**
 * TillChain on its own, with cheap unsigned fake entries (it never looks at signatures):
 * gaps, forks, chain breaks, un-folding, limits, and order independence over thousands of
 * random sets.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { bytesEqual, GENESIS_HASH, sha256, toHex, type EntryHash, type TillId } from '@tillbooks/protocol'
import { HeldLimitError, TillChain, type AddOutcome } from '../src/index.ts'
import { shuffled } from './helpers/fixtures.ts'
import { checkProperty } from './helpers/seed.ts'

interface Fake { seq: number, hash: EntryHash, hashBytes: Uint8Array, prevHash: Uint8Array, value: number }

function fake (seq: number, prevHash: Uint8Array, salt = 0): Fake {
  const hashBytes = sha256(new TextEncoder().encode(`${seq}/${salt}/${toHex(prevHash)}`))
  return { seq, hash: toHex(hashBytes) as EntryHash, hashBytes, prevHash, value: 1 << Math.min(seq, 20) }
}

/** A valid chain of n fake entries. */
function chainOf (n: number, salt = 0, from: Uint8Array = GENESIS_HASH, start = 1): Fake[] {
  const out: Fake[] = []
  let prev = from
  for (let seq = start; seq < start + n; seq++) {
    const e = fake(seq, prev, salt)
    out.push(e)
    prev = e.hashBytes
  }
  return out
}

class Harness {
  total = 0
  readonly folded = new Set<number>()
  readonly chain: TillChain<number>
  constructor (heldEntriesMax?: number) {
    this.chain = new TillChain<number>('S1-1' as TillId, {
      fold: (v, seq) => { assert.ok(!this.folded.has(seq)); this.total += v; this.folded.add(seq) },
      unfold: (v, seq) => { assert.ok(this.folded.delete(seq)); this.total -= v }
    }, heldEntriesMax === undefined ? {} : { heldEntriesMax })
  }

  add (e: Fake): AddOutcome {
    if (this.chain.contains(e.seq, e.hash, e.hashBytes)) return 'duplicate'
    return this.chain.add(e.seq, e.hash, e.hashBytes, e.prevHash, e.value)
  }

  state (): unknown {
    return { folded: this.chain.foldedSeq, held: this.chain.heldCount, halt: this.chain.haltSeq, evidence: this.chain.evidence(), total: this.total, seqs: [...this.folded].sort((a, b) => a - b) }
  }
}

const totalOf = (es: Fake[]): number => es.reduce((s, e) => s + e.value, 0)

describe('TillChain', () => {
  it('folds entries in order, one at a time', () => {
    const h = new Harness()
    const c = chainOf(5)
    assert.deepEqual(c.map(e => h.add(e)), ['folded', 'folded', 'folded', 'folded', 'folded'])
    assert.equal(h.chain.foldedSeq, 5)
    assert.equal(h.total, totalOf(c))
    assert.equal(h.add(c[2] as Fake), 'duplicate')
    assert.equal(h.chain.foldedHash(3), c[2]?.hash)
  })

  it('holds entries behind a gap and folds them when it fills', () => {
    const h = new Harness()
    const c = chainOf(4)
    assert.equal(h.add(c[3] as Fake), 'pending')
    assert.equal(h.add(c[1] as Fake), 'pending')
    assert.equal(h.add(c[2] as Fake), 'pending')
    assert.equal(h.chain.heldCount, 3)
    assert.equal(h.total, 0)
    assert.equal(h.add(c[0] as Fake), 'folded')
    assert.equal(h.chain.foldedSeq, 4)
    assert.equal(h.chain.heldCount, 0)
    assert.equal(h.total, totalOf(c))
  })

  it('a fork at a folded seq un-folds from there and keeps both entries as evidence', () => {
    const h = new Harness()
    const c = chainOf(5)
    for (const e of c) h.add(e)
    const other = fake(3, c[1]?.hashBytes as Uint8Array, 99)
    assert.equal(h.add(other), 'fork')
    assert.equal(h.chain.foldedSeq, 2)
    assert.equal(h.total, totalOf(c.slice(0, 2)))
    assert.equal(h.chain.heldCount, 4) // 3, 3', 4, 5
    assert.deepEqual(h.chain.evidence(), { tillId: 'S1-1', seq: 3, reason: 'fork', hashes: [c[2]?.hash, other.hash].sort(), predecessorHash: null })
    // Nothing at or after the fork ever folds again, whatever else arrives.
    assert.equal(h.add(c[2] as Fake), 'duplicate')
    assert.equal(h.add(fake(6, c[4]?.hashBytes as Uint8Array)), 'fork')
    assert.equal(h.chain.foldedSeq, 2)
  })

  it('a fork found before folding gives the same state as one found after', () => {
    const c = chainOf(5)
    const other = fake(3, c[1]?.hashBytes as Uint8Array, 99)
    const late = new Harness()
    for (const e of [...c, other]) late.add(e)
    const early = new Harness()
    for (const e of [other, c[4], c[2], c[3], c[0], c[1]] as Fake[]) early.add(e)
    assert.deepEqual(early.state(), late.state())
  })

  it('an entry that does not link to its predecessor is a chain break at its seq', () => {
    const h = new Harness()
    const c = chainOf(2)
    for (const e of c) h.add(e)
    const broken = fake(3, sha256(new Uint8Array([1])))
    assert.equal(h.add(broken), 'fork')
    assert.deepEqual(h.chain.evidence(), { tillId: 'S1-1', seq: 3, reason: 'chain', hashes: [broken.hash], predecessorHash: c[1]?.hash })
    assert.equal(h.chain.foldedSeq, 2)
  })

  it('a break found from the successor side halts at the successor', () => {
    const h = new Harness()
    const c = chainOf(3)
    const orphan = fake(3, sha256(new Uint8Array([2]))) // claims a seq 2 we never see
    assert.equal(h.add(orphan), 'pending')
    assert.equal(h.add(c[0] as Fake), 'folded')
    assert.equal(h.add(c[1] as Fake), 'folded') // seq 2 is fine; seq 3 does not link to it
    assert.equal(h.chain.foldedSeq, 2)
    assert.equal(h.chain.haltSeq, 3)
    assert.equal(h.chain.evidence()?.reason, 'chain')
    // The genuine seq 3 arriving makes it a fork at 3.
    assert.equal(h.add(c[2] as Fake), 'fork')
    assert.equal(h.chain.evidence()?.reason, 'fork')
  })

  it('seq 1 must follow the genesis hash', () => {
    const h = new Harness()
    const bad = fake(1, sha256(new Uint8Array([3])))
    assert.equal(h.add(bad), 'fork')
    assert.deepEqual(h.chain.evidence(), { tillId: 'S1-1', seq: 1, reason: 'chain', hashes: [bad.hash], predecessorHash: toHex(GENESIS_HASH) })
  })

  it('refuses to hold more than heldEntriesMax, changing nothing; in-order entries are never held', () => {
    const h = new Harness(2)
    const c = chainOf(6)
    h.add(c[2] as Fake)
    h.add(c[3] as Fake)
    const before = h.state()
    assert.throws(() => h.add(c[4] as Fake), HeldLimitError)
    assert.deepEqual(h.state(), before)
    assert.equal(h.add(c[0] as Fake), 'folded')
    assert.equal(h.add(c[1] as Fake), 'folded')
    assert.equal(h.chain.foldedSeq, 4)
    assert.equal(h.add(c[4] as Fake), 'folded')
  })

  it('asserts on a re-add of a contained entry (callers check contains first)', () => {
    const h = new Harness()
    const [e] = chainOf(1) as [Fake]
    h.add(e)
    assert.throws(() => h.chain.add(e.seq, e.hash, e.hashBytes, e.prevHash, e.value), /already in the chain/)
  })

  it('is a function of the set: random chains with gaps, forks and breaks, any order (property)', () => {
    const plan = fc.record({
      length: fc.integer({ min: 0, max: 12 }),
      drops: fc.uniqueArray(fc.nat(11), { maxLength: 3 }),
      forks: fc.array(fc.record({ at: fc.nat(11), branch: fc.integer({ min: 0, max: 3 }) }), { maxLength: 2 }),
      breaks: fc.array(fc.nat(11), { maxLength: 1 }),
      orders: fc.tuple(fc.integer(), fc.integer())
    })
    checkProperty(fc.property(plan, p => {
      const main = chainOf(p.length)
      const set: Fake[] = main.filter((_, i) => !p.drops.includes(i))
      p.forks.forEach((f, k) => {
        if (p.length === 0) return
        const at = f.at % p.length
        // A different branch from seq at+1: a fork at at+1, continued for `branch` entries.
        set.push(...chainOf(1 + f.branch, 100 + k, at === 0 ? GENESIS_HASH : main[at - 1]?.hashBytes, at + 1))
      })
      for (const b of p.breaks) if (p.length > 0) set.push(fake(1 + (b % p.length), sha256(new Uint8Array([b, 7])), 200))

      // The definition, computed directly over the set.
      const bySeq = new Map<number, Fake[]>()
      for (const e of set) if (!(bySeq.get(e.seq) ?? []).some(x => x.hash === e.hash)) bySeq.set(e.seq, [...(bySeq.get(e.seq) ?? []), e])
      const unique = (s: number): Fake | undefined => { const l = bySeq.get(s); return l?.length === 1 ? l[0] : undefined }
      let halt: number | null = null
      for (const s of [...bySeq.keys()].sort((a, b) => a - b)) {
        const one = unique(s)
        const before = s === 1 ? GENESIS_HASH : unique(s - 1)?.hashBytes
        if ((bySeq.get(s)?.length ?? 0) >= 2 || (one !== undefined && before !== undefined && !bytesEqual(one.prevHash, before))) { halt = s; break }
      }
      let k = 0
      while (bySeq.has(k + 1) && (halt === null || k + 1 < halt)) k++
      const distinct = [...bySeq.values()].flat()

      const states = [shuffled(set, p.orders[0]), shuffled([...set, ...set], p.orders[1]), [...set].sort((a, b) => a.seq - b.seq)].map(order => {
        const h = new Harness()
        for (const e of order) h.add(e)
        return h.state()
      })
      assert.deepEqual(states[1], states[0])
      assert.deepEqual(states[2], states[0])
      const s = states[0] as { folded: number, held: number, halt: number | null, total: number }
      assert.equal(s.folded, k)
      assert.equal(s.halt, halt)
      assert.equal(s.held, distinct.length - k)
      assert.equal(s.total, totalOf(Array.from({ length: k }, (_, i) => unique(i + 1) as Fake)))
    }), 1000)
  })
})

/**
 * Checkpoints of the books (checkpointCodec.ts): books restored from checkpoint segments,
 * then the rest of the entries, equal the books of every entry folded from scratch, for
 * random fleets (gaps, forks, breaks, duplicates), random orders and random cut points.
 * Seeded from FC_SEED when set.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { Entry } from '@tillbooks/protocol'
import { Books, CheckpointFormatError, CheckpointWriter, readCheckpointItems } from '../src/index.ts'
import { withoutDuplicates } from './helpers/auditor.ts'
import { costCents, shuffled } from './helpers/fixtures.ts'
import { buildRandomFleet, fleetPlan, foldItems, type FleetPlan, type Item } from './helpers/randomFleet.ts'
import { checkProperty } from './helpers/seed.ts'

function outputs (books: Books): { snapshot: string, transactions: string, hledger: string } {
  return { snapshot: JSON.stringify(withoutDuplicates(books.snapshot())), transactions: JSON.stringify(books.transactions()), hledger: books.toHledger() }
}

/** Replay a segment into `books`; a log reference is read back from `log` (the entries by hash), as HQ reads its log. */
function replay (books: Books, segment: Uint8Array, log: ReadonlyMap<string, Entry>): { summaries: number, refs: number } {
  let summaries = 0
  let refs = 0
  for (const item of readCheckpointItems(segment, books.checkpointNames)) {
    if (item.summary === undefined) {
      const e = log.get(Buffer.from(item.hash).toString('hex'))
      assert.ok(e !== undefined, 'a log reference names an entry of the log')
      assert.equal(e.tillId, item.tillId)
      assert.equal(e.record.seq, item.seq)
      books.add(e)
      refs++
    } else {
      books.restore(item.tillId, item.store, item.seq, item.hash, item.prevHash as Uint8Array, item.summary)
      summaries++
    }
  }
  return { summaries, refs }
}

function fold (books: Books, items: readonly Item[]): void {
  for (const it of items) {
    if (it.kind === 'entry') books.add(it.entry)
    else books.addReplenishment(it.order)
  }
}

describe('checkpoints of the books', function () {
  this.timeout(120_000)

  it('a checkpoint of everything at a random cut, then the rest, equals folding every entry', () => {
    checkProperty(fc.property(fleetPlan, fc.nat(), (p, cutSeed) => {
      const f = buildRandomFleet(p)
      const items = shuffled(f.items, p.orderSeeds[0])
      const cut = items.length === 0 ? 0 : cutSeed % (items.length + 1)
      const whole = outputs(foldItems(items))
      const log = new Map(f.set.map(e => [e.hash, e]))

      const before = foldItems(items.slice(0, cut))
      const w = new CheckpointWriter(before.checkpointNames)
      before.writeCheckpointAll(w)
      const restored = new Books({ costCents })
      // HQ's own records are not in a checkpoint: they are read from the log at every start.
      fold(restored, items.slice(0, cut).filter(it => it.kind === 'order'))
      replay(restored, w.finish(), log)
      fold(restored, items.slice(cut))
      assert.deepEqual(outputs(restored), whole)
    }), 150)
  })

  it('a base segment and an incremental one (the entries added since), replayed in either order, then the tail, equal the whole', () => {
    checkProperty(fc.property(fleetPlan, fc.nat(), fc.nat(), (p, s1, s2) => {
      const f = buildRandomFleet(p)
      const items = shuffled(f.items, p.orderSeeds[1])
      const n = items.length + 1
      const [c1, c2] = [s1 % n, s2 % n].sort((a, b) => a - b) as [number, number]
      const whole = outputs(foldItems(items))
      const log = new Map(f.set.map(e => [e.hash, e]))

      const books = foldItems(items.slice(0, c1))
      const base = new CheckpointWriter(books.checkpointNames)
      books.writeCheckpointAll(base)
      fold(books, items.slice(c1, c2))
      // The entries logged between the two checkpoints, as HQ lists them: each once, in the order they came.
      const inc = new CheckpointWriter(books.checkpointNames)
      const seen = new Set<string>()
      for (const it of items.slice(c1, c2)) {
        if (it.kind !== 'entry' || seen.has(it.entry.hash)) continue
        seen.add(it.entry.hash)
        books.writeCheckpointEntry(inc, it.entry.tillId, it.entry.record.seq, it.entry.hashBytes)
      }
      const segments = [base.finish(), inc.finish()]
      for (const order of [segments, [...segments].reverse()]) {
        const restored = new Books({ costCents })
        fold(restored, items.slice(0, c2).filter(it => it.kind === 'order'))
        for (const s of order) replay(restored, s, log)
        fold(restored, items.slice(c2))
        assert.deepEqual(outputs(restored), whole)
      }
    }), 150)
  })

  it('keeps summaries where it can and refers to the log only for entries at or after a fork', () => {
    // A fleet with a fork: its dead side is referred to; everything else travels as summaries.
    const f = buildRandomFleet({ tills: [[{ stockIn: null, close: closeSpec() }, { stockIn: null, close: closeSpec() }, { stockIn: null, close: closeSpec() }]], drops: [], forks: [{ at: 1, branch: 1 }], breaks: [], dups: [], orderSeeds: [1, 2] })
    const books = foldItems(f.items)
    const w = new CheckpointWriter(books.checkpointNames)
    books.writeCheckpointAll(w)
    const restored = new Books({ costCents })
    const counts = replay(restored, w.finish(), new Map(f.set.map(e => [e.hash, e])))
    assert.equal(counts.summaries, 1) // seq 1, folded before the fork at seq 2
    assert.equal(counts.refs, f.set.length - 1)
    assert.deepEqual(outputs(restored), outputs(books))
  })

  it('refuses bytes that are not a segment, or are cut short, with CheckpointFormatError', () => {
    const f = buildRandomFleet({ tills: [[{ stockIn: null, close: closeSpec() }]], drops: [], forks: [], breaks: [], dups: [], orderSeeds: [1, 2] })
    const books = foldItems(f.items)
    const w = new CheckpointWriter(books.checkpointNames)
    books.writeCheckpointAll(w)
    const bytes = w.finish()
    const read = (b: Uint8Array): unknown[] => [...readCheckpointItems(b, new Books({ costCents }).checkpointNames)]
    assert.equal(read(bytes).length, 1)
    assert.throws(() => read(bytes.subarray(0, bytes.length - 1)), CheckpointFormatError)
    assert.throws(() => read(Uint8Array.of(1, 2, 3, 4, 5)), CheckpointFormatError)
    const otherVersion = bytes.slice()
    otherVersion[4] = 99
    assert.throws(() => read(otherVersion), /version 99/)
  })
})

function closeSpec (): FleetPlan['tills'][number][number]['close'] {
  return { tax: [{ rateBp: 2000, netCents: 1000, taxCents: 200 }], cardCents: 0, overCents: 0, consumed: [{ sku: 'BEAN', qty: 2 }], points: [], redeemed: [], pointsCancelled: [], saleCount: 1, refundCount: 0, refundsCents: 0 }
}

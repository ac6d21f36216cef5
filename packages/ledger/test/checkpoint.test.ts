/**
 * Checkpoints of the books (checkpointCodec.ts): books restored from checkpoint segments,
 * then the rest of the entries, equal the books of every entry folded from scratch, for
 * random fleets (gaps, forks, breaks, duplicates), random orders and random cut points. The
 * replenishment orders folded before a checkpoint are in it (ORDER items), not read again.
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
function replay (books: Books, segment: Uint8Array, log: ReadonlyMap<string, Entry>): { summaries: number, refs: number, blocked: number, orders: number } {
  let summaries = 0
  let refs = 0
  let blocked = 0
  let orders = 0
  for (const item of readCheckpointItems(segment, books.checkpointNames)) {
    if (item.kind === 'ref') {
      const e = log.get(Buffer.from(item.hash).toString('hex'))
      assert.ok(e !== undefined, 'a log reference names an entry of the log')
      assert.equal(e.tillId, item.tillId)
      assert.equal(e.record.seq, item.seq)
      books.add(e)
      refs++
    } else if (item.kind === 'summary') {
      books.restore(item.tillId, item.store, item.seq, item.hash, item.prevHash, item.summary)
      summaries++
    } else if (item.kind === 'order') {
      books.restoreOrder(item)
      orders++
    } else {
      books.restoreBase(item)
      if (item.kind === 'block') blocked += item.folded
    }
  }
  return { summaries, refs, blocked, orders }
}

/** A base of `books` in one segment: the tills' blocks, the sums, the table, and every order. */
function base (books: Books): Uint8Array {
  const w = new CheckpointWriter(books.checkpointNames)
  books.writeBase(() => w, '{}')
  books.writeCheckpointOrders(() => w)
  return w.finish()
}

function fold (books: Books, items: readonly Item[]): void {
  for (const it of items) {
    if (it.kind === 'entry') books.add(it.entry)
    else books.addReplenishment(it.order)
  }
}

/** As HQ folds the orders it reads after a checkpoint: one the books hold already (from the checkpoint) is skipped, not counted as a resend. */
function foldAfter (books: Books, items: readonly Item[]): void {
  for (const it of items) {
    if (it.kind === 'entry') books.add(it.entry)
    else if (books.checkReplenishment(it.order) === 'new') books.addReplenishment(it.order)
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
      const segment = base(before)
      const restored = new Books({ costCents })
      const counts = replay(restored, segment, log)
      assert.equal(counts.orders, new Set(items.slice(0, cut).flatMap(it => it.kind === 'order' ? [it.order.id] : [])).size, 'every order folded before the cut is in the checkpoint, once')
      fold(restored, items.slice(cut))
      assert.deepEqual(outputs(restored), whole)
      // The orders of the last checkpoint read again after it (HQ's orders logged after the
      // watermark it took, written into the base at a later moment): the same books.
      const again = new Books({ costCents })
      replay(again, segment, log)
      foldAfter(again, items)
      assert.deepEqual(outputs(again), whole)
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
      const first = base(books)
      fold(books, items.slice(c1, c2))
      // The entries and orders logged between the two checkpoints, as HQ lists them: each once, in the order they came.
      const inc = new CheckpointWriter(books.checkpointNames)
      const seen = new Set<string>()
      const orders: string[] = []
      for (const it of items.slice(c1, c2)) {
        if (it.kind === 'order') {
          orders.push(it.order.id)
          continue
        }
        if (seen.has(it.entry.hash)) continue
        seen.add(it.entry.hash)
        books.writeCheckpointEntry(inc, it.entry.tillId, it.entry.record.seq, it.entry.hashBytes)
      }
      books.writeCheckpointOrders(() => inc, orders)
      // A base comes first in a checkpoint (its blocks are the tills' first entries); incremental
      // segments after it in any order, and again, with a second base made of the books now.
      const segments = [first, inc.finish()]
      for (const order of [segments, [segments[0] as Uint8Array, segments[1] as Uint8Array, segments[1] as Uint8Array], [base(books)]]) {
        const restored = new Books({ costCents })
        for (const s of order) replay(restored, s, log)
        fold(restored, items.slice(c2))
        assert.deepEqual(outputs(restored), whole)
      }
    }), 150)
  })

  it('a base keeps each till\'s folded prefix as a block, and refers to the log only for entries at or after a fork', () => {
    // A fleet with a fork: its dead side is referred to; the prefix before it is a block.
    const f = buildRandomFleet({ tills: [[{ stockIn: null, close: closeSpec() }, { stockIn: null, close: closeSpec() }, { stockIn: null, close: closeSpec() }]], drops: [], forks: [{ at: 1, branch: 1 }], breaks: [], dups: [], orderSeeds: [1, 2] })
    const books = foldItems(f.items)
    const expected = outputs(books)
    const segment = base(books)
    const restored = new Books({ costCents })
    const counts = replay(restored, segment, new Map(f.set.map(e => [e.hash, e])))
    assert.equal(counts.blocked, 1) // seq 1, folded before the fork at seq 2
    assert.equal(counts.summaries, 0)
    assert.equal(counts.refs, f.set.length - 1)
    assert.deepEqual(outputs(restored), expected)
    assert.deepEqual(outputs(books), expected, 'writing a base changes nothing the books answer (their summaries are kept as the block)')
  })

  it('refuses bytes that are not a segment, or are cut short, with CheckpointFormatError', () => {
    const f = buildRandomFleet({ tills: [[{ stockIn: null, close: closeSpec() }]], drops: [], forks: [], breaks: [], dups: [], orderSeeds: [1, 2] })
    const books = foldItems(f.items)
    const bytes = base(books)
    const read = (b: Uint8Array): unknown[] => [...readCheckpointItems(b, new Books({ costCents }).checkpointNames)]
    assert.equal(read(bytes).length, 3 + f.items.filter(it => it.kind === 'order').length, 'a block, the sums, the table, an item per order')
    assert.throws(() => read(bytes.subarray(0, bytes.length - 1)), CheckpointFormatError)
    assert.throws(() => read(Uint8Array.of(1, 2, 3, 4, 5)), CheckpointFormatError)
    const otherVersion = bytes.slice()
    otherVersion[4] = 99
    assert.throws(() => read(otherVersion), /version 99/)
  })

  it('an order restored from a checkpoint is the order folded: the same books; again, a duplicate; another under its id, refused', () => {
    // A fleet of the property tests' kind with a few orders (a fixed seed: an example, not a property).
    const f = fc.sample(fleetPlan, { seed: 21, numRuns: 200 }).map(buildRandomFleet).find(x => x.orders.length >= 3)
    assert.ok(f !== undefined)
    const orders = f.items.filter(it => it.kind === 'order')
    assert.ok(orders.length > 0, 'the fleet has orders')
    const books = foldItems(f.items)
    const w = new CheckpointWriter(books.checkpointNames)
    assert.equal(books.writeCheckpointOrders(() => w), new Set(orders.map(o => o.order.id)).size)
    const items = [...readCheckpointItems(w.finish(), books.checkpointNames)]
    const restored = new Books({ costCents })
    for (const it of f.items) if (it.kind === 'entry') restored.add(it.entry)
    for (const item of items) assert.equal(item.kind === 'order' && restored.restoreOrder(item), 'folded')
    assert.deepEqual(outputs(restored), outputs(books))
    for (const item of items) assert.equal(item.kind === 'order' && restored.restoreOrder(item), 'duplicate')
    assert.deepEqual(outputs(restored), outputs(books), 'a duplicate changes nothing')
    const first = items[0]
    assert.ok(first?.kind === 'order')
    const other = { ...first, fingerprint: first.fingerprint.map(b => b ^ 1) }
    assert.throws(() => restored.restoreOrder(other), CheckpointFormatError)
    assert.throws(() => new Books({ costCents }).restoreOrder({ ...first, valueCents: -1 }), CheckpointFormatError)
  })
})

function closeSpec (): FleetPlan['tills'][number][number]['close'] {
  return { tax: [{ rateBp: 2000, netCents: 1000, taxCents: 200 }], cardCents: 0, overCents: 0, consumed: [{ sku: 'BEAN', qty: 2 }], points: [], redeemed: [], pointsCancelled: [], saleCount: 1, refundCount: 0, refundsCents: 0 }
}

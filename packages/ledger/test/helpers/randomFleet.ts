/**
 * Random fleets of real signed entries for property tests: valid chains, then gaps, forks
 * (a second signed entry at a seq, sometimes continued on its own branch), chain breaks and
 * duplicates, plus the replenishment orders the StockIns refer to.
 */
import fc from 'fast-check'
import type { BusinessDay, Entry, Replenishment, SkuQty, StoreId } from '@tillbooks/protocol'
import { Books } from '../../src/index.ts'
import { bogusHash, bySku, costCents, MEMBER_IDS, MEMBERS, signerFor, SKUS, TillWriter } from './fixtures.ts'

const lines = (qty: fc.Arbitrary<number>): fc.Arbitrary<SkuQty[]> =>
  fc.uniqueArray(fc.record({ sku: fc.constantFrom(...SKUS), qty }), { selector: l => l.sku, maxLength: 3 }).map(ls => ls.sort(bySku))

const closePlan = fc.record({
  tax: fc.uniqueArray(fc.record({
    rateBp: fc.constantFrom(0, 550, 2000),
    netCents: fc.integer({ min: -2_000, max: 50_000 }),
    taxCents: fc.integer({ min: -400, max: 10_000 })
  }), { selector: t => t.rateBp, maxLength: 3 }),
  cardCents: fc.integer({ min: -1_000, max: 30_000 }),
  overCents: fc.integer({ min: -300, max: 300 }),
  consumed: lines(fc.integer({ min: -5, max: 20 }).filter(q => q !== 0)),
  points: fc.uniqueArray(fc.record({ member: fc.constantFrom(...MEMBERS, ...MEMBER_IDS), points: fc.integer({ min: 1, max: 500 }) }), { selector: p => p.member, maxLength: 2 }),
  // Points redeemed (negative: a refund gave back more than was redeemed) and cancelled by refunds.
  redeemed: fc.uniqueArray(fc.record({ member: fc.constantFrom(...MEMBER_IDS), points: fc.integer({ min: -200, max: 400 }).filter(p => p !== 0) }), { selector: p => p.member, maxLength: 2 }),
  pointsCancelled: fc.uniqueArray(fc.record({ member: fc.constantFrom(...MEMBER_IDS), saleDay: fc.constant('2026-10-30' as BusinessDay), points: fc.integer({ min: 1, max: 100 }) }), { selector: p => p.member, maxLength: 2 })
    .map(ls => ls.sort((a, b) => a.member < b.member ? -1 : 1)),
  saleCount: fc.nat(12),
  refundCount: fc.nat(2),
  refundsCents: fc.nat(3_000)
})

const dayPlan = fc.record({
  stockIn: fc.option(fc.record({ shipped: lines(fc.integer({ min: 1, max: 40 })), received: lines(fc.integer({ min: 1, max: 40 })) }), { nil: null }),
  close: closePlan
})

export const fleetPlan = fc.record({
  tills: fc.array(fc.array(dayPlan, { maxLength: 4 }), { minLength: 1, maxLength: 3 }),
  drops: fc.array(fc.nat(), { maxLength: 2 }),
  forks: fc.array(fc.record({ at: fc.nat(), branch: fc.nat(2) }), { maxLength: 2 }),
  breaks: fc.array(fc.nat(), { maxLength: 1 }),
  dups: fc.array(fc.nat(), { maxLength: 6 }),
  orderSeeds: fc.tuple(fc.integer(), fc.integer())
})

export type Item = { kind: 'entry', entry: Entry } | { kind: 'order', order: Replenishment }

export interface Fleet {
  /** The valid chains as written, before any gap. */
  writers: TillWriter[]
  /** Distinct till entries in the set. */
  set: Entry[]
  orders: Replenishment[]
  /** Everything to fold, with duplicates. */
  items: Item[]
}

export type FleetPlan = typeof fleetPlan extends fc.Arbitrary<infer T> ? T : never

export function buildRandomFleet (p: FleetPlan): Fleet {
  const orders = new Map<string, Replenishment>()
  const writers = p.tills.map((days, i) => {
    const w = new TillWriter(`S${1 + (i % 2)}`, 1 + Math.floor(i / 2), signerFor(i + 1))
    days.forEach((d, n) => {
      const day = `2026-11-${String(n + 1).padStart(2, '0')}`
      if (d.stockIn !== null && d.stockIn.shipped.length > 0) {
        const id = `R-${w.tillId}-${day}`
        orders.set(id, { v: 1, kind: 'replenishment', id, store: w.store as StoreId, businessDay: day as BusinessDay, lines: d.stockIn.shipped })
        w.stockIn({ day, replenishmentId: id, ...d.stockIn })
      }
      const c = d.close
      const total = c.tax.reduce((s, t) => s + t.netCents + t.taxCents, 0)
      // The protocol needs a non-negative count: shrink a shortage that would go below 0.
      const redeemedCents = c.redeemed.reduce((n, l) => n + l.points, 0)
      const overCents = Math.max(c.overCents, -(total - c.cardCents - redeemedCents))
      w.close({ day, ...c, overCents })
    })
    return w
  })
  const chain = writers.flatMap(w => w.entries)
  const set = new Map<string, Entry>(chain.map(e => [e.hash, e]))
  if (chain.length > 0) {
    for (const d of p.drops) set.delete((chain[d % chain.length] as Entry).hash)
    p.forks.forEach((f, k) => {
      const e = chain[f.at % chain.length] as Entry
      const w = writers.find(x => x.tillId === e.tillId) as TillWriter
      // A second signed entry at e's seq, then up to `branch` successors chained to it.
      let prev = w.forkAt(e.record.seq, k + 1)
      set.set(prev.hash, prev)
      for (let s = e.record.seq + 1; s <= Math.min(w.entries.length, e.record.seq + f.branch); s++) {
        prev = w.relink(s, prev.hashBytes)
        set.set(prev.hash, prev)
      }
    })
    for (const b of p.breaks) {
      // Replace an entry with one naming a predecessor that never existed.
      const e = chain[b % chain.length] as Entry
      const w = writers.find(x => x.tillId === e.tillId) as TillWriter
      if (e.record.seq === 1) continue // seq 1 must name genesis: the protocol would refuse to sign it
      set.delete(e.hash)
      const broken = w.relink(e.record.seq, bogusHash(b))
      set.set(broken.hash, broken)
    }
  }
  const distinct = [...set.values()]
  const items: Item[] = [...distinct.map(entry => ({ kind: 'entry' as const, entry })), ...[...orders.values()].map(order => ({ kind: 'order' as const, order }))]
  if (items.length > 0) for (const d of p.dups) items.push(items[d % items.length] as Item)
  return { writers, set: distinct, orders: [...orders.values()], items }
}

export function foldItems (items: readonly Item[], afterEach?: (books: Books) => void): Books {
  const books = new Books({ costCents })
  for (const it of items) {
    if (it.kind === 'entry') books.add(it.entry)
    else books.addReplenishment(it.order)
    afterEach?.(books)
  }
  return books
}

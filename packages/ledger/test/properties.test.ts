/**
 * Books = fold(set), checked on random fleets of real signed entries (helpers/randomFleet.ts):
 * valid chains with gaps, forks, chain breaks and duplicates, folded in several orders, and
 * compared with each other, with the auditor, and with the books of the pre-fork prefix.
 * Seeded from FC_SEED when set.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { Replenishment } from '@tillbooks/protocol'
import type { Books, BooksSnapshot } from '../src/index.ts'
import { audit, withoutDuplicates } from './helpers/auditor.ts'
import { costCents, shuffled } from './helpers/fixtures.ts'
import { buildRandomFleet, fleetPlan, foldItems } from './helpers/randomFleet.ts'
import { checkProperty } from './helpers/seed.ts'

interface Outputs { snapshot: BooksSnapshot, json: string, transactions: string, hledger: string, csv: string }
function outputs (books: Books): Outputs {
  const snapshot = books.snapshot()
  return { snapshot, json: JSON.stringify(snapshot), transactions: JSON.stringify(books.transactions()), hledger: books.toHledger(), csv: books.toCsv() }
}

const shippedValue = (orders: readonly Replenishment[]): number => orders.reduce((s, o) => s + o.lines.reduce((t, l) => t + l.qty * costCents(l.sku), 0), 0)

describe('Books = fold(set) (properties over signed fleets)', function () {
  this.timeout(120_000)

  it('the same set in any order, with any duplicates, gives identical books and exports; debits = credits after every add', () => {
    checkProperty(fc.property(fleetPlan, p => {
      const f = buildRandomFleet(p)
      const balanced = (books: Books): void => {
        const tb = books.trialBalance() // asserts debits = credits itself
        assert.equal(tb.debitsCents, tb.creditsCents)
        assert.equal(Object.values(books.snapshot().accounts).reduce((s, b) => s + b, 0), 0)
      }
      const a = outputs(foldItems(shuffled(f.items, p.orderSeeds[0]), balanced))
      const b = outputs(foldItems(shuffled(f.items, p.orderSeeds[1])))
      assert.equal(b.json, a.json)
      assert.equal(b.transactions, a.transactions)
      assert.equal(b.hledger, a.hledger)
      assert.equal(b.csv, a.csv)
      assert.equal(a.snapshot.counts.duplicates, f.items.length - f.set.length - f.orders.length)
    }), 100)
  })

  it('matches the auditor, which computes the books straight from the definitions', () => {
    checkProperty(fc.property(fleetPlan, p => {
      const f = buildRandomFleet(p)
      const snap = foldItems(shuffled(f.items, p.orderSeeds[0])).snapshot()
      const { expected } = audit(f.set, costCents)
      // HQ's dispatches: Dr in transit / Cr warehouse at shipped cost.
      const dispatched = shippedValue(f.orders)
      expected.accounts['assets:inventory:in transit'] += dispatched
      expected.accounts['assets:inventory:warehouse'] -= dispatched
      expected.trialBalance = {
        debitsCents: Object.values(expected.accounts).filter(v => v > 0).reduce((s, v) => s + v, 0),
        creditsCents: 0 - Object.values(expected.accounts).filter(v => v < 0).reduce((s, v) => s + v, 0)
      }
      expected.counts.replenishments = f.orders.length
      assert.deepEqual(withoutDuplicates(snap), expected)
    }), 100)
  })

  it('folding a superset with duplicates adds nothing; chains in order then forks (un-folding) agree', () => {
    checkProperty(fc.property(fleetPlan, p => {
      const f = buildRandomFleet(p)
      const books = foldItems(shuffled(f.items, p.orderSeeds[0]))
      const before = outputs(books)
      for (const e of f.set) assert.equal(books.add(e), 'duplicate')
      for (const o of f.orders) assert.equal(books.addReplenishment(o), 'duplicate')
      const after = outputs(books)
      assert.equal(after.snapshot.counts.duplicates, before.snapshot.counts.duplicates + f.set.length + f.orders.length)
      assert.deepEqual(withoutDuplicates(after.snapshot), withoutDuplicates(before.snapshot))
      assert.equal(after.hledger, before.hledger)

      // Every genuine chain entry first, in order (so they all fold), then the forks and
      // breaks: the latest possible discovery, forcing the most un-folding.
      const inSet = new Set(f.set.map(e => e.hash))
      const genuine = f.writers.flatMap(w => w.entries).filter(e => inSet.has(e.hash))
      const genuineHashes = new Set(genuine.map(e => e.hash))
      const late = outputs(foldItems([
        ...f.orders.map(order => ({ kind: 'order' as const, order })),
        ...genuine.map(entry => ({ kind: 'entry' as const, entry })),
        ...f.set.filter(e => !genuineHashes.has(e.hash)).map(entry => ({ kind: 'entry' as const, entry }))
      ]))
      assert.equal(late.snapshot.counts.duplicates, 0)
      assert.deepEqual(withoutDuplicates(late.snapshot), withoutDuplicates(before.snapshot))
      assert.equal(late.hledger, before.hledger)
    }), 100)
  })

  it('a forked or broken till has the books of its prefix before the fork', () => {
    checkProperty(fc.property(fleetPlan, p => {
      const f = buildRandomFleet(p)
      const books = outputs(foldItems(shuffled(f.items, p.orderSeeds[0])))
      const { halts } = audit(f.set, costCents)
      const prefix = f.set.filter(e => { const h = halts.get(e.tillId); return h === null || h === undefined || e.record.seq < h })
      const prefixBooks = outputs(foldItems(shuffled([
        ...prefix.map(entry => ({ kind: 'entry' as const, entry })),
        ...f.orders.map(order => ({ kind: 'order' as const, order }))
      ], p.orderSeeds[1])))
      for (const key of ['accounts', 'trialBalance', 'stores', 'members'] as const) {
        assert.deepEqual(books.snapshot[key], prefixBooks.snapshot[key], key)
      }
      assert.equal(books.transactions, prefixBooks.transactions)
      assert.equal(books.hledger, prefixBooks.hledger)
      assert.equal(books.csv, prefixBooks.csv)
      assert.equal(prefixBooks.snapshot.counts.forks, 0)
      assert.equal(books.snapshot.counts.forks, [...halts.values()].filter(h => h !== null).length)
    }), 100)
  })
})

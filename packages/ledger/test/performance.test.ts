/**
 * HQ folds ~20,000 entries on its hot path. Budgets here are ~10× what this 2-core machine
 * measures (node packages/ledger/bench/fold.ts prints the real figures), so they catch an
 * accidental O(n) per add or a per-add snapshot, not scheduler noise.
 */
import assert from 'node:assert/strict'
import type { Entry } from '@tillbooks/protocol'
import { Books } from '../src/index.ts'
import { costCents, shuffled } from './helpers/fixtures.ts'
import { buildFleet } from './helpers/fleet.ts'

describe('performance: folding 20,000 signed entries', function () {
  this.timeout(120_000)
  let entries: Entry[] = []

  before(function () {
    entries = buildFleet(2_000, 5) // 2,000 tills × 5 days × (StockIn + Close)
    assert.equal(entries.length, 20_000)
  })

  function timeFold (order: readonly Entry[]): { ms: number, books: Books } {
    const books = new Books({ costCents })
    const t0 = performance.now()
    for (const e of order) books.add(e)
    return { ms: performance.now() - t0, books }
  }

  it('in order, within 2 s (~0.2 s measured)', () => {
    const { ms, books } = timeFold(entries)
    console.log(`      in order: ${ms.toFixed(0)} ms, ${Math.round(entries.length / (ms / 1000))} entries/s`)
    assert.equal(books.snapshot().counts.folded, 20_000)
    assert.ok(ms < 2_000, `fold took ${ms.toFixed(0)} ms`)
  })

  it('shuffled (most entries held, then cascades), within 3 s, to the same books', () => {
    const inOrder = timeFold(entries).books.toHledger()
    const { ms, books } = timeFold(shuffled(entries, 7))
    console.log(`      shuffled: ${ms.toFixed(0)} ms, ${Math.round(entries.length / (ms / 1000))} entries/s`)
    assert.ok(ms < 3_000, `fold took ${ms.toFixed(0)} ms`)
    assert.equal(books.toHledger(), inOrder)
  })

  it('scales linearly: 4× the entries take ~4× the time (O(1) amortised per add)', () => {
    const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0
    const quarter = entries.slice(0, entries.length / 4)
    timeFold(quarter) // warm the JIT, so the small run is not charged for compiling
    const smallMs = median([0, 1, 2].map(() => timeFold(quarter).ms))
    const fullMs = median([0, 1, 2].map(() => timeFold(entries).ms))
    console.log(`      ${quarter.length} entries: ${smallMs.toFixed(0)} ms; ${entries.length}: ${fullMs.toFixed(0)} ms (× ${(fullMs / smallMs).toFixed(1)})`)
    // Linear is ×4; O(n) work per add would be ×16. Allow for GC and scheduler noise.
    assert.ok(fullMs < smallMs * 9 + 20, `× ${(fullMs / smallMs).toFixed(1)}`)
  })

  it('re-adding everything (a relay resending) is cheap: duplicates skip summarising', () => {
    const { books } = timeFold(entries)
    const t0 = performance.now()
    for (const e of entries) assert.equal(books.add(e), 'duplicate')
    const ms = performance.now() - t0
    console.log(`      20,000 duplicates: ${ms.toFixed(0)} ms`)
    assert.ok(ms < 1_000, `duplicates took ${ms.toFixed(0)} ms`)
  })
})

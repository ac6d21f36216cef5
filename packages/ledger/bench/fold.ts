/**
 * Fold benchmark: HQ's hot path. Builds a fleet of real signed entries (a StockIn and a
 * Close per till and day), then measures folding them in order and shuffled, the snapshot
 * and the exports, and the heap Books retains per folded entry.
 *
 *   node --expose-gc packages/ledger/bench/fold.ts [tills=10000] [days=1]
 */
import { Books } from '../src/index.ts'
import { buildFleet } from '../test/helpers/fleet.ts'
import { costCents, shuffled } from '../test/helpers/fixtures.ts'

const tills = Number(process.argv[2] ?? 10_000)
const days = Number(process.argv[3] ?? 1)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) console.warn('run with node --expose-gc for the memory figures')

let t = performance.now()
const entries = buildFleet(tills, days)
console.log(`built and signed ${entries.length} entries for ${tills} tills × ${days} day(s) in ${(performance.now() - t).toFixed(0)} ms`)

function heapUsed (): number {
  gc?.()
  gc?.()
  // Typed arrays keep their bytes outside the JS heap: count both.
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

function run (name: string, order: readonly typeof entries[number][]): void {
  const before = heapUsed()
  let books: Books | null = new Books({ costCents })
  t = performance.now()
  for (const e of order) books.add(e)
  const foldMs = performance.now() - t
  const retained = heapUsed() - before
  t = performance.now()
  const snap = books.snapshot()
  const snapshotMs = performance.now() - t
  t = performance.now()
  const journalBytes = books.toHledger().length
  const hledgerMs = performance.now() - t
  books = null
  console.log(`${name.padEnd(9)} fold ${foldMs.toFixed(0)} ms (${Math.round(order.length / (foldMs / 1000))} entries/s), ` +
    `snapshot ${snapshotMs.toFixed(0)} ms, toHledger ${hledgerMs.toFixed(0)} ms (${(journalBytes / 1e6).toFixed(1)} MB), ` +
    `folded ${snap.counts.folded}` + (gc !== undefined ? `, retained ${Math.round(retained / 1_048_576)} MiB = ${Math.round(retained / order.length)} B/entry` : ''))
}

run('in order', entries)
run('shuffled', shuffled(entries, 42))
run('reversed', [...entries].reverse())

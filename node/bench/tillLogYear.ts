/**
 * A year of one till's log of record on disk: 730 records (a StockIn and a Close a day)
 * through the real TillNode on LevelDB with fsync, measured. Not a test:
 * `node node/bench/tillLogYear.ts` from the repo root (Node 24). Prints medians.
 *
 * - append: one record made durable (the document append, its chunk or the compaction,
 *   and the batch with the day's state, fsync'd): timed around openDay/closeDay, minus nothing
 *   (the close also reads the day's journal: one sale here).
 * - load: TillNode.start on the year's directory (snapshot + chunks, every entry verified).
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { asBusinessDay, asStoreId, keyPairFromSeed, signReplenishment, Signer } from '@tillbooks/protocol'
import { demoCatalogue } from '@tillbooks/catalogue'
import { LevelStore, silentLogger, TillNode } from '../src/index.ts'
import { LOG_CHUNKS_MAX } from '../src/till/TillLogStore.ts'

const DAYS = 365
const catalogue = demoCatalogue()
const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(1)))
const signer = new Signer(keyPairFromSeed(new Uint8Array(32).fill(2)))
const store = asStoreId('S1')
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] as number }
const p = (xs: number[], q: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * q))] as number }

const dir = await mkdtemp(join(tmpdir(), 'tillbooks-tilllog-year-'))
try {
  const clock = { nowMs: () => 0 }
  const open = (): TillNode => new TillNode({ store: new LevelStore(join(dir, 'db')), clock, logger: silentLogger }, { store, till: 1, signer, catalogue, hqRootKey: root.publicKey })
  let till = open()
  await till.start()
  const appends: number[] = []
  const compactions: number[] = []
  for (let i = 0; i < DAYS; i++) {
    const businessDay = asBusinessDay(new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString().slice(0, 10))
    const order = signReplenishment(root, { id: `R-${i}`, store, businessDay, lines: [{ sku: 'patio-chair', qty: 2 }] })
    for (const step of ['open', 'close'] as const) {
      const chunksBefore = till.logChunks
      const t0 = performance.now()
      if (step === 'open') await till.openDay(businessDay, { order })
      else {
        await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
        const t1 = performance.now()
        await till.closeDay()
        const ms = performance.now() - t1
        ;(till.logChunks < chunksBefore ? compactions : appends).push(ms)
        continue
      }
      const ms = performance.now() - t0
      ;(till.logChunks < chunksBefore ? compactions : appends).push(ms)
    }
  }
  const records = till.log.length
  await till.stop()
  let bytes = 0
  for (const f of await readdir(join(dir, 'db'))) bytes += (await stat(join(dir, 'db', f))).size
  const loads: number[] = []
  for (let r = 0; r < 5; r++) {
    till = open()
    const t0 = performance.now()
    await till.start()
    loads.push(performance.now() - t0)
    await till.stop()
  }
  console.log(`${records} records in a year; chunks compacted every ${LOG_CHUNKS_MAX}`)
  console.log(`append (durable, fsync'd): median ${median(appends).toFixed(2)} ms, p90 ${p(appends, 0.9).toFixed(2)} ms over ${appends.length}`)
  console.log(`append that compacts: median ${median(compactions).toFixed(2)} ms over ${compactions.length}`)
  console.log(`load (TillNode.start, every entry verified): median ${median(loads).toFixed(1)} ms of 5`)
  console.log(`LevelDB directory: ${bytes} bytes (journal of ${DAYS} sales included)`)
} finally {
  await rm(dir, { recursive: true, force: true })
}

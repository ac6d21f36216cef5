/**
 * bench:core — HQ's in-process intake at fleet scale: N enrolled tills × 2 signed records
 * (a StockIn and a Close built by the real TillNode from a day of sales), every signature
 * verified (worker threads), written to LevelDB with fsync before the answer (group
 * commit), and folded into the books. Then a full rebuild from the log, with and without
 * re-verifying signatures. Prints medians over the runs and writes build/bench/core.json.
 *
 *   node sim/src/bench/core.ts [--tills 10000] [--runs 3] [--concurrency 16] [--batch 256]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { asBusinessDay, asStoreId, keyPairFromSeed, Signer, type StoreId } from '@tillbooks/protocol'
import { demoCatalogue } from '@tillbooks/catalogue'
import { HqNode, LevelStore, MemoryStore, silentLogger, TillNode, WorkerVerifier, systemClock } from '@tillbooks/node'
import { Prng } from '../Prng.ts'

const { values: args } = parseArgs({
  options: {
    tills: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    batch: { type: 'string', default: '256' },
    seed: { type: 'string', default: '1' }
  }
})
const TILLS = Number(args.tills)
const RUNS = Number(args.runs)
const CONCURRENCY = Number(args.concurrency)
const BATCH = Number(args.batch)
const TILLS_PER_STORE = 4
const catalogue = demoCatalogue()
const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(7)))
const day = asBusinessDay('2026-03-02')

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/** The fleet's records, signed at each till's close, before anything is timed. */
async function buildFleet (prng: Prng): Promise<{ tills: Array<{ store: StoreId, till: number, signer: Signer }>, entries: Uint8Array[], ms: number }> {
  const t0 = performance.now()
  const sellable = catalogue.products().filter(p => p.sellable).map(p => p.sku)
  const stocked = catalogue.stockedSkus()
  const hq = new HqNode({ store: new MemoryStore(), clock: systemClock, logger: silentLogger }, { root, costCents: s => catalogue.costCents(s) })
  await hq.start()
  const tills: Array<{ store: StoreId, till: number, signer: Signer }> = []
  const entries: Uint8Array[] = []
  for (let i = 0; i < TILLS; i++) {
    const store = asStoreId(`S${String(Math.floor(i / TILLS_PER_STORE) + 1).padStart(5, '0')}`)
    const tillNo = (i % TILLS_PER_STORE) + 1
    const signer = new Signer(keyPairFromSeed(prng.bytes(32)))
    const node = new TillNode({ store: new MemoryStore(), clock: systemClock, logger: silentLogger }, { store, till: tillNo, signer, catalogue, hqRootKey: root.publicKey })
    await node.start()
    const order = await hq.dispatchReplenishment({ id: `R-${store}-${tillNo}`, store, businessDay: day, lines: prng.sample(stocked, 3).sort().map(sku => ({ sku, qty: prng.int(1, 20) })) })
    await node.openDay(day, { order })
    for (let s = prng.int(5, 12); s > 0; s--) {
      await node.sell({ lines: prng.sample(sellable, prng.int(1, 3)).map(sku => ({ sku, qty: prng.int(1, 2) })), ...(prng.chance(0.5) ? {} : { tenders: [] }) })
    }
    await node.closeDay()
    entries.push(...node.outbox())
    tills.push({ store, till: tillNo, signer })
  }
  return { tills, entries, ms: performance.now() - t0 }
}

interface RunResult {
  recordsPerSec: number
  wallMs: number
  cpuMsPerRecord: number
  rssPeakBytes: number
  split: { decodeMs: number, verifyMs: number, commitMs: number, foldMs: number }
  commits: number
  rebuildVerifiedPerSec: number
  rebuildUnverifiedPerSec: number
}

async function run (fleet: Awaited<ReturnType<typeof buildFleet>>): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'tillbooks-bench-core-'))
  const verifier = new WorkerVerifier({ threads: availableParallelism() })
  const hq = new HqNode({ store: new LevelStore(dir), clock: systemClock, logger: silentLogger }, { root, costCents: s => catalogue.costCents(s), verifier })
  await hq.start()
  await hq.enrolMany(fleet.tills.map(t => ({ store: t.store, till: t.till, tillKey: t.signer.publicKey })))
  let rssPeak = process.memoryUsage().rss
  const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage().rss) }, 20)
  const batches: Uint8Array[][] = []
  for (let i = 0; i < fleet.entries.length; i += BATCH) batches.push(fleet.entries.slice(i, i + BATCH))
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let next = 0
  let accepted = 0
  // `CONCURRENCY` connections, each with one batch in flight, as relays or load generators would send.
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < batches.length) {
      const b = batches[next++] as Uint8Array[]
      const answers = await hq.submit(b)
      accepted += answers.filter(a => a.status === 'accepted').length
    }
  }))
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  clearInterval(sampler)
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
  if (accepted !== fleet.entries.length) throw new Error(`only ${accepted} of ${fleet.entries.length} accepted`)
  const snapshot = hq.books.snapshot()
  const split = { ...hq.timings }
  const commits = hq.counters.commits
  await hq.stop()
  // Rebuild from the log: once re-verifying every signature (the default), once trusting it.
  const rebuild = async (verify: boolean): Promise<number> => {
    const v = new WorkerVerifier({ threads: availableParallelism() })
    const again = new HqNode({ store: new LevelStore(dir), clock: systemClock, logger: silentLogger }, { root, costCents: s => catalogue.costCents(s), verifier: v, rebuildVerify: verify })
    const r = await again.start()
    if (JSON.stringify(again.books.snapshot().accounts) !== JSON.stringify(snapshot.accounts)) throw new Error('rebuild differs')
    await again.stop()
    return r.entries / (r.ms / 1000)
  }
  const rebuildVerifiedPerSec = await rebuild(true)
  const rebuildUnverifiedPerSec = await rebuild(false)
  await rm(dir, { recursive: true, force: true })
  return {
    recordsPerSec: fleet.entries.length / (wallMs / 1000),
    wallMs,
    // process.cpuUsage counts every thread of the process: the verify workers included.
    cpuMsPerRecord: (cpu.user + cpu.system) / 1000 / fleet.entries.length,
    rssPeakBytes: rssPeak,
    split,
    commits,
    rebuildVerifiedPerSec,
    rebuildUnverifiedPerSec
  }
}

const prng = new Prng(Number(args.seed))
process.stderr.write(`building ${TILLS} tills' records through TillNode...\n`)
const fleet = await buildFleet(prng)
process.stderr.write(`built ${fleet.entries.length} signed records in ${Math.round(fleet.ms)} ms\n`)
const results: RunResult[] = []
for (let r = 0; r < RUNS; r++) {
  results.push(await run(fleet))
  process.stderr.write(`run ${r + 1}/${RUNS}: ${Math.round(results[r - 0]?.recordsPerSec ?? 0)} records/s\n`)
}
const pick = (f: (r: RunResult) => number): number => median(results.map(f))
const summary = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', memBytes: totalmem(), node: process.version },
  tills: TILLS,
  records: fleet.entries.length,
  runs: RUNS,
  concurrency: CONCURRENCY,
  batch: BATCH,
  recordsPerSecMedian: Math.round(pick(r => r.recordsPerSec)),
  cpuUsPerRecordMedian: Math.round(pick(r => r.cpuMsPerRecord) * 1000),
  rssPeakBytesMedian: Math.round(pick(r => r.rssPeakBytes)),
  splitMsMedian: {
    decode: Math.round(pick(r => r.split.decodeMs)),
    verify: Math.round(pick(r => r.split.verifyMs)),
    logAppendFsync: Math.round(pick(r => r.split.commitMs)),
    fold: Math.round(pick(r => r.split.foldMs))
  },
  commitsMedian: pick(r => r.commits),
  rebuildVerifiedPerSecMedian: Math.round(pick(r => r.rebuildVerifiedPerSec)),
  rebuildUnverifiedPerSecMedian: Math.round(pick(r => r.rebuildUnverifiedPerSec)),
  runsDetail: results
}
await mkdir('build/bench', { recursive: true })
await writeFile('build/bench/core.json', JSON.stringify(summary, null, 2))
const mb = (b: number): string => `${Math.round(b / 1_048_576)} MB`
process.stdout.write([
  `HQ intake, in process: ${TILLS} tills x 2 records, ${RUNS} runs, medians (${summary.machine.cpus} cores, ${summary.machine.model}, Node ${process.version})`,
  `  records/s (verified, fsync'd, folded)   ${summary.recordsPerSecMedian}`,
  `  CPU per record, all threads            ${summary.cpuUsPerRecordMedian} µs`,
  `  peak RSS                               ${mb(summary.rssPeakBytesMedian)}`,
  `  wall time by phase (overlapping, ms)   decode ${summary.splitMsMedian.decode} · verify ${summary.splitMsMedian.verify} · log append+fsync ${summary.splitMsMedian.logAppendFsync} · fold ${summary.splitMsMedian.fold} (${summary.commitsMedian} fsyncs)`,
  `  rebuild from log                       ${summary.rebuildVerifiedPerSecMedian} records/s re-verifying, ${summary.rebuildUnverifiedPerSecMedian} records/s trusting the log`,
  ''
].join('\n'))
process.stdout.write(JSON.stringify({ recordsPerSec: summary.recordsPerSecMedian, cpuUsPerRecord: summary.cpuUsPerRecordMedian, rssPeakBytes: summary.rssPeakBytesMedian, split: summary.splitMsMedian }) + '\n')

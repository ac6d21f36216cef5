/**
 * bench:core — HQ's intake at fleet scale: N enrolled tills × 2 signed records (a StockIn
 * and a Close built by the real TillNode from a day of sales), every record decoded,
 * validated and its signature verified (worker threads), written to LevelDB with fsync
 * before the answer (group commit), and folded into the books. Then a full rebuild from the
 * log, with and without re-verifying signatures. Prints medians over the runs and writes
 * build/bench/core.json.
 *
 * The records are built and signed first, here (each till signs at its close), and cached
 * in build/bench/ (coreFleet.ts). Each run is then a fresh HQ in its own child process
 * (coreHq.ts), so the CPU time and RSS reported are HQ's alone, its verify threads included.
 * The child runs with V8's young generation capped (`--semi-space`, MB per semi-space,
 * default 4; 0 for V8's default, which lets it grow to 64 MB and HQ's RSS by ~100 MB) and,
 * by default, JIT-warmed by 20,000 records (a 10,000-till day) through throwaway HQs (`--warmup`;
 * 0 measures a cold process).
 *
 *   node sim/src/bench/core.ts [--tills 10000] [--runs 5] [--concurrency 16] [--batch 256]
 *                              [--threads N] [--warmup 20000] [--semi-space 4] [--fresh]
 */
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import { loadOrBuildFleet } from './coreFleet.ts'
import type { HqRunResult } from './coreHq.ts'

const { values: args } = parseArgs({
  options: {
    tills: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '16' },
    batch: { type: 'string', default: '256' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string' },
    warmup: { type: 'string', default: '20000' },
    'semi-space': { type: 'string', default: '4' },
    fresh: { type: 'boolean', default: false }
  }
})
const TILLS = Number(args.tills)
const RUNS = Number(args.runs)
const CONCURRENCY = Number(args.concurrency)
const BATCH = Number(args.batch)

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

type RunResult = HqRunResult

/** One HQ run in its own process. */
async function run (fleetFile: string): Promise<RunResult> {
  const nodeFlags = Number(args['semi-space']) > 0 ? [`--max-semi-space-size=${Number(args['semi-space'])}`] : []
  const childArgs = [...nodeFlags, new URL('./coreHq.ts', import.meta.url).pathname, fleetFile, '--concurrency', String(CONCURRENCY), '--batch', String(BATCH), '--warmup', args.warmup]
  if (args.threads !== undefined) childArgs.push('--threads', args.threads)
  const child = spawn(process.execPath, childArgs, { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`HQ run exited with ${code}`)
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as RunResult
}

const { path: fleetFile, index, cached } = await loadOrBuildFleet(TILLS, Number(args.seed), { fresh: args.fresh, log: s => process.stderr.write(s) })
if (cached) process.stderr.write(`using ${index.ends.length} signed records cached in ${fleetFile} (--fresh to rebuild)\n`)
const records = index.ends.length
const results: RunResult[] = []
for (let r = 0; r < RUNS; r++) {
  results.push(await run(fleetFile))
  process.stderr.write(`run ${r + 1}/${RUNS}: ${Math.round(results[r]?.recordsPerSec ?? 0)} records/s, ${Math.round((results[r]?.cpuMsPerRecord ?? 0) * 1000)} µs CPU/record, HQ peak RSS ${Math.round((results[r]?.rssPeakBytes ?? 0) / 1_048_576)} MB, verify ${Math.round(results[r]?.verifyPerSecPerCore ?? 0)}/s/core (libsodium), ${Math.round(results[r]?.verifyPerSecPerCoreOpenSsl ?? 0)} (OpenSSL)\n`)
}
const pick = (f: (r: RunResult) => number): number => median(results.map(f))
const summary = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', memBytes: totalmem(), node: process.version },
  tills: TILLS,
  records,
  threads: args.threads !== undefined ? Number(args.threads) : cpus().length,
  warmupRecords: Number(args.warmup),
  semiSpaceMb: Number(args['semi-space']),
  runs: RUNS,
  concurrency: CONCURRENCY,
  batch: BATCH,
  recordsPerSecMedian: Math.round(pick(r => r.recordsPerSec)),
  cpuUsPerRecordMedian: Math.round(pick(r => r.cpuMsPerRecord) * 1000),
  mainThreadCpuUsPerRecordMedian: Math.round(pick(r => r.mainCpuMsPerRecord) * 1000),
  /** CPU µs per record by thread (name from /proc): verify workers, main, V8's GC and JIT helpers, libuv's pool (LevelDB writes, fsync). */
  threadCpuUsPerRecordMedian: Object.fromEntries([...new Set(results.flatMap(r => Object.keys(r.threadCpuMs)))].map(name => [name, Math.round(pick(r => r.threadCpuMs[name] ?? 0) * 1000 / records)]).filter(([, us]) => (us as number) > 0)),
  /** Ed25519 verifies/s on one core by libsodium (HQ's verifier), measured in each run just before the wave: the machine's state (others share it). */
  verifyPerSecPerCoreMedian: Math.round(pick(r => r.verifyPerSecPerCore)),
  /** The same by OpenSSL (node:crypto, key parsed): the verifier HQ used before libsodium. */
  verifyPerSecPerCoreOpenSslMedian: Math.round(pick(r => r.verifyPerSecPerCoreOpenSsl)),
  rssPeakBytesMedian: Math.round(pick(r => r.rssPeakBytes)),
  rssBeforeHqBytesMedian: Math.round(pick(r => r.rssFleetLoadedBytes)),
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
const ceiling = Math.round(summary.machine.cpus * summary.verifyPerSecPerCoreMedian)
process.stdout.write([
  `HQ intake, HQ alone in its own process: ${TILLS} tills x 2 records, ${RUNS} runs, medians (${summary.machine.cpus} cores, ${summary.machine.model}, Node ${process.version};`,
  `  ${summary.threads} verify threads, ${summary.warmupRecords > 0 ? `JIT warmed by ${summary.warmupRecords} records` : 'cold process'}, semi-space ${summary.semiSpaceMb > 0 ? `${summary.semiSpaceMb} MB` : 'V8 default'})`,
  `  records/s (verified, fsync'd, folded)   ${summary.recordsPerSecMedian}   (verify alone, all cores: libsodium ${ceiling}/s, OpenSSL ${Math.round(summary.machine.cpus * summary.verifyPerSecPerCoreOpenSslMedian)}/s, at this time)`,
  `  CPU per record, all threads            ${summary.cpuUsPerRecordMedian} µs: ${Object.entries(summary.threadCpuUsPerRecordMedian).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  `  HQ peak RSS                            ${mb(summary.rssPeakBytesMedian)} (${mb(summary.rssBeforeHqBytesMedian)} before HQ started: Node, its modules, the tills' list)`,
  `  wall time by phase (overlapping, ms)   main-thread checks ${summary.splitMsMedian.decode} · open (decode+validate+verify, threads) ${summary.splitMsMedian.verify} · log append+fsync ${summary.splitMsMedian.logAppendFsync} · fold ${summary.splitMsMedian.fold} (${summary.commitsMedian} fsyncs)`,
  `  rebuild from log                       ${summary.rebuildVerifiedPerSecMedian} records/s re-verifying, ${summary.rebuildUnverifiedPerSecMedian} records/s trusting the log`,
  ''
].join('\n'))
process.stdout.write(JSON.stringify({ recordsPerSec: summary.recordsPerSecMedian, cpuUsPerRecord: summary.cpuUsPerRecordMedian, rssPeakBytes: summary.rssPeakBytesMedian, verifyPerSecPerCore: summary.verifyPerSecPerCoreMedian, split: summary.splitMsMedian }) + '\n')

/**
 * The pitch's relay, re-created, at each fleet size: as pitched and with our guarantees, side
 * by side, and the native verification ceiling. Prints a table; `--json` adds one JSON line.
 *
 *   node sim/src/bench/pitch/run.ts --sweep 200,1000,5000,10000 [--runs 3] [--sockets 96] [--preparse] [--json]
 */
import { parseArgs } from 'node:util'
import { measurePitchRelay, measureVerifyCeiling, type PitchRelayResult } from './index.ts'

const { values: args } = parseArgs({
  options: {
    sweep: { type: 'string', default: '200,1000,5000,10000' },
    runs: { type: 'string', default: '3' },
    sockets: { type: 'string', default: '96' },
    json: { type: 'boolean', default: false },
    preparse: { type: 'boolean', default: false }
  }
})
const sizes = (args.sweep ?? '').split(',').map(s => Number(s.trim())).filter(n => Number.isSafeInteger(n) && n > 0)
const runs = Number(args.runs)
const sockets = Number(args.sockets)
/** The pitch's published figures (seed, "Proven at scale"). */
const PUBLISHED: Record<number, number> = { 200: 1_890, 1_000: 3_340, 5_000: 4_424, 10_000: 4_597 }

const ceiling = measureVerifyCeiling()
const rows: Array<{ tills: number, asPitched: PitchRelayResult, guarded: PitchRelayResult }> = []
for (const tills of sizes) {
  process.stderr.write(`pitch relay: ${tills} tills, as pitched (${runs} runs)…\n`)
  const asPitched = await measurePitchRelay({ tills, guarded: false, runs, sockets })
  process.stderr.write(`pitch relay: ${tills} tills, with our guarantees (${runs} runs)…\n`)
  const guarded = await measurePitchRelay({ tills, guarded: true, runs, sockets, preparseKeys: args.preparse === true })
  rows.push({ tills, asPitched, guarded })
}

const f0 = (n: number): string => Math.round(n).toLocaleString('en-GB')
const f1 = (n: number): string => n.toFixed(1)
const ok = (r: PitchRelayResult): string => {
  const fails = [
    r.allAcked ? '' : 'acks', r.jsonlLinesOk ? '' : 'jsonl', r.totalsCorrect ? '' : 'totals',
    r.resendAccepted === 0 && r.totalsUnchanged ? '' : 'B3', r.forgedRejected === false ? 'forged' : ''
  ].filter(Boolean)
  return fails.length === 0 ? 'ok' : `FAIL(${fails.join(',')})`
}
const header = ['tills', 'published/s', 'as pitched/s', 'p50/p99 ms', 'cpu µs/rep', 'rss MB', 'checks', 'guarded/s', 'p50/p99 ms', 'cpu µs/rep', 'rss MB', 'fsyncs', 'checks', 'guarded ÷ pitched', 'guarded ÷ ceiling']
const table = rows.map(({ tills, asPitched: a, guarded: g }) => [
  f0(tills), PUBLISHED[tills] === undefined ? '–' : f0(PUBLISHED[tills] as number),
  f0(a.reportsPerSec), `${f1(a.p50Ms)}/${f1(a.p99Ms)}`, f0(a.relayCpuMsPerReport * 1000), f0(a.relayRssBytes / 2 ** 20), ok(a),
  f0(g.reportsPerSec), `${f1(g.p50Ms)}/${f1(g.p99Ms)}`, f0(g.relayCpuMsPerReport * 1000), f0(g.relayRssBytes / 2 ** 20),
  f0(median(g.perRun.map(r => r.fsyncs))), ok(g),
  (g.reportsPerSec / a.reportsPerSec).toFixed(2), (g.reportsPerSec / ceiling.ceilingPerSec).toFixed(2)
])
const widths = header.map((h, c) => Math.max(h.length, ...table.map(r => (r[c] as string).length)))
const line = (cells: string[]): string => cells.map((s, c) => s.padStart(widths[c] as number)).join('  ')
console.log(`pitch relay re-created (node:http keep-alive, ${sockets} client sockets, separate relay and load-generator processes), medians of ${runs}`)
console.log(line(header))
for (const r of table) console.log(line(r))
console.log(`native Ed25519 verify (cached KeyObject): ${f0(ceiling.perCorePerSec)}/s per core × ${ceiling.cores} cores = ceiling ${f0(ceiling.ceilingPerSec)}/s`)
if (args.json) {
  console.log(JSON.stringify({
    verifyCeiling: ceiling,
    runs: rows.map(({ tills, asPitched, guarded }) => ({
      tills,
      publishedReportsPerSec: PUBLISHED[tills] ?? null,
      baselineReportsPerSec: asPitched.reportsPerSec,
      guardedBaselineReportsPerSec: guarded.reportsPerSec,
      verifyCeilingPerSec: ceiling.ceilingPerSec,
      asPitched,
      guarded
    }))
  }))
}
const allOk = rows.every(r => ok(r.asPitched) === 'ok' && ok(r.guarded) === 'ok')
process.exitCode = allOk ? 0 : 1

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/**
 * `npm run bench:reconcile`: a settlement report of 1,000,000 lines (10,000 tills × 100 card
 * payments, with faults planted: lines dropped, changed by a cent, settled twice) streamed from
 * disk and reconciled against the tills' approvals. Reports lines/s and peak RSS, and checks
 * that exactly the planted exceptions are found. Median of 3 runs.
 * Options: `node packages/payments/bench/reconcile.ts [tills] [paymentsPerTill]`.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir, cpus } from 'node:os'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { feeOf, formatMinorUnits, readSettlementCsv, Reconciler, SETTLEMENT_COLUMNS, type TillPayment } from '../src/index.ts'

const TILLS = Number(process.argv[2] ?? 10_000)
const PER_TILL = Number(process.argv[3] ?? 100)
const DAY = '2026-03-02'
const f = (n: number): string => formatMinorUnits(n, 'EUR')

/** A deterministic stream of amounts and faults. */
function * payments (): Generator<{ p: TillPayment, fault: 'ok' | 'dropped' | 'cent' | 'twice' }> {
  let x = 12345
  for (let t = 1; t <= TILLS; t++) {
    const till = `S${t}-1`
    for (let i = 1; i <= PER_TILL; i++) {
      x = (x * 1103515245 + 12345) % 2147483648
      const amountCents = 100 + (x % 20_000)
      const r = x % 10_000
      yield { p: { paymentId: `${till}-P${i}`, till, day: DAY, amountCents, status: 'approved' }, fault: r === 0 ? 'dropped' : r === 1 ? 'cent' : r === 2 ? 'twice' : 'ok' }
    }
  }
}

async function writeFile (path: string): Promise<{ planted: number }> {
  const out = createWriteStream(path)
  let planted = 0
  let ref = 0
  let gross = 0
  let fee = 0
  let buf: string[] = [SETTLEMENT_COLUMNS.join(',')]
  const line = (paymentId: string, g: number): void => {
    const fe = feeOf(g, 150)
    gross += g
    fee += fe
    buf.push(`PSP${String(++ref).padStart(10, '0')},${paymentId},visa,${DAY},Settled,EUR,${f(g)},${f(fe)},${f(g - fe)},B1,PO1`)
  }
  const flush = async (): Promise<void> => { if (!out.write(buf.join('\n') + '\n')) await new Promise<void>(resolve => out.once('drain', () => { resolve() })); buf = [] }
  for (const { p, fault } of payments()) {
    if (fault !== 'ok') planted++
    if (fault === 'ok' || fault === 'twice') line(p.paymentId, p.amountCents)
    if (fault === 'twice') line(p.paymentId, p.amountCents)
    if (fault === 'cent') line(p.paymentId, p.amountCents + 1)
    if (buf.length >= 10_000) await flush()
  }
  buf.push(`PO1,,,${DAY},MerchantPayout,EUR,${f(gross)},${f(fee)},${f(gross - fee)},B1,PO1`)
  await flush()
  out.end()
  await finished(out)
  return { planted }
}

const dir = await mkdtemp(join(tmpdir(), 'tillbooks-reconcile-bench-'))
try {
  const path = join(dir, 'settlement.csv')
  const { planted } = await writeFile(path)
  const bytes = (await stat(path)).size
  const runs: Array<{ ms: number, lines: number, exceptions: number, matched: number }> = []
  let firstRunRssMb = 0
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now()
    const r = new Reconciler({ throughDay: DAY, settlementLagDays: 0, nowMs: Date.parse(`${DAY}T23:59:59Z`) })
    for (const { p } of payments()) r.addPayment(p)
    const read = await readSettlementCsv(createReadStream(path, { highWaterMark: 1 << 20 }), 'EUR', l => { r.addLine(l) })
    const result = r.result()
    runs.push({ ms: performance.now() - t0, lines: read.lines, exceptions: result.exceptions.length, matched: result.matched })
    if (result.exceptions.length !== planted) throw new Error(`found ${result.exceptions.length} exceptions, ${planted} planted`)
    // The first run's peak: one reconciliation's memory (later runs add the garbage of earlier ones).
    if (run === 0) firstRunRssMb = Math.round(process.resourceUsage().maxRSS / 1024)
  }
  runs.sort((a, b) => a.ms - b.ms)
  const median = runs[1] as (typeof runs)[number]
  const rssPeakMb = Math.round(process.resourceUsage().maxRSS / 1024)
  console.log(`reconcile: ${median.lines} settlement lines (${Math.round(bytes / 1e6)} MB) against ${TILLS * PER_TILL} approvals, median of 3: ${(median.ms / 1000).toFixed(2)} s, ${Math.round(median.lines / (median.ms / 1000))} lines/s, peak RSS ${firstRunRssMb} MB after one run (${rssPeakMb} MB after three); ${median.matched} matched, ${median.exceptions} exceptions = the ${planted} planted (${cpus().length} cores, ${cpus()[0]?.model ?? ''}, Node ${process.version})`)
  console.log(JSON.stringify({ lines: median.lines, approvals: TILLS * PER_TILL, medianMs: Math.round(median.ms), linesPerSec: Math.round(median.lines / (median.ms / 1000)), firstRunRssMb, rssPeakMb, planted, exceptions: median.exceptions, matched: median.matched }))
} finally {
  await rm(dir, { recursive: true, force: true })
}

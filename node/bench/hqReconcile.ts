/**
 * HQ reconciling a processor's day at fleet scale (issue 17's figure at HQ): N tills × P card
 * payments each, every till's Close (per-processor totals, digest, set hash) folded into a real
 * HQ (LevelDB), then the processor's report of all N × P lines (a few faults planted at some
 * tills) imported through HqSettlements as `POST /admin/settlements` does: read and checked,
 * kept in the log (fsync'd), booked, and reconciled — the tills whose set hash matches without
 * a word to the store, the faulty ones by their approvals (served here in process, signed by
 * the tills). Reports the import's wall time, lines/s, the peak RSS, and checks the exceptions
 * are exactly the planted ones and card clearing equals them. Then HQ is restarted and the time
 * to rebuild the books with the file in its log is reported (the file's sums and the tills'
 * totals read back, no line: SettledLines.ts), and a reconciliation after it.
 * With a processor that settles a day late (`lagDays` ≥ 1), each till also closes the next day,
 * whose payments the report does not hold: not due, and no till should be asked for them.
 * Not a test: `node --expose-gc node/bench/hqReconcile.ts [tills] [paymentsPerTill] [lagDays]` from the repo root
 * (--expose-gc: the bytes HQ's memory keeps a settled line, measured after a full GC).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { catalogue } from '../test/helpers/fleet.ts'
import { feeOf, formatMinorUnits, SETTLEMENT_COLUMNS } from '@tillbooks/payments'
import {
  asBusinessDay, asStoreId, GENESIS_HASH, keyPairFromSeed, paymentSetHash, paymentsDigest, signApproval, signEntry, Signer, type Close, type TillId
} from '@tillbooks/protocol'
import { HqNode, HqSettlements, LevelStore, silentLogger, WorkerVerifier } from '../src/index.ts'

const TILLS = Number(process.argv[2] ?? 10_000)
const PER_TILL = Number(process.argv[3] ?? 100)
const LAG_DAYS = Number(process.argv[4] ?? 0)
const DAY = '2026-03-02'
const NEXT_DAY = '2026-03-03'
const f = (n: number): string => formatMinorUnits(n, 'EUR')
/** Two answers alike but for the card clearing (the books': it moves with every file, whatever the day reconciled through). */
const sameBut = (a: object, b: object): boolean => JSON.stringify({ ...a, clearingCents: 0 }) === JSON.stringify({ ...b, clearingCents: 0 })
const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(7)))
const key8 = 'aaaaaaaa'
/** The heap and buffers in use after a full GC (null without --expose-gc). */
function heldBytes (): number | null {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return null
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

const dir = await mkdtemp(join(tmpdir(), 'tillbooks-hqrec-'))
const clock = { nowMs: () => Date.parse('2026-03-03T12:00:00Z') }
/** The phases of the last start (ms): opening the store, certificates, orders and settlement, entries. */
let phases: Record<string, number> = {}
const open = async (): Promise<HqNode> => {
  const hq = new HqNode({ store: new LevelStore(join(dir, 'hq')), clock, logger: silentLogger }, { root, costCents: sku => catalogue.costCents(sku), verifier: new WorkerVerifier({ threads: 2 }) })
  phases = Object.fromEntries(Object.entries((await hq.start()).phaseMs).map(([k, v]) => [k, Math.round(v)]))
  return hq
}
try {
  let hq = await open()
  // The fleet: one Close each, P card payments through `embedded`.
  const t0 = performance.now()
  const signers: Signer[] = []
  const amounts: number[][] = []
  let x = 4242
  for (let t = 1; t <= TILLS; t++) {
    signers.push(new Signer(keyPairFromSeed(new Uint8Array(Buffer.from(String(t).padStart(32, '0')).subarray(0, 32)))))
    const list: number[] = []
    for (let i = 1; i <= PER_TILL * (LAG_DAYS > 0 ? 2 : 1); i++) { x = (x * 1103515245 + 12345) % 2147483648; list.push(100 + (x % 20_000)) }
    amounts.push(list)
  }
  await hq.enrolMany(signers.map((s, i) => ({ store: asStoreId(`S${i + 1}`), till: 1, tillKey: s.publicKey })))
  const idOf = (t: number, i: number): string => `S${t}-1-${key8}-P${i}`
  const entries: Uint8Array[] = []
  for (let t = 1; t <= TILLS; t++) {
    let prevHash = GENESIS_HASH
    for (const [d, day] of (LAG_DAYS > 0 ? [DAY, NEXT_DAY] : [DAY]).entries()) {
      const approvals = (amounts[t - 1] as number[]).slice(d * PER_TILL, (d + 1) * PER_TILL).map((a, i) => ({ paymentId: idOf(t, d * PER_TILL + i + 1), amountCents: a }))
      const total = approvals.reduce((s, a) => s + a.amountCents, 0)
      const close: Close = {
        v: 1, kind: 'close', store: asStoreId(`S${t}`), till: 1, businessDay: asBusinessDay(day), seq: d + 1, prevHash, atMs: d + 1,
        docFirst: d * PER_TILL + 1, docLast: (d + 1) * PER_TILL, saleCount: PER_TILL, refundCount: 0, takingsCents: { cash: 0, card: total }, tax: [{ rateBp: 0, netCents: total, taxCents: 0 }],
        refundsCents: 0, cashCountedCents: 0, consumed: [], points: [],
        payments: [{ processor: 'embedded', type: 'card', mode: 'online', count: PER_TILL, amountCents: total, digest: paymentsDigest(approvals), setHash: paymentSetHash(approvals) }]
      }
      const entry = signEntry(close, signers[t - 1] as Signer)
      prevHash = entry.hashBytes
      entries.push(entry.bytes)
    }
  }
  for (let i = 0; i < entries.length; i += 512) await hq.submit(entries.slice(i, i + 512))
  const fleetMs = performance.now() - t0

  // The processor's report: every payment, but one line in every 10,000 dropped, changed by a cent or settled twice.
  const rows: string[] = [SETTLEMENT_COLUMNS.join(',')]
  let ref = 0
  let gross = 0
  let fee = 0
  const planted: string[] = []
  let missingNotDue = 0
  const line = (id: string, g: number): void => {
    const fe = feeOf(g, 150)
    gross += g
    fee += fe
    rows.push(`PSP${String(++ref).padStart(10, '0')},${id},visa,${DAY},Settled,EUR,${f(g)},${f(fe)},${f(g - fe)},B1,PO1`)
  }
  let k = 0
  for (let t = 1; t <= TILLS; t++) {
    for (let i = 1; i <= PER_TILL; i++) {
      const id = idOf(t, i)
      const a = (amounts[t - 1] as number[])[i - 1] as number
      const r = k++ % 10_000
      // Settled a day late, a payment of the report's day missing from it is not due yet: timing.
      if (r === 17) { if (LAG_DAYS > 0) missingNotDue++; else planted.push(`missing_in_settlement ${id}`); continue }
      if (r === 4711) { planted.push(`amount_mismatch ${id}`); line(id, a + 1); continue }
      line(id, a)
      if (r === 9001) { planted.push(`duplicate ${id}`); line(id, a) }
    }
  }
  rows.push(`PO1,,,${DAY},MerchantPayout,EUR,${f(gross)},${f(fee)},${f(gross - fee)},B1,PO1`)
  const bytes = new TextEncoder().encode(rows.join('\n') + '\n')
  // Approvals of a till, signed by it, as the till would serve them when asked.
  const source = {
    approvals: async (tillId: TillId): Promise<Uint8Array[]> => {
      const t = Number(/^S(\d+)-1$/.exec(tillId)?.[1])
      return (amounts[t - 1] as number[]).map((a, i) => signApproval(signers[t - 1] as Signer, {
        paymentId: idOf(t, i + 1), till: tillId, docNo: `${tillId}-${i + 1}`, processor: 'embedded', type: 'card', amountCents: a, status: 'approved', mode: 'online',
        processorRef: null, authCode: null, brand: 'visa', last4: '4242', aid: null, entryMode: 'chip', atMs: Date.parse(`${i < PER_TILL ? DAY : NEXT_DAY}T12:00:00Z`)
      }))
    }
  }
  const settlements = new HqSettlements({ hq, logger: silentLogger, nowMs: clock.nowMs, source })
  const rss0 = process.memoryUsage().rss
  const heap0 = heldBytes()
  // The longest HQ's event loop is held during the import: no till is acked meanwhile.
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  const t1 = performance.now()
  const r = await settlements.import(bytes, { processor: 'embedded', lagDays: LAG_DAYS })
  const importMs = performance.now() - t1
  loop.disable()
  const loopHeldMaxMs = Math.round(loop.max / 1e6)
  const again = performance.now()
  const second = await settlements.reconcile(DAY, { processor: 'embedded', lagDays: LAG_DAYS })
  const reconcileAgainMs = performance.now() - again
  const found = r.exceptions.filter(e => e.kind !== 'timing').map(e => `${e.kind} ${e.paymentId ?? ''}`).sort()
  // The next day's payments (lagDays ≥ 1): not due, each of them once in a timing line (a till's own, or its payment's when it was asked).
  const notDue = r.exceptions.filter(e => e.kind === 'timing').reduce((n, e) => n + (e.count ?? 1), 0)
  const exact = JSON.stringify(found) === JSON.stringify([...planted].sort()) && notDue === (LAG_DAYS > 0 ? TILLS * PER_TILL + missingNotDue : 0)
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024)
  // What HQ's memory keeps of the file once it is imported and reconciled (its lines are on disk).
  const heap1 = heldBytes()
  const heldPerLine = heap0 === null || heap1 === null ? null : Math.round((heap1 - heap0) / (rows.length - 2))
  // Settled a day late: the next day's report (every payment of that day), then a reconciliation
  // through the first day again, as a bank statement of it that came after the next report does.
  let late: { ms: number, filesMs: number, same: boolean } | null = null
  if (LAG_DAYS > 0) {
    const next: string[] = [SETTLEMENT_COLUMNS.join(',')]
    let nextGross = 0
    let nextFee = 0
    for (let t = 1; t <= TILLS; t++) {
      for (let i = PER_TILL + 1; i <= 2 * PER_TILL; i++) {
        const g = (amounts[t - 1] as number[])[i - 1] as number
        const fe = feeOf(g, 150)
        nextGross += g
        nextFee += fe
        next.push(`PSP${String(++ref).padStart(10, '0')},${idOf(t, i)},visa,${NEXT_DAY},Settled,EUR,${f(g)},${f(fe)},${f(g - fe)},B2,PO2`)
      }
    }
    next.push(`PO2,,,${NEXT_DAY},MerchantPayout,EUR,${f(nextGross)},${f(nextFee)},${f(nextGross - nextFee)},B2,PO2`)
    await settlements.import(new TextEncoder().encode(next.join('\n') + '\n'), { processor: 'embedded', lagDays: LAG_DAYS })
    const t4 = performance.now()
    const fromRecords = await settlements.reconcile(DAY, { processor: 'embedded', lagDays: LAG_DAYS })
    const ms = performance.now() - t4
    const t5 = performance.now()
    const fromFiles = await settlements.reconcile(DAY, { processor: 'embedded', lagDays: LAG_DAYS, from: 'files' })
    late = { ms, filesMs: performance.now() - t5, same: JSON.stringify(fromRecords) === JSON.stringify(fromFiles) && sameBut(fromRecords, second) }
  }
  await hq.stop()
  const t2 = performance.now()
  hq = await open()
  const rebuildMs = performance.now() - t2
  const clearingAfterRebuild = hq.books.subBalance('assets:card clearing', 'embedded')
  const t3 = performance.now()
  const afterRestart = await new HqSettlements({ hq, logger: silentLogger, nowMs: clock.nowMs, source }).reconcile(DAY, { processor: 'embedded', lagDays: LAG_DAYS })
  const reconcileAfterRestartMs = performance.now() - t3
  // Through the first day (with the next day's report held too, lagDays ≥ 1: through an earlier day than the last).
  const sameAfterRestart = sameBut(afterRestart, second)
  await hq.stop()
  const lines = rows.length - 2
  console.log(`HQ reconcile: ${TILLS} tills × ${PER_TILL} payments${LAG_DAYS > 0 ? ` (settled ${LAG_DAYS} day(s) late; the next day closed too, ${notDue} payments not due)` : ''}, a report of ${lines} lines (${Math.round(bytes.length / 1e6)} MB): imported, booked and reconciled in ${(importMs / 1000).toFixed(2)} s (${Math.round(lines / (importMs / 1000))} lines/s; HQ's event loop held at most ${(loopHeldMaxMs / 1000).toFixed(2)} s at a time), again in ${(reconcileAgainMs / 1000).toFixed(2)} s; ${r.tillsFetched.length} tills asked for approvals (the ${planted.length + missingNotDue} with a planted fault), ${r.matched} matched, exceptions ${exact ? 'exactly the planted ones' : 'NOT the planted ones'}; clearing ${r.clearingCents} = open ${r.openCents}${r.clearingCents === r.openCents ? '' : ' (NOT EQUAL)'}; peak RSS ${peakRssMb} MB (${Math.round(rss0 / 1e6)} MB before the import); ${heldPerLine === null ? 'held a line: run with --expose-gc' : `held after it: ${heldPerLine} bytes a line`}; HQ restart with the file in its log: ${(rebuildMs / 1000).toFixed(2)} s, clearing ${clearingAfterRebuild}, reconciled after it in ${(reconcileAfterRestartMs / 1000).toFixed(2)} s (${sameAfterRestart ? 'the same answer' : 'ANOTHER ANSWER'}); ${late === null ? '' : `through the first day again once the next day's report is in: ${(late.ms / 1000).toFixed(2)} s from the records, ${(late.filesMs / 1000).toFixed(2)} s from the files (${late.same ? 'the same answer' : 'ANOTHER ANSWER'}); `}fleet built in ${(fleetMs / 1000).toFixed(1)} s (${cpus().length} cores, ${cpus()[0]?.model ?? ''}, Node ${process.version})`)
  console.log(JSON.stringify({ tills: TILLS, lagDays: LAG_DAYS, notDue, lines, importMs: Math.round(importMs), linesPerSec: Math.round(lines / (importMs / 1000)), reconcileAgainMs: Math.round(reconcileAgainMs), tillsFetched: r.tillsFetched.length, exact, clearingEqualsOpen: r.clearingCents === r.openCents && second.openCents === r.openCents, peakRssMb, heldBytesPerLine: heldPerLine, loopHeldMaxMs, rebuildMs: Math.round(rebuildMs), rebuildPhasesMs: phases, reconcileAfterRestartMs: Math.round(reconcileAfterRestartMs), sameAfterRestart, ...(late === null ? {} : { lateMs: Math.round(late.ms), lateFromFilesMs: Math.round(late.filesMs), lateSame: late.same }) }))
  if (!exact || r.clearingCents !== r.openCents || !sameAfterRestart || (late !== null && !late.same)) process.exitCode = 1
} finally {
  await rm(dir, { recursive: true, force: true })
}

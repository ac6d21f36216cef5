/**
 * Card payments with every part a real OS process (`tillbooks processor`, `tillbooks hq`,
 * `tillbooks enrol`, `tillbooks till`, `tillbooks reconcile`), over real TCP on 127.0.0.1:
 * card sales straight to the processor; the processor cut off for part of the day (the till
 * stores within its profile and forwards by itself when it is back; one card is declined when
 * forwarded: a late decline, in the next Close); the day closed and booked; the processor's
 * settlement report and the bank's camt.053 fetched; faults planted in the report; and
 * `tillbooks reconcile` listing exactly the exceptions planted and the late decline, with the
 * hledger export passing `hledger check` and card clearing equal to those exceptions.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { batchesOf, parseSettlementCsv, toSettlementCsv, type SettlementLine } from '@tillbooks/payments'
import { hledger, requireHledger } from '../packages/ledger/test/helpers/hledger.ts'
import { freePort, request, until } from '../node/test/helpers/daemons.ts'
import { call, kill, killAll, run, startDaemon, type Daemon } from './helpers/processes.ts'

interface Exception { kind: string, paymentId?: string, till?: string, docNo?: string, expectedCents?: number, settledCents?: number }
interface Reconciled { file: string, day: string, matched: number, exceptions: Exception[], clearingCents: number, openCents: number, tillsFetched: string[], duplicate?: boolean, error?: string }
interface Paid { docNo: string, payments: Array<{ paymentId: string, status: string }> }

describe('card payments, every part a process: cut-off, forwarding, a late decline, tillbooks reconcile', function () {
  this.timeout(180_000)
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'tillbooks-pay-procs-')) })
  after(async () => {
    await killAll()
    await rm(dir, { recursive: true, force: true })
  })

  it('reconciles to exactly the planted exceptions, with clearing equal to them in the books and in hledger', async function () {
    const processorPort = await freePort()
    const processorArgs = ['processor', '--data', join(dir, 'processor'), '--http', String(processorPort)]
    let processor: Daemon = await startDaemon(processorArgs)
    const hq = await startDaemon(['hq', '--data', join(dir, 'hq'), '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '0', '--books-db', 'off'])
    const tillDir = join(dir, 'S1-1')
    const issued = JSON.parse((await run(['codes', 'new', '--hq', hq.ready.http, '--store', 'S1', '--till', '1', '--token-file', join(dir, 'hq', 'admin.token'), '--json'])).trim().split('\n').pop() as string) as { code: string }
    await run(['enrol', '--hq', hq.ready.http, '--code', issued.code, '--data', tillDir, '--store', 'S1', '--till', '1'])
    const till = await startDaemon(['till', '--data', tillDir, '--store', 'S1', '--till', '1', '--hq', hq.ready.multiaddrs[0] as string, '--http', '0', '--retry-max-ms', '300', '--processor', `http://127.0.0.1:${processorPort}`])
    await call(till.ready.http, 'POST', '/day/open', {})
    const sell = async (token?: string): Promise<{ docNo: string, paymentId: string, status: string }> => {
      const r = await call<Paid>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }], tenders: [{ type: 'card', amountCents: 7900, ...(token !== undefined ? { card: { token } } : {}) }] })
      return { docNo: r.docNo, paymentId: r.payments[0]?.paymentId as string, status: r.payments[0]?.status as string }
    }

    // Online: four approved at once.
    const online = [await sell(), await sell(), await sell(), await sell()]
    assert.deepEqual(online.map(s => s.status), ['approved', 'approved', 'approved', 'approved'])
    // The processor cut off: the till stores within its profile, and the sale stands.
    await kill(processor.child, 'SIGKILL')
    const stored = await sell()
    const late = await sell('tok_decline_on_forward')
    assert.deepEqual([stored.status, late.status], ['stored', 'stored'])
    const held = await call<{ payments: { stored: { count: number, amountCents: number } } }>(till.ready.http, 'GET', '/status')
    assert.deepEqual(held.payments.stored, { ...held.payments.stored, count: 2, amountCents: 15800 })
    // Back: the till forwards by itself; one is approved, the other declined (a late decline).
    processor = await startDaemon(processorArgs)
    await until('stored payments forwarded', async () => {
      await request(till.ready.http, 'POST', '/sync', {})
      const s = await call<{ payments: { stored: { count: number }, lateDeclines: number } }>(till.ready.http, 'GET', '/status')
      return s.payments.stored.count === 0 && s.payments.lateDeclines === 1
    })
    await call(till.ready.http, 'POST', '/day/close', {})
    await until('the Close booked at HQ', async () => {
      await request(till.ready.http, 'POST', '/sync', {})
      return (await call<{ tills: Record<string, { lastClosedDay: string | null }> }>(hq.ready.http, 'GET', '/fleet')).tills['S1-1']?.lastClosedDay != null
    })

    // The processor settles its day: the report and the bank's statement.
    const day = new Date().toISOString().slice(0, 10)
    await call(processor.ready.http, 'POST', '/admin/settle', { day })
    const csv = await (await fetch(`${processor.ready.http}/settlements/${day}.csv`)).text()
    const camt = await (await fetch(`${processor.ready.http}/statements/${day}.camt053.xml`)).text()
    const report = parseSettlementCsv(csv, 'EUR')
    assert.equal(report.lines.length, 5, 'four online and the stored one forwarded: the late decline never settles')
    // Planted: the first online payment dropped, the second changed by a cent, the third settled twice.
    const [dropped, centOff, twice] = online.map(s => s.paymentId) as [string, string, string]
    const lines: SettlementLine[] = []
    for (const l of report.lines) {
      if (l.paymentId === dropped) continue
      if (l.paymentId === centOff) { lines.push({ ...l, grossCents: l.grossCents + 1, netCents: l.netCents + 1 }); continue }
      lines.push(l)
      if (l.paymentId === twice) lines.push({ ...l, processorRef: `${l.processorRef}D` })
    }
    const plantedFile = join(dir, `settlement-${day}.csv`)
    await writeFile(plantedFile, toSettlementCsv({ ...report, lines, batches: batchesOf(lines) }))

    const reconcile = async (file: string): Promise<Reconciled> => {
      try {
        return JSON.parse((await run(['reconcile', '--hq', hq.ready.http, '--file', file, '--token-file', join(dir, 'hq', 'admin.token'), '--json'], 60_000)).trim().split('\n').pop() as string) as Reconciled
      } catch (err) {
        return JSON.parse(((err as { stdout: string }).stdout).trim().split('\n').pop() as string) as Reconciled
      }
    }
    const r = await reconcile(plantedFile)
    const doc = (s: { docNo: string } | undefined): string => s?.docNo as string
    assert.deepEqual(r.exceptions.map(e => [e.kind, e.paymentId, e.till, e.docNo, e.expectedCents, e.settledCents]), [
      ['missing_in_settlement', dropped, 'S1-1', doc(online[0]), 7900, undefined],
      ['amount_mismatch', centOff, 'S1-1', doc(online[1]), 7900, 7901],
      ['duplicate', twice, 'S1-1', doc(online[2]), 7900, 7900],
      ['late_decline', late.paymentId, 'S1-1', doc(late), 7900, undefined]
    ])
    assert.equal(r.matched, 3, 'the fourth online payment, the forwarded one, and the first of the one settled twice')
    assert.deepEqual(r.tillsFetched, ['S1-1'])
    assert.equal(r.clearingCents, 7900 - 1 - 7900)
    assert.equal(r.openCents, r.clearingCents)
    // Again: nothing changes. The bank's statement says otherwise of one line: refused, nothing booked.
    const books = JSON.stringify(await call(hq.ready.http, 'GET', '/books'))
    assert.equal((await reconcile(plantedFile)).duplicate, true)
    const statementFile = join(dir, `statement-${day}.camt053.xml`)
    await writeFile(statementFile, camt)
    assert.match((await reconcile(statementFile)).error ?? '', /409/)
    assert.equal(JSON.stringify(await call(hq.ready.http, 'GET', '/books')), books)

    requireHledger(this)
    const journal = await (await fetch(`${hq.ready.http}/books.hledger`)).text()
    const check = hledger(journal, ['check', '-s', 'ordereddates'])
    assert.equal(check.status, 0, check.stderr)
    const bal = hledger(journal, ['bal', '--flat', '--no-total', '-O', 'csv', 'assets:card clearing:embedded', 'expenses:card losses'])
    assert.match(bal.stdout, /"assets:card clearing:embedded","-0\.01 EUR"/)
    assert.match(bal.stdout, /"expenses:card losses","79\.00 EUR"/, 'the late decline')
  })
})

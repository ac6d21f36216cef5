/**
 * Reconciliation at HQ, end to end: card sales at a till paid through a real `tillbooks
 * processor` process, the day closed and booked at HQ, the processor's settlement report
 * fetched, faults planted in it (a line dropped, one changed by a cent, one settled twice),
 * and `tillbooks reconcile` (a real CLI process) listing exactly those exceptions, each
 * naming its payment, till and document: the till's totals did not match, so HQ fetched its
 * signed approvals over libp2p. The same file twice changes nothing; a file contradicting it
 * is refused; card clearing equals the open exceptions, in the books and in hledger.
 */
import assert from 'node:assert/strict'
import { execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { batchesOf, parseSettlementCsv, toSettlementCsv, type SettlementFile, type SettlementLine } from '@tillbooks/payments'
import { asStoreId } from '@tillbooks/protocol'
import { hledger, requireHledger } from '../../packages/ledger/test/helpers/hledger.ts'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon, type TillDaemon } from '../src/daemon/tillDaemon.ts'
import { addressOf, enrolStores, freePort, request, until } from './helpers/daemons.ts'
import { startProcessor, stopProcess } from './helpers/processor.ts'
import { TillbooksPeer } from '../src/net/TillbooksPeer.ts'

const CLI = resolve(import.meta.dirname, '../src/cli.ts')
const run = promisify(execFile)

interface Exception { kind: string, paymentId?: string, processorRef?: string, till?: string, docNo?: string, expectedCents?: number, settledCents?: number }
interface Answer { file: string, day: string, matched: number, exceptions: Exception[], duplicate?: boolean, clearingCents: number, openCents: number, tillsFetched: string[], tillsWithoutDetail: string[] }

/** The report with its batches' control totals made to add up again (a processor's own file, faults and all). */
function rewritten (f: SettlementFile, lines: SettlementLine[]): string {
  return toSettlementCsv({ ...f, lines, batches: batchesOf(lines) })
}

/** A processor process, HQ and one till paying cards through it, started before the tests and stopped after. */
function world (): { dir: string, hq: HqDaemon, till: TillDaemon, processor: { child: ChildProcess, url: string }, reconcile: (file: string) => Promise<{ code: number, answer: Answer & { error?: string } }>, sell: (n: number) => Promise<Array<{ docNo: string, paymentId: string }>> } {
  const w = {} as ReturnType<typeof world>
  w.reconcile = async (file: string): Promise<{ code: number, answer: Answer & { error?: string } }> => {
    const { hq } = w
    try {
      const { stdout } = await run(process.execPath, [CLI, 'reconcile', '--hq', hq.ready.http, '--file', file, '--token-file', hq.ready.adminTokenFile, '--json'], { timeout: 60_000 })
      return { code: 0, answer: JSON.parse(stdout.trim().split('\n').at(-1) as string) }
    } catch (err) {
      const e = err as { code: number, stdout: string }
      return { code: e.code, answer: JSON.parse(e.stdout.trim().split('\n').at(-1) as string) }
    }
  }
  /** `n` card sales (the last by wallet), each a Patio Chair (79.00) paid in full; the day closed and booked at HQ. */
  w.sell = async (n: number): Promise<Array<{ docNo: string, paymentId: string }>> => {
    const { hq, till } = w
    const sales: Array<{ docNo: string, paymentId: string }> = []
    for (let i = 0; i < n; i++) {
      const r = await request<{ docNo: string, payments: Array<{ paymentId: string, status: string }> }>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }], tenders: [{ type: i === n - 1 ? 'wallet' : 'card', amountCents: 7900 }] })
      assert.equal(r.status, 200, JSON.stringify(r.json))
      sales.push({ docNo: r.json.docNo, paymentId: r.json.payments[0]?.paymentId as string })
    }
    assert.equal((await request(till.ready.http, 'POST', '/day/close', {})).status, 200)
    await request(till.ready.http, 'POST', '/sync', {})
    await until('HQ books the Close', async () => (await request<{ tills: Record<string, { lastClosedDay: string | null }> }>(hq.ready.http, 'GET', '/fleet')).json.tills['S1-1']?.lastClosedDay != null)
    return sales
  }
  before(async () => {
    w.dir = await mkdtemp(join(tmpdir(), 'tillbooks-reconcile-'))
    w.processor = await startProcessor(join(w.dir, 'processor'), await freePort())
    w.hq = await startHqDaemon({ dataDir: join(w.dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    await enrolStores(w.hq, join(w.dir, 'hq'), w.dir, ['S1'])
    w.till = await startTillDaemon({
      dataDir: join(w.dir, 'S1'), store: asStoreId('S1'), till: 1, hq: w.hq.ready.multiaddrs[0] as string, httpPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], neighbours: [],
      logger: silentLogger, retryMinMs: 50, retryMaxMs: 200, callTimeoutMs: 2_000, gossipRing: null, processor: w.processor.url, processorTimeoutMs: 2_000
    })
    await request(w.till.ready.http, 'POST', '/day/open', {})
  })
  after(async () => {
    await w.till?.stop().catch(() => {})
    await w.hq?.stop().catch(() => {})
    if (w.processor !== undefined) await stopProcess(w.processor.child)
    await rm(w.dir, { recursive: true, force: true })
  })
  return w
}

describe('reconciliation at HQ: the processor\'s report against the tills\' Closes (tillbooks reconcile)', function () {
  this.timeout(120_000)
  const w = world()

  it('lists exactly the planted exceptions, names each payment, changes nothing the second time, and keeps clearing equal to them', async () => {
    const { hq, processor, reconcile, dir } = w
    const sales = await w.sell(5)
    assert.deepEqual(await (await fetch(`${processor.url}/counters`)).json(), { payments: 5, lookups: 0, refunds: 0 }, 'one processor request per card sale, nothing more')

    // The processor settles its day; its report, read back, gets three faults.
    const day = new Date().toISOString().slice(0, 10)
    assert.equal((await request(processor.url, 'POST', '/admin/settle', { day })).status, 200)
    const csv = await (await fetch(`${processor.url}/settlements/${day}.csv`)).text()
    const report = parseSettlementCsv(csv, 'EUR')
    const line = (paymentId: string): SettlementLine => report.lines.find(l => l.paymentId === paymentId) as SettlementLine
    const [dropped, centOff, twice] = [sales[0], sales[1], sales[2]].map(s => s?.paymentId as string) as [string, string, string]
    const changed = { ...line(centOff), grossCents: line(centOff).grossCents + 1, netCents: line(centOff).netCents + 1 }
    const again = { ...line(twice), processorRef: `${line(twice).processorRef}X` }
    const planted = report.lines.filter(l => l.paymentId !== dropped).map(l => l.paymentId === centOff ? changed : l)
    planted.push(again)
    const plantedFile = join(dir, `settlement-${day}-planted.csv`)
    await writeFile(plantedFile, rewritten(report, planted))

    const first = await reconcile(plantedFile)
    assert.equal(first.code, 0, JSON.stringify(first.answer))
    const a = first.answer
    const docOf = (paymentId: string): string => sales.find(s => s.paymentId === paymentId)?.docNo as string
    assert.deepEqual(a.exceptions.map(e => [e.kind, e.paymentId, e.till, e.docNo, e.expectedCents, e.settledCents]), [
      ['missing_in_settlement', dropped, 'S1-1', docOf(dropped), 7900, undefined],
      ['amount_mismatch', centOff, 'S1-1', docOf(centOff), 7900, 7901],
      ['duplicate', twice, 'S1-1', docOf(twice), 7900, 7900]
    ].sort((x, y) => ['missing_in_settlement', 'missing_at_till', 'amount_mismatch', 'duplicate'].indexOf(x[0] as string) - ['missing_in_settlement', 'missing_at_till', 'amount_mismatch', 'duplicate'].indexOf(y[0] as string)))
    assert.equal(a.matched, 3, 'the other two, and the first of the one settled twice')
    assert.deepEqual(a.tillsFetched, ['S1-1'], 'its totals did not match: its approvals were fetched from the till over libp2p')
    assert.equal(a.file, `settlement-${day}-planted.csv`)
    assert.equal(a.day, day)
    // Clearing: 7900 never settled, 1 cent settled too much, 7900 settled twice.
    assert.equal(a.clearingCents, 7900 - 1 - 7900)
    assert.equal(a.openCents, a.clearingCents, 'card clearing equals the open exceptions')

    // The same file again: nothing changes.
    const books = JSON.stringify((await request(hq.ready.http, 'GET', '/books')).json)
    const second = await reconcile(plantedFile)
    assert.equal(second.answer.duplicate, true)
    assert.deepEqual(second.answer.exceptions, a.exceptions)
    assert.equal(JSON.stringify((await request(hq.ready.http, 'GET', '/books')).json), books)
    // The processor's own (clean) report contradicts what was imported for one line: refused whole, nothing booked.
    const cleanFile = join(dir, `settlement-${day}.csv`)
    await writeFile(cleanFile, csv)
    const clean = await reconcile(cleanFile)
    assert.equal(clean.code, 2)
    assert.match(clean.answer.error ?? '', /409.*was settled as/)
    assert.equal(JSON.stringify((await request(hq.ready.http, 'GET', '/books')).json), books)
    // GET /reconciliation answers the same.
    const viewed = (await request<Answer>(hq.ready.http, 'GET', `/reconciliation?day=${day}`)).json
    assert.deepEqual(viewed.exceptions, a.exceptions)
    assert.equal(viewed.matched, a.matched)
  })

  it('exports books whose card clearing per processor is the open exceptions, and hledger checks them', async function () {
    requireHledger(this)
    const { hq } = w
    const journal = await (await fetch(`${hq.ready.http}/books.hledger`)).text()
    const strict = hledger(journal, ['check', '-s', 'ordereddates'])
    assert.equal(strict.status, 0, strict.stderr)
    const bal = hledger(journal, ['bal', '--flat', '--no-total', '-O', 'csv', 'assets:card clearing:embedded'])
    assert.equal(bal.status, 0, bal.stderr)
    assert.match(bal.stdout, /"assets:card clearing:embedded","-0\.01 EUR"/)
  })

  it('refuses a file that is not a settlement, with its reason, booking nothing', async () => {
    const { dir, reconcile } = w
    const bad = join(dir, 'bad.xml')
    await writeFile(bad, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    const r = await reconcile(bad)
    assert.equal(r.code, 2)
    assert.match(r.answer.error ?? '', /400.*DOCTYPE/i)
  })
})

describe('reconciliation at HQ: a bank\'s camt.053 statement alone, every total matching', function () {
  this.timeout(120_000)
  const w = world()

  it('matches every payment from the Close totals without asking the till, and books the payout to the bank', async () => {
    await w.sell(3)
    const day = new Date().toISOString().slice(0, 10)
    assert.equal((await request(w.processor.url, 'POST', '/admin/settle', { day })).status, 200)
    const xml = await (await fetch(`${w.processor.url}/statements/${day}.camt053.xml`)).text()
    const file = join(w.dir, `statement-${day}.xml`)
    await writeFile(file, xml)
    const r = await w.reconcile(file)
    assert.equal(r.code, 0, JSON.stringify(r.answer))
    assert.deepEqual([r.answer.matched, r.answer.exceptions, r.answer.tillsFetched, r.answer.clearingCents, r.answer.openCents], [3, [], [], 0, 0], 'the totals agree: no approval fetched')
    const books = (await request<{ accounts: Record<string, number>, subAccounts: Record<string, number> }>(w.hq.ready.http, 'GET', '/books')).json
    const fees = books.accounts['expenses:card fees'] as number
    assert.ok(fees > 0)
    assert.equal(books.accounts['assets:bank'], 3 * 7900 - fees, 'the payout, net of fees, in the bank')
    assert.equal(books.accounts['assets:card payouts due'], 0)
    assert.equal(books.subAccounts['assets:card clearing:embedded'], undefined, 'clearing settled to 0')
  })
})

describe('reconciliation at HQ: the till gone, its approvals from the neighbour that keeps them', function () {
  this.timeout(120_000)
  let dir: string
  let hq: HqDaemon
  let east: TillDaemon
  let west: TillDaemon
  let processor: { child: ChildProcess, url: string }
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-reconcile-gone-'))
    processor = await startProcessor(join(dir, 'processor'), await freePort())
    hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    await enrolStores(hq, join(dir, 'hq'), dir, ['E', 'W'])
    const [pe, pw] = [await freePort(), await freePort()]
    const [ae, aw] = [await addressOf(join(dir, 'E'), pe), await addressOf(join(dir, 'W'), pw)]
    const start = async (s: string, port: number, neighbour: string): Promise<TillDaemon> => await startTillDaemon({
      dataDir: join(dir, s), store: asStoreId(s), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: [`/ip4/127.0.0.1/tcp/${port}`],
      neighbours: [neighbour], logger: silentLogger, retryMinMs: 50, retryMaxMs: 200, callTimeoutMs: 3_000, gossipRing: null, processor: processor.url, processorTimeoutMs: 2_000
    })
    west = await start('W', pw, ae)
    east = await start('E', pe, aw)
  })
  after(async () => {
    await east?.stop().catch(() => {})
    await west?.stop().catch(() => {})
    await hq?.stop().catch(() => {})
    if (processor !== undefined) await stopProcess(processor.child)
    await rm(dir, { recursive: true, force: true })
  })

  it('names each payment of a till that no longer answers, from the approvals its neighbour keeps (signed by the till, checked by HQ)', async () => {
    await request(east.ready.http, 'POST', '/day/open', {})
    const paid: string[] = []
    for (let i = 0; i < 3; i++) {
      const r = await request<{ payments: Array<{ paymentId: string }> }>(east.ready.http, 'POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 1 }], tenders: [{ type: 'card', amountCents: 7900 }] })
      paid.push(r.json.payments[0]?.paymentId as string)
    }
    await request(east.ready.http, 'POST', '/day/close', {})
    await request(east.ready.http, 'POST', '/sync', {})
    await until('HQ books east\'s Close', async () => (await request<{ tills: Record<string, { lastClosedDay: string | null }> }>(hq.ready.http, 'GET', '/fleet')).json.tills['E-1']?.lastClosedDay != null)
    // West keeps east's log and, beside it, east's approvals; it tells HQ so at its next sync.
    await until('west keeps east\'s log', async () => (await request<{ replicas: Record<string, { seq: number }> }>(west.ready.http, 'GET', '/replicas')).json.replicas['E-1']?.seq === 1)
    await until('west announced it to HQ', async () => { await request(west.ready.http, 'POST', '/sync', {}); return true })
    // East is gone (a fire): HQ cannot ask it.
    await east.stop()
    const day = new Date().toISOString().slice(0, 10)
    assert.equal((await request(processor.url, 'POST', '/admin/settle', { day })).status, 200)
    const report = parseSettlementCsv(await (await fetch(`${processor.url}/settlements/${day}.csv`)).text(), 'EUR')
    const kept = report.lines.filter(l => l.paymentId !== paid[0])
    const file = join(dir, 'dropped.csv')
    await writeFile(file, rewritten(report, kept))
    const { stdout } = await run(process.execPath, [CLI, 'reconcile', '--hq', hq.ready.http, '--file', file, '--token-file', hq.ready.adminTokenFile, '--json'], { timeout: 60_000 })
    const a = JSON.parse(stdout.trim().split('\n').at(-1) as string) as Answer
    assert.deepEqual(a.exceptions.map(e => [e.kind, e.paymentId, e.till, e.expectedCents]), [['missing_in_settlement', paid[0], 'E-1', 7900]])
    assert.equal(a.matched, 2)
    assert.deepEqual([a.tillsFetched, a.tillsWithoutDetail], [['E-1'], []])
    assert.equal(a.openCents, a.clearingCents)
    const counters = (await request<{ counters: { replicaFetches: number } }>(hq.ready.http, 'GET', '/settlements')).json.counters
    assert.equal(counters.replicaFetches, 1)
    // West serves the approvals it keeps to HQ only: a stranger on the network is refused.
    const stranger = await TillbooksPeer.create({ seed: new Uint8Array(32).fill(9), listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger })
    try {
      await assert.rejects(stranger.fetchApprovals(west.ready.multiaddrs[0] as string, 'E-1', { timeoutMs: 5_000 }), /REFUSED.*HQ only/)
      await assert.rejects(stranger.fetchApprovals(west.ready.multiaddrs[0] as string, 'W-1', { timeoutMs: 5_000 }), /REFUSED.*HQ and its neighbours/)
    } finally {
      await stranger.stop()
    }
  })
})

describe('reconciliation at HQ: the settled lines it holds', function () {
  this.timeout(60_000)
  it('GET /settlements lists each file without its lines, and how many distinct lines and payouts HQ holds (on disk); a restart lists the same', async () => {
    const { readFile } = await import('node:fs/promises')
    const { settleDay } = await import('@tillbooks/payments')
    const dir = await mkdtemp(join(tmpdir(), 'tillbooks-reconcile-held-'))
    const start = async (): Promise<Awaited<ReturnType<typeof startHqDaemon>>> => await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    let hq = await start()
    try {
      const day = '2026-03-03'
      const csv = toSettlementCsv(settleDay([1, 2].map(n => ({ processorRef: `PSP${n}`, paymentId: `S1-1-aaaaaaaa-P${n}`, kind: 'payment' as const, grossCents: 1000 * n, paymentMethod: 'visa', bookingDay: day })), day, { currency: 'EUR', feeBp: 150 }))
      const token = (await readFile(hq.ready.adminTokenFile, 'utf8')).trim()
      const r = await fetch(`${hq.ready.http}/admin/settlements?processor=embedded`, { method: 'POST', headers: { 'content-type': 'text/csv', authorization: `Bearer ${token}` }, body: csv })
      assert.equal(r.status, 200)
      const fileId = ((await r.json()) as { fileId: string }).fileId
      const want = { files: [{ fileId, kind: 'csv', day, processor: 'embedded', lines: 2, payouts: 0 }], settledLines: { held: 2 } }
      const listed = await request<{ files: unknown[], settledLines: { held: number } }>(hq.ready.http, 'GET', '/settlements')
      assert.deepEqual({ files: listed.json.files, settledLines: listed.json.settledLines }, want)
      await hq.stop()
      hq = await start()
      const again = await request<{ files: unknown[], settledLines: { held: number } }>(hq.ready.http, 'GET', '/settlements')
      assert.deepEqual({ files: again.json.files, settledLines: again.json.settledLines }, want)
    } finally {
      await hq.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

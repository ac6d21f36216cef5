/**
 * HQ's console in a real browser (Debian's chromium, driven by playwright-core): signing in,
 * clicking from the fleet to a store to a close, every figure on the way equal to HQ's JSON
 * API; the fleet page updating itself when a new close arrives (server-sent events); each page
 * scanned by axe-core with no WCAG 2 A or AA violation; screenshots under build/console/.
 *
 * Needs chromium: under CI=true the test fails without it; elsewhere it skips, saying how to
 * install it (as the hledger tests do).
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { formatCents } from '@tillbooks/ledger'
import { asStoreId } from '@tillbooks/protocol'
import { silentLogger } from '../node/src/components.ts'
import { startHqDaemon, type HqDaemon } from '../node/src/daemon/hqDaemon.ts'
import { startTillDaemon, type TillDaemon } from '../node/src/daemon/tillDaemon.ts'
import { enrolStores, request, tokenOf, untilFolded } from '../node/test/helpers/daemons.ts'

const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(p => existsSync(p))
const SHOTS = resolve(import.meta.dirname, '../build/console')
const money = formatCents

describe('HQ console in a real browser', function () {
  this.timeout(120_000)
  let dir: string
  let hq: HqDaemon
  let till: TillDaemon
  let browser: Browser
  let page: Page
  let axeSource: string

  before(async function () {
    if (CHROMIUM === undefined) {
      if (process.env.CI === 'true') throw new Error('chromium is missing: .ci/run installs it (apt-get install chromium)')
      console.log('      (skipped: no chromium; install it with `sudo apt-get install chromium`)')
      this.skip()
    }
    axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-browser-'))
    hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    await enrolStores(hq, join(dir, 'hq'), dir, ['S1'])
    till = await startTillDaemon({ dataDir: join(dir, 'S1'), store: asStoreId('S1'), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], neighbours: [], logger: silentLogger, gossipRing: null, retryMinMs: 50, retryMaxMs: 200 })
    await closeADay('2026-03-02', [{ sku: 'latte', qty: 3 }, { sku: 'patio-chair', qty: 1 }], 150)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] })
    page = await browser.newPage()
    await mkdir(SHOTS, { recursive: true })
  })
  after(async () => {
    await browser?.close().catch(() => {})
    await till?.stop().catch(() => {})
    await hq?.stop().catch(() => {})
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  /** A day at the till: open, sell, count the drawer `overCents` over, close, and wait for HQ to fold it. */
  async function closeADay (day: string, lines: Array<{ sku: string, qty: number }>, overCents: number): Promise<void> {
    await request(till.ready.http, 'POST', '/day/open', { businessDay: day })
    await request(till.ready.http, 'POST', '/sales', { lines })
    await request(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }], tenders: [{ type: 'card', amountCents: 420 }] })
    const expected = (await request<{ drawerCashCents: number }>(till.ready.http, 'GET', '/status')).json.drawerCashCents - 20_000
    await request(till.ready.http, 'POST', '/day/close', { cashCountedCents: expected + overCents })
    await untilFolded(hq.ready.http, till.ready.http, 'S1-1')
  }

  async function checkA11y (name: string): Promise<void> {
    await page.addScriptTag({ content: axeSource })
    const violations = await page.evaluate(async () => {
      const g = globalThis as unknown as { document: unknown, axe: { run: (c: unknown, o: unknown) => Promise<{ violations: Array<{ id: string, help: string, nodes: unknown[] }> }> } }
      const r = await g.axe.run(g.document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
      return r.violations.map(v => `${v.id}: ${v.help} (${v.nodes.length})`)
    })
    assert.deepEqual(violations, [], `${name}: WCAG 2 A/AA violations`)
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
  }
  const text = async (selector: string): Promise<string> => ((await page.textContent(selector)) ?? '').trim()

  it('signs in, clicks from the fleet to a store to a close, every figure equal to the JSON API, each page accessible', async () => {
    const viewer = await tokenOf(join(dir, 'hq'), 'viewer')
    await page.goto(`${hq.ready.http}/ui/signin`)
    await checkA11y('signin')
    await page.fill('#token', viewer)
    await Promise.all([page.waitForURL('**/ui/fleet'), page.click('button[type=submit]')])
    assert.match(await text('header .who'), /signed in: viewer/)
    // Fleet: the till's row says what GET /fleet says.
    const fleet = (await request<{ tills: Record<string, { lastSeq: number, lastClosedDay: string }> }>(hq.ready.http, 'GET', '/fleet')).json.tills['S1-1']
    assert.ok(fleet !== undefined)
    const row = await page.$$eval('#till-S1-1 td', tds => tds.map(td => (td.textContent ?? '').trim()))
    assert.deepEqual(row, ['S1', 'S1-1', fleet.lastClosedDay, String(fleet.lastSeq), '0', 'reported'])
    assert.match(await text('#asof'), /as of 2026-03-02: 1 of 1 tills reported/)
    await checkA11y('fleet')
    // To the store: the close's figures as GET /stores/S1/closes gives them.
    await Promise.all([page.waitForURL('**/ui/stores/S1'), page.click('#till-S1-1 a[href="/ui/stores/S1"]')])
    const store = (await request<{ tills: Array<{ tillId: string, close: { seq: number, takingsCents: { cash: number, card: number }, expectedCashCents: number, countedCashCents: number, overShortCents: number } }> }>(hq.ready.http, 'GET', '/stores/S1/closes')).json.tills[0]
    assert.ok(store !== undefined)
    const cells = await page.$$eval('table tbody tr:first-child td', tds => tds.map(td => (td.textContent ?? '').trim()))
    assert.deepEqual(cells, ['S1-1', `2026-03-02 #${store.close.seq}`, money(store.close.takingsCents.cash), money(store.close.takingsCents.card), money(store.close.expectedCashCents), money(store.close.countedCashCents), money(store.close.overShortCents), 'in the books'])
    assert.equal(store.close.overShortCents, 150)
    await checkA11y('store')
    // To the close: its hash, key, verdict and journal lines as GET /closes/S1-1/<seq> gives them.
    await Promise.all([page.waitForURL(`**/ui/closes/S1-1/${store.close.seq}`), page.click(`a[href="/ui/closes/S1-1/${store.close.seq}"]`)])
    const close = (await request<{ hash: string, signer: string, verdict: string, journal: Array<{ account: string, amountCents: number }> }>(hq.ready.http, 'GET', `/closes/S1-1/${store.close.seq}`)).json
    const body = await text('main')
    for (const s of [close.hash, close.signer, close.verdict, 'yes: verified and folded']) assert.ok(body.includes(s), s)
    const journal = await page.$$eval('table:nth-of-type(2) tbody tr', trs => trs.map(tr => [...tr.querySelectorAll('td')].map(td => (td.textContent ?? '').trim())))
    assert.deepEqual(journal, close.journal.map(j => [j.account, j.amountCents > 0 ? money(j.amountCents) : '', j.amountCents < 0 ? money(-j.amountCents) : '']))
    // The signed bytes name members: the admin's to download, not the viewer's.
    assert.equal((await request(hq.ready.http, 'GET', `/closes/S1-1/${store.close.seq}/entry.bin`)).status, 401)
    assert.equal((await request(hq.ready.http, 'GET', `/closes/S1-1/${store.close.seq}/entry.bin`, undefined, await tokenOf(join(dir, 'hq')))).status, 200)
    assert.ok(body.includes('the admin downloads them'))
    await checkA11y('close')
  })

  it('books: the trial balance as GET /books, debits equal to credits; exceptions and members pages accessible', async () => {
    await page.goto(`${hq.ready.http}/ui/books`)
    const books = (await request<{ trialBalance: { debitsCents: number, creditsCents: number } }>(hq.ready.http, 'GET', '/books')).json
    assert.deepEqual([await text('#tb-debits'), await text('#tb-credits')], [money(books.trialBalance.debitsCents), money(books.trialBalance.creditsCents)])
    assert.match(await text('main'), /Debits = credits/)
    // P&L per store over a range: the day's net sales as the books have them; a range after it has none.
    const all = (await request<{ stores: Record<string, { salesNetCents: number }> }>(hq.ready.http, 'GET', '/books')).json.stores
    const pnl = (await request<{ stores: Record<string, { salesNetCents: number }> }>(hq.ready.http, 'GET', '/books/pnl?from=2026-03-02&to=2026-03-02')).json.stores
    assert.equal(pnl.S1?.salesNetCents, all.S1?.salesNetCents)
    assert.deepEqual((await request<{ stores: object }>(hq.ready.http, 'GET', '/books/pnl?from=2026-03-03')).json.stores, {})
    const pnlRow = await page.$$eval('table:nth-of-type(2) tbody tr:first-child td', tds => tds.map(td => (td.textContent ?? '').trim()))
    assert.deepEqual(pnlRow.slice(0, 2), ['S1', money(pnl.S1?.salesNetCents ?? 0)])
    await checkA11y('books')
    await page.goto(`${hq.ready.http}/ui/exceptions`)
    await checkA11y('exceptions')
    await page.goto(`${hq.ready.http}/ui/members`)
    await checkA11y('members')
  })

  it('the fleet page updates itself when a new close arrives (server-sent events), without a reload', async () => {
    await page.goto(`${hq.ready.http}/ui/fleet`)
    await page.evaluate(() => { (globalThis as unknown as { marker: number }).marker = 42 })
    await closeADay('2026-03-03', [{ sku: 'latte', qty: 2 }], 0)
    await page.waitForFunction(() => ((globalThis as unknown as { document: { querySelector: (s: string) => { textContent: string | null } | null } }).document.querySelector('#asof')?.textContent ?? '').includes('2026-03-03'), undefined, { timeout: 15_000 })
    assert.equal(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker), 42, 'the same page, not a reload')
    const fleet = (await request<{ tills: Record<string, { lastSeq: number }> }>(hq.ready.http, 'GET', '/fleet')).json.tills['S1-1']
    assert.equal(await text('#till-S1-1 td:nth-child(4)'), String(fleet?.lastSeq))
    await page.screenshot({ path: join(SHOTS, 'fleet-live.png'), fullPage: true })
  })
})

/**
 * The till's signed receipts: every sale and refund answers its receipt's QR text; the receipt
 * verifies offline with HQ's root key alone, its lines match it, a card payment's approval line
 * rides on it; GET /receipts/<docNo> gives it whole (the same bytes each time), `.png` its QR.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { asStoreId, fromHex, openApproval, type PublicKey } from '@tillbooks/protocol'
import { linesMatch, verifyReceipt, type ReceiptLine } from '@tillbooks/wallet'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon, type TillDaemon } from '../src/daemon/tillDaemon.ts'
import { enrolStores, freePort, request } from './helpers/daemons.ts'
import { startProcessor, stopProcess } from './helpers/processor.ts'
import type { ChildProcess } from 'node:child_process'

describe('till: signed receipts', function () {
  this.timeout(60_000)
  let dir: string
  let hq: HqDaemon
  let till: TillDaemon
  let processor: { child: ChildProcess, url: string }
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-receipts-'))
    processor = await startProcessor(join(dir, 'processor'), await freePort())
    hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    await enrolStores(hq, join(dir, 'hq'), dir, ['S1'])
    till = await startTillDaemon({ dataDir: join(dir, 'S1'), store: asStoreId('S1'), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], neighbours: [], logger: silentLogger, gossipRing: null, processor: processor.url })
    await request(till.ready.http, 'POST', '/day/open', {})
  })
  after(async () => {
    await till?.stop().catch(() => {})
    await hq?.stop().catch(() => {})
    if (processor !== undefined) await stopProcess(processor.child)
    await rm(dir, { recursive: true, force: true })
  })

  it('a sale answers its receipt; it verifies with HQ\'s root key alone, with the card\'s approval line on it', async () => {
    const root = fromHex(hq.ready.rootKey) as PublicKey
    const sale = await request<{ docNo: string, totalCents: number, payments: Array<{ signedLine: string }>, receipt: { docNo: string, qr: string } }>(till.ready.http, 'POST', '/sales', {
      lines: [{ sku: 'latte', qty: 2 }, { sku: 'croissant', qty: 1 }], tenders: [{ type: 'card', amountCents: 500 }, { type: 'cash', amountCents: 2000 }]
    })
    assert.equal(sale.status, 200, JSON.stringify(sale.json))
    assert.equal(sale.json.receipt.docNo, sale.json.docNo)
    const v = verifyReceipt(sale.json.receipt.qr, root)
    assert.deepEqual([v.tillId, v.receipt.docNo, v.receipt.kind, v.receipt.totalCents], ['S1-1', sale.json.docNo, 'sale', sale.json.totalCents])
    const card = v.receipt.tenders.find(t => t.type === 'card')
    assert.equal(card?.approval, sale.json.payments[0]?.signedLine)
    assert.equal(openApproval(Buffer.from(card?.approval as string, 'base64url')).approval.amountCents, 500)
    assert.equal(v.receipt.tenders.reduce((s, t) => s + t.amountCents, 0), sale.json.totalCents)
    // The whole receipt: the same QR, the lines it was signed over.
    const whole = await request<{ docNo: string, qr: string, lines: ReceiptLine[] }>(till.ready.http, 'GET', `/receipts/${sale.json.docNo}`)
    assert.equal(whole.json.qr, sale.json.receipt.qr, 'the same bytes each time')
    assert.equal(linesMatch(v.receipt, whole.json.lines), true)
    assert.deepEqual(whole.json.lines.map(l => [l.sku, l.qty]).sort(), [['croissant', 1], ['latte', 2]])
    const png = await fetch(`${till.ready.http}/receipts/${sale.json.docNo}.png`)
    assert.equal(png.headers.get('content-type'), 'image/png')
    assert.deepEqual([...new Uint8Array(await png.arrayBuffer()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47])
    assert.equal((await request(till.ready.http, 'GET', '/receipts/S1-1-999')).status, 404)
    assert.equal((await request(till.ready.http, 'GET', '/receipts/S2-1-1')).status, 404)
  })

  it('tillbooks receipt verify: valid with HQ\'s root key (QR text or the receipt file), refused with one changed, or under another root', async () => {
    const { execFile } = await import('node:child_process')
    const { promisify } = await import('node:util')
    const { writeFile } = await import('node:fs/promises')
    const { resolve } = await import('node:path')
    const cli = resolve(import.meta.dirname, '../src/cli.ts')
    const run = async (args: string[]): Promise<{ code: number, out: { valid: boolean, tillId?: string, linesMatch?: boolean, error?: string } }> => {
      try {
        const { stdout } = await promisify(execFile)(process.execPath, [cli, 'receipt', 'verify', ...args, '--json'], { timeout: 30_000 })
        return { code: 0, out: JSON.parse(stdout.trim().split('\n').at(-1) as string) }
      } catch (err) {
        const e = err as { code: number, stdout: string }
        return { code: e.code, out: JSON.parse(e.stdout.trim().split('\n').at(-1) as string) }
      }
    }
    const sale = await request<{ docNo: string, receipt: { qr: string } }>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'espresso', qty: 1 }] })
    const ok = await run(['--qr', sale.json.receipt.qr, '--root-key', hq.ready.rootKey])
    assert.deepEqual([ok.code, ok.out.valid, ok.out.tillId], [0, true, 'S1-1'])
    const file = join(dir, 'receipt.json')
    const whole = (await request<{ qr: string, lines: Array<{ sku: string, qty: number, priceCents: number }> }>(till.ready.http, 'GET', `/receipts/${sale.json.docNo}`)).json
    await writeFile(file, JSON.stringify(whole))
    assert.deepEqual([(await run(['--file', file, '--root-key', hq.ready.rootKey])).out.linesMatch], [true])
    await writeFile(file, JSON.stringify({ ...whole, lines: whole.lines.map(l => ({ ...l, qty: l.qty + 1 })) }))
    const lied = await run(['--file', file, '--root-key', hq.ready.rootKey])
    assert.deepEqual([lied.code, lied.out.valid, lied.out.linesMatch], [2, false, false])
    const qr = sale.json.receipt.qr
    const changed = `${qr.slice(0, 20)}${qr[20] === 'A' ? 'B' : 'A'}${qr.slice(21)}`
    const bad = await run(['--qr', changed, '--root-key', hq.ready.rootKey])
    assert.deepEqual([bad.code, bad.out.valid], [2, false])
    const other = await run(['--qr', qr, '--root-key', '11'.repeat(32)])
    assert.equal(other.code, 2)
    assert.match(other.out.error ?? '', /root key|not signed|point/i)
  })

  it('returns by receipt, with no lookup: each line refunded at most once, at the price it was sold at, back to the sale\'s card', async () => {
    const sale = await request<{ docNo: string, totalCents: number, payments: Array<{ paymentId: string }>, receipt: { qr: string } }>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 2 }, { sku: 'croissant', qty: 1 }], tenders: [{ type: 'card', amountCents: 500 }, { type: 'cash', amountCents: 2000 }] })
    assert.equal(sale.status, 200, JSON.stringify(sale.json))
    const qr = sale.json.receipt.qr
    const one = await request<{ docNo: string, totalCents: number, payments?: Array<{ paymentId: string, amountCents: number }> }>(till.ready.http, 'POST', '/refunds', { receipt: qr, lines: [{ sku: 'latte', qty: 1 }], tender: 'card' })
    assert.equal(one.status, 200, JSON.stringify(one.json))
    assert.equal(one.json.totalCents, -420)
    assert.equal(one.json.payments?.[0]?.amountCents, -420, 'back to the card the sale was paid with')
    const tooMany = await request<{ error: string }>(till.ready.http, 'POST', '/refunds', { receipt: qr, lines: [{ sku: 'latte', qty: 2 }] })
    assert.equal(tooMany.status, 400)
    assert.match(tooMany.json.error, /2 × latte asked back, 1 left to refund \(sold 2, refunded 1\)/)
    assert.equal((await request(till.ready.http, 'POST', '/refunds', { receipt: qr, lines: [{ sku: 'espresso', qty: 1 }] })).status, 400, 'not on the receipt')
    assert.equal((await request(till.ready.http, 'POST', '/refunds', { receipt: qr, lines: [{ sku: 'latte', qty: 1 }, { sku: 'croissant', qty: 1 }] })).status, 200)
    assert.equal((await request(till.ready.http, 'POST', '/refunds', { receipt: qr, lines: [{ sku: 'croissant', qty: 1 }] })).status, 400, 'everything refunded once already')
    const changed = `${qr.slice(0, 30)}${qr[30] === 'A' ? 'B' : 'A'}${qr.slice(31)}`
    const forged = await request<{ error: string }>(till.ready.http, 'POST', '/refunds', { receipt: changed, lines: [{ sku: 'latte', qty: 1 }] })
    assert.deepEqual([forged.status, /receipt refused/.test(forged.json.error)], [400, true])
  })

  it('a refund answers its receipt too, a negative total', async () => {
    const r = await request<{ docNo: string, receipt: { qr: string } }>(till.ready.http, 'POST', '/refunds', { lines: [{ sku: 'latte', qty: 1 }] })
    assert.equal(r.status, 200, JSON.stringify(r.json))
    const v = verifyReceipt(r.json.receipt.qr, fromHex(hq.ready.rootKey) as PublicKey)
    assert.equal(v.receipt.kind, 'refund')
    assert.ok(v.receipt.totalCents < 0)
  })
})

/**
 * HQ's catalogue: the retailer's CSV imported as signed statements (the same file twice
 * changes nothing; a bad file is refused whole and nothing is written), prices in force by
 * business day, clashes listed and resolved by a person; and the same through HQ's HTTP API
 * and the `tillbooks catalogue` CLI against a real HQ daemon.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keyPairFromSeed, Signer } from '@tillbooks/protocol'
import { MemoryStore, silentLogger } from '../src/index.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { CATALOGUE_DOC_KEY, HqCatalogue, ResolutionError } from '../src/hq/HqCatalogue.ts'
import { FaultyKvStore } from '../src/storage/FaultyKvStore.ts'
import { request, tokenOf } from './helpers/daemons.ts'

const HEADER = 'sku,name,gtin,price,taxRateBp,cost,stocked,recipe'
const FILE = [HEADER,
  'beans,Coffee Beans 1kg,4006381333931,19.99,550,9.50,true,',
  'cup,Paper Cup,,,2000,0.04,true,',
  'latte,Latte,,3.20,1000,,false,beans*1;cup*1'
].join('\n')
const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(5)))

async function fresh (): Promise<{ cat: HqCatalogue, store: MemoryStore }> {
  const store = new MemoryStore()
  await store.open()
  const cat = new HqCatalogue({ store, root })
  await cat.load()
  return { cat, store }
}

/** A catalogue over a disk that fails when told (FaultyKvStore over `inner`), counting who is told of changes. */
async function onFaultyDisk (): Promise<{ cat: HqCatalogue, disk: FaultyKvStore, inner: MemoryStore, told: () => number }> {
  const inner = new MemoryStore()
  const disk = new FaultyKvStore(inner)
  await disk.open()
  const cat = new HqCatalogue({ store: disk, root })
  await cat.load()
  let told = 0
  cat.onChange(() => { told++ })
  return { cat, disk, inner, told: () => told }
}

describe('HQ\'s catalogue (HqCatalogue)', () => {
  it('changes a sync brought are saved with fsync before the books are told; a failed save is told nobody, and is saved by flush once the disk works', async () => {
    const { cat: source } = await fresh()
    await source.importCsv(FILE, '2026-03-01', 1)
    const { cat: target, disk, inner, told } = await onFaultyDisk()
    target.doc.merge(source.doc)
    // Only fsync'd writes fail: the save is refused, so it was one.
    disk.failUntilHealed({ syncOnly: true })
    await assert.rejects(target.changed())
    assert.equal(told(), 0, 'nobody told of a catalogue a restart would not find')
    assert.equal(target.unsaved, true)
    assert.equal(await target.flush(), false, 'the disk still fails')
    assert.equal(told(), 0)
    disk.heal()
    assert.equal(await target.flush(), true)
    assert.equal(told(), 1, 'told once it is durable')
    assert.equal(target.unsaved, false)
    assert.equal(await target.flush(), true)
    assert.equal(told(), 1, 'nothing to save, nobody told again')
    const restarted = new HqCatalogue({ store: inner, root })
    await restarted.load()
    assert.ok(restarted.view('2026-03-01').products.some(p => p.sku === 'beans'), 'the synced statements are on disk')
  })

  it('an import or resolution the disk refuses takes no effect: the catalogue read, synced and saved later is the one before it', async () => {
    const { cat, disk, inner, told } = await onFaultyDisk()
    const heads = cat.doc.getHeads()
    disk.failUntilHealed({ syncOnly: true })
    await assert.rejects(cat.importCsv(FILE, '2026-03-01', 1))
    assert.deepEqual(cat.doc.getHeads(), heads, 'the document (what peers sync and the books fold) is as it was')
    assert.ok(!cat.view('2026-03-01').products.some(p => p.sku === 'beans'), 'nothing of the refused file is in force')
    assert.equal(cat.unsaved, true, 'the document is to be written over whatever the disk kept of the refused write')
    assert.equal(told(), 0)
    disk.heal()
    assert.equal(await cat.flush(), true)
    assert.equal(cat.unsaved, false)
    assert.ok(!cat.view('2026-03-01').products.some(p => p.sku === 'beans'), 'a flush once the disk works brings none of it in')
    // Sent again, it is imported; and a restart finds it.
    assert.deepEqual(await cat.importCsv(FILE, '2026-03-01', 2), { imported: 3, unchanged: 0, errors: [], effective: '2026-03-01' })
    assert.equal(told(), 2, 'told once it is durable (and once before, by the flush that wrote the document over the refused write)')
    const restarted = new HqCatalogue({ store: inner, root })
    await restarted.load()
    assert.deepEqual(restarted.doc.getHeads(), cat.doc.getHeads(), 'on disk as in memory')
    // A clash's resolution refused by the disk likewise leaves the clash open.
    await cat.importCsv(`${HEADER}\nbeans-2,Coffee Beans (1 kg),4006381333931,19.99,550,9.50,true,`, '2026-03-02', 3)
    const open = cat.conflicts('2026-03-02')
    assert.equal(open.length, 1, 'two products with one GTIN: a clash')
    disk.failUntilHealed({ syncOnly: true })
    await assert.rejects(cat.resolve({ conflict: (open[0] as { id: string }).id, decision: 'same', canonical: 'beans' }, '2026-03-02', 4))
    assert.equal(cat.conflicts('2026-03-02').length, 1, 'still open')
    disk.heal()
    await cat.resolve({ conflict: (open[0] as { id: string }).id, decision: 'same', canonical: 'beans' }, '2026-03-02', 5)
    assert.equal(cat.conflicts('2026-03-02').length, 0)
  })

  it('while an import is being saved the books get no cost for its days (their records wait); then the new one, or the old one if it was refused', async () => {
    const inner = new MemoryStore()
    await inner.open()
    const cat = new HqCatalogue({ store: inner, root })
    await cat.load()
    await cat.importCsv(FILE, '2026-03-01', 1)
    let told = 0
    cat.onChange(() => { told++ })
    const during: Array<[number | undefined, number | undefined, number | undefined]> = []
    const batch = inner.batch.bind(inner)
    let fail = false
    inner.batch = async (ops, opts) => {
      during.push([cat.costForBooks('beans', '2026-03-04'), cat.costForBooks('beans', '2026-03-05'), cat.costOf('beans', '2026-03-05')])
      if (fail) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })
      return await batch(ops, opts)
    }
    await cat.importCsv(`${HEADER}\nbeans,Coffee Beans 1kg,4006381333931,21.99,550,10.25,true,`, '2026-03-05', 2)
    assert.deepEqual(during, [[950, undefined, 950]], 'the day before costs as it did; the import\'s days give the books no cost while it is saved (other readers still see the old one)')
    assert.deepEqual([cat.costForBooks('beans', '2026-03-05'), told], [1025, 1], 'then its cost, and the books told (what waited folds)')
    fail = true
    await assert.rejects(cat.importCsv(`${HEADER}\nbeans,Coffee Beans 1kg,4006381333931,22.99,550,11.00,true,`, '2026-03-06', 3), /EIO/)
    assert.deepEqual(during.at(-1), [950, 1025, 1025])
    fail = false
    assert.equal(cat.costForBooks('beans', '2026-03-06'), undefined, 'refused: the disk may have kept it, so the books wait until the document is written over it')
    assert.equal(await cat.flush(), true)
    assert.deepEqual([cat.costForBooks('beans', '2026-03-06'), told], [1025, 2], 'the cost as before the refused import, and the books told')
  })

  it('an order or opening stock naming a sku whose cost a change being saved (or refused, not yet written over) may set is answered busy, nothing written; others go on', async () => {
    const { startHq } = await import('./helpers/fleet.ts')
    const { HqBusyError } = await import('../src/hq/HqNode.ts')
    const inner = new MemoryStore()
    await inner.open()
    const disk = new FaultyKvStore(inner)
    await disk.open()
    const cat = new HqCatalogue({ store: disk, root })
    await cat.load()
    await cat.importCsv(FILE, '2026-03-01', 1)
    const hqStore = new MemoryStore()
    const hq = await startHq(hqStore, undefined, { costCents: (sku, day) => cat.costForBooks(sku, day) })
    disk.failUntilHealed({ syncOnly: true })
    await assert.rejects(cat.importCsv(`${HEADER}\nbeans,Coffee Beans 1kg,4006381333931,21.99,550,10.25,true,`, '2026-03-05', 2))
    disk.heal()
    const order = (id: string, day: string, sku: string): { id: string, store: never, businessDay: never, lines: Array<{ sku: string, qty: number }> } => ({ id, store: 'S001' as never, businessDay: day as never, lines: [{ sku, qty: 2 }] })
    await assert.rejects(hq.dispatchReplenishment(order('R-1', '2026-03-05', 'beans')), (e: unknown) => e instanceof HqBusyError && /beans has no cost on 2026-03-05/.test((e as Error).message))
    await assert.rejects(hq.openingStock([{ sku: 'beans', qty: 5 }], '2026-03-06' as never), HqBusyError)
    assert.equal(hq.books.snapshot().accounts['assets:inventory:in transit'] ?? 0, 0, 'nothing booked')
    // A sku the refused change does not name, or a day before it, goes on.
    await hq.dispatchReplenishment(order('R-2', '2026-03-05', 'cup'))
    await hq.dispatchReplenishment(order('R-3', '2026-03-04', 'beans'))
    assert.equal(await cat.flush(), true)
    await hq.dispatchReplenishment(order('R-1', '2026-03-05', 'beans'))
    const restarted = await startHq(hqStore, undefined, { costCents: (sku, day) => cat.costForBooks(sku, day) })
    assert.deepEqual(restarted.books.snapshot().accounts, hq.books.snapshot().accounts, 'a restart books the same')
    await hq.stop()
    await restarted.stop()
  })

  it('an import durable while a sync brought changes meanwhile: the import succeeds, and the sync\'s changes are saved too', async () => {
    const { cat: source } = await fresh()
    await source.importCsv(`${HEADER}\ntea,Tea 100g,,4.50,550,2.00,true,`, '2026-03-01', 1)
    const { cat, disk, inner, told } = await onFaultyDisk()
    // A sync's changes whose save failed: the next import's copy carries them to disk.
    cat.doc.merge(source.doc)
    disk.failUntilHealed({ syncOnly: true })
    await assert.rejects(cat.changed())
    disk.heal()
    assert.equal(cat.unsaved, true)
    await cat.importCsv(FILE, '2026-03-02', 2)
    assert.deepEqual([cat.unsaved, told()], [false, 1], 'saved with the import, and told')
    // A sync's changes arriving while the import's save is under way: the import stands, and they are saved after it.
    const { cat: other } = await fresh()
    await other.importCsv(`${HEADER}\nmug,Mug,,6.00,2000,1.50,true,`, '2026-03-01', 3)
    const batch = inner.batch.bind(inner)
    let once = true
    inner.batch = async (ops, opts) => {
      if (once) { once = false; cat.doc.merge(other.doc) }
      return await batch(ops, opts)
    }
    await cat.importCsv(`${HEADER}\ncup,Paper Cup,,,2000,0.05,true,`, '2026-03-03', 4)
    assert.equal(cat.unsaved, false)
    const restarted = new HqCatalogue({ store: inner, root })
    await restarted.load()
    assert.deepEqual(restarted.doc.getHeads().sort(), cat.doc.getHeads().sort(), 'the import and the sync\'s changes on disk')
    assert.ok(restarted.view('2026-03-03').products.some(p => p.sku === 'mug'))
  })

  it('imports a file as signed statements; the same file again changes nothing; the demo catalogue until then', async () => {
    const { cat, store } = await fresh()
    assert.ok(cat.view('2026-03-01').products.some(p => p.sku === 'patio-set'), 'the demo catalogue while nothing is imported')
    assert.deepEqual(await cat.importCsv(FILE, '2026-03-01', 1), { imported: 3, unchanged: 0, errors: [], effective: '2026-03-01' })
    const heads = cat.doc.getHeads()
    assert.deepEqual(await cat.importCsv(FILE, '2026-03-01', 2), { imported: 0, unchanged: 3, errors: [], effective: '2026-03-01' })
    assert.deepEqual(cat.doc.getHeads(), heads, 'nothing written')
    const v = cat.view('2026-03-01')
    assert.deepEqual(v.products.map(p => [p.sku, p.priceCents, p.gtin]), [['beans', 1999, '4006381333931'], ['cup', 0, undefined], ['latte', 320, undefined]])
    // Persisted: a restart reads the same catalogue.
    const again = new HqCatalogue({ store, root })
    await again.load()
    assert.deepEqual(again.view('2026-03-01'), v)
    // Exported, it reads back as the same file's products.
    assert.equal(cat.exportCsv('2026-03-01'), `${[HEADER, 'beans,Coffee Beans 1kg,4006381333931,19.99,550,9.50,true,', 'cup,Paper Cup,,,2000,0.04,true,', 'latte,Latte,,3.20,1000,,false,beans*1;cup*1'].join('\n')}\n`)
  })

  it('a price change from a later day never reaches back: the day before keeps the old price', async () => {
    const { cat } = await fresh()
    await cat.importCsv(FILE, '2026-03-01', 1)
    assert.deepEqual(await cat.importCsv(FILE.replace('19.99', '21.49'), '2026-03-10', 2), { imported: 1, unchanged: 2, errors: [], effective: '2026-03-10' })
    assert.equal(cat.view('2026-03-09').products.find(p => p.sku === 'beans')?.priceCents, 1999)
    assert.equal(cat.view('2026-03-10').products.find(p => p.sku === 'beans')?.priceCents, 2149)
    // Changed again the same day: the new statement replaces the one it saw.
    await cat.importCsv(FILE.replace('19.99', '20.99'), '2026-03-10', 3)
    assert.equal(cat.view('2026-03-10').products.find(p => p.sku === 'beans')?.priceCents, 2099)
    assert.deepEqual(cat.conflicts('2026-03-10'), [])
  })

  it('refuses a bad file whole, nothing written', async () => {
    const { cat, store } = await fresh()
    const r = await cat.importCsv(`${FILE}\nmug,Mug,,8.999,2000,2.10,true,`, '2026-03-01', 1)
    assert.deepEqual([r.imported, r.unchanged, r.errors.map(e => [e.line, e.column])], [0, 0, [[5, 'price']]])
    assert.equal(await store.get(CATALOGUE_DOC_KEY), undefined)
    assert.equal(cat.doc.size, 0)
  })

  it('a clash is listed and a person\'s resolution signed: a later file putting an existing GTIN on a new sku; "same" makes one product', async () => {
    const { cat } = await fresh()
    await cat.importCsv(FILE, '2026-03-01', 1)
    await cat.importCsv(`${HEADER}\nbeans-2,Coffee Beans (1 kg),4006381333931,19.99,550,9.50,true,`, '2026-03-02', 2)
    const [c] = cat.conflicts('2026-03-02')
    assert.deepEqual([c?.kind, c?.products.map(p => p.sku)], ['gtin-duplicate', ['beans', 'beans-2']])
    await assert.rejects(cat.resolve({ conflict: 'ab'.repeat(16), decision: 'same', canonical: 'beans' }, '2026-03-02', 3), (e: Error) => e instanceof ResolutionError && /no open clash/.test(e.message))
    await assert.rejects(cat.resolve({ conflict: c?.id ?? '', decision: 'same', canonical: 'cup' }, '2026-03-02', 3), /not one of the clash's products/)
    await cat.resolve({ conflict: c?.id ?? '', decision: 'same', canonical: 'beans' }, '2026-03-02', 3)
    assert.deepEqual(cat.conflicts('2026-03-02'), [])
    assert.deepEqual(cat.view('2026-03-02').aliases, { 'beans-2': 'beans' })
  })
})

describe('the catalogue through HQ\'s HTTP API and `tillbooks catalogue`', function () {
  this.timeout(60_000)
  let dir: string
  let hq: HqDaemon
  const cli = join(import.meta.dirname, '..', 'src', 'cli.ts')
  // Not spawnSync: HQ runs in this process, and must answer while the CLI waits.
  const run = async (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await new Promise(resolve => {
      execFile(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TILLBOOKS_TOKEN: '', ...env } }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
      })
    })
  const lastJson = (s: string): Record<string, unknown> => JSON.parse(s.trim().split('\n').at(-1) as string) as Record<string, unknown>

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-catalogue-'))
    hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
  })
  after(async () => {
    await hq?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  it('imports with the admin token only, lists products and clashes, exports the CSV; the CLI prints its JSON last', async () => {
    const url = hq.ready.http
    const token = await tokenOf(join(dir, 'hq'))
    const file = join(dir, 'catalogue.csv')
    await writeFile(file, FILE)
    // No token: refused, nothing imported.
    assert.equal((await run(['catalogue', 'import', '--hq', url, '--csv', file, '--json'])).code, 2)
    const ok = await run(['catalogue', 'import', '--hq', url, '--csv', file, '--effective', '2026-03-01', '--json'], { TILLBOOKS_TOKEN: token })
    assert.equal(ok.code, 0, ok.stderr)
    assert.deepEqual(lastJson(ok.stdout), { imported: 3, unchanged: 0, errors: [], effective: '2026-03-01' })
    assert.deepEqual(lastJson((await run(['catalogue', 'import', '--hq', url, '--csv', file, '--effective', '2026-03-01', '--json'], { TILLBOOKS_TOKEN: token })).stdout), { imported: 0, unchanged: 3, errors: [], effective: '2026-03-01' })
    // A bad file: exit 2, every error with its line and column, nothing imported.
    await writeFile(file, `${FILE}\nmug,Mug,,1e3,2000,2.10,true,\ncup,Cup again,,,2000,0.04,true,`)
    const bad = await run(['catalogue', 'import', '--hq', url, '--csv', file, '--json'], { TILLBOOKS_TOKEN: token })
    assert.equal(bad.code, 2)
    assert.deepEqual((lastJson(bad.stdout).errors as Array<{ line: number, column: string }>).map(e => [e.line, e.column]), [[5, 'price'], [6, 'sku']])
    const cat = await request<{ products: Array<{ sku: string, priceCents: number }>, heads: string[] }>(url, 'GET', '/catalogue?day=2026-03-01')
    assert.deepEqual(cat.json.products.map(p => [p.sku, p.priceCents]), [['beans', 1999], ['cup', 0], ['latte', 320]])
    assert.equal(cat.json.heads.length, 1)
    assert.deepEqual((await request(url, 'GET', '/catalogue/conflicts')).json, { day: new Date().toISOString().slice(0, 10), conflicts: [] })
    const exported = await run(['catalogue', 'export', '--hq', url, '--csv', '--day', '2026-03-01'])
    assert.equal(exported.code, 0, exported.stderr)
    assert.match(exported.stdout, /^sku,name,gtin,price,taxRateBp,cost,stocked,recipe\nbeans,Coffee Beans 1kg,4006381333931,19\.99,550,9\.50,true,\n/)
    // A resolution of a clash that does not exist: 404, with a reason.
    const res = await request<{ error: string }>(url, 'POST', '/admin/catalogue/resolve', { conflict: 'ab'.repeat(16), decision: 'distinct' }, token)
    assert.equal(res.status, 404)
    assert.match(res.json.error, /no open clash/)
    assert.equal((await request(url, 'POST', '/admin/catalogue/resolve', { conflict: 'ab'.repeat(16), decision: 'distinct' })).status, 401)
  })
})

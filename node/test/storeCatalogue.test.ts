/**
 * The pitch's known gap, between real daemons (libp2p TCP on 127.0.0.1, LevelDB): two stores
 * cut off from each other and from HQ each make up the same new product (one GTIN), sell it
 * and close the day. They reconnect: the catalogue syncs both ways, HQ lists the clash, a
 * person resolves it `same`, and within seconds every till shows one product under the GTIN,
 * sells the other store's sku as it, and the books count both stores' sales to the cent.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { demoCatalogue, priceSale } from '@tillbooks/catalogue'
import * as A from '@automerge/automerge'
import { CatalogueDoc } from '@tillbooks/crdt'
import { asStoreId, fromHex, issueCertificate, type PublicKey, keyPairFromSeed, signStatement, Signer, statementIdOf } from '@tillbooks/protocol'
import { NetError, TillbooksPeer } from '../src/net/TillbooksPeer.ts'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon, type TillDaemon } from '../src/daemon/tillDaemon.ts'
import { addressOf, enrolStores, freePort, request, tokenOf, until } from './helpers/daemons.ts'

interface TillCatalogueJson { businessDay: string, products: Array<{ sku: string, name: string, gtin?: string, priceCents: number, taxRateBp: number, provisional?: true }>, heads: string[] }
interface ConflictsJson { conflicts: Array<{ id: string, kind: string, products: Array<{ sku: string, store: string | null, name: string, gtin: string | null }>, openedAt: string }> }
interface BooksJson { stores: Record<string, { takingsCents: number, cogsCents: number, stockOnHand: Record<string, number> }>, counts: { folded: number, pending: number } }

const GTIN = '4006381333931'
const DAY = '2026-03-02'
const NEXT = '2026-03-03'

describe('two stores cut off invent one product: the clash at HQ, resolved, one product everywhere', function () {
  this.timeout(90_000)
  let dir: string
  let hq: HqDaemon
  const tills = new Map<string, TillDaemon>()
  const ports = new Map<string, number>()
  const addrs = new Map<string, string>()
  let admin = ''

  const start = async (s: string, o: { hq: string, neighbours: string[] }): Promise<TillDaemon> => {
    const t = await startTillDaemon({
      dataDir: join(dir, s), store: asStoreId(s), till: 1, hq: o.hq, httpPort: 0, listen: [`/ip4/127.0.0.1/tcp/${ports.get(s) as number}`],
      neighbours: o.neighbours, logger: silentLogger, retryMinMs: 50, retryMaxMs: 200, callTimeoutMs: 2_000, gossipRing: null, announceEveryMs: 200
    })
    tills.set(s, t)
    return t
  }
  const catalogueAt = async (t: TillDaemon): Promise<TillCatalogueJson> => (await request<TillCatalogueJson>(t.ready.http, 'GET', '/catalogue')).json

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-storecat-'))
    hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    admin = await tokenOf(join(dir, 'hq'))
    await enrolStores(hq, join(dir, 'hq'), dir, ['A', 'B'])
    for (const s of ['A', 'B']) {
      ports.set(s, await freePort())
      addrs.set(s, await addressOf(join(dir, s), ports.get(s) as number))
    }
  })
  after(async () => {
    for (const t of tills.values()) await t.stop().catch(() => {})
    await hq?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  it('invented offline at both stores, sold and closed; after the heal the clash is listed, resolved `same`, and the books are right to the cent', async () => {
    // Cut off: HQ's address on a port nothing listens on, no neighbours.
    const hqPeer = (hq.ready.multiaddrs[0] as string).split('/p2p/')[1] as string
    const nowhere = `/ip4/127.0.0.1/tcp/${await freePort()}/p2p/${hqPeer}`
    const made = new Map<string, string>()
    const takings = new Map<string, number>()
    const demo = demoCatalogue()
    const offline = { A: { priceCents: 1299, costCents: 500, qty: 2 }, B: { priceCents: 1350, costCents: 520, qty: 3 } }
    for (const [s, o] of Object.entries(offline)) {
      const t = await start(s, { hq: nowhere, neighbours: [] })
      await request(t.ready.http, 'POST', '/day/open', { businessDay: DAY })
      const r = await request<{ sku: string, provisional: boolean }>(t.ready.http, 'POST', '/catalogue/products', { name: 'Garden Gnome', gtin: GTIN, priceCents: o.priceCents, taxRateBp: 2000, costCents: o.costCents })
      assert.equal(r.status, 200, JSON.stringify(r.json))
      assert.equal(r.json.provisional, true)
      assert.match(r.json.sku, new RegExp(`^${s}\\.1\\.\\d+$`))
      made.set(s, r.json.sku)
      // Sellable at once, offline, listed as provisional with its GTIN.
      const listed = (await catalogueAt(t)).products.find(p => p.sku === r.json.sku)
      assert.deepEqual(listed, { sku: r.json.sku, name: 'Garden Gnome', gtin: GTIN, priceCents: o.priceCents, taxRateBp: 2000, provisional: true })
      // The same GTIN again at the same till is refused: it already scans as this product.
      assert.equal((await request(t.ready.http, 'POST', '/catalogue/products', { name: 'Gnome again', gtin: GTIN, priceCents: 1, taxRateBp: 2000 })).status, 409)
      const sale = await request<{ totalCents: number }>(t.ready.http, 'POST', '/sales', { lines: [{ sku: r.json.sku, qty: o.qty }, { sku: 'latte', qty: 1 }] })
      assert.equal(sale.status, 200, JSON.stringify(sale.json))
      assert.equal(sale.json.totalCents, o.priceCents * o.qty + demo.get('latte').priceCents)
      takings.set(s, sale.json.totalCents)
      assert.equal((await request(t.ready.http, 'POST', '/day/close', {})).status, 200)
    }
    assert.notEqual(made.get('A'), undefined)
    // Heal: each till back with HQ's real address and the other store as its neighbour.
    for (const s of ['A', 'B']) await tills.get(s)?.stop()
    for (const [s, other] of [['A', 'B'], ['B', 'A']] as const) await start(s, { hq: hq.ready.multiaddrs[0] as string, neighbours: [addrs.get(other) as string] })
    for (const t of tills.values()) await t.sync()
    // HQ lists the clash: one GTIN, two stores' products.
    let clash: ConflictsJson['conflicts'][number] | undefined
    await until('the clash at HQ', async () => {
      const c = await request<ConflictsJson>(hq.ready.http, 'GET', `/catalogue/conflicts?day=${DAY}`)
      clash = c.json.conflicts.find(x => x.kind === 'gtin-duplicate')
      return clash !== undefined
    }, 20_000)
    assert.deepEqual(clash?.products.map(p => [p.sku, p.store, p.gtin]), [[made.get('A'), 'A', GTIN], [made.get('B'), 'B', GTIN]])
    // The books count both stores' closes, each sold product at its own store's cost, to the cent.
    await until('both closes in the books', async () => (await request<BooksJson>(hq.ready.http, 'GET', '/books')).json.counts.folded === 2)
    const books = (await request<BooksJson>(hq.ready.http, 'GET', '/books')).json
    const latteCogs = priceSale(demo, [{ sku: 'latte', qty: 1 }]).consumed.reduce((n, l) => n + l.qty * demo.costCents(l.sku), 0)
    for (const [s, o] of Object.entries(offline)) {
      assert.equal(books.stores[s]?.takingsCents, takings.get(s), `${s} takings`)
      assert.equal(books.stores[s]?.cogsCents, o.costCents * o.qty + latteCogs, `${s} cost of goods`)
    }
    // Until resolved, the GTIN scans as neither product (a sale by sku still goes through).
    for (const t of tills.values()) await request(t.ready.http, 'POST', '/day/open', { businessDay: NEXT })
    const blocked = await request<{ error: string }>(tills.get('B')?.ready.http as string, 'POST', '/sales', { lines: [{ gtin: GTIN, qty: 1 }] })
    assert.equal(blocked.status, 400)
    assert.match(blocked.json.error, /claimed by A\.1\.1 and B\.1\.1/)
    // A person resolves it: the same product, A's sku canonical, from the next day.
    const bad = await request(hq.ready.http, 'POST', '/admin/catalogue/resolve', { conflict: 'f'.repeat(32), decision: 'same', canonical: made.get('A') }, admin)
    assert.equal(bad.status, 404)
    const ok = await request<{ resolved: string }>(hq.ready.http, 'POST', '/admin/catalogue/resolve', { conflict: clash?.id, decision: 'same', canonical: made.get('A'), day: NEXT }, admin)
    assert.equal(ok.status, 200, JSON.stringify(ok.json))
    // Within seconds every till shows one product under the GTIN, and the same catalogue.
    await until('one product everywhere', async () => {
      for (const t of tills.values()) {
        await t.sync()
        const c = await catalogueAt(t)
        const gnomes = c.products.filter(p => p.name === 'Garden Gnome')
        if (gnomes.length !== 1 || gnomes[0]?.sku !== made.get('A') || gnomes[0]?.gtin !== GTIN) return false
      }
      return true
    }, 20_000)
    const heads = await Promise.all([...tills.values()].map(async t => (await catalogueAt(t)).heads.sort()))
    const hqHeads = (await request<{ heads: string[] }>(hq.ready.http, 'GET', '/catalogue')).json.heads.sort()
    for (const h of heads) assert.deepEqual(h, hqHeads, 'the same catalogue document on every till and HQ')
    assert.deepEqual((await request<ConflictsJson>(hq.ready.http, 'GET', `/catalogue/conflicts?day=${NEXT}`)).json.conflicts.filter(c => c.kind === 'gtin-duplicate'), [])
    // B's till sells its old sku as A's product now (at A's price), and the books keep B's stock under A's sku.
    const b = tills.get('B') as TillDaemon
    const sale = await request<{ totalCents: number }>(b.ready.http, 'POST', '/sales', { lines: [{ sku: made.get('B'), qty: 1 }] })
    assert.equal(sale.json.totalCents, offline.A.priceCents)
    // And the GTIN scans again, as the canonical product.
    const scanned = await request<{ totalCents: number }>(b.ready.http, 'POST', '/sales', { lines: [{ gtin: GTIN, qty: 1 }] })
    assert.equal(scanned.json.totalCents, offline.A.priceCents)
    await request(b.ready.http, 'POST', '/day/close', {})
    await b.sync()
    await until('the next close in the books', async () => (await request<BooksJson>(hq.ready.http, 'GET', '/books')).json.counts.folded === 3)
    const after = (await request<BooksJson>(hq.ready.http, 'GET', '/books')).json
    assert.equal(after.stores.B?.takingsCents, (takings.get('B') as number) + 2 * offline.A.priceCents)
    assert.equal(after.stores.B?.cogsCents, offline.B.costCents * offline.B.qty + latteCogs + 2 * offline.A.costCents, 'sold as A\'s product, costed at its cost')
    assert.equal(after.stores.B?.stockOnHand[made.get('B') as string], undefined, 'the alias is counted under the canonical sku')
    assert.equal(after.stores.B?.stockOnHand[made.get('A') as string], -(offline.B.qty + 2))
  })

  it('catalogue changes from a peer that is no enrolled till are refused with a reason, counted, and change nothing', async () => {
    const peer = await TillbooksPeer.create({ seed: new Uint8Array(32).fill(77), listen: [], logger: silentLogger })
    const hqAddr = hq.ready.multiaddrs[0] as string
    const rootKey = fromHex(hq.ready.rootKey) as PublicKey
    const before = (await request<{ heads: string[] }>(hq.ready.http, 'GET', '/catalogue')).json.heads
    const refusedBefore = (await request<{ sync: { refused: number } }>(hq.ready.http, 'GET', '/counters')).json.sync.refused
    const mallory = new Signer(keyPairFromSeed(new Uint8Array(32).fill(66)))
    const notHq = signStatement(mallory, { author: { kind: 'hq' }, atMs: 1, content: { type: 'price', sku: 'latte', priceCents: 1, from: '2026-03-01', prev: [] } })
    // A till key with a certificate HQ never issued (signed by another root), and a real store's name.
    const fakeCert = issueCertificate(mallory, { store: asStoreId('A'), till: 1, tillKey: mallory.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes
    const unenrolled = signStatement(mallory, { author: { kind: 'store', store: asStoreId('A') }, atMs: 1, cert: fakeCert, content: { type: 'invent', sku: 'A.1.99', name: 'Fake', priceCents: 1, taxRateBp: 0, costCents: 0, from: '2026-03-01' } })
    try {
      // This peer is no enrolled till: HQ serves it the catalogue read-only, so its changes are refused unread
      // (the document's own screen refuses the same forgeries from an enrolled one: crdt/test/catalogueDoc.test.ts).
      for (const [bytes, why] of [[notHq, /read-only/], [unenrolled, /read-only/]] as const) {
        // A replica of HQ's catalogue that carries the forged statement, as a raw Automerge change (no screen on this side).
        const replica = CatalogueDoc.create(rootKey, { actorId: 'ab'.repeat(16) })
        const raw = A.load<{ statements: Record<string, Uint8Array> }>(replica.save(), { actor: 'cd'.repeat(16) })
        const evil = A.change(raw, { time: 0 }, d => { d.statements[statementIdOf(bytes)] = bytes })
        const msg = A.encodeSyncMessage({ heads: A.getHeads(evil), need: [], have: [], changes: [A.getLastLocalChange(evil) as Uint8Array] })
        await assert.rejects(peer.amSync(hqAddr, 'catalogue', msg), (e: Error) => e instanceof NetError && e.code === 'REFUSED' && why.test(e.message))
        replica.free()
      }
      assert.deepEqual((await request<{ heads: string[] }>(hq.ready.http, 'GET', '/catalogue')).json.heads, before)
      const counters = (await request<{ sync: { refused: number, refusals: Array<{ doc: string, reason: string }> } }>(hq.ready.http, 'GET', '/counters')).json.sync
      assert.equal(counters.refused, refusedBefore + 2)
      assert.ok(counters.refusals.slice(-2).every(r => r.doc === 'catalogue' && r.reason.length > 0))
    } finally {
      await peer.stop()
    }
  })
})

/**
 * The retailer's catalogue at scale (issue 16's figures): a CSV of N products imported into
 * HQ's catalogue (parse, sign, add to the document, write fsync'd), and a new till's replica
 * receiving the whole document by Automerge's sync protocol (round trips, bytes on the wire,
 * time); the till then building the day's catalogue from its replica (once per business day
 * and after each change), and a sale's price lookup in it against the 25-product demo one
 * (median of repeated runs: O(1) means the same per line whatever N).
 * Not a test: `node node/bench/catalogueImport.ts [N]` from the repo root (Node 24).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CatalogueDoc, initSyncState } from '@tillbooks/crdt'
import { demoCatalogue, foldCatalogue, isGtin, parseCatalogueCsv, priceSale, type Catalogue } from '@tillbooks/catalogue'
import { issueCertificate, keyPairFromSeed, Signer } from '@tillbooks/protocol'
import { LevelStore, MemoryStore, silentLogger } from '../src/index.ts'
import { TillCatalogue } from '../src/till/TillCatalogue.ts'
import { HqCatalogue } from '../src/hq/HqCatalogue.ts'

const N = Number(process.argv[2] ?? 50_000)
const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(9)))
function gtinOf (i: number): string {
  const body = String(400000000000 + i)
  for (let d = 0; d < 10; d++) if (isGtin(body + d)) return body + d
  throw new Error('no check digit')
}
const lines = ['sku,name,gtin,price,taxRateBp,cost,stocked,recipe']
for (let i = 0; i < N; i++) lines.push(`P${i},Product number ${i},${gtinOf(i)},${1 + (i % 90)}.${String(i % 100).padStart(2, '0')},${i % 3 === 0 ? 550 : 2000},${i % 50}.25,true,`)
const csv = lines.join('\n')
const dir = await mkdtemp(join(tmpdir(), 'tillbooks-catalogue-bench-'))
try {
  const store = new LevelStore(join(dir, 'db'))
  await store.open()
  const cat = new HqCatalogue({ store, root })
  await cat.load()
  let t = performance.now()
  const parsed = parseCatalogueCsv(csv)
  const parseMs = performance.now() - t
  if (parsed.errors.length > 0) throw new Error(JSON.stringify(parsed.errors.slice(0, 3)))
  t = performance.now()
  const r = await cat.importCsv(csv, '2026-03-01', 1)
  const importMs = performance.now() - t
  const saved = cat.doc.save()
  t = performance.now()
  const fold = foldCatalogue(cat.doc.statements(), '2026-03-01')
  const foldMs = performance.now() - t
  // A new till: a replica from nothing, by sync with HQ's document.
  const till = CatalogueDoc.create(root.publicKey, { actorId: 'cc'.repeat(16) })
  let sHq = initSyncState()
  let sTill = initSyncState()
  let bytes = 0
  let trips = 0
  t = performance.now()
  for (;;) {
    const a = till.generateSyncMessage(sTill)
    sTill = a.state
    if (a.message !== null) { bytes += a.message.length; sHq = cat.doc.receiveSyncMessage(sHq, a.message).state }
    const b = cat.doc.generateSyncMessage(sHq)
    sHq = b.state
    if (b.message !== null) { bytes += b.message.length; sTill = till.receiveSyncMessage(sTill, b.message).state }
    if (a.message === null && b.message === null) break
    trips++
  }
  const syncMs = performance.now() - t
  // The till reads it: the day's Catalogue built from its replica (what the first sale of a day waits for).
  const tillKey = new Signer(keyPairFromSeed(new Uint8Array(32).fill(10)))
  const tillStore = new MemoryStore()
  await tillStore.open()
  const tillCat = await TillCatalogue.open({ store: tillStore, hqRootKey: root.publicKey, storeId: 'S1' as never, till: 1, signer: tillKey, certificate: issueCertificate(root, { store: 'S1' as never, till: 1, tillKey: tillKey.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes, logger: silentLogger })
  tillCat.doc.merge(cat.doc)
  t = performance.now()
  const onDay = tillCat.on('2026-03-01')
  const dayBuildMs = performance.now() - t
  /** Median ns per sale line priced (three-line sales), over `runs` runs of `sales` sales each. */
  const perLineNs = (c: Catalogue, skus: string[]): number => {
    const runs: number[] = []
    for (let r = 0; r < 9; r++) {
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < 20_000; i++) priceSale(c, [{ sku: skus[i % skus.length] as string, qty: 1 }, { sku: skus[(i * 7) % skus.length] as string, qty: 2 }, { sku: skus[(i * 13) % skus.length] as string, qty: 1 }])
      runs.push(Number(process.hrtime.bigint() - t0) / 60_000)
    }
    return Math.round(runs.sort((a, b) => a - b)[4] as number)
  }
  const demo = demoCatalogue()
  const demoSkus = demo.products().filter(p => p.sellable && p.recipe === undefined).map(p => p.sku)
  const bigSkus = Array.from({ length: 1000 }, (_, i) => `P${(i * 7919) % N}`)
  const lookup = { demoNsPerLine: perLineNs(demo, demoSkus), nsPerLine: perLineNs(onDay.catalogue, bigSkus) }
  console.log(JSON.stringify({
    products: N, csvBytes: csv.length, parseMs: Math.round(parseMs), import: { ...r, errors: r.errors.length, ms: Math.round(importMs), statements: cat.doc.size },
    documentBytes: saved.length, foldMs: Math.round(foldMs), foldedProducts: fold.products.size,
    newTillSync: { ms: Math.round(syncMs), roundTrips: trips, wireBytes: bytes, sameHeads: till.getHeads().join() === cat.doc.getHeads().join() },
    tillDayCatalogue: { buildMs: Math.round(dayBuildMs), products: onDay.catalogue.size },
    priceLookup: lookup
  }))
  tillCat.close()
  cat.close()
  till.free()
  await store.close()
} finally {
  await rm(dir, { recursive: true, force: true })
}

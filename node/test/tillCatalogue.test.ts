/**
 * A till's catalogue (TillCatalogue): a sale priced by what is in force on its own business
 * day; products made up at the store, numbered from the document (no counter), refused if
 * their GTIN already scans here or their fields are bad; a resolved clash sells the alias
 * as the canonical product; HQ refuses an import that would reach back into booked days.
 */
import assert from 'node:assert/strict'
import { issueCertificate, keyPairFromSeed, Signer, type BusinessDay } from '@tillbooks/protocol'
import { MemoryStore, silentLogger, TillNode } from '../src/index.ts'
import { EffectiveDayError, HqCatalogue } from '../src/hq/HqCatalogue.ts'
import { TillCatalogue } from '../src/till/TillCatalogue.ts'
import { ManualClock } from './helpers/fleet.ts'

const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(7)))
const FILE = ['sku,name,gtin,price,taxRateBp,cost,stocked,recipe', 'mug,Mug,,8.00,2000,2.10,true,', 'tea,Tea,,2.50,1000,0.40,true,'].join('\n')
const RAISE = ['sku,name,gtin,price,taxRateBp,cost,stocked,recipe', 'mug,Mug,,9.00,2000,2.10,true,', 'tea,Tea,,2.50,1000,0.40,true,'].join('\n')
const D1 = '2026-03-02' as BusinessDay
const D2 = '2026-03-03' as BusinessDay

async function hqCatalogue (): Promise<HqCatalogue> {
  const store = new MemoryStore()
  await store.open()
  const cat = new HqCatalogue({ store, root })
  await cat.load()
  return cat
}

async function tillCatalogue (storeId: string, till = 1): Promise<{ cat: TillCatalogue, signer: Signer, store: MemoryStore, certificate: Uint8Array }> {
  const signer = new Signer(keyPairFromSeed(new Uint8Array(32).fill(till + storeId.charCodeAt(0))))
  const certificate = issueCertificate(root, { store: storeId as never, till, tillKey: signer.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes
  const store = new MemoryStore()
  await store.open()
  const cat = await TillCatalogue.open({ store, hqRootKey: root.publicKey, storeId: storeId as never, till, signer, certificate, logger: silentLogger })
  return { cat, signer, store, certificate }
}

describe('a till\'s catalogue (TillCatalogue)', () => {
  it('prices a sale by the catalogue in force on its business day: a raise from D2 leaves D1 as it was', async () => {
    const hq = await hqCatalogue()
    await hq.importCsv(FILE, D1, 1)
    await hq.importCsv(RAISE, D2, 2, D1)
    const { cat, signer } = await tillCatalogue('S001')
    assert.equal(cat.doc.merge(hq.doc).rejected.length, 0)
    await cat.changed()
    const till = new TillNode({ store: new MemoryStore(), clock: new ManualClock(), logger: silentLogger }, { store: 'S001' as never, till: 1, signer, catalogue: cat, hqRootKey: root.publicKey })
    await till.start()
    await till.openDay(D1)
    assert.equal((await till.sell({ lines: [{ sku: 'mug', qty: 1 }] })).totalCents, 800)
    await till.closeDay()
    await till.openDay(D2)
    assert.equal((await till.sell({ lines: [{ sku: 'mug', qty: 1 }] })).totalCents, 900)
    // The retailer's catalogue replaced the demo one: a demo product is no longer sold.
    await assert.rejects(till.sell({ lines: [{ sku: 'latte', qty: 1 }] }), /latte/)
    assert.deepEqual(cat.sellable(D2).map(p => [p.sku, p.priceCents]), [['mug', 900], ['tea', 250]])
    // HQ refuses an import from a day it has booked: a price change never reaches back.
    await assert.rejects(hq.importCsv(FILE, D1, 3, D2), EffectiveDayError)
    await assert.rejects(hq.importCsv(FILE, D2, 3, D2), /import from 2026-03-04 or later/)
  })

  it('makes up products numbered from the document, durable at once; refuses a GTIN that already scans, and bad fields', async () => {
    const { cat, store, signer, certificate } = await tillCatalogue('S002', 3)
    const a = await cat.invent({ name: 'Garden Gnome', gtin: '4006381333931', priceCents: 1299, taxRateBp: 2000, costCents: 500 }, D1, 1)
    const b = await cat.invent({ name: 'Bird Bath', priceCents: 2500, taxRateBp: 2000 }, D1, 2)
    assert.deepEqual([a, b], [{ sku: 'S002.3.1', provisional: true }, { sku: 'S002.3.2', provisional: true }])
    assert.deepEqual(cat.sellable(D1).filter(p => p.provisional === true).map(p => [p.sku, p.gtin ?? null, p.priceCents]), [['S002.3.1', '4006381333931', 1299], ['S002.3.2', null, 2500]])
    await assert.rejects(cat.invent({ name: 'Gnome', gtin: '4006381333931', priceCents: 1, taxRateBp: 2000 }, D1, 3), /already scans as S002.3.1/)
    await assert.rejects(cat.invent({ name: 'Bad', gtin: '4006381333932', priceCents: 1, taxRateBp: 2000 }, D1, 3), /check digit/)
    await assert.rejects(cat.invent({ name: 'Bad', priceCents: -1, taxRateBp: 2000 }, D1, 3), /priceCents/)
    // Reopened from its store (a restart): the next number follows what the document holds.
    cat.close()
    const again = await TillCatalogue.open({ store, hqRootKey: root.publicKey, storeId: 'S002' as never, till: 3, signer, certificate, logger: silentLogger })
    assert.equal((await again.invent({ name: 'Wheelbarrow', priceCents: 5900, taxRateBp: 2000 }, D1, 4)).sku, 'S002.3.3')
    // The replica lost (a new, empty one), the till's own store kept: its products come back, numbering goes on.
    const own = new MemoryStore()
    await own.open()
    const withOwn = await TillCatalogue.open({ store, ownStore: own, hqRootKey: root.publicKey, storeId: 'S002' as never, till: 3, signer, certificate, logger: silentLogger })
    const d = await withOwn.invent({ name: 'Sundial', priceCents: 4900, taxRateBp: 2000 }, D1, 5)
    withOwn.close()
    const fresh = new MemoryStore()
    await fresh.open()
    const rebuilt = await TillCatalogue.open({ store: fresh, ownStore: own, hqRootKey: root.publicKey, storeId: 'S002' as never, till: 3, signer, certificate, logger: silentLogger })
    assert.ok(rebuilt.sellable(D1).some(p => p.sku === d.sku), 'its own product back from its own store')
    assert.equal((await rebuilt.invent({ name: 'Birdhouse', priceCents: 1900, taxRateBp: 2000 }, D1, 6)).sku, `S002.3.${Number(d.sku.split('.')[2]) + 1}`)
    rebuilt.close()
    // By GTIN: the product that scans as it.
    assert.equal(again.skuOf({ gtin: '4006381333931' }, D1), 'S002.3.1')
    assert.throws(() => again.skuOf({ gtin: '5012345678900' }, D1), /no product scans/)
  })

  it('two stores\' products under one GTIN scan as neither until resolved; `same` sells the alias as the canonical product', async () => {
    const hq = await hqCatalogue()
    const s1 = await tillCatalogue('S001')
    const s2 = await tillCatalogue('S002')
    const gtin = '4006381333931'
    const a = await s1.cat.invent({ name: 'Garden Gnome', gtin, priceCents: 1299, taxRateBp: 2000, costCents: 500 }, D1, 1)
    const b = await s2.cat.invent({ name: 'Gnome', gtin, priceCents: 1350, taxRateBp: 2000, costCents: 520 }, D1, 2)
    hq.doc.merge(s1.cat.doc)
    hq.doc.merge(s2.cat.doc)
    await hq.changed()
    const clash = hq.conflicts(D1).find(c => c.kind === 'gtin-duplicate')
    assert.deepEqual(clash?.products.map(p => p.sku), [a.sku, b.sku])
    s1.cat.doc.merge(hq.doc)
    await s1.cat.changed()
    assert.throws(() => s1.cat.skuOf({ gtin }, D1), /claimed by S001.1.1 and S002.1.1/)
    await hq.resolve({ conflict: clash?.id as string, decision: 'same', canonical: a.sku }, D2, 3)
    s2.cat.doc.merge(hq.doc)
    await s2.cat.changed()
    assert.equal(s2.cat.skuOf({ gtin }, D2), a.sku)
    assert.equal(s2.cat.skuOf({ sku: b.sku }, D2), a.sku)
    assert.equal(s2.cat.skuOf({ sku: b.sku }, D1), b.sku, 'the day before the resolution keeps its own product')
    const till = new TillNode({ store: new MemoryStore(), clock: new ManualClock(), logger: silentLogger }, { store: 'S002' as never, till: 1, signer: s2.signer, catalogue: s2.cat, hqRootKey: root.publicKey })
    await till.start()
    await till.openDay(D2)
    assert.equal((await till.sell({ lines: [{ sku: b.sku, qty: 1 }] })).totalCents, 1299)
    const close = (await till.closeDay()).record
    assert.deepEqual(close.kind === 'close' ? close.consumed : null, [{ sku: a.sku, qty: 1 }])
  })
})

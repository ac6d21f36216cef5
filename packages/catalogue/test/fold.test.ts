/**
 * foldCatalogue: the catalogue in force on a day, and its clashes, as a pure function of a
 * set of statements: prices and costs by effective day, a store's invention, the four kinds
 * of clash, a person's resolution, and the same result for any order and any duplicates.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { Catalogue, catalogueDataFor, checkStatement, costsOf, demoCatalogueData, foldCatalogue, normalisedName, withBase, type Author, type FoldedCatalogue, type Statement } from '../src/index.ts'
import { fcParams } from './helpers/fc.ts'

const HQ: Author = { kind: 'hq' }
const store = (s: string): Author => ({ kind: 'store', store: s })
let clock = 1_767_225_600_000

/** A statement as a reader holds it: checked, with an id from its content (as a signed envelope's digest would be). */
function say (author: Author, content: Record<string, unknown>): Statement {
  const checked = checkStatement(content, author)
  const id = createHash('sha256').update(JSON.stringify([author, checked])).digest('hex').slice(0, 32)
  return { ...checked, id, author, atMs: clock++ } as Statement
}

const product = (sku: string, fields: Record<string, unknown> = {}): Statement => say(HQ, { type: 'product', sku, name: `Product ${sku}`, taxRateBp: 2000, stocked: true, sellable: true, from: '2026-01-01', prev: [], ...fields })
const price = (sku: string, priceCents: number, from = '2026-01-01', prev: string[] = []): Statement => say(HQ, { type: 'price', sku, priceCents, from, prev })
const cost = (sku: string, costCents: number, from = '2026-01-01'): Statement => say(HQ, { type: 'cost', sku, costCents, from, prev: [] })
const invent = (s: string, sku: string, fields: Record<string, unknown> = {}): Statement => say(store(s), { type: 'invent', sku, name: 'Garden Gnome', priceCents: 1299, taxRateBp: 2000, costCents: 500, from: '2026-03-02', ...fields })
const GTIN = '5012345678900'

/** The fold as plain data, for deep equality. */
function plain (f: FoldedCatalogue): unknown {
  return { day: f.day, products: [...f.products].sort(), aliases: [...f.aliases].sort(), conflicts: f.conflicts, gtins: [...f.gtins].sort() }
}

describe('foldCatalogue', () => {
  const base = [product('mug'), price('mug', 800), cost('mug', 210), product('tea'), price('tea', 250), cost('tea', 40)]

  it('prices and costs in force by business day: a change never reaches back to a day before it', () => {
    const later = price('mug', 900, '2026-03-01')
    const all = [...base, later, cost('mug', 230, '2026-03-01')]
    assert.equal(foldCatalogue(all, '2026-02-28').products.get('mug')?.priceCents, 800)
    assert.equal(foldCatalogue(all, '2026-03-01').products.get('mug')?.priceCents, 900)
    assert.equal(foldCatalogue(all, '2026-03-01').products.get('mug')?.costCents, 230)
    // Before the product's own day, there is no such product.
    assert.equal(foldCatalogue(all, '2025-12-31').products.size, 0)
    // An HQ product with no price in force yet is not for sale.
    const f = foldCatalogue([product('vase', { from: '2026-02-01' }), price('vase', 1500, '2026-02-10')], '2026-02-05')
    assert.equal(f.products.get('vase')?.sellable, false)
    assert.equal(foldCatalogue([product('vase', { from: '2026-02-01' }), price('vase', 1500, '2026-02-10')], '2026-02-10').products.get('vase')?.sellable, true)
  })

  it('a withdrawal takes a product off from its day; a till\'s catalogue is the live products, recipes costed', () => {
    const latte = product('latte', { stocked: false, recipe: [{ sku: 'tea', qty: 1 }, { sku: 'mug', qty: 1 }] })
    const all = [...base, latte, price('latte', 320), say(HQ, { type: 'withdraw', sku: 'tea', from: '2026-04-01' })]
    const march = catalogueDataFor(foldCatalogue(all, '2026-03-15'))
    assert.deepEqual(march.products.map(p => [p.sku, p.costCents]), [['latte', 250], ['mug', 210], ['tea', 40]])
    assert.equal(new Catalogue(march).get('latte').priceCents, 320)
    // Withdrawn, the tea goes, and the latte made of it with it.
    assert.deepEqual(catalogueDataFor(foldCatalogue(all, '2026-04-01')).products.map(p => p.sku), ['mug'])
  })

  it('a store\'s invention is provisional and sellable at once; two stores inventing one GTIN clash, and the GTIN scans as neither', () => {
    const a = invent('S001', 'S001.1.1', { gtin: GTIN })
    const b = invent('S002', 'S002.3.1', { gtin: GTIN, name: 'Garden gnome', priceCents: 1199 })
    const f = foldCatalogue([...base, a, b], '2026-03-02')
    assert.deepEqual(f.products.get('S001.1.1'), { sku: 'S001.1.1', name: 'Garden Gnome', gtin: GTIN, priceCents: 1299, taxRateBp: 2000, costCents: 500, stocked: true, sellable: true, provisional: true, store: 'S001' })
    assert.deepEqual(f.conflicts.map(c => [c.kind, c.products.map(p => [p.sku, p.store, p.gtin])]), [['gtin-duplicate', [['S001.1.1', 'S001', GTIN], ['S002.3.1', 'S002', GTIN]]]])
    assert.equal(f.conflicts[0]?.openedAt, Math.max(a.atMs, b.atMs))
    assert.equal(f.gtins.get(GTIN), undefined, 'blocking: the GTIN scans as neither')
    assert.equal(f.gtins.size, 0)
    // Both stay sellable by sku, at their own till.
    assert.ok(catalogueDataFor(f).products.some(p => p.sku === 'S002.3.1'))
  })

  it('resolved "same": the other becomes an alias of the canonical one, the GTIN scans again; a third store using it reopens the clash', () => {
    const a = invent('S001', 'S001.1.1', { gtin: GTIN })
    const b = invent('S002', 'S002.3.1', { gtin: GTIN })
    const clash = foldCatalogue([...base, a, b], '2026-03-02').conflicts[0]
    assert.ok(clash !== undefined)
    const same = say(HQ, { type: 'resolve', conflict: clash.id, decision: 'same', canonical: 'S001.1.1', from: '2026-03-03' })
    const before = foldCatalogue([...base, a, b, same], '2026-03-02')
    assert.equal(before.conflicts.length, 1, 'a resolution takes effect from its day')
    const f = foldCatalogue([...base, a, b, same], '2026-03-03')
    assert.deepEqual([...f.aliases], [['S002.3.1', 'S001.1.1']])
    assert.equal(f.products.get('S002.3.1')?.aliasOf, 'S001.1.1')
    assert.deepEqual(f.conflicts, [])
    assert.equal(f.gtins.get(GTIN), 'S001.1.1')
    assert.deepEqual(catalogueDataFor(f).products.map(p => p.sku).filter(s => s.startsWith('S0')), ['S001.1.1'], 'the alias is sold as the canonical product')
    const c = invent('S003', 'S003.1.1', { gtin: GTIN, from: '2026-03-05' })
    const again = foldCatalogue([...base, a, b, same, c], '2026-03-05')
    assert.deepEqual(again.conflicts.map(x => [x.kind, x.products.map(p => p.sku)]), [['gtin-duplicate', ['S001.1.1', 'S003.1.1']]])
    assert.notEqual(again.conflicts[0]?.id, clash.id)
  })

  it('resolved "distinct" on a GTIN clash: only the canonical one keeps the GTIN; "withdraw" takes the others off', () => {
    const a = invent('S001', 'S001.1.1', { gtin: GTIN })
    const b = invent('S002', 'S002.3.1', { gtin: GTIN, name: 'Pink Flamingo' })
    const clash = foldCatalogue([a, b], '2026-03-02').conflicts[0]
    assert.ok(clash !== undefined)
    const distinct = say(HQ, { type: 'resolve', conflict: clash.id, decision: 'distinct', canonical: 'S002.3.1', from: '2026-03-02' })
    const f = foldCatalogue([a, b, distinct], '2026-03-02')
    assert.deepEqual([f.conflicts, f.products.get('S001.1.1')?.gtin, f.gtins.get(GTIN)], [[], undefined, 'S002.3.1'])
    const withdraw = say(HQ, { type: 'resolve', conflict: clash.id, decision: 'withdraw', canonical: 'S001.1.1', from: '2026-03-02' })
    const w = foldCatalogue([a, b, withdraw], '2026-03-02')
    assert.deepEqual([w.products.get('S002.3.1')?.withdrawn, w.conflicts, w.gtins.get(GTIN)], [true, [], 'S001.1.1'])
    // A resolution naming a clash that does not exist changes nothing.
    const stray = say(HQ, { type: 'resolve', conflict: 'ab'.repeat(16), decision: 'same', canonical: 'S001.1.1', from: '2026-03-02' })
    assert.deepEqual(plain(foldCatalogue([a, b, stray], '2026-03-02')), plain(foldCatalogue([a, b], '2026-03-02')))
  })

  it('two HQ edits of one price neither saw clash (the smallest id in force until then); an edit that saw both settles it', () => {
    const p1 = price('mug', 850, '2026-03-01')
    const p2 = price('mug', 875, '2026-03-01')
    const f = foldCatalogue([...base, p1, p2], '2026-03-01')
    assert.deepEqual(f.conflicts.map(c => [c.kind, c.statements]), [['concurrent-edit', [p1.id, p2.id].sort()]])
    assert.equal(f.products.get('mug')?.priceCents, p1.id < p2.id ? 850 : 875)
    const settled = price('mug', 860, '2026-03-01', [p1.id, p2.id])
    const g = foldCatalogue([...base, p1, p2, settled], '2026-03-01')
    assert.deepEqual([g.conflicts, g.products.get('mug')?.priceCents], [[], 860])
  })

  it('two tills of a store inventing one sku collide; names alike are an advisory clash', () => {
    const a = invent('S001', 'S001.1.7', { name: 'Bird Feeder' })
    const b = invent('S001', 'S001.1.7', { name: 'Bird Bath', priceCents: 2500 })
    assert.deepEqual(foldCatalogue([a, b], '2026-03-02').conflicts.map(c => c.kind), ['sku-collision'])
    assert.equal(normalisedName('  Café  Latte! '), normalisedName('cafe latte'))
    const c = invent('S002', 'S002.1.1', { name: 'Café Latte' })
    const d = invent('S003', 'S003.1.1', { name: 'cafe latte' })
    assert.deepEqual(foldCatalogue([c, d], '2026-03-02').conflicts.map(x => [x.kind, x.products.map(p => p.sku)]), [['possible-duplicate', ['S002.1.1', 'S003.1.1']]])
  })

  it('who may say what: a store cannot make HQ\'s statements nor invent under another store\'s skus', () => {
    assert.throws(() => say(store('S001'), { type: 'price', sku: 'mug', priceCents: 1, from: '2026-01-01', prev: [] }), /HQ's to make/)
    assert.throws(() => say(store('S001'), { type: 'invent', sku: 'S002.1.1', name: 'X', priceCents: 1, taxRateBp: 0, costCents: 0, from: '2026-01-01' }), /invents skus of its own/)
    assert.throws(() => say(HQ, { type: 'invent', sku: 'S001.1.1', name: 'X', priceCents: 1, taxRateBp: 0, costCents: 0, from: '2026-01-01' }), /a store's to make/)
    assert.throws(() => say(HQ, { type: 'product', sku: 'x', name: 'X', gtin: '5012345678901', taxRateBp: 0, stocked: true, sellable: true, from: '2026-01-01', prev: [] }), /check digit/)
    assert.throws(() => say(HQ, { type: 'resolve', conflict: 'ab'.repeat(16), decision: 'same', from: '2026-01-01' }), /canonical/)
    assert.throws(() => say(HQ, { type: 'price', sku: 'mug', priceCents: 1.5, from: '2026-01-01', prev: [] }), /integer/)
  })

  it('a `products` batch says what a product, a price and a cost statement per item say; an edit replaces a part by its id', () => {
    const batch = say(HQ, { type: 'products', from: '2026-01-01', items: [
      { sku: 'mug', name: 'Product mug', taxRateBp: 2000, stocked: true, sellable: true, priceCents: 800, costCents: 210, prev: [] },
      { sku: 'tea', name: 'Product tea', taxRateBp: 2000, stocked: true, sellable: true, priceCents: 250, costCents: 40, prev: [] }
    ] })
    assert.deepEqual(plain(foldCatalogue([batch], '2026-03-01')), plain(foldCatalogue(base, '2026-03-01')))
    // The same day, the mug's price part replaced by name: no clash, the new price.
    const again = price('mug', 850, '2026-01-01', [`${batch.id}.0p`])
    const f = foldCatalogue([batch, again], '2026-03-01')
    assert.deepEqual([f.products.get('mug')?.priceCents, f.conflicts], [850, []])
    // Not naming it: two prices of one day, a clash.
    assert.deepEqual(foldCatalogue([batch, price('mug', 860, '2026-01-01')], '2026-03-01').conflicts.map(c => c.kind), ['concurrent-edit'])
    assert.throws(() => say(HQ, { type: 'products', from: '2026-01-01', items: [{ sku: 'a', name: 'A', taxRateBp: 0, stocked: true, sellable: true, prev: [] }, { sku: 'a', name: 'A', taxRateBp: 0, stocked: true, sellable: true, prev: [] }] }), /already in this statement/)
    assert.throws(() => say(store('S001'), { type: 'products', from: '2026-01-01', items: [] }), /HQ's to make/)
  })

  it('any order, any duplicates: the same catalogue and the same clashes (property)', () => {
    const a = invent('S001', 'S001.1.1', { gtin: GTIN })
    const b = invent('S002', 'S002.3.1', { gtin: GTIN })
    const pool = [...base, a, b, price('mug', 850, '2026-03-01'), price('mug', 875, '2026-03-01'), invent('S003', 'S003.1.1', { name: 'Product mug' }), say(HQ, { type: 'withdraw', sku: 'tea', from: '2026-03-02' })]
    const clash = foldCatalogue(pool, '2026-03-02').conflicts.find(c => c.kind === 'gtin-duplicate')
    pool.push(say(HQ, { type: 'resolve', conflict: clash?.id ?? '', decision: 'same', canonical: 'S002.3.1', from: '2026-03-02' }))
    const want = plain(foldCatalogue(pool, '2026-03-02'))
    fc.assert(fc.property(fc.shuffledSubarray(pool, { minLength: pool.length, maxLength: pool.length }), fc.array(fc.nat(pool.length - 1), { maxLength: 6 }), (order, dups) => {
      assert.deepEqual(plain(foldCatalogue([...order, ...dups.map(i => pool[i] as Statement)], '2026-03-02')), want)
    }), fcParams())
  })

  it('costsOf gives, per sku and day, the cost the fold gives; undefined for a sku not defined that day (property)', () => {
    const pool = [...base, cost('mug', 230, '2026-03-01'), cost('mug', 260, '2026-03-10'), invent('S001', 'S001.1.1', { costCents: 700 }), cost('S001.1.1', 650, '2026-03-05'), say(HQ, { type: 'withdraw', sku: 'tea', from: '2026-03-02' })]
    const days = ['2025-12-31', '2026-01-01', '2026-03-01', '2026-03-02', '2026-03-04', '2026-03-05', '2026-03-10', '2026-04-01']
    fc.assert(fc.property(fc.shuffledSubarray(pool, { minLength: 3 }), statements => {
      const costOf = costsOf(statements)
      // Twice over: the second pass answers from what costsOf remembers (an undefined too).
      for (const pass of [1, 2]) {
        for (const day of days) {
          const f = foldCatalogue(statements, day)
          for (const sku of ['mug', 'tea', 'S001.1.1', 'nothing']) assert.equal(costOf(sku, day), f.products.get(sku)?.costCents, `${sku} on ${day}, pass ${pass}`)
        }
      }
    }), fcParams())
    const costOf = costsOf(pool)
    assert.deepEqual(['2026-02-28', '2026-03-01', '2026-03-10'].map(d => costOf('mug', d)), [210, 230, 260])
    assert.deepEqual(['2026-03-01', '2026-03-02', '2026-03-05'].map(d => costOf('S001.1.1', d)), [undefined, 700, 650])
  })

  it('withBase: the demo catalogue is in force until HQ names its own products, and stays so for the days before', () => {
    const demo = demoCatalogueData()
    const bare = catalogueDataFor(foldCatalogue(withBase([], demo), '2026-03-01'))
    assert.deepEqual(bare, new Catalogue(demo).toData(), 'with nothing said, the demo catalogue whole')
    // A store's invention alone does not replace the base.
    const gnome = invent('S001', 'S001.1.1')
    assert.ok(foldCatalogue(withBase([gnome], demo), '2026-03-02').products.get('latte')?.sellable)
    // The retailer's own from 2026-03-01: its products (one, 'latte', named again) and no others.
    const own = [product('mug', { from: '2026-03-01' }), price('mug', 800, '2026-03-01'), product('latte', { from: '2026-03-01' }), price('latte', 999, '2026-03-01')]
    const after = catalogueDataFor(foldCatalogue(withBase(own, demo), '2026-03-01'))
    assert.deepEqual(after.products.map(p => [p.sku, p.priceCents]), [['latte', 999], ['mug', 800]])
    const before = foldCatalogue(withBase(own, demo), '2026-02-28')
    assert.equal(before.products.get('latte')?.priceCents, demo.products.find(p => p.sku === 'latte')?.priceCents)
    assert.equal(costsOf(withBase(own, demo))('milk-cl', '2026-02-28'), demo.products.find(p => p.sku === 'milk-cl')?.costCents)
    assert.equal(foldCatalogue(withBase(own, demo), '2026-03-01').conflicts.length, 0, 'the base clashes with nothing the retailer says')
  })
})

/**
 * CatalogueDoc: HQ and stores write the catalogue offline, replicas converge by merge or by
 * Automerge's sync protocol to the same statements and heads, and the boundary refuses every
 * change no honest writer makes (a forgery, a store saying what only HQ may, a delete, an
 * overwrite, a statement under another key).
 */
import assert from 'node:assert/strict'
import * as A from '@automerge/automerge'
import { foldCatalogue } from '@tillbooks/catalogue'
import { asStoreId, issueCertificate, signStatement, statementIdOf, type Canonical } from '@tillbooks/protocol'
import { CatalogueDoc, SyncRefusedError, actorIdFor, initSyncState } from '../src/index.ts'
import { root, signerOf, tillKey } from './helpers/fixtures.ts'

interface Raw { statements: Record<string, Uint8Array> }
const GTIN = '5012345678900'
const S1 = asStoreId('S1')
const S2 = asStoreId('S2')
const till2 = signerOf('till S2-1')
const certS1 = issueCertificate(root, { store: S1, till: 1, tillKey: tillKey.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes
const certS2 = issueCertificate(root, { store: S2, till: 1, tillKey: till2.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes
let atMs = 1_767_225_600_000

const hq = (content: Canonical): Uint8Array => signStatement(root, { author: { kind: 'hq' }, atMs: atMs++, content })
const invent = (store: typeof S1, signer: typeof tillKey, cert: Uint8Array, sku: string): Uint8Array =>
  signStatement(signer, { author: { kind: 'store', store }, atMs: atMs++, content: { type: 'invent', sku, name: 'Garden Gnome', gtin: GTIN, priceCents: 1299, taxRateBp: 2000, costCents: 500, from: '2026-03-02' }, cert })

function sync (a: CatalogueDoc, b: CatalogueDoc): number {
  let sa = initSyncState()
  let sb = initSyncState()
  for (let round = 0; round < 10; round++) {
    const x = a.generateSyncMessage(sa)
    sa = x.state
    if (x.message !== null) sb = b.receiveSyncMessage(sb, x.message).state
    const y = b.generateSyncMessage(sb)
    sb = y.state
    if (y.message !== null) sa = a.receiveSyncMessage(sa, y.message).state
    if (x.message === null && y.message === null) return round
  }
  assert.fail('sync did not settle')
}

const ids = (d: CatalogueDoc): string[] => d.statements().map(s => s.id).sort()

describe('CatalogueDoc', () => {
  it('two stores inventing one GTIN offline, and HQ, converge by sync to the same statements and heads; the fold finds the clash on every replica', () => {
    const atHq = CatalogueDoc.create(root.publicKey, { actorId: actorIdFor('S1-1' as never, 'hq') })
    atHq.add(hq({ type: 'product', sku: 'mug', name: 'Mug', taxRateBp: 2000, stocked: true, sellable: true, from: '2026-01-01', prev: [] }))
    atHq.add(hq({ type: 'price', sku: 'mug', priceCents: 800, from: '2026-01-01', prev: [] }))
    const s1 = CatalogueDoc.create(root.publicKey, { actorId: actorIdFor('S1-1' as never, 's1') })
    const s2 = CatalogueDoc.create(root.publicKey, { actorId: actorIdFor('S2-1' as never, 's2') })
    sync(atHq, s1)
    sync(atHq, s2)
    // Cut off from each other and from HQ, both make up the same product.
    assert.equal(s1.add(invent(S1, tillKey, certS1, 'S1.1.1')), 'added')
    assert.equal(s2.add(invent(S2, till2, certS2, 'S2.1.1')), 'added')
    // The link heals.
    sync(s1, atHq)
    sync(s2, atHq)
    sync(s1, atHq)
    for (const d of [s1, s2]) {
      assert.deepEqual(d.getHeads(), atHq.getHeads())
      assert.deepEqual(ids(d), ids(atHq))
    }
    const folds = [atHq, s1, s2].map(d => foldCatalogue(d.statements(), '2026-03-02'))
    assert.deepEqual(folds[0]?.conflicts.map(c => [c.kind, c.products.map(p => p.sku)]), [['gtin-duplicate', ['S1.1.1', 'S2.1.1']]])
    assert.deepEqual(folds[1]?.conflicts, folds[0]?.conflicts)
    assert.deepEqual(folds[2]?.conflicts, folds[0]?.conflicts)
    // Saved and loaded: the same statements; another HQ's root key does not load it.
    const back = CatalogueDoc.load(atHq.save(), root.publicKey)
    assert.deepEqual(ids(back), ids(atHq))
    assert.throws(() => CatalogueDoc.load(atHq.save(), signerOf('another HQ').publicKey), /not this HQ's catalogue/)
    for (const d of [atHq, s1, s2, back]) d.free()
  })

  it('refuses at the boundary, with a reason, what no honest writer makes: nothing of it is applied', () => {
    const honest = CatalogueDoc.create(root.publicKey, { actorId: 'aa'.repeat(16) })
    const price = hq({ type: 'price', sku: 'mug', priceCents: 800, from: '2026-01-01', prev: [] })
    honest.add(price)
    const base = honest.save()
    const evil = (f: (d: Raw) => void): Uint8Array => A.getLastLocalChange(A.change(A.load<Raw>(base, { actor: 'ee'.repeat(16) }), { time: 0 }, f)) as Uint8Array
    const storeSaysPrice = signStatement(tillKey, { author: { kind: 'store', store: S1 }, atMs: 1, content: { type: 'price', sku: 'mug', priceCents: 1, from: '2026-01-01', prev: [] }, cert: certS1 })
    const otherStore = signStatement(tillKey, { author: { kind: 'store', store: S2 }, atMs: 1, content: { type: 'invent', sku: 'S2.9.9', name: 'X', priceCents: 1, taxRateBp: 0, costCents: 0, from: '2026-01-01' }, cert: certS1 })
    const forged = signStatement(signerOf('mallory'), { author: { kind: 'hq' }, atMs: 1, content: { type: 'price', sku: 'mug', priceCents: 1, from: '2026-01-01', prev: [] } })
    const negative = hq({ type: 'price', sku: 'mug', priceCents: -5, from: '2026-01-01', prev: [] })
    const anotherTills = signStatement(tillKey, { author: { kind: 'store', store: S1 }, atMs: 1, content: { type: 'invent', sku: 'S1.7.1', name: 'X', priceCents: 1, taxRateBp: 0, costCents: 0, from: '2026-01-01' }, cert: certS1 })
    const cases: Array<[Uint8Array, RegExp]> = [
      [evil(d => { d.statements[statementIdOf(storeSaysPrice)] = storeSaysPrice }), /HQ's to make/],
      [evil(d => { d.statements[statementIdOf(otherStore)] = otherStore }), /signed by a till of S1/],
      [evil(d => { d.statements[statementIdOf(forged)] = forged }), /root key/],
      [evil(d => { d.statements[statementIdOf(negative)] = negative }), /priceCents must be in 0/],
      [evil(d => { d.statements[statementIdOf(anotherTills)] = anotherTills }), /till 1 of store S1 invents skus S1\.1\.<n>, not S1\.7\.1/],
      [evil(d => { delete d.statements[statementIdOf(price)] }), /only puts of statements/],
      [evil(d => { d.statements[statementIdOf(price)] = hq({ type: 'price', sku: 'mug', priceCents: 9, from: '2026-01-01', prev: [] }) }), /key its bytes do not give|overwrites/],
      [evil(d => { d.statements['ab'.repeat(16)] = price }), /key its bytes do not give/],
      [evil(d => { (d as unknown as { v: number }).v = 2 }), /only puts of statements/],
      [A.getLastLocalChange(A.emptyChange(A.load<Raw>(base, { actor: 'ee'.repeat(16) }), 'hello')) as Uint8Array, /puts no statement/]
    ]
    for (const [change, why] of cases) {
      const heads = honest.getHeads()
      const r = honest.applyChanges([change])
      assert.deepEqual([r.accepted, r.rejected.length], [0, 1], why.source)
      assert.match(r.rejected[0]?.reason ?? '', why)
      // The same change inside a sync message: the whole message refused.
      const msg = A.encodeSyncMessage({ heads: [], need: [], have: [], changes: [change] })
      assert.throws(() => honest.receiveSyncMessage(initSyncState(), msg), (e: Error) => e instanceof SyncRefusedError && why.test(e.message))
      assert.deepEqual(honest.getHeads(), heads)
    }
    // The writer's own API refuses the same statements.
    assert.throws(() => honest.add(storeSaysPrice), /HQ's to make/)
    assert.throws(() => honest.add(forged), /root key/)
    assert.equal(honest.size, 1)
    honest.free()
  })
})

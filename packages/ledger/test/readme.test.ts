/** The README's example, run as written, so the documentation cannot drift from the code. */
import assert from 'node:assert/strict'
import { GENESIS_HASH, keyPairFromSeed, signEntry, Signer, type BusinessDay, type StoreId } from '@tillbooks/protocol'
import { Books } from '../src/index.ts'
import { hledger, requireHledger } from './helpers/hledger.ts'

describe('README example', () => {
  it('runs and gives what the README says', function () {
    const till = new Signer(keyPairFromSeed(new Uint8Array(32).fill(1)))
    const close = signEntry({
      v: 1, kind: 'close', store: 'S1' as StoreId, till: 1, businessDay: '2026-11-25' as BusinessDay,
      seq: 1, prevHash: GENESIS_HASH, atMs: 0, docFirst: 1, docLast: 2, saleCount: 2, refundCount: 0,
      takingsCents: { cash: 600, card: 600 }, tax: [{ rateBp: 2000, netCents: 1000, taxCents: 200 }],
      refundsCents: 0, cashCountedCents: 600, consumed: [{ sku: 'BEAN', qty: 2 }], points: []
    }, till)

    const books = new Books({ costCents: sku => ({ BEAN: 120 } as Record<string, number>)[sku] ?? 0 })
    assert.equal(books.add(close), 'folded')
    assert.equal(books.add(close), 'duplicate')
    assert.equal(books.snapshot().accounts['revenue:sales'], -1000)
    assert.equal(books.snapshot().stores.S1?.takingsCents, 1200)
    requireHledger(this)
    assert.equal(hledger(books.toHledger(), ['check', '-s']).status, 0)
  })
})

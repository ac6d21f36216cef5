/** Reading an entry back from HQ's log (hq/loggedEntry.ts): the hash its key names, read in place. */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { asBusinessDay, asStoreId, GENESIS_HASH, keyPairFromSeed, openEntry, signEntry, Signer, toHex, type TillRecord } from '@tillbooks/protocol'
import { loggedEntry } from '../src/hq/loggedEntry.ts'
import { entryKey } from '../src/hq/keys.ts'

const signer = new Signer(keyPairFromSeed(new Uint8Array(32).fill(9)))
const entry = signEntry({
  v: 1, kind: 'close', store: asStoreId('S1'), till: 1, businessDay: asBusinessDay('2026-03-02'), seq: 1, prevHash: GENESIS_HASH, atMs: 1,
  docFirst: 1, docLast: 1, saleCount: 1, refundCount: 0, takingsCents: { cash: 100, card: 0 }, tax: [{ rateBp: 0, netCents: 100, taxCents: 0 }],
  refundsCents: 0, cashCountedCents: 100, consumed: [{ sku: 'beans-g', qty: 2 }], points: []
} as TillRecord, signer)

describe('an entry read back from HQ\'s log', () => {
  it('has the hash its key names, as bytes and as text, and the record and signer openEntry gives', () => {
    const opened = openEntry(entry.bytes)
    const e = loggedEntry(entryKey(opened.tillId, opened.seq, opened.hash), entry.bytes)
    assert.deepEqual(e.hashBytes, opened.hashBytes)
    assert.equal(e.hash, opened.hash)
    assert.deepEqual(e.record, opened.record)
    assert.deepEqual(e.signer, opened.signer)
  })

  it('takes any 32 bytes from the key\'s lower-case hex, exactly (random hashes)', () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 1_000_000)
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), bytes => {
      const e = loggedEntry(`e!S1-1!0000000001!${toHex(bytes)}`, entry.bytes)
      assert.deepEqual(e.hashBytes, bytes)
      assert.equal(e.hash, toHex(bytes))
    }), { seed, numRuns: 300 })
  })

  it('refuses a key that does not end with 64 lower-case hex digits, saying the log is corrupt', () => {
    const hex = toHex(entry.hashBytes)
    for (const key of [`e!S1-1!1!${hex.slice(1)}`, `e!S1-1!1!${hex.slice(0, 63)}G`, `e!S1-1!1!${hex.toUpperCase()}`, `e!S1-1!1!${hex.slice(0, 62)}\u0130a`, 'e!short']) {
      assert.throws(() => loggedEntry(key, entry.bytes), /HQ log corrupt: entry key .* does not end with a hash/, key)
    }
  })
})

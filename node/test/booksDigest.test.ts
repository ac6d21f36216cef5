/**
 * GET /books/digest's core: the same set of records in any order, with any duplicates, gives
 * the same { records, setDigest, booksHash }; a record more changes it (the cached digest is
 * made again when the books change).
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { booksDigest } from '../src/hq/booksDigest.ts'
import { fold, scenario } from '../../packages/ledger/test/helpers/scenario.ts'

describe('booksDigest', () => {
  it('is the same for the same records in any order and with duplicates; one record more changes it', () => {
    const { entries } = scenario()
    const reference = booksDigest(fold(entries))
    const seed = Number(process.env.FC_SEED ?? Date.now() % 1_000_000)
    fc.assert(fc.property(fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length }), fc.array(fc.nat({ max: entries.length - 1 }), { maxLength: 5 }), (order, dups) => {
      const books = fold([...order, ...dups.map(i => entries[i] as typeof entries[number])])
      assert.deepEqual(booksDigest(books), reference)
    }), { seed, numRuns: 50 })
    const partial = fold(entries.slice(0, -1))
    const before = booksDigest(partial)
    assert.notDeepEqual(before, reference)
    partial.add(entries[entries.length - 1] as typeof entries[number])
    assert.deepEqual(booksDigest(partial), reference, 'made again once the books changed')
  })
})

/**
 * SummedStore keeps, per kind of record replicas share, the count and digest sum a full scan
 * would give, through puts, overwrites and deletes, and leaves other keys (and excluded ones) out.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { MemoryStore } from '../src/storage/MemoryStore.ts'
import { SummedStore } from '../src/hq/SummedStore.ts'

const kinds = [{ prefix: 'c!' }, { prefix: 'k!', excludes: 'k!code!' }]

async function scanned (store: SummedStore): Promise<Record<string, { count: number, sum: number }>> {
  const fresh = new SummedStore(store)
  await fresh.initSums(kinds)
  return fresh.sums() as Record<string, { count: number, sum: number }>
}

describe('SummedStore', () => {
  it('keeps each kind\'s count and sum equal to a scan, whatever is put, overwritten or deleted', async () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 1_000_000)
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ del: fc.boolean(), key: fc.constantFrom('c!a', 'c!b', 'k!x', 'k!code!1', 'e!z', 'k!y'), v: fc.uint8Array({ minLength: 1, maxLength: 4 }) }), { maxLength: 40 }),
      async ops => {
        const inner = new MemoryStore()
        const store = new SummedStore(inner)
        await store.open()
        await store.batch([{ type: 'put', key: 'c!pre', value: new Uint8Array([1]) }], { sync: true })
        await store.initSums(kinds)
        for (const op of ops) await store.batch([op.del ? { type: 'del', key: op.key } : { type: 'put', key: op.key, value: op.v }], { sync: true })
        assert.deepEqual(store.sums(), await scanned(store))
      }
    ), { seed, numRuns: Number(process.env.FC_RUNS ?? 60) }).catch((err: Error) => { throw new Error(`FC_SEED=${seed}: ${err.message}`) })
  })
})

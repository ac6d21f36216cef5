/**
 * SummedStore keeps, per kind of record replicas share, the count and digest sum a full scan
 * would give, through puts, overwrites and deletes, and leaves other keys (and excluded ones) out;
 * a start reads the sums it wrote with the last batch instead of scanning, unless they may be
 * wrong (none, other kinds, a write before initSums, a failed batch): then it scans.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { MemoryStore } from '../src/storage/MemoryStore.ts'
import { FaultyKvStore } from '../src/storage/FaultyKvStore.ts'
import { SUMS_KEY, SummedStore } from '../src/hq/SummedStore.ts'
import type { KvStore } from '../src/storage/KvStore.ts'

const kinds = [{ prefix: 'c!' }, { prefix: 'k!', excludes: 'k!code!' }]

/** The oracle: a scan of the records under the store, node:crypto's SHA-256 of each. */
async function scanned (store: KvStore): Promise<Record<string, { count: number, sum: number }>> {
  const out: Record<string, { count: number, sum: number }> = { 'c!': { count: 0, sum: 0 }, 'k!': { count: 0, sum: 0 } }
  for await (const [key, value] of store.entries({ gte: '', lt: '\uffff' })) {
    const kind = key.startsWith('c!') ? 'c!' : key.startsWith('k!') && !key.startsWith('k!code!') ? 'k!' : null
    if (kind === null) continue
    const s = out[kind] as { count: number, sum: number }
    s.count++
    s.sum = (s.sum + parseInt(createHash('sha256').update(key).update('\n').update(value).digest('hex').slice(0, 12), 16)) % 2 ** 48
  }
  return out
}

/** A SummedStore started on `inner` (opened), and how it got its sums. */
async function started (inner: KvStore): Promise<SummedStore> {
  const store = new SummedStore(inner)
  await store.open()
  await store.initSums(kinds)
  return store
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
        assert.deepEqual(store.sums(), await scanned(inner))
        // A start after it reads the sums written with the last batch: the same as a scan.
        const next = new SummedStore(inner)
        await next.initSums(kinds)
        assert.equal(next.sumsFrom, 'stored')
        assert.deepEqual(next.sums(), await scanned(inner))
      }
    ), { seed, numRuns: Number(process.env.FC_RUNS ?? 60) }).catch((err: Error) => { throw new Error(`FC_SEED=${seed}: ${err.message}`) })
  })

  it('scans at a start when the stored sums may be wrong: none, for other kinds, malformed, a write before initSums, a batch that failed', async () => {
    const inner = new MemoryStore()
    const first = await started(inner)
    assert.equal(first.sumsFrom, 'scan', 'none stored yet')
    await first.batch([{ type: 'put', key: 'c!1', value: Uint8Array.of(1) }, { type: 'put', key: 'k!a', value: Uint8Array.of(2) }], { sync: true })
    assert.equal((await started(inner)).sumsFrom, 'stored')
    // For other kinds (a version that sums more): scanned.
    const other = new SummedStore(inner)
    await other.initSums([{ prefix: 'c!' }])
    assert.equal(other.sumsFrom, 'scan')
    assert.equal((await started(inner)).sumsFrom, 'scan', 'the scan for one kind wrote sums for one kind')
    // Malformed: scanned.
    await inner.batch([{ type: 'put', key: SUMS_KEY, value: new TextEncoder().encode('{"v":1,') }], { sync: true })
    assert.equal((await started(inner)).sumsFrom, 'scan')
    // A write before initSums (the sums do not count it): the stored sums go with it.
    const early = new SummedStore(inner)
    await early.batch([{ type: 'put', key: 'c!2', value: Uint8Array.of(3) }], { sync: true })
    const afterEarly = await started(inner)
    assert.equal(afterEarly.sumsFrom, 'scan')
    assert.deepEqual(afterEarly.sums(), await scanned(inner))
    // A batch that failed, then came back at a reopen (kept in doubt): the sums in memory miss
    // it; the next batch deletes the stored ones, and the next start scans and counts it.
    const disk = new FaultyKvStore(inner, { inDoubtKeptChance: 1 })
    const onDisk = await started(disk)
    assert.equal(onDisk.sumsFrom, 'stored')
    disk.failNext(1, { code: 'EIO' })
    await assert.rejects(onDisk.batch([{ type: 'put', key: 'c!3', value: Uint8Array.of(4) }], { sync: true }))
    await onDisk.batch([{ type: 'put', key: 'k!b', value: Uint8Array.of(5) }], { sync: true })
    await onDisk.close()
    const reopened = await started(disk)
    assert.equal(reopened.sumsFrom, 'scan')
    assert.equal((await reopened.get('c!3'))?.[0], 4, 'the failed batch came back')
    assert.deepEqual(reopened.sums(), await scanned(disk))
    await assert.rejects(reopened.batch([{ type: 'put', key: SUMS_KEY, value: Uint8Array.of(0) }], { sync: true }), /sums/, 'the sums\' key is its own')
    // Asked to (a whole-log start, after an older version wrote records without the sums): scanned.
    const rescanned = new SummedStore(disk)
    await rescanned.initSums(kinds, { rescan: true })
    assert.equal(rescanned.sumsFrom, 'scan')
  })

  it('a batch sent while initSums is starting is summed once (in turn with it), in memory and as stored', async () => {
    const inner = new MemoryStore()
    const store = new SummedStore(inner)
    await store.open()
    await store.batch([{ type: 'put', key: 'c!1', value: Uint8Array.of(1) }], { sync: true })
    await Promise.all([store.initSums(kinds), store.batch([{ type: 'put', key: 'c!2', value: Uint8Array.of(2) }], { sync: true })])
    assert.deepEqual(store.sums(), await scanned(inner))
    await store.batch([{ type: 'put', key: 'k!z', value: Uint8Array.of(3) }], { sync: true })
    assert.deepEqual((await started(inner)).sums(), await scanned(inner))
  })

  it('a key twice in one batch counts once, as the store keeps it', async () => {
    const inner = new MemoryStore()
    const store = await started(inner)
    await store.batch([{ type: 'put', key: 'c!1', value: Uint8Array.of(1) }, { type: 'put', key: 'c!1', value: Uint8Array.of(2) }, { type: 'del', key: 'k!x' }, { type: 'put', key: 'k!x', value: Uint8Array.of(3) }], { sync: true })
    await store.batch([{ type: 'put', key: 'c!2', value: Uint8Array.of(1) }, { type: 'del', key: 'c!2' }], { sync: true })
    assert.deepEqual(store.sums(), await scanned(inner))
    assert.deepEqual((await started(inner)).sums(), await scanned(inner), 'the sums stored too')
  })

  it('a start on a disk that refuses writes still gets its sums (by a scan it cannot store), and serves on', async () => {
    const inner = new MemoryStore()
    const first = await started(inner)
    await first.batch([{ type: 'put', key: 'c!1', value: Uint8Array.of(1) }], { sync: true })
    await inner.batch([{ type: 'del', key: SUMS_KEY }], { sync: true })
    const disk = new FaultyKvStore(inner, { inDoubtKeptChance: 0 })
    await disk.open()
    disk.failUntilHealed({ code: 'ENOSPC' })
    const sick = new SummedStore(disk)
    await sick.initSums(kinds)
    assert.equal(sick.sumsFrom, 'scan')
    assert.deepEqual(sick.sums(), await scanned(inner))
    disk.heal()
    await sick.batch([{ type: 'put', key: 'c!2', value: Uint8Array.of(2) }], { sync: true })
    assert.deepEqual(sick.sums(), await scanned(inner))
    await sick.close()
    assert.deepEqual((await started(disk)).sums(), await scanned(inner), 'and after a restart')
  })
})

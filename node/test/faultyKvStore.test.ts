/**
 * FaultyKvStore: the disk faults it injects, and what a crash keeps, against the model its
 * header states (a batch whole or not at all; a failed batch invisible, in doubt until a crash
 * or reopen; synced batches kept; of the unsynced, a prefix). A seeded property run checks it
 * over random schedules (FAULTY_RUNS, FAULTY_SEED to replay one).
 */
import assert from 'node:assert/strict'
import { DiskFaultError, FaultyKvStore, MemoryStore, prefixEnd, type KvStore } from '../src/index.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array | undefined): string | undefined => b === undefined ? undefined : new TextDecoder().decode(b)
const put = (key: string, v: string): { type: 'put', key: string, value: Uint8Array } => ({ type: 'put', key, value: enc(v) })

async function keys (store: KvStore, prefix: string): Promise<string[]> {
  const out: string[] = []
  for await (const [k] of store.entries({ gte: prefix, lt: prefixEnd(prefix) })) out.push(k)
  return out
}

describe('FaultyKvStore', () => {
  it('fails the next N batches with a Node-style error, applying none of them, then works', async () => {
    const store = new FaultyKvStore(new MemoryStore())
    await store.open()
    store.failNext(2, { code: 'ENOSPC' })
    for (let i = 0; i < 2; i++) {
      await assert.rejects(store.batch([put('a', 'x'), put('b', 'y')], { sync: true }), (err: unknown) => {
        assert.ok(err instanceof DiskFaultError)
        assert.equal(err.code, 'ENOSPC')
        assert.equal(err.errno, -28)
        assert.equal(err.syscall, 'fsync')
        return true
      })
    }
    assert.equal(await store.get('a'), undefined, 'a failed batch is invisible')
    assert.equal(await store.get('b'), undefined)
    await store.batch([put('a', '1')], { sync: true })
    assert.equal(dec(await store.get('a')), '1')
    assert.equal(store.counters.failed, 2)
  })

  it('syncOnly fails fsync\'d batches and lets unsynced ones through', async () => {
    const store = new FaultyKvStore(new MemoryStore())
    await store.open()
    store.failUntilHealed({ syncOnly: true })
    await store.batch([put('u', '1')], { sync: false })
    await assert.rejects(store.batch([put('s', '1')], { sync: true }), { code: 'EIO', syscall: 'fsync' })
    assert.equal(dec(await store.get('u')), '1')
    assert.equal(store.failing({ sync: false }), false)
    assert.equal(store.failing({ sync: true }), true)
  })

  it('a fault aimed at a key fails only the batch that writes it: other writers on the disk pass (the simulator aims at one sale)', async () => {
    const store = new FaultyKvStore(new MemoryStore())
    await store.open()
    store.failNext(1, { syncOnly: true, key: 's!2' })
    await store.batch([put('c!1', 'catalogue')], { sync: true })
    await store.batch([put('s!1', 'another sale')], { sync: true })
    await assert.rejects(store.batch([put('s!2', 'the sale'), put('m!x', 'y')], { sync: true }), { code: 'EIO' })
    assert.equal(await store.get('s!2'), undefined)
    await store.batch([put('s!2', 'again')], { sync: true })
    assert.deepEqual(await keys(store, ''), ['c!1', 's!1', 's!2'])
    assert.equal(store.counters.failed, 1)
  })

  it('fails until healed, and reads keep working meanwhile', async () => {
    const store = new FaultyKvStore(new MemoryStore())
    await store.open()
    await store.batch([put('k', 'v')], { sync: true })
    store.failUntilHealed()
    for (let i = 0; i < 5; i++) await assert.rejects(store.batch([put(`x${i}`, 'v')], { sync: i % 2 === 0 }), DiskFaultError)
    assert.equal(dec(await store.get('k')), 'v')
    assert.deepEqual(await keys(store, ''), ['k'])
    store.heal()
    await store.batch([put('x', 'v')], { sync: true })
    assert.equal(dec(await store.get('x')), 'v')
  })

  it('sticky: after a failed batch every write fails until the store is reopened (LevelDB after a failed sync)', async () => {
    const store = new FaultyKvStore(new MemoryStore(), { sticky: true })
    await store.open()
    store.failNext(1)
    await assert.rejects(store.batch([put('a', '1')], { sync: true }), DiskFaultError)
    await assert.rejects(store.batch([put('b', '1')], { sync: true }), DiskFaultError, 'healed disk, store not reopened')
    await store.close()
    await store.open()
    await store.batch([put('b', '1')], { sync: true })
    assert.equal(dec(await store.get('b')), '1')
  })

  it('a crash keeps every synced batch, and an in-doubt batch whole or not at all; a later write to its key wins', async () => {
    let kept = 0
    for (let seed = 1; seed <= 40; seed++) {
      const store = new FaultyKvStore(new MemoryStore(), { seed })
      await store.open()
      await store.batch([put('a!1', 'ok')], { sync: true })
      store.failNext(1)
      await assert.rejects(store.batch([put('d!1', 'x'), put('d!2', 'x'), put('w', 'failed')], { sync: true }))
      await store.batch([put('w', 'later')], { sync: true })
      store.crash()
      await store.open()
      assert.equal(dec(await store.get('a!1')), 'ok', `seed ${seed}`)
      const d = await keys(store, 'd!')
      assert.ok(d.length === 0 || d.length === 2, `seed ${seed}: a batch is never torn (${d.join(',')})`)
      if (d.length === 2) kept++
      assert.equal(dec(await store.get('w')), 'later', `seed ${seed}: the later durable write wins`)
    }
    // Both fates happen over 40 seeds (the coin is fair): the test would catch either never happening.
    assert.ok(kept > 0 && kept < 40, `in-doubt batch kept ${kept} of 40`)
  })

  it('random schedules: synced batches survive, nothing is torn, unsynced survivors are a prefix (seeded)', async function () {
    this.timeout(60_000)
    const runs = Number(process.env.FAULTY_RUNS ?? 60)
    const only = process.env.FAULTY_SEED
    const seeds = only !== undefined ? [Number(only)] : Array.from({ length: runs }, (_, i) => 1000 + i)
    for (const seed of seeds) {
      try {
        await scheduleRun(seed)
      } catch (err) {
        console.error(`FaultyKvStore property failed: replay with FAULTY_SEED=${seed}`)
        throw err
      }
    }
  })
})

/** One random schedule of batches, faults and crashes, checked against the model. */
async function scheduleRun (seed: number): Promise<void> {
  let s = seed >>> 0
  const rnd = (): number => { s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0; return ((s ^ (s >>> 13)) >>> 0) / 4294967296 }
  const store = new FaultyKvStore(new MemoryStore(), { seed, failRate: 0.2 })
  await store.open()
  // Per batch id: how it ended. Each batch writes three keys of its own.
  const synced = new Set<number>()
  let unsynced: number[] = []
  const failed = new Set<number>()
  const crashedAway = new Set<number>()
  for (let b = 0; b < 200; b++) {
    if (rnd() < 0.05) {
      store.crash()
      await store.open()
      // Of the unsynced since the last sync, a prefix survives.
      const present = await Promise.all(unsynced.map(async id => (await keys(store, `b${pad(id)}!`)).length === 3))
      const firstLost = present.indexOf(false)
      if (firstLost >= 0) assert.ok(present.slice(firstLost).every(p => !p), `seed ${seed}: unsynced survivors are not a prefix`)
      unsynced.forEach((id, i) => { if (!(present[i] ?? false)) crashedAway.add(id) })
      unsynced = []
      failed.clear()
      continue
    }
    const sync = rnd() < 0.5
    const ops = [0, 1, 2].map(k => put(`b${pad(b)}!${k}`, `${b}`))
    try {
      await store.batch(ops, { sync })
      if (sync) { for (const id of unsynced) synced.add(id); unsynced = []; synced.add(b) } else unsynced.push(b)
    } catch (err) {
      assert.ok(err instanceof DiskFaultError, `seed ${seed}: ${String(err)}`)
      failed.add(b)
      assert.deepEqual(await keys(store, `b${pad(b)}!`), [], `seed ${seed}: failed batch ${b} is visible`)
    }
  }
  // Whole batches only; every synced batch present.
  const all = await keys(store, 'b')
  const per = new Map<string, number>()
  for (const k of all) per.set(k.slice(0, 5), (per.get(k.slice(0, 5)) ?? 0) + 1)
  for (const [id, n] of per) assert.equal(n, 3, `seed ${seed}: batch ${id} torn`)
  for (const id of synced) assert.equal(per.get(`b${pad(id)}`), 3, `seed ${seed}: synced batch ${id} lost`)
}

function pad (n: number): string { return String(n).padStart(4, '0') }

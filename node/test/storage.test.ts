/** One suite, every KvStore: LevelDB on disk and the simulator's MemoryStore behave alike. */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readdir, stat } from 'node:fs/promises'
import { compact, FaultyKvStore, getMany, LevelStore, MemoryStore, prefixEnd, type KvStore } from '../src/index.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array | undefined): string | undefined => b === undefined ? undefined : new TextDecoder().decode(b)

async function collect (store: KvStore, gte: string, lt: string, limit?: number): Promise<string[]> {
  const out: string[] = []
  for await (const [k, v] of store.entries({ gte, lt, ...(limit !== undefined ? { limit } : {}) })) out.push(`${k}=${dec(v)}`)
  return out
}

function storeSuite (name: string, make: () => Promise<{ store: KvStore, reopen: () => Promise<KvStore>, cleanup: () => Promise<void> }>): void {
  describe(`KvStore: ${name}`, () => {
    let ctx: Awaited<ReturnType<typeof make>>
    beforeEach(async () => { ctx = await make(); await ctx.store.open() })
    afterEach(async () => { await ctx.cleanup() })

    it('puts, gets and deletes atomically in a batch', async () => {
      await ctx.store.batch([{ type: 'put', key: 'a', value: enc('1') }, { type: 'put', key: 'b', value: enc('2') }], { sync: true })
      assert.equal(dec(await ctx.store.get('a')), '1')
      await ctx.store.batch([{ type: 'del', key: 'a' }, { type: 'put', key: 'c', value: enc('3') }], { sync: true })
      assert.equal(await ctx.store.get('a'), undefined)
      assert.equal(dec(await ctx.store.get('c')), '3')
    })

    it('gets many keys at once as it gets each, in their order, missing ones undefined', async () => {
      await ctx.store.batch([{ type: 'put', key: 'a', value: enc('1') }, { type: 'put', key: 'c', value: enc('3') }], { sync: true })
      const keys = ['c', 'b', 'a', 'c']
      const one = await Promise.all(keys.map(async k => dec(await ctx.store.get(k))))
      assert.deepEqual((await getMany(ctx.store, keys)).map(dec), one)
      assert.deepEqual(one, ['3', undefined, '1', '3'])
      assert.deepEqual(await getMany(ctx.store, []), [])
    })

    it('a batch of more ops than one turn takes (built in turns) is written whole, in order', async () => {
      const keys = Array.from({ length: 40_000 }, (_, i) => `big!${String(i).padStart(6, '0')}`)
      await ctx.store.batch([...keys.map(key => ({ type: 'put' as const, key, value: enc(key) })), { type: 'del', key: keys[7] as string }, { type: 'put', key: keys[9] as string, value: enc('last wins') }], { sync: true })
      const got = await collect(ctx.store, 'big!', prefixEnd('big!'))
      assert.equal(got.length, keys.length - 1)
      assert.deepEqual([got[0], got[8], got.at(-1)], [`${keys[0] as string}=${keys[0] as string}`, `${keys[9] as string}=last wins`, `${keys.at(-1) as string}=${keys.at(-1) as string}`])
      assert.equal(await ctx.store.get(keys[7] as string), undefined)
    })

    it('scans a prefix in key order, with a limit', async () => {
      await ctx.store.batch(['e!b', 'e!a', 'e!c', 'f!a', 'd!z'].map(key => ({ type: 'put' as const, key, value: enc(key) })), { sync: true })
      assert.deepEqual(await collect(ctx.store, 'e!', prefixEnd('e!')), ['e!a=e!a', 'e!b=e!b', 'e!c=e!c'])
      assert.deepEqual(await collect(ctx.store, 'e!', prefixEnd('e!'), 2), ['e!a=e!a', 'e!b=e!b'])
    })

    it('compacting a range changes nothing read, before or after a reopen', async () => {
      const keys = Array.from({ length: 3_000 }, (_, i) => `c!${String(i).padStart(5, '0')}`)
      await ctx.store.batch([...keys.map(key => ({ type: 'put' as const, key, value: enc(key) })), { type: 'put', key: 's!big', value: new Uint8Array(1024 * 1024).fill(7) }, { type: 'del', key: keys[5] as string }], { sync: true })
      const before = await collect(ctx.store, 'c!', prefixEnd('c!'))
      await compact(ctx.store, { gte: 's!big', lt: 's!big\u0000' })
      await compact(ctx.store, { gte: 'c!', lt: prefixEnd('c!') })
      assert.deepEqual(await collect(ctx.store, 'c!', prefixEnd('c!')), before)
      assert.equal(before.length, keys.length - 1)
      assert.equal((await ctx.store.get('s!big'))?.length, 1024 * 1024)
      const again = await ctx.reopen()
      assert.deepEqual(await collect(again, 'c!', prefixEnd('c!')), before)
      assert.equal((await again.get('s!big'))?.length, 1024 * 1024)
    })

    it('keeps synced writes across a close and reopen', async () => {
      await ctx.store.batch([{ type: 'put', key: 'k', value: enc('v') }], { sync: true })
      const again = await ctx.reopen()
      assert.equal(dec(await again.get('k')), 'v')
    })
  })
}

storeSuite('LevelStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tillbooks-level-'))
  let store = new LevelStore(dir)
  return {
    store,
    reopen: async () => { await store.close(); store = new LevelStore(dir); await store.open(); return store },
    cleanup: async () => { await store.close().catch(() => {}); await rm(dir, { recursive: true, force: true }) }
  }
})

storeSuite('MemoryStore', async () => {
  const store = new MemoryStore()
  return {
    store,
    reopen: async () => { await store.close(); await store.open(); return store },
    cleanup: async () => { await store.close() }
  }
})

// The fault injector with no fault switched on is the store it wraps.
storeSuite('FaultyKvStore over LevelStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tillbooks-level-'))
  let store = new FaultyKvStore(new LevelStore(dir))
  return {
    store,
    reopen: async () => { await store.close(); store = new FaultyKvStore(new LevelStore(dir)); await store.open(); return store },
    cleanup: async () => { await store.close().catch(() => {}); await rm(dir, { recursive: true, force: true }) }
  }
})

storeSuite('FaultyKvStore over MemoryStore', async () => {
  const store = new FaultyKvStore(new MemoryStore())
  return {
    store,
    reopen: async () => { await store.close(); await store.open(); return store },
    cleanup: async () => { await store.close() }
  }
})

describe('LevelStore: compact', () => {
  it('writes the memtable out: a value of many MB compacted after its batch is not in the write-ahead log a start would replay', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tillbooks-level-'))
    const store = new LevelStore(dir)
    try {
      await store.open()
      await store.batch([{ type: 'put', key: 's!file', value: new Uint8Array(8 * 1024 * 1024).fill(1) }, { type: 'put', key: 'e!a', value: enc('x') }], { sync: true })
      const logBytes = async (): Promise<number> => {
        let n = 0
        for (const f of await readdir(dir)) if (f.endsWith('.log') && f !== 'LOG') n += (await stat(join(dir, f))).size
        return n
      }
      assert.ok(await logBytes() >= 8 * 1024 * 1024, 'the batch is in the write-ahead log')
      await store.compact({ gte: 's!file', lt: 's!file\u0000' })
      assert.ok(await logBytes() < 1024 * 1024, `the write-ahead log after compact: ${await logBytes()} bytes`)
      assert.equal((await store.get('s!file'))?.length, 8 * 1024 * 1024)
    } finally {
      await store.close().catch(() => {})
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('MemoryStore crash model', () => {
  it('loses unsynced writes on a crash and keeps synced ones', async () => {
    const store = new MemoryStore()
    await store.open()
    await store.batch([{ type: 'put', key: 'synced', value: enc('1') }], { sync: true })
    await store.batch([{ type: 'put', key: 'cached', value: enc('2') }], { sync: false })
    assert.equal(dec(await store.get('cached')), '2')
    store.crash()
    await store.open()
    assert.equal(dec(await store.get('synced')), '1')
    assert.equal(await store.get('cached'), undefined)
  })

  it('a sync makes earlier unsynced writes durable too (as fsync does)', async () => {
    const store = new MemoryStore()
    await store.open()
    await store.batch([{ type: 'put', key: 'a', value: enc('1') }], { sync: false })
    await store.batch([{ type: 'put', key: 'b', value: enc('2') }], { sync: true })
    store.crash()
    await store.open()
    assert.equal(dec(await store.get('a')), '1')
  })

  it('an fsync in flight when the power goes does not complete', async () => {
    let release!: () => void
    const store = new MemoryStore({ syncDelay: async () => await new Promise<void>(resolve => { release = resolve }) })
    await store.open()
    const write = store.batch([{ type: 'put', key: 'a', value: enc('1') }], { sync: true })
    store.crash()
    release()
    await assert.rejects(write, /crashed/)
    await store.open()
    assert.equal(await store.get('a'), undefined)
  })

  it('a range scan is a snapshot, in key order, of what survives, whatever was put, deleted, synced, crashed or burnt (seeded; replay with STORE_SEED)', async () => {
    const seed = Number(process.env.STORE_SEED ?? Date.now() % 1_000_000)
    let x = seed >>> 0
    const rand = (n: number): number => { x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0; return x % n }
    const store = new MemoryStore()
    await store.open()
    // The model: what a crash keeps (durable) and what is seen now (live).
    let durable = new Map<string, string>()
    let live = new Map<string, string>()
    const key = (): string => `${'abc'[rand(3)]}!${rand(40)}`
    try {
      for (let step = 0; step < 2_000; step++) {
        const r = rand(100)
        if (r < 60) {
          const ops = Array.from({ length: 1 + rand(4) }, () => rand(4) === 0 ? { type: 'del' as const, key: key() } : { type: 'put' as const, key: key(), value: enc(String(step)) })
          const sync = rand(5) === 0
          await store.batch(ops, { sync })
          for (const op of ops) if (op.type === 'put') live.set(op.key, dec(op.value) as string); else live.delete(op.key)
          if (sync) durable = new Map(live)
        } else if (r < 62) {
          store.crash()
          await store.open()
          live = new Map(durable)
        } else if (r < 63) {
          store.burn()
          await store.open()
          live = new Map()
          durable = new Map()
        } else {
          const gte = rand(2) === 0 ? `${'abc'[rand(3)]}` : key()
          const lt = prefixEnd('abc'[rand(3)] as string)
          const limit = rand(2) === 0 ? 1 + rand(10) : undefined
          const expected = [...live].filter(([k]) => k >= gte && k < lt).sort((a, b) => a[0] < b[0] ? -1 : 1).slice(0, limit).map(([k, v]) => `${k}=${v}`)
          // Written once the scan has begun: not in it (a snapshot, as LevelDB's iterators are).
          const scan = store.entries({ gte, lt, ...(limit !== undefined ? { limit } : {}) })[Symbol.asyncIterator]()
          const got: string[] = []
          let n = await scan.next()
          await store.batch([{ type: 'put', key: `${gte}0`, value: enc('late') }], { sync: false })
          live.set(`${gte}0`, 'late')
          for (; n.done !== true; n = await scan.next()) got.push(`${n.value[0]}=${dec(n.value[1])}`)
          assert.deepEqual(got, expected)
        }
      }
    } catch (err) {
      console.error(`    MemoryStore scan model failed; replay with STORE_SEED=${seed}`)
      throw err
    }
  })

  it('burn loses everything', async () => {
    const store = new MemoryStore()
    await store.open()
    await store.batch([{ type: 'put', key: 'a', value: enc('1') }], { sync: true })
    store.burn()
    await store.open()
    assert.equal(store.durableSize(), 0)
  })
})

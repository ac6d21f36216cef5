/** One suite, every KvStore: LevelDB on disk and the simulator's MemoryStore behave alike. */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FaultyKvStore, LevelStore, MemoryStore, prefixEnd, type KvStore } from '../src/index.ts'

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

    it('scans a prefix in key order, with a limit', async () => {
      await ctx.store.batch(['e!b', 'e!a', 'e!c', 'f!a', 'd!z'].map(key => ({ type: 'put' as const, key, value: enc(key) })), { sync: true })
      assert.deepEqual(await collect(ctx.store, 'e!', prefixEnd('e!')), ['e!a=e!a', 'e!b=e!b', 'e!c=e!c'])
      assert.deepEqual(await collect(ctx.store, 'e!', prefixEnd('e!'), 2), ['e!a=e!a', 'e!b=e!b'])
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

  it('burn loses everything', async () => {
    const store = new MemoryStore()
    await store.open()
    await store.batch([{ type: 'put', key: 'a', value: enc('1') }], { sync: true })
    store.burn()
    await store.open()
    assert.equal(store.durableSize(), 0)
  })
})

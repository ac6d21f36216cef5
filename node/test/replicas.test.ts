/**
 * A store's replicas of its neighbours' logs (Automerge documents): entries pushed are kept
 * only when their own signature holds, never for the store's own till, bounded, persistent
 * across a restart, and served back in seq order with both sides of a fork kept; a replicas
 * directory of the layout before (one `r!` key per entry) is migrated on open.
 */
import assert from 'node:assert/strict'
import type { TillId } from '@tillbooks/protocol'
import { MemoryStore } from '../src/storage/MemoryStore.ts'
import { ReplicaDocs } from '../src/sync/ReplicaDocs.ts'
import { TillWriter, withBadSignature, signerOf } from '../../crdt/test/helpers/fixtures.ts'

const me = signerOf('the keeping till').publicKey

describe('ReplicaDocs', () => {
  it('keeps validly signed entries of other tills, refuses the rest with a reason, and survives a restart', async () => {
    const store = new MemoryStore()
    const replicas = new ReplicaDocs(store, me)
    await replicas.open()
    const w = new TillWriter()
    const chain = w.chain(4)
    const forkA = w.peek(0)
    const forkB = w.peek(1)
    const outcomes = await replicas.add([...chain.map(e => e.bytes), withBadSignature(chain[0]!).bytes, new Uint8Array([0xa1, 0x00]), forkA.bytes, forkB.bytes, chain[1]!.bytes], 'S9-1' as TillId)
    assert.deepEqual(outcomes.map(o => o.status), ['accepted', 'accepted', 'accepted', 'accepted', 'rejected', 'rejected', 'accepted', 'accepted', 'duplicate'])
    assert.ok(outcomes.filter(o => o.status === 'rejected').every(o => 'reason' in o && o.reason.length > 0))
    assert.equal(replicas.head(chain[0]!.tillId), 5)
    // Its own till: a store does not replicate itself.
    const own = await replicas.add([chain[0]!.bytes], chain[0]!.tillId)
    assert.equal(own[0]?.status, 'rejected')
    // Far ahead of what is held: refused (a peer cannot make us store an unbounded tail).
    const far = new TillWriter(signerOf('far'), w.store, 7)
    far.seq = 5000
    assert.equal((await replicas.add([far.next().bytes], 'S9-1' as TillId))[0]?.status, 'rejected')

    const served = await replicas.log(chain[0]!.tillId, 2)
    assert.equal(served.length, 4, 'seq 3, 4 and both sides of the fork at 5')
    await replicas.close()
    const again = new ReplicaDocs(store, me)
    await again.open()
    assert.deepEqual(again.heads(), { [chain[0]!.tillId]: 5 })
    assert.equal((await again.log(chain[0]!.tillId, 0)).length, 6)
  })

  it('migrates a replicas directory of the layout before, once: the same heads and entries, the old keys gone', async () => {
    const store = new MemoryStore()
    await store.open()
    const w = new TillWriter()
    const chain = w.chain(3)
    await store.batch(chain.map(e => ({ type: 'put' as const, key: `r!${e.tillId}!${String(e.seq).padStart(12, '0')}!${e.hash}`, value: e.bytes })), { sync: true })
    await store.close()
    const replicas = new ReplicaDocs(store, me)
    await replicas.open()
    assert.deepEqual(replicas.heads(), { [chain[0]!.tillId]: 3 })
    assert.equal((await replicas.log(chain[0]!.tillId, 0)).length, 3)
    const left: string[] = []
    for await (const [k] of store.entries({ gte: 'r!', lt: 'r!\uffff' })) left.push(k)
    assert.deepEqual(left, [])
    assert.deepEqual(Object.keys(replicas.summary()), [chain[0]!.tillId])
    await replicas.close()
  })
})

/**
 * A store's replicas of its neighbours' logs: kept only when the entry's own signature
 * holds, never for the store's own till, bounded, persistent across a restart, and served
 * back in seq order with both sides of a fork kept.
 */
import assert from 'node:assert/strict'
import type { TillId } from '@tillbooks/protocol'
import { MemoryStore } from '../src/storage/MemoryStore.ts'
import { Replicas } from '../src/daemon/Replicas.ts'
import { TillWriter, withBadSignature, signerOf } from '../../crdt/test/helpers/fixtures.ts'

describe('Replicas', () => {
  it('keeps validly signed entries of other tills, refuses the rest with a reason, and survives a restart', async () => {
    const store = new MemoryStore()
    const replicas = new Replicas(store)
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
    const again = new Replicas(store)
    await again.open()
    assert.deepEqual(again.heads(), { [chain[0]!.tillId]: 5 })
    assert.equal((await again.log(chain[0]!.tillId, 0)).length, 6)
  })
})

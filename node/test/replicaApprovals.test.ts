/**
 * A neighbour's signed card approvals kept beside its log: each checked (its own signature,
 * the till it was fetched as), the latest per payment, a bound per till; kept across a restart.
 */
import assert from 'node:assert/strict'
import { keyPairFromSeed, openApproval, signApproval, Signer, type Approval, type TillId } from '@tillbooks/protocol'
import { MemoryStore } from '../src/storage/MemoryStore.ts'
import { ReplicaApprovals } from '../src/sync/ReplicaApprovals.ts'

const signer = new Signer(keyPairFromSeed(new Uint8Array(32).fill(3)))
const approval = (n: number, over: Partial<Approval> = {}): Uint8Array => signApproval(signer, {
  paymentId: `E-1-aaaaaaaa-P${n}`, till: 'E-1', docNo: `E-1-${n}`, processor: 'embedded', type: 'card', amountCents: 100 * n, status: 'approved', mode: 'online',
  processorRef: `PSP${n}`, authCode: 'A1', brand: 'visa', last4: '4242', aid: null, entryMode: 'chip', atMs: 1000 + n, ...over
})

describe('ReplicaApprovals', () => {
  it('keeps a neighbour\'s approvals checked, the latest per payment, within a bound, across a restart', async () => {
    const store = new MemoryStore()
    await store.open()
    const kept = new ReplicaApprovals(store, { perTillMax: 3 })
    await kept.load()
    const tampered = approval(9)
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1
    const other = new Signer(keyPairFromSeed(new Uint8Array(32).fill(4)))
    const byOther = signApproval(other, { ...openApproval(approval(8)).approval })
    const r = await kept.add('E-1' as TillId, [approval(1), approval(2, { status: 'stored', mode: 'offline', processorRef: null, authCode: null }), approval(1), tampered, approval(5, { till: 'W-1' }), new Uint8Array([1, 2]), byOther], signer.publicKey)
    assert.equal(r.added, 2)
    assert.equal(r.refused.length, 4, r.refused.join('; '))
    assert.ok(r.refused.some(x => /W-1/.test(x)))
    assert.ok(r.refused.some(x => /not signed by the till that served it/.test(x)), 'a neighbour hands over only its own')
    // Its key keeps one till's approvals: the same key claiming another till is refused whole.
    assert.match((await kept.add('X-9' as TillId, [approval(1, { till: 'X-9' })], signer.publicKey)).refused[0] ?? '', /kept as E-1's/)
    // A newer approval of a payment replaces the one kept; a fourth payment is past the bound of 3.
    const more = await kept.add('E-1' as TillId, [approval(2, { atMs: 5000 }), approval(3), approval(4)], signer.publicKey)
    assert.equal(more.added, 2)
    assert.match(more.refused[0] ?? '', /3 approvals kept/)
    assert.equal(kept.of('E-1').length, 3)
    assert.equal(kept.of('W-1').length, 0)
    const again = new ReplicaApprovals(store, { perTillMax: 3 })
    assert.equal(await again.load(), 3)
    assert.deepEqual([...again.of('E-1')].sort(Buffer.compare), [...kept.of('E-1')].sort(Buffer.compare))
    // Positions are stable: the newer approval of payment 2 took the place of the older.
    assert.equal(openApproval(kept.of('E-1')[1] as Uint8Array).approval.atMs, 5000)
  })
})

/**
 * Sync states as Automerge's own objects (syncState.ts): made by the bindings the package
 * itself loaded, so a document's handle takes them; a copy is independent of what it copied;
 * encoded and decoded as Automerge's JS API does it.
 */
import assert from 'node:assert/strict'
import * as A from '@automerge/automerge'
import fc from 'fast-check'
import { actorIdFor, cloneSyncState, decodeSyncState, encodeSyncState, initSyncState, TillLog, type SyncState } from '../src/index.ts'
import { automergeInFlight, inFlight } from '../src/syncState.ts'
import { TILL_ID, TillWriter } from './helpers/fixtures.ts'
import { check } from './helpers/seed.ts'

function docWith (n: number, actor: string): A.Doc<Record<string, number>> {
  let d = A.init<Record<string, number>>({ actor })
  for (let i = 0; i < n; i++) d = A.change(d, { time: 0 }, x => { x[`k${i}`] = i })
  return d
}

describe('sync states (Automerge\'s own objects)', () => {
  it('drive a document handle: the messages equal those of Automerge\'s JS API, and both sides settle', () => {
    const a = docWith(5, 'aa')
    const b = docWith(3, 'bb')
    const [, viaJs] = A.generateSyncMessage(a, A.initSyncState())
    const sa = initSyncState()
    const sb = initSyncState()
    const first = A.getBackend(a).generateSyncMessage(sa)
    assert.deepEqual(first, viaJs)
    let toB: Uint8Array | null = first
    for (let i = 0; i < 10 && toB !== null; i++) {
      A.getBackend(b).receiveSyncMessage(sb, toB)
      const toA = A.getBackend(b).generateSyncMessage(sb)
      if (toA !== null) A.getBackend(a).receiveSyncMessage(sa, toA)
      toB = A.getBackend(a).generateSyncMessage(sa)
    }
    assert.equal(toB, null)
    assert.deepEqual(A.getBackend(a).getHeads().sort(), A.getBackend(b).getHeads().sort())
  })

  it('a copy is worked on alone: the state it came from still says what it would have said', () => {
    const a = docWith(4, 'aa')
    const state = initSyncState()
    const copy = cloneSyncState(state)
    assert.notEqual(A.getBackend(a).generateSyncMessage(copy), null)
    // The copy now waits for an answer (Automerge's in-flight); the original never sent anything.
    assert.equal(A.getBackend(a).generateSyncMessage(copy), null)
    assert.notEqual(A.getBackend(a).generateSyncMessage(state), null)
  })

  it('readOnly is kept, and an encoded state decodes to the heads both sides shared, as the JS API encodes them', () => {
    assert.equal(initSyncState({ readOnly: true }).readOnly, true)
    assert.equal(initSyncState().readOnly, false)
    const a = docWith(2, 'aa')
    const b = A.clone(a, { actor: 'bb' })
    const sa = initSyncState()
    const sb = initSyncState()
    for (let i = 0; i < 4; i++) {
      const m = A.getBackend(a).generateSyncMessage(sa)
      if (m !== null) A.getBackend(b).receiveSyncMessage(sb, m)
      const r = A.getBackend(b).generateSyncMessage(sb)
      if (r !== null) A.getBackend(a).receiveSyncMessage(sa, r)
    }
    const bytes = encodeSyncState(sa)
    assert.deepEqual(A.decodeSyncState(bytes).sharedHeads.sort(), A.getHeads(a).slice().sort())
    assert.deepEqual(encodeSyncState(decodeSyncState(bytes)), bytes)
  })

  it('in flight as Automerge says, after any run of messages made, lost, answered, copies and restarts (mirrored, never read from the state)', async () => {
    await check(fc.property(fc.array(fc.constantFrom('append', 'ownerSays', 'replicaSays', 'lose', 'copy', 'restart'), { minLength: 1, maxLength: 40 }), ops => {
      const w = new TillWriter()
      const owner = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till') })
      const replica = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'neighbour') })
      let so: SyncState = initSyncState({ readOnly: true })
      let sr: SyncState = initSyncState()
      const same = (): void => {
        assert.equal(inFlight(so), automergeInFlight(so))
        assert.equal(inFlight(sr), automergeInFlight(sr))
      }
      for (const op of ops) {
        if (op === 'append') owner.append(w.next())
        else if (op === 'ownerSays') {
          const m = owner.generateSyncMessage(so).message
          if (m !== null) replica.receiveSyncMessage(sr, m)
        } else if (op === 'replicaSays') {
          const m = replica.generateSyncMessage(sr).message
          if (m !== null) owner.receiveSyncMessage(so, m)
        } else if (op === 'lose') {
          owner.generateSyncMessage(so)
        } else if (op === 'copy') {
          so = cloneSyncState(so)
          sr = cloneSyncState(sr)
        } else {
          so = decodeSyncState(encodeSyncState(so))
          so.readOnly = true
          sr = decodeSyncState(encodeSyncState(sr))
        }
        same()
      }
    }), 100)
  })
})

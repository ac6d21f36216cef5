/**
 * DocSync in one process, over a transport that hands each request straight to the other
 * side's `answer`: serving and pulling are separate sessions (two neighbours keeping a third
 * till's replica pull it from each other and both converge), a pull settles in the round
 * trips it should, and a refused session starts clean next time.
 */
import assert from 'node:assert/strict'
import * as A from '@automerge/automerge'
import { actorIdFor, initSyncState, TillLog } from '@tillbooks/crdt'
import type { TillId } from '@tillbooks/protocol'
import { MemoryStore, silentLogger } from '../src/index.ts'
import { DocSync, type SyncDocs } from '../src/sync/DocSync.ts'
import type { TillbooksPeer } from '../src/net/TillbooksPeer.ts'
import { RefusedError } from '../src/net/TillbooksPeer.ts'
import { TILL_ID, TillWriter } from '../../crdt/test/helpers/fixtures.ts'
import { decodeAmSyncAnswer, decodeAmSyncRequest, ProtocolError } from '../src/net/messages.ts'
import { AM_SYNC_MESSAGE_BYTES_MAX } from '../src/net/limits.ts'

/** Nodes by name; `amSync(addr = name)` calls that node's DocSync.answer as `from`. */
class Wire {
  readonly nodes = new Map<string, DocSync>()
  peer (from: string): TillbooksPeer {
    return { amSync: async (addr: string, doc: string, msg: Uint8Array | null) => await (this.nodes.get(addr) as DocSync).answer(from, doc as TillId, msg) } as unknown as TillbooksPeer
  }
}

async function node (wire: Wire, name: string, docs: SyncDocs): Promise<DocSync> {
  const store = new MemoryStore()
  await store.open()
  const d = new DocSync({ peer: wire.peer(name), store, docs, logger: silentLogger, persistFor: () => true })
  wire.nodes.set(name, d)
  return d
}

function replicaDocs (name: string, own?: TillLog): SyncDocs & { replica: () => TillLog | undefined } {
  let replica: TillLog | undefined
  return {
    served: id => id === TILL_ID ? (own !== undefined ? { log: own, own: true } : replica !== undefined ? { log: replica, own: false } : undefined) : undefined,
    replicaFor: id => id === TILL_ID && own === undefined ? (replica ??= TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, name) })) : undefined,
    changed: async () => {},
    replica: () => replica
  }
}

describe('DocSync sessions', () => {
  it('two neighbours pull one till\'s replica from each other as well as from the till: separate sessions, all converge', async () => {
    const w = new TillWriter()
    const own = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till') })
    for (const e of w.chain(3)) own.append(e)
    const wire = new Wire()
    await node(wire, 'till', replicaDocs('till', own))
    const a = replicaDocs('a')
    const b = replicaDocs('b')
    const sa = await node(wire, 'a', a)
    const sb = await node(wire, 'b', b)
    assert.equal((await sa.pull('till', 'till', TILL_ID)).added, 3)
    // B from A (A serves its replica read-only), then A from B (the same peer and document, the other role).
    assert.equal((await sb.pull('a', 'a', TILL_ID)).added, 3)
    own.append(w.next())
    assert.equal((await sb.pull('till', 'till', TILL_ID)).added, 1)
    const back = await sa.pull('b', 'b', TILL_ID)
    assert.equal(back.added, 1, 'A pulled the new entry from B, having served B the same document')
    assert.ok(back.trips <= 2, JSON.stringify(back))
    assert.deepEqual(a.replica()?.getHeads(), own.getHeads())
    assert.deepEqual(b.replica()?.getHeads(), own.getHeads())
    // Nothing left to say: one round trip.
    assert.deepEqual(await sa.pull('till', 'till', TILL_ID), { trips: 1, added: 0 })
  })

  it('a document nobody serves is refused; a till never pulls into its own log', async () => {
    const own = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till') })
    const wire = new Wire()
    const st = await node(wire, 'till', replicaDocs('till', own))
    await assert.rejects(st.answer('x', 'Z9-1' as TillId, null), (e: Error) => e instanceof RefusedError && /serves no document for Z9-1/.test(e.message))
    await assert.rejects(st.pull('till', 'till', TILL_ID), /never pulled into/)
    assert.equal(st.counters.refused, 1)
  })

  it('am-sync frames: an oversized or empty message, an unknown field or a bad document id is refused before any handler sees it', () => {
    const ok = decodeAmSyncRequest({ id: 1, doc: 'S1-1', msg: new Uint8Array(10) })
    assert.equal(ok.doc, 'S1-1')
    assert.equal(decodeAmSyncAnswer({ id: 1, msg: null }), null)
    const refused: Array<[string, () => unknown, string]> = [
      ['oversized', () => decodeAmSyncRequest({ id: 1, doc: 'S1-1', msg: new Uint8Array(AM_SYNC_MESSAGE_BYTES_MAX + 1) }), 'OVERSIZED'],
      ['oversized answer', () => decodeAmSyncAnswer({ id: 1, msg: new Uint8Array(AM_SYNC_MESSAGE_BYTES_MAX + 1) }), 'OVERSIZED'],
      ['empty', () => decodeAmSyncRequest({ id: 1, doc: 'S1-1', msg: new Uint8Array(0) }), 'MALFORMED'],
      ['not bytes', () => decodeAmSyncRequest({ id: 1, doc: 'S1-1', msg: 'hello' }), 'MALFORMED'],
      ['a bad document id', () => decodeAmSyncRequest({ id: 1, doc: '../etc', msg: null }), 'MALFORMED'],
      ['an unknown field', () => decodeAmSyncRequest({ id: 1, doc: 'S1-1', msg: null, extra: 1 }), 'MALFORMED']
    ]
    for (const [name, f, code] of refused) assert.throws(f, (e: Error) => e instanceof ProtocolError && e.code === code, name)
  })
})

describe('DocSync: a peer that believes we hold more than we do', () => {
  it('a pull opens by telling our heads, so a server whose session says we hold its newest entry (a stale message of ours, a replica lost) sends it', async () => {
    const w = new TillWriter()
    const own = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till') })
    for (const e of w.chain(3)) own.append(e)
    const wire = new Wire()
    const till = await node(wire, 'till', replicaDocs('till', own))
    const s = replicaDocs('s')
    const ss = await node(wire, 's', s)
    assert.equal((await ss.pull('till', 'till', TILL_ID)).added, 3)
    own.append(w.next())
    // A stale message in the store's name reaches the till: it comes from a copy that holds all 4
    // (the store before it burnt, a message duplicated on the wire), and the till's session now says the store holds them.
    const full = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'old-s') })
    full.merge(own)
    const stale = full.generateSyncMessage(initSyncState())
    assert.ok(stale.message !== null)
    await till.answer('s', TILL_ID, stale.message)
    await till.answer('s', TILL_ID, full.generateSyncMessage(stale.state).message)
    // The till announced its newest entry; the pull is for it.
    const holdsNewest = (): boolean => s.replica()?.entryCount === 4
    const r = await ss.pull('till', 'till', TILL_ID, { until: holdsNewest })
    assert.equal(r.added, 1, `the newest entry came: ${JSON.stringify(r)}`)
    assert.deepEqual(s.replica()?.getHeads(), own.getHeads())
    assert.equal(ss.counters.handshakes, 1, 'one session opened again with our heads')
    // In sync, a pull is one null message each way, and no handshake.
    const messages = ss.counters.messagesOut + ss.counters.messagesIn
    assert.deepEqual(await ss.pull('till', 'till', TILL_ID, { until: holdsNewest }), { trips: 1, added: 0 })
    assert.deepEqual([ss.counters.messagesOut + ss.counters.messagesIn, ss.counters.handshakes], [messages, 1])
  })
})

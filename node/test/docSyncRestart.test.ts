/**
 * Two HQ replicas syncing the catalogue (writable both ways): after one restarts with a fresh
 * document (what it had not persisted lost), the other's pull state still believes it holds
 * what it held. That session does not settle; the pull opens once more afresh and does, and
 * two nodes pulling one document from each other at once never wait on each other.
 */
import assert from 'node:assert/strict'
import { keyPairFromSeed, Signer } from '@tillbooks/protocol'
import { CATALOGUE_DOC, DocSync, HqCatalogue, MemoryStore, silentLogger } from '../src/index.ts'

describe('DocSync between HQ replicas', () => {
  it('a pull whose state outlived the peer\'s restart opens afresh and settles; mutual pulls at once both settle', async () => {
    const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(1)))
    const open = async (actorId: string, kv = new MemoryStore()): Promise<{ c: HqCatalogue, kv: MemoryStore }> => {
      await kv.open()
      const c = new HqCatalogue({ store: kv, root, actorId })
      await c.load()
      return { c, kv }
    }
    const syncs: Record<string, DocSync> = {}
    const make = (name: string, c: HqCatalogue, kv: MemoryStore): DocSync => new DocSync({
      peer: { amSync: async (addr, doc, msg) => await (syncs[addr.split('/p2p/')[1] as string] as DocSync).answer(name, doc, msg) },
      store: kv,
      logger: silentLogger,
      docs: { served: () => ({ log: c.doc, own: false, writable: true }), replicaFor: () => undefined, changed: async () => { await c.changed() } }
    })
    const a = await open('aa')
    const b = await open('bb')
    syncs.a = make('a', a.c, a.kv)
    syncs.b = make('b', b.c, b.kv)
    // Both at once: each one's pull waits for the other's answer, which must not wait for that pull.
    const [ab, ba] = await Promise.all([syncs.a.pull('/x/p2p/b', 'b', CATALOGUE_DOC), syncs.b.pull('/x/p2p/a', 'a', CATALOGUE_DOC)])
    assert.ok(ab.trips <= 3 && ba.trips <= 3)
    // B loses power before persisting anything and starts again with a new actor.
    b.kv.crash()
    const b2 = await open('cc', b.kv)
    syncs.b = make('b', b2.c, b.kv)
    const handshakes = syncs.a.counters.handshakes
    const again = await syncs.a.pull('/x/p2p/b', 'b', CATALOGUE_DOC)
    assert.equal(syncs.a.counters.handshakes, handshakes + 1, 'opened afresh once')
    assert.ok(again.trips > 2)
    // And then it is in sync: one round trip each way.
    assert.ok((await syncs.a.pull('/x/p2p/b', 'b', CATALOGUE_DOC)).trips <= 2)
    assert.deepEqual(a.c.doc.getHeads().sort(), b2.c.doc.getHeads().sort())
  })
})

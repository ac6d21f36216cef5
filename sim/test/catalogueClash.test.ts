/**
 * The catalogueClash fault: two stores cut off from each other and from HQ each make up a
 * product under one GTIN, sell it and close; the partition heals, the catalogue syncs (tills
 * with HQ and with their neighbours, the production DocSync over SimSync), HQ lists the
 * clash and its automation resolves it `same`, and every till converges. Whole runs over a
 * few seeds (every invariant true, the books equal to the Oracle's to the cent, sales
 * through the alias among them; a failing seed prints how to replay it), then forged store
 * statements sent to HQ and to a till over the simulated sync, refused, changing nothing.
 */
import assert from 'node:assert/strict'
import * as A from '@automerge/automerge'
import { isGtin } from '@tillbooks/catalogue'
import { asBusinessDay, asStoreId, issueCertificate, keyPairFromSeed, signStatement, Signer, statementIdOf, type Canonical } from '@tillbooks/protocol'
import { DocSync, MemoryStore, NetError, silentLogger } from '@tillbooks/node'
import { HqCatalogue } from '@tillbooks/node'
import { CATALOGUE_DOC } from '@tillbooks/node'
import { TillCatalogue } from '@tillbooks/node'
import { parseFaults, runSimulation, type SimResult } from '../src/index.ts'
import { Prng } from '../src/Prng.ts'
import { Scheduler } from '../src/Scheduler.ts'
import { QUIET_LINK, SimNetwork } from '../src/SimNetwork.ts'
import { SimSync, type SyncMsg } from '../src/SimSync.ts'
import { failed, problems, replay } from './helpers/runs.ts'

interface ClashDetails {
  gtin: string
  stores: string[]
  invented: Array<{ sku: string, tillId: string, priceCents: number, costCents: number }>
  listed: { conflict: string, skus: string[] } | null
  resolution: { from: string, canonical: string } | null
  sales: { inventedLines: number, throughAlias: number }
  awaitingCatalogueMax: number
  heads: { tills: number, behind: string[] }
  skipped?: string
}

function clashOf (r: SimResult): ClashDetails {
  return r.details.catalogueClash as ClashDetails
}




describe('simulator: two partitioned stores invent the same product (catalogueClash)', function () {
  this.timeout(120_000)

  it('a handful of seeds: the clash is listed and resolved, every till converges, the books equal the Oracle\'s to the cent', async () => {
    const failures: string[] = []
    let throughAlias = 0
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = await runSimulation({ seed, tills: 8 + (seed % 4), days: 5, faults: parseFaults('catalogueClash'), tillsPerStore: 3 })
      failures.push(...problems(r, 'catalogueClash'))
      const c = clashOf(r)
      // The fault did what it says: two products under one valid GTIN, at two stores, both sold, one resolution.
      assert.equal(c.skipped, undefined, replay(r))
      assert.ok(isGtin(c.gtin), `${c.gtin} — ${replay(r)}`)
      assert.equal(new Set(c.invented.map(x => x.tillId.split('-')[0])).size, 2, replay(r))
      assert.deepEqual(c.listed?.skus, c.invented.map(x => x.sku).sort(), replay(r))
      assert.equal(c.resolution?.canonical, c.listed?.skus[0], replay(r))
      assert.ok(c.sales.inventedLines > 0, replay(r))
      assert.deepEqual(c.heads.behind, [], replay(r))
      throughAlias += c.sales.throughAlias
    }
    assert.deepEqual(failures, [], failures.join('\n'))
    assert.ok(throughAlias > 0, 'some sales went through the alias (sold as the canonical product)')
  })

  it('with every other fault too: records that reached HQ before the product waited for it, and none is left waiting', async () => {
    const failures: string[] = []
    let waited = 0
    for (const seed of [100, 101, 103]) {
      const r = await runSimulation({ seed, tills: 8 + (seed % 4), days: 2 + (seed % 5), faults: parseFaults('all,catalogueClash'), tillsPerStore: 3 })
      failures.push(...problems(r, 'catalogueClash'))
      assert.equal(clashOf(r).skipped, undefined, replay(r))
      waited += clashOf(r).awaitingCatalogueMax
    }
    assert.deepEqual(failures, [], failures.join('\n'))
    assert.ok(waited > 0, 'HQ held records naming a store\'s product it had not heard of yet')
  })

  it('is deterministic from the seed, and a run without the fault keeps no catalogue', async () => {
    const opts = { seed: 7, tills: 9, days: 4, faults: parseFaults('catalogueClash'), tillsPerStore: 3 }
    const a = await runSimulation(opts)
    const b = await runSimulation(opts)
    assert.equal(JSON.stringify(a), JSON.stringify(b))
    assert.deepEqual(a.faults, ['catalogueClash'])
    const none = await runSimulation({ ...opts, faults: parseFaults('none') })
    assert.equal(none.details.catalogueClash, undefined)
    assert.deepEqual(failed(none), [], replay(none))
    // `all` is the ten faults it always was: the catalogue clash is named on its own.
    assert.equal(parseFaults('all').has('catalogueClash'), false)
    assert.equal(parseFaults('all,catalogueClash').size, 11)
  })
})

/** `p`, run to its end on the virtual clock (its first message may wait on a few microtasks). */
async function settled<T> (scheduler: Scheduler, p: Promise<T>, maxMs = 60_000): Promise<T> {
  let done = false
  p.then(() => { done = true }, () => { done = true })
  for (let waited = 0; !done && waited < maxMs; waited += 100) {
    await new Promise(resolve => setImmediate(resolve))
    await scheduler.runUntil(scheduler.nowMs + 100)
  }
  return await p
}

describe('a forged store statement sent over the simulated sync is refused and changes nothing', () => {
  const root = new Signer(keyPairFromSeed(new Prng('forged-root').bytes(32)))
  const DAY = asBusinessDay('2026-03-02')
  const S1 = asStoreId('S001')
  const S2 = asStoreId('S002')

  it('at HQ and at a till: an uncertified key, a certificate HQ never issued, a till speaking for another store', async () => {
    const scheduler = new Scheduler(Date.parse(`${DAY}T09:00:00Z`))
    const net = new SimNetwork<SyncMsg>(scheduler, new Prng('net'), QUIET_LINK)
    const clock = { nowMs: () => scheduler.nowMs }
    // HQ: its catalogue served writable, as the simulator (and the daemon) serve it.
    const hqStore = new MemoryStore()
    await hqStore.open()
    const hq = new HqCatalogue({ store: hqStore, root })
    await hq.load()
    const serve = (address: string, doc: () => { doc: HqCatalogue['doc'], changed: () => Promise<void> }): DocSync => {
      const sync: SimSync = new SimSync({ scheduler, send: (to, m) => { net.send(address, to, m) } }, { answer: async (from, id, msg) => await docSync.answer(from, id, msg) })
      const docSync: DocSync = new DocSync({
        peer: sync,
        store: new MemoryStore(),
        logger: silentLogger,
        clock,
        docs: { served: id => id === CATALOGUE_DOC ? { log: doc().doc, own: false, writable: true } : undefined, replicaFor: () => undefined, changed: async () => { await doc().changed() } }
      })
      net.attach(address, (from, m) => { sync.receive(from, m) })
      return docSync
    }
    const hqSync = serve('hq', () => hq)
    // A genuine till of S001, with its certificate: it makes a product up and syncs it to HQ.
    const tillKey = new Signer(keyPairFromSeed(new Prng('till').bytes(32)))
    const cert = issueCertificate(root, { store: S1, till: 1, tillKey: tillKey.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes
    const tillStore = new MemoryStore()
    await tillStore.open()
    const till = await TillCatalogue.open({ store: tillStore, hqRootKey: root.publicKey, storeId: S1, till: 1, signer: tillKey, certificate: cert, logger: silentLogger })
    const tillSync = serve('S001-1', () => till)
    const made = await till.invent({ name: 'Garden Gnome', gtin: '4006381333931', priceCents: 1299, taxRateBp: 2000, costCents: 500 }, DAY, scheduler.nowMs)
    assert.ok((await settled(scheduler, tillSync.pull('hq', 'hq', CATALOGUE_DOC))).trips >= 1)
    assert.equal(hq.costOf(made.sku, DAY), 500, 'the genuine product reached HQ by sync')
    assert.deepEqual(hq.doc.getHeads(), till.getHeads())

    // The attacker: what no honest writer signs, as changes on top of HQ's own document.
    const mallory = new Signer(keyPairFromSeed(new Prng('mallory').bytes(32)))
    const invent = (store: typeof S1, sku: string, signer: Signer, certificate: Uint8Array): Uint8Array => signStatement(signer, {
      author: { kind: 'store', store },
      atMs: scheduler.nowMs,
      cert: certificate,
      content: { type: 'invent', sku, name: 'Cheap Gnome', gtin: '4006381333931', priceCents: 1, taxRateBp: 2000, costCents: 0, from: DAY } as Canonical
    })
    const forged: Array<{ what: string, bytes: Uint8Array, why: RegExp }> = [
      { what: 'a key HQ never certified, with a genuine till\'s certificate', bytes: invent(S1, 'S001.1.9', mallory, cert), why: /not signed by the key its certificate names/ },
      { what: 'a certificate the attacker issued itself', bytes: invent(S1, 'S001.1.9', mallory, issueCertificate(mallory, { store: S1, till: 1, tillKey: mallory.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes), why: /certificate not signed by the HQ root key/ },
      { what: 'a genuine till of S001 speaking for S002', bytes: invent(S2, 'S002.1.1', tillKey, cert), why: /a statement for store S002 signed by a till of S001/ }
    ]
    const attacker = new SimSync({ scheduler, send: (to, m) => { net.send('attacker', to, m) } })
    net.attach('attacker', (from, m) => { attacker.receive(from, m) })
    for (const target of [{ address: 'hq', cat: hq, sync: hqSync }, { address: 'S001-1', cat: till, sync: tillSync }]) {
      for (const f of forged) {
        const heads = target.cat.doc.getHeads()
        const ids = target.cat.doc.statements().map(s => s.id).sort()
        const refused = target.sync.counters.refused
        const change = A.getLastLocalChange(A.change(A.load<{ statements: Record<string, Uint8Array> }>(target.cat.doc.save(), { actor: 'ee'.repeat(16) }), { time: 0 }, d => {
          d.statements[statementIdOf(f.bytes)] = f.bytes
        })) as Uint8Array
        const msg = A.encodeSyncMessage({ heads: [...heads, A.decodeChange(change).hash], need: [], have: [], changes: [change] })
        await assert.rejects(settled(scheduler, attacker.amSync(target.address, CATALOGUE_DOC, msg)), (err: NetError) => err.code === 'REFUSED' && f.why.test(err.message))
        // Nothing of it was taken in: the same heads and statements, no clash, no cost for the forged sku.
        assert.deepEqual(target.cat.doc.getHeads(), heads, `${f.what} at ${target.address}`)
        assert.deepEqual(target.cat.doc.statements().map(s => s.id).sort(), ids, `${f.what} at ${target.address}`)
        assert.equal(target.sync.counters.refused, refused + 1, `${f.what} at ${target.address}: refused and counted`)
      }
    }
    assert.equal(hq.costOf('S001.1.9', DAY), undefined)
    assert.equal(hq.costOf('S002.1.1', DAY), undefined)
    assert.deepEqual(hq.conflicts(DAY).filter(c => c.kind === 'gtin-duplicate'), [])
    assert.deepEqual(till.sellable(DAY).filter(p => p.provisional === true).map(p => p.sku), [made.sku])
    till.close()
    hq.close()
  })
})

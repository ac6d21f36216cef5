/**
 * Replication in the simulator runs the production sync and gossip code: DocSync's pulls and
 * answers over SimSync (the simulated network, with its faults), announcements judged by the
 * production validator. Unit checks of the transport, then whole runs: deterministic from the
 * seed, replicas equal to their tills' logs after loss and duplication, forged announcements
 * rejected. A randomised run prints its seed and how to replay it.
 */
import assert from 'node:assert/strict'
import { NetError, RefusedError } from '@tillbooks/node'
import { parseFaults, runSimulation, type SimResult } from '../src/index.ts'
import { Prng } from '../src/Prng.ts'
import { Scheduler } from '../src/Scheduler.ts'
import { SimNetwork } from '../src/SimNetwork.ts'
import { SimSync, type SyncMsg } from '../src/SimSync.ts'
import { failed, replay } from './helpers/runs.ts'

interface SyncDetails {
  pulls: number
  roundTrips: number
  refused: number
  transport: { requests: number, timeouts: number, late: number }
  gossip: { announced: number, accepted: number, ignored: number, rejected: number, pulls: number, pullsFailed: number }
  forgedAnnouncements: { sent: number, accepted: number, ignored: number, rejected: number, pullsFromAttacker: number }
  replicas: { pairs: number, equal: number, withEvidence: number, missing: number, diverged: number }
}

function syncOf (r: SimResult): SyncDetails {
  return r.details.sync as SyncDetails
}

/** Two nodes on a simulated network, `b` answering with `answer`. */
function pair (answer: (from: string, doc: string, msg: Uint8Array | null) => Promise<Uint8Array | null>, profile = { latencyMs: 40, jitterMs: 0, lossRate: 0, duplicateRate: 0 }): { scheduler: Scheduler, net: SimNetwork<SyncMsg>, a: SimSync, b: SimSync } {
  const scheduler = new Scheduler(0)
  const net = new SimNetwork<SyncMsg>(scheduler, new Prng(1), profile)
  const a = new SimSync({ scheduler, send: (to, m) => { net.send('a', to, m) } }, { timeoutMs: 1_000 })
  const b = new SimSync({ scheduler, send: (to, m) => { net.send('b', to, m) } }, { answer })
  net.attach('a', (from, m) => { a.receive(from, m) })
  net.attach('b', (from, m) => { b.receive(from, m) })
  return { scheduler, net, a, b }
}

describe('SimSync: the sync transport over the simulated network', () => {
  it('carries a request and its answer, in virtual time', async () => {
    const { scheduler, a } = pair(async (from, doc, msg) => new Uint8Array([msg?.length ?? 0, from.length, doc.length]))
    const p = a.amSync('b', 'S001-1', new Uint8Array(5))
    await scheduler.runUntil(100)
    assert.deepEqual(await p, new Uint8Array([5, 1, 6]))
    assert.equal(scheduler.nowMs, 100)
    assert.equal(a.counters.answers, 1)
    assert.equal(a.pending, 0)
  })

  it('rejects a refusal as REFUSED, and times out on the scheduler, not a real timer', async () => {
    const { scheduler, net, a } = pair(async () => { throw new RefusedError('not served here') })
    const refused = assert.rejects(a.amSync('b', 'S001-1', null), (err: NetError) => err.code === 'REFUSED' && /not served here/.test(err.message))
    await scheduler.runUntil(100)
    await refused
    net.attach('b', undefined)
    let settled = false
    const lost = assert.rejects(a.amSync('b', 'S001-1', null), (err: NetError) => err.code === 'TIMEOUT').finally(() => { settled = true })
    await scheduler.runUntil(1_099)
    assert.equal(settled, false, 'still waiting 999 virtual ms after asking')
    await scheduler.runUntil(1_100)
    await lost
    assert.equal(a.counters.timeouts, 1)
  })

  it('answers a duplicated request once, with the same answer, and drops the answers after the first', async () => {
    let n = 0
    const { scheduler, a, b } = pair(async () => new Uint8Array([++n]), { latencyMs: 40, jitterMs: 0, lossRate: 0, duplicateRate: 1 })
    const p = a.amSync('b', 'S001-1', null)
    await scheduler.runUntil(500)
    // The request arrived twice: DocSync answered once, the copy got the same answer; each answer arrived twice.
    assert.deepEqual(await p, new Uint8Array([1]))
    assert.equal(n, 1)
    assert.deepEqual([b.counters.served, b.counters.duplicates, a.counters.late], [1, 1, 3])
  })

  it('fails every waiting request when its node stops (a crash), and answers nothing after', async () => {
    const { scheduler, a, b } = pair(async () => null)
    const p = a.amSync('b', 'S001-1', null)
    a.stop()
    await assert.rejects(p, (err: NetError) => err.code === 'STOPPED')
    await assert.rejects(a.amSync('b', 'S001-1', null), (err: NetError) => err.code === 'STOPPED')
    b.stop()
    await scheduler.runUntil(2_000)
    assert.equal(b.counters.served, 0, 'a stopped node answers nothing')
  })
})

describe('simulator: replication by the production sync and gossip code', function () {
  this.timeout(300_000)

  it('is deterministic from the seed, sync and gossip included', async () => {
    const opts = { seed: 31, tills: 9, days: 3, faults: parseFaults('all'), tillsPerStore: 3 }
    const a = await runSimulation(opts)
    const b = await runSimulation(opts)
    assert.equal(JSON.stringify(a), JSON.stringify(b))
    assert.ok(syncOf(a).roundTrips > 0, 'replicas were pulled by sync')
    assert.ok(syncOf(a).gossip.accepted > 0, 'announcements were accepted')
  })

  it('leaves every replica with its till\'s Automerge heads, after loss, duplication and reordering', async () => {
    // A fixed seed and one drawn afresh each run (printed on failure, to replay).
    const drawn = 1_000 + Math.floor(Math.random() * 1_000_000)
    for (const seed of [3, 8, drawn]) {
      const r = await runSimulation({ seed, tills: 9, days: 3, faults: parseFaults('loss,duplicate,reorder'), tillsPerStore: 3 })
      const s = syncOf(r)
      assert.deepEqual(failed(r), [], replay(r))
      // The drawn seed may meet the stuck replica of sim/README.md (counted, not failed by S1); the fixed ones do not.
      if (seed === drawn) assert.equal(s.replicas.diverged + s.replicas.missing, 0, `${JSON.stringify(s.replicas)} — ${replay(r)}`)
      else assert.equal(s.replicas.equal, s.replicas.pairs, `${JSON.stringify(s.replicas)} — ${replay(r)}`)
      assert.ok(s.replicas.pairs >= 9, replay(r))
      const net = r.details.network as { lost: number, duplicated: number }
      assert.ok(net.lost > 0 && net.duplicated > 0, replay(r))
      assert.ok(s.transport.timeouts > 0 && s.gossip.pullsFailed > 0, `lost messages reached the protocol: ${JSON.stringify(s.transport)} — ${replay(r)}`)
    }
  })

  it('rejects every forged announcement, and pulls nothing from the forger', async () => {
    const r = await runSimulation({ seed: 12, tills: 9, days: 3, faults: parseFaults('forgery'), tillsPerStore: 3 })
    const f = syncOf(r).forgedAnnouncements
    assert.equal(r.invariants.S2_forgedAnnouncementsRejected, true, replay(r))
    assert.ok(f.sent > 0 && f.rejected === f.sent, JSON.stringify(f))
    assert.equal(f.accepted + f.ignored + f.pullsFromAttacker, 0)
    assert.equal(syncOf(r).gossip.rejected, 0, 'no honest announcement is rejected')
  })

  it('brings the equivocating till\'s twin and the fire forger\'s entry into replicas by sync, as evidence', async () => {
    const r = await runSimulation({ seed: 5, tills: 12, days: 4, faults: parseFaults('all'), tillsPerStore: 3 })
    assert.deepEqual(failed(r), [], replay(r))
    const forgeries = r.details.fireForgeries as { planted: number, reachedReplicas: number, refusedAtRecovery: number, accepted: number }
    assert.ok(forgeries.planted > 0 && forgeries.reachedReplicas > 0, JSON.stringify(forgeries))
    assert.equal(forgeries.refusedAtRecovery, forgeries.reachedReplicas)
    assert.equal(r.invariants.S3_forkHeldAsEvidence, true)
    assert.ok(syncOf(r).replicas.withEvidence > 0, JSON.stringify(syncOf(r).replicas))
  })

  it('a pull that fails does not leave its replica behind for good: the serving side starts afresh with the puller (seeds that found it)', async () => {
    // Seed 3 under loss found the till's serving state outliving the store's failed session
    // (the replica fell behind for good); seed 96 under every fault found a change Automerge
    // judged held (a Bloom filter false positive) refused instead of waiting for its parent.
    for (const [seed, tills, days, faults] of [[3, 9, 3, 'loss'], [96, 8, 2, 'all']] as const) {
      const r = await runSimulation({ seed, tills, days, faults: parseFaults(faults), tillsPerStore: 3 })
      assert.equal(r.invariants.S1_replicaHeadsEqual, true, replay(r))
      assert.equal(syncOf(r).replicas.diverged, 0, JSON.stringify(syncOf(r).replicas))
    }
  })
})

/**
 * The hqReplicas fault: two more HQ replicas syncing with HQ and each other (the production
 * HqReplication, DocSync and pullTillLog over links the simulator cuts), one losing power in a
 * close wave and restarting from its log, one cut off for hours and healed, with every fault
 * of `all` on. Over many seeds every invariant holds, and every replica's books hash is HQ's
 * (whose books are the oracle's, to the cent): those seeds are among the thousand worlds of
 * simulation.test.ts (two of every fifty have hqReplicas; a world that never made the
 * R_replicasAgree check fails). Here, one world shows the fault does what it says.
 */
import assert from 'node:assert/strict'
import { parseFaults, runSimulation } from '../src/index.ts'
import { failed, replay } from './helpers/runs.ts'

describe('simulator: HQ replicas (fault hqReplicas)', function () {
  this.timeout(600_000)

  it('exercises what it claims: a replica crashed and one was cut off, they synced tills and HQ records, and each agrees', async () => {
    const r = await runSimulation({ seed: 5, tills: 9, days: 3, faults: parseFaults('all,hqReplicas'), tillsPerStore: 3 })
    assert.deepEqual(failed(r), [], replay(r))
    const d = r.details.replicas as { crashes: number, cuts: number, digests: Record<string, { booksHash: string, records: number }>, counters: Record<string, { recordsAdopted: number, entriesAdded: number, tillsPulled: number }> }
    assert.equal(d.crashes, 1)
    assert.equal(d.cuts, 1)
    assert.deepEqual(Object.keys(d.digests).sort(), ['hq', 'hq-b', 'hq-c'])
    const hashes = new Set(Object.values(d.digests).map(x => x.booksHash))
    assert.equal(hashes.size, 1)
    assert.ok((d.digests.hq?.records ?? 0) > 0)
    for (const name of ['hq-b', 'hq-c']) {
      const c = d.counters[name]
      assert.ok(c !== undefined && c.recordsAdopted > 0 && c.entriesAdded > 0 && c.tillsPulled > 0, `${name}: ${JSON.stringify(c)}`)
    }
  })
})

/**
 * The hqReplicas fault: two more HQ replicas syncing with HQ and each other (the production
 * HqReplication, DocSync and pullTillLog over links the simulator cuts), one losing power in a
 * close wave and restarting from its log, one cut off for hours and healed, with every fault
 * of `all` on. Over many seeds every invariant holds, and every replica's books hash is HQ's
 * (whose books are the oracle's, to the cent). A failing seed prints how to replay it.
 */
import assert from 'node:assert/strict'
import { parseFaults, runSimulation } from '../src/index.ts'
import { failed, replay } from './helpers/runs.ts'

const SEEDS = Number(process.env.SIM_REPLICA_SEEDS ?? 12)

describe('simulator: HQ replicas (fault hqReplicas)', function () {
  this.timeout(600_000)

  it(`${SEEDS} seeds with every fault: each replica's booksHash is HQ's, and HQ's books are the oracle's`, async () => {
    const failures: string[] = []
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await runSimulation({ seed, tills: 3 + (seed % 5), days: 2 + (seed % 3), faults: parseFaults('all,hqReplicas'), tillsPerStore: 3, salesPerDayMax: 6 })
      const bad = failed(r)
      if (r.invariants.R_replicasAgree !== true) bad.push('R_replicasAgree missing or false')
      if (bad.length > 0) failures.push(`${bad.join(', ')} — ${replay(r)}`)
    }
    assert.deepEqual(failures, [], failures.join('\n'))
  })

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

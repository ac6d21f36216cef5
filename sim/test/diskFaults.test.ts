/**
 * The diskFaults fault: HQ's disk fails through each close wave (what it failed to write coming
 * back, or not, when its store reopens) and tills' disks under sales and closes, with every
 * fault of `all` on. Over a handful of seeds every invariant holds:
 * books equal to the oracle's to the cent (nothing acked lost, nothing folded twice), D1 (a
 * refused write changed nothing) and D2 (every receipt printed is in its till's journal, and
 * nothing else is). A failing seed prints how to replay it.
 */
import assert from 'node:assert/strict'
import { parseFaults, runSimulation } from '../src/index.ts'
import { failed, replay } from './helpers/runs.ts'

const SEEDS = Number(process.env.SIM_DISK_SEEDS ?? 5)

describe('simulator: failing disks (fault diskFaults)', function () {
  this.timeout(600_000)

  it(`${SEEDS} seeds with every fault: nothing acked lost, nothing folded twice, every receipt in its journal`, async () => {
    const failures: string[] = []
    let hqBatchesFailed = 0
    let salesRefused = 0
    let closesRefused = 0
    let inDoubtKept = 0
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await runSimulation({ seed, tills: 4 + (seed % 4), days: 2 + (seed % 3), faults: parseFaults('all,diskFaults'), tillsPerStore: 3, salesPerDayMax: 8 })
      const bad = failed(r)
      for (const name of ['D1_refusedWriteChangedNothing', 'D2_journalIsReceiptsPrinted', 'B5_noAckedRecordLost', 'B4_booksEqualOracle']) {
        if (r.invariants[name] !== true) bad.push(`${name} missing or false`)
      }
      if (bad.length > 0) failures.push(`${bad.join(', ')} ${JSON.stringify(r.details.diskFaults)} — ${replay(r)}`)
      const d = r.details.diskFaults as { hqBatchesFailed: number, salesRefused: number, closesRefused: number, hqInDoubtKept: number }
      inDoubtKept += d.hqInDoubtKept
      hqBatchesFailed += d.hqBatchesFailed
      salesRefused += d.salesRefused
      closesRefused += d.closesRefused
    }
    assert.deepEqual(failures, [], failures.join('\n'))
    // It exercised what it claims: HQ refused commits (some of which its log replayed at the reopen), tills refused sales and closes.
    assert.ok(hqBatchesFailed > 0 && inDoubtKept > 0 && salesRefused > 0 && closesRefused > 0, JSON.stringify({ hqBatchesFailed, inDoubtKept, salesRefused, closesRefused }))
  })

  it('the same seed gives the same result', async () => {
    const run = async (): Promise<unknown> => {
      const r = await runSimulation({ seed: 9, tills: 4, days: 2, faults: parseFaults('diskFaults'), tillsPerStore: 2 })
      return { books: r.booksCents, inv: r.invariants, disk: r.details.diskFaults }
    }
    assert.deepEqual(await run(), await run())
  })
})

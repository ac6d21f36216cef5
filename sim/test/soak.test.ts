/**
 * `tillbooks net --soak DAYS`: the plan of kills is a pure function of the seed (so a run
 * replays) that keeps clear of the launcher's own faults; a short soak with real processes
 * kills tills, a store's process and HQ and every check still holds, to the cent. The nightly
 * soak (10 stores × 3 tills, 5 days) runs with TILLBOOKS_NIGHTLY=1.
 */
import assert from 'node:assert/strict'
import { Prng } from '../src/Prng.ts'
import { SOAK_KILL_PERCENT_MAX, SOAK_KILL_PERCENT_MIN } from '../src/net/constants.ts'
import { runNet, survivors, type NetResult, type SoakKillDone } from '../src/net/launcher.ts'
import { formatNetResult } from '../src/net/report.ts'
import { describeSoakKill, planSoak, sliceAt, type SoakFleet } from '../src/net/soak.ts'

const FLEET: SoakFleet = { seed: 9, days: 5, stores: ['S001', 'S002', 'S003', 'S004'], tillsPerStore: 3, fire: { store: 'S003', day: 3 }, busyCloseWaves: [4] }

/** Every check of a run true, or the report, the soak and the log lines to say why not. */
function assertAllHold (r: NetResult, lines: string[]): void {
  const failed = Object.entries(r.invariants).filter(([, ok]) => !ok).map(([k]) => k)
  assert.deepEqual(failed, [], `${formatNetResult(r)}\n${JSON.stringify(r.details.soak ?? null, null, 1).slice(0, 4000)}\n${r.warnings.join('\n')}\n${lines.slice(-60).join('\n')}`)
}

describe('soak: the plan of kills', () => {
  it('every day a till, a store\'s process and HQ, at moments within the bounds, in the order they happen', () => {
    const plan = planSoak(new Prng(9).fork('soak'), FLEET)
    assert.equal(plan.seed, 9)
    assert.notEqual(plan.tillStore, 'S003', 'the burning store\'s tills are replaced: it cannot be the one whose tills run alone')
    for (let day = 0; day < FLEET.days; day++) {
      const kinds = plan.kills.filter(k => k.day === day).map(k => k.kind).sort()
      assert.deepEqual(kinds, ['hq', 'store', 'till'], `day ${day}`)
    }
    for (const k of plan.kills) {
      assert.ok(k.atPercent >= SOAK_KILL_PERCENT_MIN && k.atPercent <= SOAK_KILL_PERCENT_MAX, JSON.stringify(k))
      if (k.kind === 'till') assert.match(k.target, new RegExp(`^${plan.tillStore}-[1-3]$`))
      if (k.kind === 'store') assert.notEqual(k.target, plan.tillStore)
    }
    const when = plan.kills.map(k => k.day * 1000 + ['open', 'sales', 'closes'].indexOf(k.phase) * 100 + k.atPercent)
    assert.deepEqual(when, [...when].sort((a, b) => a - b))
  })

  it('the same seed, the same plan; another seed, another', () => {
    const a = planSoak(new Prng(9).fork('soak'), FLEET)
    assert.deepEqual(planSoak(new Prng(9).fork('soak'), FLEET), a)
    assert.notDeepEqual(planSoak(new Prng(10).fork('soak'), { ...FLEET, seed: 10 }).kills, a.kills)
  })

  it('keeps clear of the launcher\'s own faults: no kill in a busy close wave, nor of the burning store in its last wave or after', () => {
    for (let seed = 0; seed < 200; seed++) {
      const plan = planSoak(new Prng(seed).fork('soak'), { ...FLEET, seed })
      for (const k of plan.kills) {
        assert.ok(!(k.phase === 'closes' && FLEET.busyCloseWaves.includes(k.day)), `seed ${seed}: ${describeSoakKill(k)}`)
        if (k.target === 'S003') assert.ok(k.day < 3 || (k.day === 3 && k.phase !== 'closes'), `seed ${seed}: ${describeSoakKill(k)}`)
      }
    }
  })

  it('two stores: the one that burns is the only store process to kill, and only up to its fire', () => {
    const plan = planSoak(new Prng(1).fork('soak'), { seed: 1, days: 3, stores: ['S001', 'S002'], tillsPerStore: 2, fire: { store: 'S002', day: 1 }, busyCloseWaves: [2] })
    assert.equal(plan.tillStore, 'S001')
    assert.deepEqual(plan.kills.filter(k => k.kind === 'store').map(k => `${k.day} ${k.target}`), ['0 S002', '1 S002'])
    assert.equal(plan.kills.filter(k => k.kind !== 'store').length, 6)
  })

  it('describes each kill so a reader knows when it comes; slices a phase at its percentages', () => {
    assert.equal(describeSoakKill({ day: 1, kind: 'store', target: 'S004', phase: 'sales', atPercent: 37 }, '2026-03-03'), "day 2 (2026-03-03): SIGKILL store S004's process after 37 % of each till's sales")
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert.deepEqual([sliceAt(xs, 0, 37), sliceAt(xs, 37, 80), sliceAt(xs, 80, 100)], [[1, 2, 3], [4, 5, 6, 7, 8], [9, 10]])
    assert.deepEqual(sliceAt([1, 2, 3], 10, 20), [])
  })
})

describe('soak: real processes', function () {
  this.timeout(300_000)

  it('2 days, 2 stores × 2 tills: tills, a store\'s process and HQ SIGKILLed and back; every check holds, to the cent', async () => {
    const lines: string[] = []
    const r = await runNet({ stores: 2, tillsPerStore: 2, days: 2, seed: 3, soak: true, timeoutMs: 280_000, booksDb: 'off', log: l => { lines.push(l) } })
    assertAllHold(r, lines)
    for (const k of ['K1_soakKillsAsPlanned', 'K2_tillsIntactAfterKill', 'K3_noAckedRecordLostOnHqKill', 'B4_booksEqualOracle', 'B5_noAckedRecordLost', 'B5_rebuildIdentical', 'B6_fireRecoveredLastClose', 'G1_docNosContiguous', 'allClosesFolded']) assert.equal(r.invariants[k], true, k)
    assert.equal(r.booksCents, r.oracleCents)
    const soak = r.details.soak as { plan: string[], kills: SoakKillDone[], killed: { tills: number, stores: number, hq: number } }
    // Two days: a till and HQ each day, the store that burns on the first (the only other store).
    assert.deepEqual(soak.killed, { tills: 2, stores: 1, hq: 2, tillProcessesDown: 2 + 2 })
    assert.equal(soak.plan.length, 5)
    // The plan was printed before the run, each kill as it came, and each pid is gone.
    for (const p of soak.plan) assert.ok(lines.includes(`soak: ${p}`), p)
    assert.ok(soak.kills.every(k => k.killed && k.restarted && k.intact && k.pids.length === 1), JSON.stringify(soak.kills))
    assert.deepEqual(survivors(soak.kills.flatMap(k => k.pids)), [])
    assert.deepEqual(r.processes.leftRunning, [])
  })

  it('nightly (TILLBOOKS_NIGHTLY=1): 5 days, 10 stores × 3 tills', async function () {
    if (process.env.TILLBOOKS_NIGHTLY !== '1') this.skip()
    this.timeout(3_600_000)
    const lines: string[] = []
    const seed = Number(process.env.TILLBOOKS_SOAK_SEED ?? 21)
    const r = await runNet({ stores: 10, tillsPerStore: 3, days: 5, seed, soak: true, booksDb: 'off', log: l => { lines.push(l); process.stderr.write(`[soak] ${l}\n`) } })
    process.stderr.write(formatNetResult(r) + '\n')
    assertAllHold(r, lines)
    const soak = r.details.soak as { killed: { tills: number, stores: number, hq: number } }
    assert.deepEqual({ tills: soak.killed.tills, stores: soak.killed.stores, hq: soak.killed.hq }, { tills: 5, stores: 5, hq: 5 })
    assert.equal(r.booksCents, r.oracleCents)
  })
})

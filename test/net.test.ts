/**
 * `tillbooks net` through the CLI, as the contract in ../shared/DESIGN.md is checked from
 * outside: --json prints one JSON object last, with the contract fields, and the exit code
 * says whether every check held; with three HQ processes, every replica ends with HQ's books;
 * with cards, the processor's outage and its settlement's planted faults are reconciled exactly.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('../cli/src/tillbooks.ts', import.meta.url))

describe('tillbooks net (CLI)', function () {
  this.timeout(180_000)

  it('--json: the contract fields on the last line, every check true, exit 0, no process left', function () {
    // One fleet with every fault at once (a launcher run costs ~25 s of both cores: one, not two):
    // three HQ processes (two replicas: one SIGKILLed in the first close wave, one stopped
    // through the last day) and cards through the processor process (down for a day's sales).
    // The books are checked against the oracle, not SQL: no PGlite (~9 s of CPU for each HQ
    // process's fresh one; test/daemons.test.ts starts HQ as it starts by default).
    const r = spawnSync(process.execPath, [cli, 'net', '--stores', '4', '--tills-per-store', '2', '--days', '2', '--seed', '7', '--hq-replicas', '3', '--cards', '--books-db', 'off', '--quiet', '--timeout-s', '150', '--json'], { encoding: 'utf8', timeout: 170_000 })
    assert.equal(r.status, 0, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`)
    const lines = r.stdout.trim().split('\n')
    const out = JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>
    for (const k of ['stores', 'tillsPerStore', 'days', 'seed', 'sales', 'booksCents', 'oracleCents', 'invariants', 'timingsMs']) assert.ok(k in out, `missing ${k}`)
    assert.equal(out.stores, 4)
    assert.equal(out.tillsPerStore, 2)
    assert.equal(out.tills, 8)
    assert.equal(out.seed, 7)
    assert.ok((out.sales as number) > 0)
    assert.equal(out.booksCents, out.oracleCents)
    const invariants = out.invariants as Record<string, boolean>
    assert.deepEqual(Object.entries(invariants).filter(([, ok]) => !ok).map(([k]) => k), [], JSON.stringify(out.details).slice(0, 4000))
    for (const k of ['B3_resendAddsNothing', 'B4_booksEqualOracle', 'B4_debitsEqualCredits', 'B5_noAckedRecordLost', 'B5_rebuildIdentical', 'B6_fireRecoveredLastClose', 'B6_forgedReplicaRejected', 'G1_noDocNoClash', 'G1_docNosContiguous', 'forgeriesRejected', 'storeCutOffCaughtUp', 'allClosesFolded',
      'P2_settlementExceptionsExact', 'P5_clearingEqualsOpenExceptions', 'settlementImportIdempotent', 'R_replicasAgree']) {
      assert.equal(invariants[k], true, k)
    }
    const details = out.details as Record<string, unknown>
    const replicas = details.replicas as { events: string[], digests: Record<string, { booksHash: string }> }
    assert.deepEqual(Object.keys(replicas.digests).sort(), ['hq', 'hq-b', 'hq-c'])
    assert.ok(replicas.events.some(e => /hq-b SIGKILLed/.test(e)) && replicas.events.some(e => /hq-c stopped/.test(e)), replicas.events.join('; '))
    const crash = details.hqCrash as { closesAckedBeforeKill: number, closeWave: number }
    assert.ok(crash.closesAckedBeforeKill > 0 && crash.closesAckedBeforeKill < crash.closeWave, 'HQ died in the middle of the close wave')
    // Cards through the processor process: it was down for a day's sales, the tills stored and forwarded, late declines came back.
    const cards = details.cards as { outage: { forwardedBeforeClose: boolean }, sales: { stored: number, lateDeclines: number }, reconciliation: { exceptions: string[] } }
    assert.equal(cards.outage.forwardedBeforeClose, true)
    assert.ok(cards.sales.stored > 0 && cards.sales.lateDeclines > 0, JSON.stringify(cards.sales))
    assert.ok(['missing_in_settlement', 'amount_mismatch', 'duplicate', 'late_decline'].every(k => cards.reconciliation.exceptions.some(x => x.startsWith(`${k} `))), JSON.stringify(cards.reconciliation))
    // HQ, its two replicas, HQ twice restarted, 4 store processes, the processor, 2 replacement tills and their recoveries; every one gone, by pid.
    const procs = out.processes as { started: number, pids: number[], leftRunning: number[] }
    assert.ok(procs.started >= 3 + 2 + 4 + 1 + 2 + 2, `started ${procs.started}`)
    assert.deepEqual(procs.leftRunning, [])
    for (const pid of procs.pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `pid ${pid} still there`)
    assert.equal(out.runDir, null)
  })

  it('refuses bad arguments with a reason and a non-zero exit', function () {
    const bad = spawnSync(process.execPath, [cli, 'net', '--stores', '0'], { encoding: 'utf8', timeout: 30_000 })
    assert.notEqual(bad.status, 0)
    assert.match(bad.stderr, /stores must be/)
    const soakDays = spawnSync(process.execPath, [cli, 'net', '--soak', '2', '--days', '3'], { encoding: 'utf8', timeout: 30_000 })
    assert.notEqual(soakDays.status, 0)
    assert.match(soakDays.stderr, /--soak 2 runs 2 days, but --days says 3/)
    const soakZero = spawnSync(process.execPath, [cli, 'net', '--soak', '0'], { encoding: 'utf8', timeout: 30_000 })
    assert.notEqual(soakZero.status, 0)
    assert.match(soakZero.stderr, /soak must be in 1\.\.60/)
  })
})

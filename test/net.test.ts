/**
 * `tillbooks net` through the CLI, as the contract in ../shared/DESIGN.md is checked from
 * outside: --json prints one JSON object last, with the contract fields, and the exit code
 * says whether every check held; with three HQ processes, every replica ends with HQ's books.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('../cli/src/tillbooks.ts', import.meta.url))

describe('tillbooks net (CLI)', function () {
  this.timeout(180_000)

  it('--json: the contract fields on the last line, every check true, exit 0, no process left', function () {
    // Three HQ processes (two replicas: one SIGKILLed in the first close wave, one stopped through the last day).
    const r = spawnSync(process.execPath, [cli, 'net', '--stores', '3', '--tills-per-store', '2', '--days', '2', '--seed', '5', '--hq-replicas', '3', '--quiet', '--timeout-s', '150', '--json'], { encoding: 'utf8', timeout: 170_000 })
    assert.equal(r.status, 0, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`)
    const lines = r.stdout.trim().split('\n')
    const out = JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>
    for (const k of ['stores', 'tillsPerStore', 'days', 'seed', 'sales', 'booksCents', 'oracleCents', 'invariants', 'timingsMs']) assert.ok(k in out, `missing ${k}`)
    assert.equal(out.stores, 3)
    assert.equal(out.tillsPerStore, 2)
    assert.equal(out.seed, 5)
    assert.equal(out.booksCents, out.oracleCents)
    assert.ok(Object.values(out.invariants as Record<string, boolean>).every(v => v === true), JSON.stringify(out.invariants))
    assert.equal((out.invariants as Record<string, boolean>).R_replicasAgree, true)
    const replicas = (out.details as { replicas: { events: string[], digests: Record<string, { booksHash: string }> } }).replicas
    assert.deepEqual(Object.keys(replicas.digests).sort(), ['hq', 'hq-b', 'hq-c'])
    assert.ok(replicas.events.some(e => /hq-b SIGKILLed/.test(e)) && replicas.events.some(e => /hq-c stopped/.test(e)), replicas.events.join('; '))
    const procs = out.processes as { pids: number[], leftRunning: number[] }
    assert.deepEqual(procs.leftRunning, [])
    for (const pid of procs.pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `pid ${pid} still there`)
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

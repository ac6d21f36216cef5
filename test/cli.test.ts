/** The CLI contract of ../shared/DESIGN.md: `tillbooks sim ... --json` prints one JSON object last, exit code says the invariants. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('../cli/src/tillbooks.ts', import.meta.url))

function run (args: string[]): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('tillbooks CLI', function () {
  this.timeout(180_000)

  it('sim --json prints the contract fields on the last line, the same twice, and exits 0', () => {
    const args = ['sim', '--tills', '7', '--days', '2', '--seed', '11', '--faults', 'all', '--json']
    const a = run(args)
    assert.equal(a.code, 0, a.stderr)
    const lines = a.stdout.trim().split('\n')
    const r = JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>
    for (const k of ['seed', 'tills', 'days', 'recordsAccepted', 'duplicatesIgnored', 'forgedRejected', 'booksCents', 'oracleCents', 'invariants']) assert.ok(k in r, `missing ${k}`)
    assert.equal(r.seed, 11)
    assert.equal(r.tills, 7)
    assert.equal(r.booksCents, r.oracleCents)
    assert.ok(Object.values(r.invariants as Record<string, boolean>).every(v => v === true))
    assert.equal(run(args).stdout, a.stdout, 'deterministic')
  })

  it('refuses bad arguments with a reason and a non-zero exit', () => {
    const bad = run(['sim', '--faults', 'meteor'])
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /unknown fault "meteor"/)
    const neg = run(['sim', '--tills', '-3'])
    assert.notEqual(neg.code, 0)
    assert.match(neg.stderr, /tills must be/)
  })
})

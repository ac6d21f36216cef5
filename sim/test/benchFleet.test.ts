/**
 * `tillbooks bench` end to end at a tiny size: a real HQ process, two load generators over
 * libp2p, the legacy counter, both pitch relays. Asserts the JSON contract (DESIGN.md), that
 * every check passes, that the output files are written, and that no process is left.
 * Speed is not checked here.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pidAlive } from '../src/net/proc.ts'

const MAIN = fileURLToPath(new URL('../src/bench/fleet/main.ts', import.meta.url))

const alive = pidAlive

describe('tillbooks bench (scale benchmark, tiny sweep)', function () {
  this.timeout(180_000)
  let out = ''
  before(async () => { out = await mkdtemp(join(tmpdir(), 'tillbooks-bench-test-')) })
  after(async () => { await rm(out, { recursive: true, force: true }) })

  it('--sweep 40 --json: the contract, every check passing (over the warm-up tills too), files written, every process gone', async () => {
    const args = [MAIN, 'bench', '--sweep', '40', '--runs', '1', '--warmup-tills', '8', '--probe-connections', '8', '--legacy-budget-s', '2', '--out', out, '--json']
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const code = await new Promise<number | null>(resolve => child.on('close', resolve))
    assert.equal(code, 0, `exit ${code}\n${stderr.slice(-3000)}\n${stdout.slice(-3000)}`)
    const last = stdout.trim().split('\n').at(-1) as string
    const j = JSON.parse(last) as { runs: Array<Record<string, unknown> & { checks: Record<string, boolean>, pids: number[] }> }
    assert.equal(j.runs.length, 1)
    const r = j.runs[0] as (typeof j.runs)[number]
    assert.equal(r.tills, 40)
    // The warm-up tills' day went to HQ before the wave, untimed: the books and the rebuild hold them.
    assert.equal(r.warmupTills, 8)
    // Issue 21: a start from the whole log trusting it, and a restart after SIGKILL from a checkpoint of the books.
    for (const k of ['reportsPerSec', 'baselineReportsPerSec', 'guardedBaselineReportsPerSec', 'verifyCeilingPerSec', 'hqRssBytes', 'rebuildTrustRecordsPerSec', 'restartSeconds']) {
      assert.equal(typeof r[k], 'number', k)
      assert.ok((r[k] as number) > 0, `${k} = ${String(r[k])}`)
    }
    for (const name of ['allAcked', 'B3_resendAddsNothing', 'B4_booksEqualOracle', 'B4_debitsEqualCredits', 'B5_rebuildIdentical', 'B5_noAckedRecordLost',
      'B5_trustedRebuildIdentical', 'B5_checkpointRestartIdentical',
      'B6_fireRecoveredLastClose', 'B6_forgedReplicaRejected', 'G1_noDocNoClash', 'G1_docNosContiguous', 'G1_legacyCounterNoClash',
      'pitchAsPitchedChecks', 'pitchGuardedChecks', 'processesGone']) {
      assert.equal(r.checks[name], true, `${name}: ${JSON.stringify(r.checks)}`)
    }
    assert.ok(r.pids.length >= 6, `pids ${JSON.stringify(r.pids)}`)
    for (const pid of r.pids) assert.equal(alive(pid), false, `process ${pid} still running`)
    // the table on stdout, the files
    assert.match(stdout, /pitch published\/s/)
    const saved = JSON.parse(await readFile(join(out, 'bench.json'), 'utf8')) as { runs: Array<{ details: { B4: { folded: number } }, runsDetail: Array<{ records: number }> }> }
    assert.equal(saved.runs.length, 1)
    assert.equal(saved.runs[0]?.details.B4.folded, 2 * (40 + 8))
    assert.equal(saved.runs[0]?.runsDetail[0]?.records, 2 * 40 - 4, 'the wave: the fleet\'s records, less the burnt store\'s 4 unsent Closes')
    assert.match(await readFile(join(out, 'bench.svg'), 'utf8'), /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    assert.match(await readFile(join(out, 'bench.log'), 'utf8'), /B5: HQ SIGKILLed/)
  })

  it('refuses a bad sweep', async () => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', MAIN, 'bench', '--sweep', '10,abc'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const code = await new Promise<number | null>(resolve => child.on('close', resolve))
    assert.notEqual(code, 0)
    assert.match(stderr, /integer/)
  })
})

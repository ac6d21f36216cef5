/**
 * Run the real hledger on an export. Missing hledger fails under CI=true (CI installs it,
 * see .ci/run) and skips elsewhere with the command that installs it.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseCents } from '../../src/money.ts'

/** HLEDGER overrides the binary (e.g. to check the missing-tool path: HLEDGER=/nonexistent). */
const HLEDGER = process.env.HLEDGER ?? 'hledger'
let available: boolean | undefined

export function hledgerAvailable (): boolean {
  available ??= spawnSync(HLEDGER, ['--version'], { encoding: 'utf8' }).status === 0
  return available
}

export function requireHledger (ctx: Mocha.Context): void {
  if (hledgerAvailable()) return
  if (process.env.CI === 'true') throw new Error('hledger is required under CI=true but is not installed: apt-get install hledger')
  console.log('      hledger not found, skipping; install it with: apt-get install hledger')
  ctx.skip()
}

export interface HledgerRun { status: number | null, stdout: string, stderr: string }

/** Write `journal` to a temp file and run `hledger -f FILE ...args`. */
export function hledger (journal: string, args: string[]): HledgerRun {
  const dir = mkdtempSync(join(tmpdir(), 'tillbooks-ledger-'))
  try {
    const file = join(dir, 'books.journal')
    writeFileSync(file, journal)
    const r = spawnSync(HLEDGER, ['-f', file, ...args], { encoding: 'utf8', env: { ...process.env, LANG: 'C.UTF-8' } })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Account balances as hledger computes them, in cents (one commodity). */
export function hledgerBalances (journal: string, currency: string): Map<string, number> {
  const r = hledger(journal, ['bal', '-E', '--flat', '--no-total', '-O', 'csv'])
  if (r.status !== 0) throw new Error(`hledger bal failed: ${r.stderr}`)
  const out = new Map<string, number>()
  for (const line of r.stdout.trim().split('\n').slice(1)) {
    const m = /^"([^"]*)","([^"]*)"$/.exec(line)
    if (m === null) throw new Error(`unexpected hledger bal line: ${line}`)
    const amount = m[2] ?? ''
    const cents = amount === '0' ? 0 : parseCents(amount.replace(new RegExp(` ${currency}$`), ''))
    out.set(m[1] ?? '', cents)
  }
  return out
}

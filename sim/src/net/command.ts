/** `tillbooks net`: the multi-node launcher as a CLI command (registered by @tillbooks/cli through ../commands.ts). */
import { InvalidArgumentError, type Command } from 'commander'
import { SOAK_DAYS_MAX } from './constants.ts'

/** A commander parser for an integer option within [min, max]. */
export function intArg (name: string, min: number, max: number) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be an integer`)
    const n = Number(v)
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be in ${min}..${max}`)
    return n
  }
}

function rangeArg (v: string): [number, number] {
  const m = /^(\d+)(?:\.\.|-)(\d+)$/.exec(v) ?? /^(\d+)$/.exec(v)
  if (m === null) throw new InvalidArgumentError('sales-per-day must be N or MIN..MAX')
  const lo = Number(m[1])
  const hi = Number(m[2] ?? m[1])
  if (lo < 0 || hi < lo || hi > 10_000) throw new InvalidArgumentError('sales-per-day must be 0 ≤ MIN ≤ MAX ≤ 10000')
  return [lo, hi]
}

interface NetCliOptions {
  stores: number
  tillsPerStore: number
  days: number
  seed: number
  salesPerDay: [number, number]
  cashiers: number
  faults: boolean
  cards?: boolean
  hqReplicas: number
  booksDb?: string
  concurrency: number
  spawnConcurrency: number
  timeoutS?: number
  soak?: number
  enrolWith: 'api' | 'cli'
  keep?: boolean
  json?: boolean
  quiet?: boolean
}

export function registerNetCommand (program: Command): void {
  program.command('net')
    .description('start HQ and every till as real processes on 127.0.0.1, drive sales over HTTP, inject faults (HQ SIGKILL mid close wave, a store cut off for a day, a fire recovered from neighbours, forgeries), then check the books against an oracle to the cent')
    .option('--stores <n>', 'stores', intArg('stores', 1, 1000), 20)
    .option('--tills-per-store <n>', 'tills in each store', intArg('tills-per-store', 1, 999), 5)
    .option('--days <n>', 'business days', intArg('days', 1, 365), 2)
    .option('--seed <n>', 'seed for the sales, the fault plan and the forgeries', intArg('seed', 0, Number.MAX_SAFE_INTEGER), 1)
    .option('--sales-per-day <min..max>', 'sales per till per day', rangeArg, [3, 9])
    .option('--cashiers <n>', 'sales in flight at one till at once (1: one after the other, as a POS does)', intArg('cashiers', 1, 64), 1)
    .option('--no-faults', 'no crash, cut, fire or forgery')
    .option('--cards', 'card payments through the embedded processor (a process): down for one day\'s sales (store and forward, a late decline), its settlement report with faults planted, reconciled at HQ')
    .option('--hq-replicas <n>', 'HQ processes: 1, or 2-3 (the others replicas of HQ; tills dual-homed; with the faults, one SIGKILLed mid close wave, one stopped through the last day; check R_replicasAgree)', intArg('hq-replicas', 1, 3), 1)
    .option('--books-db <spec>', 'passed to every HQ process as its --books-db: where it projects its books in SQL (off: nowhere; default: HQ\'s own, PGlite in its data directory)')
    .option('--concurrency <n>', 'HTTP requests in flight', intArg('concurrency', 1, 256), 12)
    .option('--spawn-concurrency <n>', 'enrolments and daemon starts in flight', intArg('spawn-concurrency', 1, 64), 4)
    .option('--soak <days>', `a soak of this many business days (it sets --days): every day a till, a store's process and HQ SIGKILLed at moments drawn from the seed (the plan printed first, so a run replays from its seed) and restarted, then every check (1..${SOAK_DAYS_MAX})`, intArg('soak', 1, SOAK_DAYS_MAX))
    .option('--timeout-s <n>', 'give up (and clean up) after this many seconds (default: 600, plus 180 per day of a soak)', intArg('timeout-s', 10, 86_400))
    .option('--enrol-with <how>', "first enrolment of each till: 'api' (in the launcher, as `tillbooks enrol` does it) or 'cli' (one `tillbooks enrol` process per till)", (v: string) => { if (v !== 'api' && v !== 'cli') throw new InvalidArgumentError("enrol-with must be 'api' or 'cli'"); return v }, 'api')
    .option('--keep', 'keep the run directory (data dirs and per-process logs) and print its path')
    .option('--quiet', 'no progress lines on stderr (but a soak\'s plan and kills, which say how to replay it)')
    .option('--json', 'print the result as one JSON object on the last line')
    .action(async (o: NetCliOptions, cmd: Command) => {
      if (o.soak !== undefined && cmd.getOptionValueSource('days') === 'cli' && o.days !== o.soak) cmd.error(`error: --soak ${o.soak} runs ${o.soak} days, but --days says ${o.days}: give one of them`)
      const days = o.soak ?? o.days
      const progress = (line: string): void => { process.stderr.write(`[net ${new Date().toISOString().slice(11, 19)}] ${line}\n`) }
      const { runNet } = await import('./launcher.ts')
      const { formatNetResult } = await import('./report.ts')
      const result = await runNet({
        stores: o.stores,
        tillsPerStore: o.tillsPerStore,
        days,
        seed: o.seed,
        ...(o.soak !== undefined ? { soak: true } : {}),
        salesPerDay: o.salesPerDay,
        cashiersPerTill: o.cashiers,
        faults: o.faults,
        cards: o.cards === true,
        hqReplicas: o.hqReplicas,
        ...(o.booksDb !== undefined ? { booksDb: o.booksDb } : {}),
        concurrency: o.concurrency,
        spawnConcurrency: o.spawnConcurrency,
        ...(o.timeoutS !== undefined ? { timeoutMs: o.timeoutS * 1000 } : {}),
        enrolWith: o.enrolWith,
        ...(o.keep === true ? { keep: true } : {}),
        log: o.quiet === true ? (line: string) => { if (line.startsWith('soak:')) progress(line) } : progress
      })
      if (o.json === true) process.stdout.write(JSON.stringify(result) + '\n')
      else process.stdout.write(formatNetResult(result) + '\n')
      if (result.runDir !== null) process.stderr.write(`run directory kept: ${result.runDir}\n`)
      if (Object.values(result.invariants).some(v => !v)) process.exitCode = 1
    })
}

/**
 * The simulator's commands of `tillbooks`: sim, demo, net (the multi-process launcher) and
 * bench (the scale benchmark). @tillbooks/cli registers them beside the production ones;
 * the simulator, the launcher and the benchmark load only when their command runs, so the
 * other commands start as light as before.
 */
import type { Command } from 'commander'
import { registerBenchCommand } from './bench/fleet/command.ts'
import { intArg, registerNetCommand } from './net/command.ts'


/** Registers sim, demo, net and bench on `program`. */
export function registerSimulatorCommands (program: Command): Command {
  program.command('sim')
    .description('run the deterministic simulator: a fleet of real till and HQ nodes on a virtual clock and WAN, with faults')
    .option('--tills <n>', 'number of tills', intArg('tills', 1, 1_000_000), 200)
    .option('--days <n>', 'business days to simulate', intArg('days', 1, 3650), 3)
    .option('--seed <n>', 'seed (the same seed prints the same result)', intArg('seed', 0, Number.MAX_SAFE_INTEGER), 1)
    .option('--faults <list>', 'all, none, or a comma list of: loss, duplicate, reorder, partition, hqCrash, fire, skew, forgery, replay, equivocation, catalogueClash, cardPayments, hqReplicas, diskFaults (all is the first ten: all,catalogueClash,cardPayments,hqReplicas,diskFaults adds the others)', 'all')
    .option('--tills-per-store <n>', 'tills in each store', intArg('tills-per-store', 1, 999), 4)
    .option('--sales-per-day-max <n>', 'each till rings up 1 to this many sales a day', intArg('sales-per-day-max', 1, 10_000), 10)
    .option('--json', 'print the result as one JSON object on the last line')
    .action(async (o: { tills: number, days: number, seed: number, faults: string, tillsPerStore: number, salesPerDayMax: number, json?: boolean }) => {
      const { runSimulation, parseFaults, formatSimResult } = await import('./index.ts')
      const result = await runSimulation({ seed: o.seed, tills: o.tills, days: o.days, faults: parseFaults(o.faults), tillsPerStore: o.tillsPerStore, salesPerDayMax: o.salesPerDayMax })
      if (o.json === true) process.stdout.write(JSON.stringify(result) + '\n')
      else process.stdout.write(formatSimResult(result) + '\n')
      if (Object.values(result.invariants).some(v => !v)) process.exitCode = 1
    })

  program.command('demo')
    .description('the demo behind `npm start`: a few dozen tills for a few days with every fault, then the books and the checks')
    .option('--seed <n>', 'seed', intArg('seed', 0, Number.MAX_SAFE_INTEGER), 2026)
    .action(async (o: { seed: number }) => {
      const { runDemo, formatSimResult, DEMO_DAYS } = await import('./index.ts')
      const t0 = performance.now()
      const result = await runDemo(o.seed, d => { process.stderr.write(`  day ${d + 1} of ${DEMO_DAYS} simulated\n`) })
      process.stdout.write(formatSimResult(result) + '\n')
      process.stdout.write(`(simulated in ${Math.round(performance.now() - t0)} ms of real time)\n`)
      if (Object.values(result.invariants).some(v => !v)) process.exitCode = 1
    })

  registerNetCommand(program)
  registerBenchCommand(program)
  return program
}

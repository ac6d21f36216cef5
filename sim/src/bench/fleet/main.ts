#!/usr/bin/env node
/**
 * `tillbooks bench` without the rest of the CLI: `node sim/src/bench/fleet/main.ts bench --sweep 200 --json`.
 * The same command @tillbooks/cli registers (registerBenchCommand); used by the test.
 */
import { Command } from 'commander'
import { registerBenchCommand } from './command.ts'

const program = new Command()
program.name('tillbooks').showHelpAfterError()
registerBenchCommand(program)
await program.parseAsync(process.argv)

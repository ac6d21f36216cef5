#!/usr/bin/env node
/**
 * `tillbooks`: the whole command, assembled here because this package sits above every part
 * it needs: the production commands of @tillbooks/node (daemons, enrol, codes, catalogue,
 * receipt, reconcile, recover) and the simulator's of @tillbooks/sim (sim, demo, net,
 * bench). Neither of those imports the other's commands, nor this package. Each subcommand
 * has `--help`; with `--json` the last line on stdout is one JSON object.
 */
import { enableCompileCache } from 'node:module'
import { Command } from 'commander'
import { PROGRAM_DESCRIPTION, PROGRAM_NAME, registerNodeCommands } from '@tillbooks/node/commands'
import { registerSimulatorCommands } from '@tillbooks/sim/commands'

// `tillbooks net` and `bench` start many processes of this machine's code: caching the
// compiled code saves each one part of its start-up, after the first.
enableCompileCache()

const program = new Command()
program.name(PROGRAM_NAME).description(PROGRAM_DESCRIPTION).showHelpAfterError()
registerSimulatorCommands(program)
registerNodeCommands(program)
await program.parseAsync(process.argv)

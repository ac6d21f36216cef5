#!/usr/bin/env node
/**
 * `tillbooks`: the whole command, assembled here because this package sits above every part
 * it needs: the production commands of @tillbooks/node (daemons, enrol, codes, catalogue,
 * receipt, reconcile, recover) and the simulator's of @tillbooks/sim (sim, demo, net,
 * bench). Neither of those imports the other's commands, nor this package. Each subcommand
 * has `--help`; with `--json` the last line on stdout is one JSON object.
 */
import { enableCompileCache } from 'node:module'

// `tillbooks net` and `bench` start many processes of this machine's code, and a daemon's
// restart is timed: caching the compiled code (TypeScript stripped, then V8's bytecode) saves
// each start part of its work after the first. On before anything else is loaded: the cache
// serves only modules loaded after it is on, so the rest comes in by import() below.
enableCompileCache()
const { Command } = await import('commander')
const { PROGRAM_DESCRIPTION, PROGRAM_NAME, registerNodeCommands } = await import('@tillbooks/node/commands')
const { registerSimulatorCommands } = await import('@tillbooks/sim/commands')

const program = new Command()
program.name(PROGRAM_NAME).description(PROGRAM_DESCRIPTION).showHelpAfterError()
registerSimulatorCommands(program)
registerNodeCommands(program)
await program.parseAsync(process.argv)

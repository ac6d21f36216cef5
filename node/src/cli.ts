#!/usr/bin/env node
/**
 * The production commands alone (node/src/commands.ts), as a script: what a till or HQ
 * machine runs, and what the launcher, the benchmark and the tests spawn for daemons.
 * It never loads the simulator (@tillbooks/sim sits above this package); the full
 * `tillbooks` command, simulator included, is assembled in @tillbooks/cli.
 */
import { enableCompileCache } from 'node:module'

// A fleet starts many daemon processes on one machine, and a daemon's restart is timed:
// caching the compiled code (libp2p, fastify, Automerge glue) saves each start part of its
// work after the first. On before anything else is loaded (the cache serves only modules
// loaded after it), so the rest comes in by import().
enableCompileCache()
const { Command } = await import('commander')
const { PROGRAM_DESCRIPTION, PROGRAM_NAME, registerNodeCommands } = await import('./commands.ts')

const program = new Command()
program.name(PROGRAM_NAME).description(PROGRAM_DESCRIPTION).showHelpAfterError()
registerNodeCommands(program)
await program.parseAsync(process.argv)

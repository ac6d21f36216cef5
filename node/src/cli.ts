#!/usr/bin/env node
/**
 * The production commands alone (node/src/commands.ts), as a script: what a till or HQ
 * machine runs, and what the launcher, the benchmark and the tests spawn for daemons.
 * It never loads the simulator (@tillbooks/sim sits above this package); the full
 * `tillbooks` command, simulator included, is assembled in @tillbooks/cli.
 */
import { enableCompileCache } from 'node:module'
import { Command } from 'commander'
import { PROGRAM_DESCRIPTION, PROGRAM_NAME, registerNodeCommands } from './commands.ts'

// A fleet starts many daemon processes on one machine: caching the compiled code (libp2p,
// fastify, Automerge glue) saves each one part of its start-up, after the first.
enableCompileCache()

const program = new Command()
program.name(PROGRAM_NAME).description(PROGRAM_DESCRIPTION).showHelpAfterError()
registerNodeCommands(program)
await program.parseAsync(process.argv)

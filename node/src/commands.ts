/**
 * The production commands of `tillbooks`: the daemons (hq, till, store, processor), enrol,
 * codes, catalogue, receipt, reconcile and recover. Registered on a commander program by
 * whoever assembles the command: node/src/cli.ts (the daemons' own entry point, which
 * never loads the simulator) and @tillbooks/cli (the full `tillbooks`, which adds the
 * simulator's commands). Each command loads its work only when it runs.
 */
import type { Command } from 'commander'
import { registerDaemonCommands } from './daemon/commands.ts'
import { registerRecoverCommand } from './mail/recoverCommand.ts'

/** The program's name and description, the same in every entry point. */
export const PROGRAM_NAME = 'tillbooks'
export const PROGRAM_DESCRIPTION = 'Peer-to-peer retail backbone: signed till logs, HQ books to the penny'

/** Registers every production command on `program`. */
export function registerNodeCommands (program: Command): Command {
  registerDaemonCommands(program)
  registerRecoverCommand(program)
  return program
}

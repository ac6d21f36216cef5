/**
 * `tillbooks recover --from-mail PATH --store S [--till N] [--hq URL] [--to-dir TILLDIR] [--root-key HEX] [--json]`
 *
 * Reads the mailbox, verifies every backup (recover.ts), and restores the newest valid
 * chain per till: with --hq, into HQ (POST /admin/entries; HQ dedups, so the books hold
 * each close exactly once); with --to-dir, onto a replacement till's data dir, whose key
 * HQ then enrols from the next seq. HQ's root key comes from --hq, else --root-key, else
 * the till.json in --to-dir. Exit code 0 when the command ran (even if nothing could be
 * restored: see `restored` and `rejected`), 2 on an error.
 *
 * Only the command's definition is loaded with the CLI; its work (mail parsing, Automerge,
 * LevelDB) is imported when it runs.
 */
import { InvalidArgumentError, type Command } from 'commander'
import type { RecoverCommandOptions } from './runRecover.ts'

function storeArg (v: string): string {
  if (!/^[A-Z][A-Z0-9]{0,15}$/.test(v)) throw new InvalidArgumentError('store must be an upper-case id like S001')
  return v
}

function tillArg (v: string): number {
  if (!/^[1-9]\d{0,2}$/.test(v)) throw new InvalidArgumentError('till must be an integer in 1..999')
  return Number(v)
}

function hexKeyArg (v: string): string {
  if (!/^[0-9a-f]{64}$/.test(v)) throw new InvalidArgumentError('root key must be 64 lower-case hex digits')
  return v
}

/** Adds `recover` to the tillbooks command. */
export function registerRecoverCommand (program: Command): Command {
  return program.command('recover')
    .description('fire recovery from email backups: verify every backup in a mailbox (Maildir, mbox or .eml folder) and restore the newest valid chain per till, into HQ and/or a replacement till')
    .requiredOption('--from-mail <path>', 'a Maildir (cur/ new/), an mbox file, a folder of .eml files, or one .eml')
    .requiredOption('--store <id>', 'the store to recover (messages for any other store are rejected)', storeArg)
    .option('--till <n>', 'only this till', tillArg)
    .option('--hq <url>', 'HQ\'s admin HTTP API (http://127.0.0.1:PORT): root key, certificates and log from it; the recovered entries handed to it; the replacement enrolled')
    .option('--to-dir <dir>', 'a replacement till\'s data dir: the chain is adopted there so numbering continues')
    .option('--root-key <hex>', 'HQ\'s root public key, when HQ is not reachable', hexKeyArg)
    .option('--token-file <file>', 'HQ\'s admin token (default: the TILLBOOKS_TOKEN environment variable)')
    .option('--code <code>', 'an enrolment code for the till slot (tillbooks codes new), instead of the admin token: enrols the replacement in --to-dir')
    .option('--ca <file>', 'PEM of the CA that signed HQ\'s HTTPS certificate')
    .option('--json', 'print the result as one JSON object on the last line')
    .action(async (o: RecoverCommandOptions) => {
      try {
        const { formatRecover, runRecover } = await import('./runRecover.ts')
        const r = await runRecover(o)
        if (o.json === true) process.stdout.write(JSON.stringify(r) + '\n')
        else process.stdout.write(formatRecover(r, o.fromMail) + '\n')
      } catch (err) {
        const message = (err as Error).message
        if (o.json === true) process.stdout.write(JSON.stringify({ error: message }) + '\n')
        process.stderr.write(`tillbooks recover: ${message}\n`)
        process.exitCode = 2
      }
    })
}


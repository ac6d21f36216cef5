/**
 * `tillbooks` is assembled here: it has every production and simulator command, while the
 * production entry point it is built from (node/src/cli.ts, what the daemons run) has none
 * of the simulator's. A command lost in the assembly, or the simulator creeping back into
 * production, fails here.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const tillbooks = fileURLToPath(new URL('../src/tillbooks.ts', import.meta.url))
const productionCli = fileURLToPath(import.meta.resolve('@tillbooks/node/cli'))

/** Registered by @tillbooks/node (node/src/commands.ts). */
const PRODUCTION_COMMANDS = ['catalogue', 'codes', 'enrol', 'hq', 'processor', 'receipt', 'reconcile', 'recover', 'store', 'till']
/** Registered by @tillbooks/sim (sim/src/commands.ts). */
const SIMULATOR_COMMANDS = ['bench', 'demo', 'net', 'sim']

function help (script: string, args: string[] = ['--help']): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Command names in commander's "Commands:" section of a `--help`. */
function commandsIn (text: string): string[] {
  const section = text.split(/^Commands:$/m)[1] ?? ''
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map(m => m[1] as string).filter(c => c !== 'help').sort()
}

describe('tillbooks (@tillbooks/cli)', function () {
  this.timeout(120_000)

  it('--help lists every production and every simulator command', () => {
    const r = help(tillbooks)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Usage: tillbooks /m)
    assert.deepEqual(commandsIn(r.stdout), [...PRODUCTION_COMMANDS, ...SIMULATOR_COMMANDS].sort())
  })

  it('the production entry point lists the production commands and none of the simulator\'s', () => {
    const r = help(productionCli)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Usage: tillbooks /m)
    assert.deepEqual(commandsIn(r.stdout), PRODUCTION_COMMANDS)
    const sim = help(productionCli, ['sim', '--tills', '1'])
    assert.notEqual(sim.code, 0, 'node/src/cli.ts ran `sim`')
    assert.match(sim.stderr, /unknown command 'sim'/)
  })

  it('an unknown command or a bad argument is refused with a reason and a non-zero exit', () => {
    const unknown = help(tillbooks, ['meteor'])
    assert.notEqual(unknown.code, 0)
    assert.match(unknown.stderr, /unknown command 'meteor'/)
    const bad = help(tillbooks, ['demo', '--seed', 'x'])
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /seed must be an integer/)
  })
})

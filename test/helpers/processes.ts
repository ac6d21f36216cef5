/** Daemons and CLI commands as real OS processes for cross-package tests: each started here is recorded, and ended by its pid. */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { request } from '../../node/test/helpers/daemons.ts'

/** The production commands' entry point (@tillbooks/node), as a till or HQ machine runs them: no daemon started here loads the simulator. */
export const CLI = fileURLToPath(import.meta.resolve('@tillbooks/node/cli'))

export interface Daemon { child: ChildProcess, ready: { peerId: string, multiaddrs: string[], http: string } }

/** Every process these helpers started, to end in `after`. */
export const started: ChildProcess[] = []

/** `tillbooks <args>` as a daemon: resolves with its `ready` line once it prints it. */
export function startDaemon (args: string[], timeoutMs = 20_000): Promise<Daemon> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TILLBOOKS_LOG_LEVEL: 'warn' } })
  started.push(child)
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${args[0]} not ready in ${timeoutMs} ms: ${stderr}`)) }, timeoutMs)
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`${args[0]} exited ${code}: ${stderr}`)) })
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', line => {
      if (!line.startsWith('ready ')) return
      clearTimeout(timer)
      resolve({ child, ready: JSON.parse(line.slice(6)) })
    })
  })
}

/** `tillbooks <args>` to completion: its stdout, or a rejection with its exit code and stderr. */
export function run (args: string[], timeoutMs = 20_000, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TILLBOOKS_LOG_LEVEL: 'warn', ...env } })
    started.push(child)
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')} timed out`)) }, timeoutMs)
    child.on('exit', code => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(Object.assign(new Error(`${args.join(' ')} exited ${code}: ${err}`), { code, stdout: out }))
    })
  })
}

/** Send `signal` to a process started here and wait for it to exit. */
export async function kill (child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  process.kill(child.pid, signal)
  await exited
}

/** End every process started here; assert none is left. */
export async function killAll (): Promise<void> {
  for (const c of started) await kill(c, 'SIGKILL')
  for (const c of started) assert.ok(c.exitCode !== null || c.signalCode !== null, `process ${c.pid} still running`)
}

/** A JSON call that must answer 200. */
export async function call<T> (base: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await request<T>(base, method, path, body)
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`)
  return r.json
}

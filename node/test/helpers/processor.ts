/** The embedded processor as a real process (`tillbooks processor`), for tests: started on a port, stopped by its pid. */
import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'

const CLI = resolve(import.meta.dirname, '../../src/cli.ts')

/** Start it on `port` (0: any free one); resolves with the process and its HTTP URL once ready. */
export function startProcessor (dataDir: string, port = 0, args: string[] = []): Promise<{ child: ChildProcess, url: string }> {
  const child = spawn(process.execPath, [CLI, 'processor', '--data', dataDir, '--http', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TILLBOOKS_LOG_LEVEL: 'warn' } })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`processor not ready: ${stderr}`)) }, 20_000)
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`processor exited ${code}: ${stderr}`)) })
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', line => {
      if (!line.startsWith('ready ')) return
      clearTimeout(timer)
      resolve({ child, url: (JSON.parse(line.slice(6)) as { http: string }).http })
    })
  })
}

/** Stop a process this test started, by its pid, and wait for it to exit. */
export async function stopProcess (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  process.kill(child.pid, 'SIGTERM')
  await exited
}

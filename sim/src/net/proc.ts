/**
 * Process supervision for the multi-node launcher: every daemon is a real OS process started
 * with this very Node binary (process.execPath, so the pinned Node 24 runs it), its stderr
 * written to a log file under the run directory, its `ready {json}` line awaited with a
 * timeout, and killed by its pid, never by name. A Supervisor remembers every pid it ever
 * started, so a test can check afterwards that none is left.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { openSync, closeSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

export interface Daemon<R = Record<string, unknown>> {
  name: string
  pid: number
  ready: R
  logPath: string
  child: ChildProcess
  /** Resolves with the exit code (or the signal's name) once the process has gone. */
  exited: Promise<number | string>
}

export interface RunResult {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  ms: number
}

export interface SupervisorInit {
  /** Directory for the processes' stderr logs. */
  logDir: string
  /** Extra environment (e.g. NODE_COMPILE_CACHE), merged over process.env. */
  env?: Record<string, string>
  /** Node flags for every process, before the script; each start can add its own. */
  nodeFlags?: string[]
}

export class ReadyTimeoutError extends Error {
  override name = 'ReadyTimeoutError'
}

/** The last `n` characters of a log file, for error messages. */
export function tail (path: string, n = 2_000): string {
  try {
    const s = readFileSync(path, 'utf8')
    return s.length > n ? s.slice(s.length - n) : s
  } catch {
    return ''
  }
}

export class Supervisor {
  readonly #init: SupervisorInit
  readonly #live = new Map<number, ChildProcess>()
  /** Every pid this supervisor ever started (daemons and one-shot commands). */
  readonly started: number[] = []
  #seq = 0
  #closed = false

  constructor (init: SupervisorInit) {
    this.#init = init
  }

  get livePids (): number[] {
    return [...this.#live.keys()]
  }

  /** Refuse every later start (a run that gave up must not spawn behind its own cleanup). */
  close (): void {
    this.#closed = true
  }

  #spawn (name: string, script: string, args: string[], stdout: 'pipe' | 'ignore', nodeFlags: string[]): { child: ChildProcess, logPath: string, exited: Promise<number | string> } {
    if (this.#closed) throw new Error(`not starting ${name}: the supervisor is closed`)
    const logPath = join(this.#init.logDir, `${String(++this.#seq).padStart(4, '0')}-${name.replace(/[^A-Za-z0-9._-]/g, '_')}.log`)
    const fd = openSync(logPath, 'a')
    let child: ChildProcess
    try {
      child = spawn(process.execPath, [...(this.#init.nodeFlags ?? []), ...nodeFlags, script, ...args], {
        stdio: ['ignore', stdout, fd],
        env: { ...process.env, ...this.#init.env },
        detached: false
      })
    } finally {
      closeSync(fd)
    }
    const pid = child.pid
    if (pid === undefined) throw new Error(`could not start ${name}`)
    this.started.push(pid)
    this.#live.set(pid, child)
    const exited = new Promise<number | string>(resolve => {
      child.once('exit', (code, signal) => {
        this.#live.delete(pid)
        resolve(code ?? signal ?? -1)
      })
      child.once('error', () => {
        this.#live.delete(pid)
        resolve(-1)
      })
    })
    return { child, logPath, exited }
  }

  /**
   * Start a daemon and wait for its one `ready {json}` line on stdout. On timeout or an early
   * exit the process is killed and the error carries the tail of its log.
   */
  async startDaemon<R = Record<string, unknown>> (name: string, script: string, args: string[], timeoutMs: number, nodeFlags: string[] = []): Promise<Daemon<R>> {
    const d = await this.startDaemons<R>(name, script, args, 1, timeoutMs, nodeFlags)
    return { ...d, ready: d.ready[0] as R }
  }

  /** The same for a process serving `count` daemons (e.g. a store's tills): one ready line each. */
  async startDaemons<R = Record<string, unknown>> (name: string, script: string, args: string[], count: number, timeoutMs: number, nodeFlags: string[] = []): Promise<Daemon<R[]>> {
    const { child, logPath, exited } = this.#spawn(name, script, args, 'pipe', nodeFlags)
    const pid = child.pid as number
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    const seen: R[] = []
    const ready = await new Promise<R[]>((resolve, reject) => {
      let done = false
      const finish = (err: Error | null, value?: R): void => {
        if (done) return
        if (err === null) {
          seen.push(value as R)
          if (seen.length < count) return
        }
        done = true
        clearTimeout(timer)
        if (err !== null) reject(err)
        else resolve(seen)
      }
      const timer = setTimeout(() => {
        finish(new ReadyTimeoutError(`${name} (pid ${pid}) printed ${seen.length} of ${count} ready lines within ${timeoutMs} ms; log ${logPath}:\n${tail(logPath)}`))
      }, timeoutMs)
      lines.on('line', line => {
        const m = /^ready (\{.*\})\s*$/.exec(line)
        if (m === null) return
        try {
          finish(null, JSON.parse(m[1] as string) as R)
        } catch (err) {
          finish(new Error(`${name}: unparseable ready line: ${line.slice(0, 200)} (${(err as Error).message})`))
        }
      })
      void exited.then(code => { finish(new Error(`${name} (pid ${pid}) exited (${code}) before it was ready; log ${logPath}:\n${tail(logPath)}`)) })
    }).catch(async (err: unknown) => {
      await this.kill(pid, 'SIGKILL')
      throw err
    })
    // Keep draining stdout so the daemon never blocks on a full pipe.
    lines.on('line', () => {})
    return { name, pid, ready, logPath, child, exited }
  }

  /** Run a one-shot command to completion (killed by pid after `timeoutMs`). */
  async run (name: string, script: string, args: string[], timeoutMs: number, nodeFlags: string[] = []): Promise<RunResult> {
    const t0 = performance.now()
    const { child, logPath, exited } = this.#spawn(name, script, args, 'pipe', nodeFlags)
    const pid = child.pid as number
    let stdout = ''
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (d: string) => { stdout += d })
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; void this.kill(pid, 'SIGKILL') }, timeoutMs)
    const code = await exited
    clearTimeout(timer)
    const stderr = tail(logPath, 8_000) + (timedOut ? `\n(killed after ${timeoutMs} ms)` : '')
    return { code: typeof code === 'number' ? code : null, signal: typeof code === 'string' ? code : null, stdout, stderr, ms: performance.now() - t0 }
  }

  /**
   * Signal one process by pid and wait until it has gone. SIGTERM is followed by SIGKILL
   * after `graceMs` if the process is still there.
   */
  async kill (pid: number, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
    const child = this.#live.get(pid)
    if (child === undefined) return
    const gone = new Promise<void>(resolve => {
      if (child.exitCode !== null || child.signalCode !== null) { resolve(); return }
      child.once('exit', () => { resolve() })
    })
    try { process.kill(pid, signal) } catch { /* already gone */ }
    if (signal !== 'SIGKILL') {
      const timer = setTimeout(() => { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }, graceMs)
      await gone
      clearTimeout(timer)
    } else {
      await gone
    }
    this.#live.delete(pid)
  }

  /** Stop every live process: SIGTERM all, then SIGKILL whatever is left after `graceMs`. */
  async stopAll (graceMs = 5_000): Promise<void> {
    await Promise.all(this.livePids.map(async pid => { await this.kill(pid, 'SIGTERM', graceMs) }))
  }

  /** Synchronous last resort (from an 'exit' handler): SIGKILL every live pid. */
  killAllSync (): void {
    for (const pid of this.livePids) {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    }
  }
}

/** True if a process with this pid exists (signal 0 probes without signalling). */
export function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Resident set size of a process in bytes, from /proc (Linux); null if unknown or gone. */
export function rssBytes (pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8')
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(s)
    return m === null ? null : Number(m[1]) * 1024
  } catch {
    return null
  }
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux); null if unknown or gone. */
export function cpuMs (pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(rest[11]) + Number(rest[12])
    return Number.isFinite(ticks) ? ticks * 10 : null // USER_HZ is 100 on Linux
  } catch {
    return null
  }
}

/**
 * The benchmark's child processes: each started with this very Node binary (the pinned
 * Node 24), its stderr written to a log file, talking over lines: the parent writes
 * `<command> {json}` on the child's stdin, the child answers `<tag> {json}` on stdout.
 * Every pid ever started is remembered, every live one is killed by its pid (never by name)
 * when the run ends, fails or is interrupted.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { tail } from '../../net/proc.ts'

export class ChildExitedError extends Error {
  override name = 'ChildExitedError'
}

export class Child {
  readonly name: string
  readonly pid: number
  readonly logPath: string
  readonly child: ChildProcess
  readonly exited: Promise<number | string>
  readonly startedAtMs: number
  #lines: string[] = []
  #waiters: Array<() => void> = []
  #gone = false

  constructor (name: string, child: ChildProcess, logPath: string) {
    this.name = name
    this.child = child
    this.pid = child.pid as number
    this.logPath = logPath
    this.startedAtMs = performance.now()
    this.exited = new Promise(resolve => {
      child.once('exit', (code, signal) => {
        this.#gone = true
        this.#wake()
        resolve(code ?? signal ?? -1)
      })
    })
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    rl.on('line', line => {
      this.#lines.push(line)
      this.#wake()
    })
  }

  get gone (): boolean { return this.#gone }

  #wake (): void {
    const w = this.#waiters
    this.#waiters = []
    for (const f of w) f()
  }

  /** The next stdout line `<tag> {json}` (lines with other tags are skipped), within `timeoutMs`. */
  async next<T> (tag: string, timeoutMs: number): Promise<T> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      while (this.#lines.length > 0) {
        const line = this.#lines.shift() as string
        if (line.startsWith(`${tag} `)) return JSON.parse(line.slice(tag.length + 1)) as T
        if (line.startsWith('error ')) throw new Error(`${this.name} (pid ${this.pid}): ${line.slice(6, 2000)}`)
      }
      if (this.#gone) throw new ChildExitedError(`${this.name} (pid ${this.pid}) exited before printing '${tag}'; log ${this.logPath}:\n${tail(this.logPath)}`)
      const left = deadline - performance.now()
      if (left <= 0) throw new Error(`${this.name} (pid ${this.pid}) printed no '${tag}' within ${timeoutMs} ms; log ${this.logPath}:\n${tail(this.logPath)}`)
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, left)
        this.#waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  send (command: string, body: unknown = {}): void {
    if (this.#gone) throw new ChildExitedError(`${this.name} (pid ${this.pid}) has exited`)
    this.child.stdin?.write(`${command} ${JSON.stringify(body)}\n`)
  }
}

export class Processes {
  readonly #logDir: string
  readonly #live = new Map<number, Child>()
  /** Every pid started, in order. */
  readonly started: number[] = []
  #seq = 0

  constructor (logDir: string) {
    this.#logDir = logDir
  }

  get livePids (): number[] { return [...this.#live.keys()] }

  /** Start `node [flags] script args…`; stdin and stdout are pipes, stderr goes to a log file. */
  start (name: string, script: string, args: string[], opts: { nodeFlags?: string[], env?: Record<string, string> } = {}): Child {
    const logPath = join(this.#logDir, `${String(++this.#seq).padStart(3, '0')}-${name.replace(/[^A-Za-z0-9._-]/g, '_')}.log`)
    const fd = openSync(logPath, 'a')
    let child: ChildProcess
    try {
      child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...(opts.nodeFlags ?? []), script, ...args], {
        stdio: ['pipe', 'pipe', fd],
        env: { ...process.env, ...(opts.env ?? {}) }
      })
    } finally {
      closeSync(fd)
    }
    if (child.pid === undefined) throw new Error(`could not start ${name}`)
    const c = new Child(name, child, logPath)
    // A closed stdin (the child exited) must not crash the parent with EPIPE.
    child.stdin?.on('error', () => {})
    this.started.push(c.pid)
    this.#live.set(c.pid, c)
    void c.exited.then(() => { this.#live.delete(c.pid) })
    return c
  }

  /** Signal one child by pid and wait until it has gone; SIGTERM escalates to SIGKILL after `graceMs`. */
  async kill (c: Child, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
    if (c.gone) return
    try { process.kill(c.pid, signal) } catch { /* already gone */ }
    let timer: NodeJS.Timeout | undefined
    if (signal !== 'SIGKILL') timer = setTimeout(() => { try { process.kill(c.pid, 'SIGKILL') } catch { /* gone */ } }, graceMs)
    await c.exited
    clearTimeout(timer)
  }

  async stopAll (graceMs = 3_000): Promise<void> {
    await Promise.all([...this.#live.values()].map(async c => { await this.kill(c, 'SIGTERM', graceMs) }))
  }

  /** Last resort from an exit or signal handler: SIGKILL every live child, synchronously. */
  killAllSync (): void {
    for (const pid of this.#live.keys()) {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    }
  }
}

/**
 * Helper for children: run the parent's commands one at a time, in order; each answers
 * `done:<command> {json}` on stdout, or `error {json}` if it threw.
 */
export function childChannel (handlers: Record<string, (body: any) => Promise<unknown>>): void {
  const out = (tag: string, body: unknown): void => { process.stdout.write(`${tag} ${JSON.stringify(body)}\n`) }
  const rl = createInterface({ input: process.stdin })
  let chain: Promise<void> = Promise.resolve()
  rl.on('line', line => {
    const sp = line.indexOf(' ')
    const cmd = sp < 0 ? line : line.slice(0, sp)
    const body: unknown = sp < 0 ? {} : JSON.parse(line.slice(sp + 1))
    const h = handlers[cmd]
    chain = chain.then(async () => {
      if (h === undefined) { out('error', { command: cmd, error: 'unknown command' }); return }
      try {
        const r = await h(body)
        out(`done:${cmd}`, r ?? {})
      } catch (err) {
        out('error', { command: cmd, error: (err as Error).stack ?? String(err) })
      }
    })
  })
  // The parent went away: nothing will ever ask us anything again.
  rl.on('close', () => { void chain.then(() => process.exit(0)) })
}

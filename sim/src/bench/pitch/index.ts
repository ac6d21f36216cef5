/**
 * Issue 7's side-by-side baselines: the pitch's relay design re-created, as pitched and with
 * our guarantees, each run as two real OS processes (relay.ts, loadgen.ts) on 127.0.0.1,
 * plus the machine's native Ed25519 verification ceiling.
 *
 *   measurePitchRelay({ tills: 10_000, guarded: false })  // as pitched: unsigned, no fsync
 *   measurePitchRelay({ tills: 10_000, guarded: true })   // signed per till, verified, fdatasync'd, group commit
 *   measureVerifyCeiling()
 *
 * Each run starts a fresh relay and a fresh load generator, the wave is timed in the load
 * generator (2N ops ÷ seconds from first send to last ack), then the checks run against the
 * same relay. Figures are medians over `runs`; the checks must hold in every run.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicKey, verify } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Signer, verifySignature } from '@tillbooks/protocol'
import { expectedTotals, parseTagged, signedBytes, signOp, tillKeyPair, tillOps } from './fleet.ts'

export interface PitchRelayOptions {
  tills: number
  /** false: as pitched (unsigned, no fsync). true: with our guarantees. */
  guarded: boolean
  /** Runs, each with fresh processes; figures are medians. Default 3. */
  runs?: number
  /** Client keep-alive sockets (the pitch: 96). */
  sockets?: number
  /** Where the JSONL files go (default: the OS temp dir; fdatasync costs depend on its disk). */
  dir?: string
  /** Bound on one run, from spawning to the last check. Default 120 s + 20 ms per till. */
  timeoutMs?: number
  /**
   * Guarded: parse every till's KeyObject when the relay registers the keys (before the wave)
   * instead of on the till's first op (then cached). Default false; ~45 µs saved on half the ops.
   */
  preparseKeys?: boolean
  /** Tills whose ops the relay takes, untimed, before each wave (default 0: a cold relay). */
  warmupTills?: number
  /** Called after each run (for a progress bar). */
  onRun?: (run: PitchRelayRun, index: number, runs: number) => void
}

export interface PitchRelayRun {
  reportsPerSec: number
  waveMs: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  relayCpuMsPerReport: number
  loadgenCpuMsPerReport: number
  /** The relay's RSS once started (keys registered), before the wave: Node 24 itself is ~59 MB, its TypeScript stripper ~16 MB more. */
  relayRssBeforeWaveBytes: number
  relayRssBytes: number
  relayMaxRssBytes: number
  acked: number
  jsonlLines: number
  writes: number
  fsyncs: number
  totals: { SODA: number, EODA: number }
  totalsCorrect: boolean
  resendSent: number
  resendDuplicateAcks: number
  resendAccepted: number
  totalsUnchanged: boolean
  forged?: Record<string, number>
  forgedRejected?: boolean
  prepareMs: number
  signMs: number
  failures: unknown[]
  /** The OS processes this run started; all have exited when the run returns. */
  pids: number[]
}

export interface PitchRelayResult {
  tills: number
  /** Tills whose ops the relay took, untimed, before each wave. */
  warmupTills: number
  guarded: boolean
  runs: number
  sockets: number
  /** Medians over the runs. */
  reportsPerSec: number
  p50Ms: number
  p99Ms: number
  relayCpuMsPerReport: number
  /** The relay's peak RSS (max over the runs), bytes. */
  relayRssBytes: number
  /** Checks, across every run: all 2N acked, 2N lines in the JSONL, totals == the fleet's to the cent. */
  allAcked: boolean
  jsonlLinesOk: boolean
  totalsCorrect: boolean
  /** B3: worst run (max accepted on resend; unchanged only if unchanged in every run). */
  resendAccepted: number
  totalsUnchanged: boolean
  /** Guarded only: every forgery answered 4xx and nothing moved, in every run. */
  forgedRejected?: boolean
  perRun: PitchRelayRun[]
}

const here = fileURLToPath(new URL('.', import.meta.url))
const RELAY = join(here, 'relay.ts')
const LOADGEN = join(here, 'loadgen.ts')

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/** Resolves with the first stdout line tagged `tag`; rejects if the child exits first. */
function tagged<T> (child: ChildProcess, tag: string, stderr: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const onData = (c: Buffer): void => {
      buf += c.toString('utf8')
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const v = parseTagged(line, tag)
        if (v !== undefined) {
          cleanup()
          resolve(v as T)
          return
        }
      }
    }
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup()
      reject(new Error(`${tag}: process ${child.pid} exited (${code ?? signal}) first: ${stderr().slice(-2000)}`))
    }
    const cleanup = (): void => {
      child.stdout?.off('data', onData)
      child.off('exit', onExit)
    }
    child.stdout?.on('data', onData)
    child.on('exit', onExit)
  })
}

function spawnTs (file: string, args: string[]): { child: ChildProcess, stderr: () => string } {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (c: Buffer) => { err = (err + c.toString('utf8')).slice(-8000) })
  return { child, stderr: () => err }
}

function exited (child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited (and been reaped). */
async function stopChild (child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.pid === undefined || exited(child)) return
  const gone = new Promise<void>(resolve => child.once('exit', () => resolve()))
  child.stdin?.end()
  child.kill('SIGTERM')
  const timer = setTimeout(() => { if (!exited(child)) child.kill('SIGKILL') }, graceMs)
  await gone
  clearTimeout(timer)
}

async function countLines (file: string): Promise<number> {
  let buf: Buffer
  try {
    buf = await readFile(file)
  } catch {
    return 0
  }
  let n = 0
  for (let at = buf.indexOf(10); at >= 0; at = buf.indexOf(10, at + 1)) n++
  return n
}

async function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms) })
  try {
    return await Promise.race([p, t])
  } finally {
    clearTimeout(timer)
  }
}

/** One run: a fresh relay and load generator, the timed wave, the checks, both processes gone. */
async function pitchRun (tills: number, guarded: boolean, sockets: number, baseDir: string, timeoutMs: number, preparse: boolean, warmupTills: number): Promise<PitchRelayRun> {
  const dir = await mkdtemp(join(baseDir, 'tillbooks-pitch-'))
  const file = join(dir, 'ops.jsonl')
  const keysFile = join(dir, 'keys.json')
  const started: Array<{ child: ChildProcess }> = []
  try {
    return await withTimeout((async () => {
      // 1. the load generator builds (and signs) the fleet's ops, and writes the key file
      const lgArgs = ['--tills', String(tills), '--sockets', String(sockets), '--warmup-tills', String(warmupTills)]
      if (guarded) lgArgs.push('--guarded', '--keys-out', keysFile)
      const lg = spawnTs(LOADGEN, lgArgs)
      started.push(lg)
      await tagged(lg.child, 'prepared', lg.stderr)
      // 2. the relay starts, registering the tills' keys (guarded)
      const relayArgs = ['--file', file]
      if (guarded) relayArgs.push('--keys', keysFile)
      if (guarded && preparse) relayArgs.push('--preparse')
      const relay = spawnTs(RELAY, relayArgs)
      started.push(relay)
      const ready = await tagged<{ port: number }>(relay.child, 'ready', relay.stderr)
      // 3. the wave and the checks
      const result = tagged<Omit<PitchRelayRun, 'jsonlLines' | 'pids' | 'totalsCorrect'>>(lg.child, 'result', lg.stderr)
      lg.child.stdin?.write(`go ${JSON.stringify({ port: ready.port })}\n`)
      const r = await result
      await stopChild(relay.child)
      await stopChild(lg.child)
      // The warm-up tills' ops are in the file and the totals too: they are tills [tills, tills + warmupTills).
      const expected = expectedTotals(tills + warmupTills)
      return {
        ...r,
        jsonlLines: await countLines(file),
        totalsCorrect: r.totals.SODA === expected.SODA && r.totals.EODA === expected.EODA,
        pids: started.map(s => s.child.pid as number)
      }
    })(), timeoutMs, `pitch relay run (${tills} tills, ${guarded ? 'guarded' : 'as pitched'})`)
  } finally {
    for (const s of started) await stopChild(s.child, 1_000)
    await rm(dir, { recursive: true, force: true })
  }
}

/** The pitch's relay at one fleet size, as pitched (`guarded: false`) or with our guarantees. */
export async function measurePitchRelay (opts: PitchRelayOptions): Promise<PitchRelayResult> {
  const { tills, guarded } = opts
  const runs = opts.runs ?? 3
  const sockets = opts.sockets ?? 96
  const dir = opts.dir ?? tmpdir()
  const warmupTills = opts.warmupTills ?? 0
  const timeoutMs = opts.timeoutMs ?? 120_000 + 20 * (tills + warmupTills)
  if (!Number.isSafeInteger(tills) || tills < 1) throw new RangeError('tills must be a positive integer')
  const perRun: PitchRelayRun[] = []
  for (let k = 0; k < runs; k++) {
    const run = await pitchRun(tills, guarded, sockets, dir, timeoutMs, opts.preparseKeys === true, warmupTills)
    perRun.push(run)
    opts.onRun?.(run, k, runs)
  }
  const n = 2 * tills
  return {
    tills,
    warmupTills,
    guarded,
    runs,
    sockets,
    reportsPerSec: median(perRun.map(r => r.reportsPerSec)),
    p50Ms: median(perRun.map(r => r.p50Ms)),
    p99Ms: median(perRun.map(r => r.p99Ms)),
    relayCpuMsPerReport: median(perRun.map(r => r.relayCpuMsPerReport)),
    relayRssBytes: Math.max(...perRun.map(r => r.relayMaxRssBytes)),
    allAcked: perRun.every(r => r.acked === n),
    jsonlLinesOk: perRun.every(r => r.jsonlLines === n + 2 * warmupTills),
    totalsCorrect: perRun.every(r => r.totalsCorrect),
    resendAccepted: Math.max(...perRun.map(r => r.resendAccepted)),
    totalsUnchanged: perRun.every(r => r.totalsUnchanged && r.resendDuplicateAcks === r.resendSent),
    ...(guarded ? { forgedRejected: perRun.every(r => r.forgedRejected === true) } : {}),
    perRun
  }
}

/**
 * This machine's native Ed25519 verification ceiling, × the cores available: verifies on this
 * thread for ~`ms` each with libsodium (`verifySignature`, what HQ verifies with: the ceiling)
 * and with OpenSSL through node:crypto and a cached KeyObject (what the guarded relay verifies
 * with, and the ceiling as first measured). Synchronous: it occupies the calling thread.
 */
export function measureVerifyCeiling (ms = 1_000): { perCorePerSec: number, cores: number, ceilingPerSec: number, openSsl: { perCorePerSec: number, ceilingPerSec: number } } {
  const pair = tillKeyPair(0)
  const [, op] = tillOps(0)
  const signed = signOp(op, new Signer(pair))
  const message = signedBytes(op)
  const sig = Buffer.from(signed.sig as string, 'base64')
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pair.publicKey]), format: 'der', type: 'spki' })
  const rate = (one: () => boolean): number => {
    for (let i = 0; i < 200; i++) one() // warm up
    let count = 0
    const start = performance.now()
    let elapsed = 0
    do {
      for (let i = 0; i < 50; i++) {
        if (!one()) throw new Error('verify ceiling: a good signature failed')
      }
      count += 50
      elapsed = performance.now() - start
    } while (elapsed < ms)
    return count / (elapsed / 1000)
  }
  const cores = availableParallelism()
  const perCorePerSec = rate(() => verifySignature(sig, message, pair.publicKey))
  const openSslPerCore = rate(() => verify(null, message, key, sig))
  return { perCorePerSec, cores, ceilingPerSec: perCorePerSec * cores, openSsl: { perCorePerSec: openSslPerCore, ceilingPerSec: openSslPerCore * cores } }
}

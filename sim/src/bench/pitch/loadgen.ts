/**
 * The pitch relay's load generator, its own OS process. It builds the fleet's 2N ops (and in
 * the guarded variant signs each with its till's own key and writes the key file the relay
 * registers at start), all before the wave; then, on `go {"port"}` from stdin, sends the 2N
 * ops over `--sockets` keep-alive sockets (one http.Agent, keepAlive, maxSockets = sockets;
 * as many senders as sockets, one request in flight each) and times the wave. Then the checks:
 * resend every op of 20% of the tills (B3), and in the guarded variant forged ops.
 *
 * With `--warmup-tills W`, the ops of W more tills go first, untimed (the relay's code then runs
 * compiled in the wave, as HQ's does: see the fleet benchmark's WARMUP_TILLS).
 *
 * Lines on stdout: `prepared {json}`, then `result {json}`.
 */
import { Agent, request } from 'node:http'
import { writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { Signer } from '@tillbooks/protocol'
import { forgerSigner, parseTagged, signOp, tillKeyPair, tillName, tillOps, type PitchOp } from './fleet.ts'

const { values: args } = parseArgs({
  options: {
    tills: { type: 'string' },
    sockets: { type: 'string', default: '96' },
    guarded: { type: 'boolean', default: false },
    'keys-out': { type: 'string' },
    'resend-fraction': { type: 'string', default: '0.2' },
    'warmup-tills': { type: 'string', default: '0' }
  }
})
const TILLS = Number(args.tills)
const SOCKETS = Number(args.sockets)
const GUARDED = args.guarded === true
const RESEND_EVERY = Math.round(1 / Number(args['resend-fraction']))
/** Tills [TILLS, TILLS + WARMUP) whose ops the relay takes, untimed, before the wave (as tillbooks' HQ does). */
const WARMUP = Number(args['warmup-tills'])
if (!Number.isSafeInteger(WARMUP) || WARMUP < 0) throw new Error('--warmup-tills must be a whole number ≥ 0')
if (!Number.isSafeInteger(TILLS) || TILLS < 1) throw new Error('--tills N is required')
if (GUARDED && args['keys-out'] === undefined) throw new Error('--guarded needs --keys-out')
process.stdin.on('close', () => process.exit(2)) // the parent went away

// ---- before the wave: build (and sign) every op ----
const t0 = performance.now()
const ops: Buffer[] = new Array(2 * TILLS)
const plain: PitchOp[] = new Array(2 * TILLS)
const warmupOps: Buffer[] = new Array(2 * WARMUP)
const keys: Record<string, string> = {}
let signMs = 0
for (let i = 0; i < TILLS + WARMUP; i++) {
  let [soda, eoda] = tillOps(i)
  if (GUARDED) {
    const pair = tillKeyPair(i)
    keys[tillName(i)] = Buffer.from(pair.publicKey).toString('base64')
    const signer = new Signer(pair)
    const s0 = performance.now()
    soda = signOp(soda, signer)
    eoda = signOp(eoda, signer)
    signMs += performance.now() - s0
  }
  if (i >= TILLS) {
    warmupOps[i - TILLS] = Buffer.from(JSON.stringify(soda))
    warmupOps[WARMUP + i - TILLS] = Buffer.from(JSON.stringify(eoda))
    continue
  }
  // morning wave first, then the night's: SODAs at [0, N), EODAs at [N, 2N)
  plain[i] = soda
  plain[TILLS + i] = eoda
  ops[i] = Buffer.from(JSON.stringify(soda))
  ops[TILLS + i] = Buffer.from(JSON.stringify(eoda))
}
if (GUARDED) await writeFile(args['keys-out'] as string, JSON.stringify(keys))
const prepareMs = performance.now() - t0
let opBytes = 0
for (const b of ops) opBytes += b.length
process.stdout.write(`prepared ${JSON.stringify({ ops: ops.length, prepareMs, signMs, meanOpBytes: opBytes / ops.length })}\n`)

// ---- wait for the relay ----
const lines = createInterface({ input: process.stdin })
const go = await new Promise<{ port: number }>((resolve) => {
  lines.on('line', (line) => {
    const v = parseTagged(line, 'go')
    if (v !== undefined) resolve(v as { port: number })
  })
})
const PORT = go.port
const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS, keepAliveMsecs: 10_000 })

interface Answer { status: number, body: string }
function send (method: 'GET' | 'POST', path: string, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': body.length }
    const req = request({ agent, host: '127.0.0.1', port: PORT, method, path, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: (chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks)).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

interface RelayStats {
  accepted: number, duplicates: number, rejected: number, conflicts: number, malformed: number
  writes: number, fsyncs: number, totals: { SODA: number, EODA: number }
  cpuUserUs: number, cpuSystemUs: number, rssBytes: number, maxRssBytes: number
}
async function relayStats (): Promise<RelayStats> {
  const a = await send('GET', '/stats')
  if (a.status !== 200) throw new Error(`/stats answered ${a.status}`)
  return JSON.parse(a.body) as RelayStats
}

const ACCEPTED = '{"ok":true,"accepted":true}'
const DUPLICATE = '{"ok":true,"accepted":false,"duplicate":true}'

/** Sends `batch` over SOCKETS senders, one request in flight each; returns answers and per-op latency (ms). */
async function wave (batch: Buffer[]): Promise<{ answers: Answer[], latency: Float64Array, ms: number }> {
  const answers: Answer[] = new Array(batch.length)
  const latency = new Float64Array(batch.length)
  let next = 0
  const sender = async (): Promise<void> => {
    while (next < batch.length) {
      const k = next++
      const t = performance.now()
      try {
        answers[k] = await send('POST', '/op', batch[k])
      } catch (err) {
        answers[k] = { status: 0, body: (err as Error).message }
      }
      latency[k] = performance.now() - t
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: Math.min(SOCKETS, batch.length) }, sender))
  return { answers, latency, ms: performance.now() - start }
}

function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number
}

// ---- the warm-up, untimed: the relay's code compiled before the wave, as HQ's is ----
if (WARMUP > 0) {
  const warm = await wave(warmupOps)
  const ok = warm.answers.filter(a => a.status === 200 && a.body === ACCEPTED).length
  if (ok !== warmupOps.length) throw new Error(`warm-up: ${ok} of ${warmupOps.length} ops acked`)
}

// ---- the timed wave ----
const before = await relayStats()
const cpu0 = process.cpuUsage()
const main = await wave(ops)
const loadgenCpu = process.cpuUsage(cpu0)
const after = await relayStats()
const acked = main.answers.filter(a => a.status === 200 && a.body === ACCEPTED).length
const failures = main.answers.filter(a => !(a.status === 200 && a.body === ACCEPTED)).slice(0, 3)
const sorted = main.latency.slice().sort()

// ---- B3: every op of 20% of the tills, resent ----
const resend: Buffer[] = []
for (let i = 0; i < TILLS; i += RESEND_EVERY) resend.push(ops[i] as Buffer, ops[TILLS + i] as Buffer)
const re = await wave(resend)
const afterResend = await relayStats()
const resendDuplicateAcks = re.answers.filter(a => a.status === 200 && a.body === DUPLICATE).length
const sameTotals = (a: RelayStats, b: RelayStats): boolean => a.totals.SODA === b.totals.SODA && a.totals.EODA === b.totals.EODA

// ---- forgeries (guarded): each must be refused, and nothing may move ----
let forged: Record<string, number> | undefined
let forgedRejected: boolean | undefined
if (GUARDED) {
  const forger = forgerSigner()
  const victim = plain[TILLS] as PitchOp // till 0's close
  const [, freshTemplate] = tillOps(0)
  // 1. a new op in till 0's name, signed by a key that is not till 0's
  const newId = signOp({ ...freshTemplate, id: `${freshTemplate.id}:again`, body: { ...freshTemplate.body, cents: 9_999_999 } }, forger)
  // 2. till 0's accepted close with its takings altered, under its original signature and id
  const altered: PitchOp = { ...victim, body: { ...victim.body, cents: victim.body.cents + 100_000 } }
  // 2b. the same alteration under a fresh id (so it is not caught as a conflict, only by the signature)
  const alteredFresh: PitchOp = { ...altered, id: `${victim.id}:altered` }
  // 3. a well-signed op from a till nobody registered
  const stranger = signOp({ ...freshTemplate, id: 'T-unknown:EODA', till: 'T-unknown' }, forger)
  // 4. till 0 itself signs a second, different close under its accepted close's id (equivocation)
  const twin = signOp({ ...freshTemplate, body: { ...freshTemplate.body, cents: freshTemplate.body.cents + 1 } }, new Signer(tillKeyPair(0)))
  const attempts = [newId, altered, alteredFresh, stranger, twin]
  const answers = await Promise.all(attempts.map(op => send('POST', '/op', Buffer.from(JSON.stringify(op)))))
  const afterForged = await relayStats()
  forged = { newIdBadKey: answers[0]?.status ?? 0, alteredSameId: answers[1]?.status ?? 0, alteredNewId: answers[2]?.status ?? 0, unknownTill: answers[3]?.status ?? 0, equivocation: answers[4]?.status ?? 0 }
  forgedRejected = answers.every(a => a.status >= 400 && a.status < 500) &&
    afterForged.accepted === afterResend.accepted && sameTotals(afterForged, afterResend)
}
agent.destroy()

const n = ops.length
process.stdout.write(`result ${JSON.stringify({
  tills: TILLS,
  warmupTills: WARMUP,
  ops: n,
  sockets: SOCKETS,
  guarded: GUARDED,
  waveMs: main.ms,
  reportsPerSec: n / (main.ms / 1000),
  acked,
  failures,
  p50Ms: percentile(sorted, 0.5),
  p99Ms: percentile(sorted, 0.99),
  maxMs: percentile(sorted, 1),
  relayCpuMsPerReport: ((after.cpuUserUs + after.cpuSystemUs) - (before.cpuUserUs + before.cpuSystemUs)) / 1000 / n,
  loadgenCpuMsPerReport: (loadgenCpu.user + loadgenCpu.system) / 1000 / n,
  relayRssBeforeWaveBytes: before.rssBytes,
  relayRssBytes: after.rssBytes,
  relayMaxRssBytes: after.maxRssBytes,
  relayAccepted: after.accepted - before.accepted,
  writes: after.writes - before.writes,
  fsyncs: after.fsyncs - before.fsyncs,
  totals: after.totals,
  resendSent: resend.length,
  resendDuplicateAcks,
  resendAccepted: afterResend.accepted - after.accepted,
  totalsUnchanged: sameTotals(after, afterResend),
  forged,
  forgedRejected,
  prepareMs,
  signMs
})}\n`)
process.exit(0)

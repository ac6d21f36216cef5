/**
 * The pitch's central relay, re-created as its own OS process: node:http with keep-alive,
 * `POST /op` takes one JSON op, dedups it by id, appends it to a JSONL file and acks.
 *
 *   node sim/src/bench/pitch/relay.ts --file ops.jsonl                 # as pitched
 *   node sim/src/bench/pitch/relay.ts --file ops.jsonl --keys keys.json # with our guarantees
 *     [--preparse]  parse every till's KeyObject at start instead of on its first op
 *
 * As pitched: unsigned ops, no fsync. Lines accepted in one event-loop turn are appended with
 * one write() and acked once it returns (in the page cache, not on disk).
 * Guarded: the till must be registered in the key file (`{ "<till>": "<base64 public key>" }`,
 * loaded at start); its signature is verified natively (node:crypto, one KeyObject per till,
 * parsed on first use and kept); the ack waits for an fdatasync of the file. Group commit:
 * one write + one fdatasync per burst, and requests arriving while a sync runs share the next.
 *
 * node:http rather than fastify: fastify runs on node:http and adds routing, hooks and
 * serialisation per request, so plain node:http is the leaner (fairer) relay; the pitch's own
 * script was plain Node with no framework. No per-request logging.
 *
 * Prints `ready {"port","pid"}` on stdout once it listens. `GET /stats` answers its counters,
 * CPU and RSS. Exits on SIGTERM, or when its stdin closes (the parent went away).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { open, readFile } from 'node:fs/promises'
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { parseArgs } from 'node:util'
import { signedBytes, type PitchOp } from './ops.ts'

const { values: args } = parseArgs({ options: { file: { type: 'string' }, keys: { type: 'string' }, preparse: { type: 'boolean', default: false } } })
if (args.file === undefined) throw new Error('--file is required')
const guarded = args.keys !== undefined
const BODY_MAX = 64 * 1024
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

const publicKeys = new Map<string, Buffer>()
if (guarded) {
  const raw = JSON.parse(await readFile(args.keys as string, 'utf8')) as Record<string, string>
  for (const [till, b64] of Object.entries(raw)) publicKeys.set(till, Buffer.from(b64, 'base64'))
}
const keyObjects = new Map<string, KeyObject>()
function keyObject (till: string): KeyObject | undefined {
  let k = keyObjects.get(till)
  if (k === undefined) {
    const raw = publicKeys.get(till)
    if (raw === undefined || raw.length !== 32) return undefined
    k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
    keyObjects.set(till, k)
  }
  return k
}

if (args.preparse === true) for (const till of publicKeys.keys()) keyObject(till)

const fh = await open(args.file, 'a')

// id -> the signature it was accepted with ('' when unsigned)
const seen = new Map<string, string>()
const stats = { accepted: 0, duplicates: 0, rejected: 0, conflicts: 0, malformed: 0, writes: 0, fsyncs: 0, totals: { SODA: 0, EODA: 0 } }

const ACK_ACCEPTED = Buffer.from('{"ok":true,"accepted":true}')
const ACK_DUPLICATE = Buffer.from('{"ok":true,"accepted":false,"duplicate":true}')
const JSON_HEADERS = { 'content-type': 'application/json' }

function reply (res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': body.length })
  res.end(body)
}
function fail (res: ServerResponse, status: number, error: string): void {
  reply(res, status, Buffer.from(JSON.stringify({ ok: false, error })))
}

interface Waiter { res: ServerResponse, body: Buffer }
let pendingLines: string[] = []
let pendingWaiters: Waiter[] = []
let flushing = false
let scheduled = false

function scheduleFlush (): void {
  if (flushing || scheduled) return
  scheduled = true
  // Let everything already readable in this turn join the batch.
  setImmediate(() => { scheduled = false; void flush() })
}

async function flush (): Promise<void> {
  flushing = true
  const lines = pendingLines
  const waiters = pendingWaiters
  pendingLines = []
  pendingWaiters = []
  try {
    if (lines.length > 0) {
      await fh.write(lines.join('\n') + '\n')
      stats.writes++
    }
    if (guarded) {
      await fh.datasync()
      stats.fsyncs++
    }
    for (const w of waiters) reply(w.res, 200, w.body)
  } catch (err) {
    // Nothing in this batch is durable: refuse every op of it (the client resends).
    for (const w of waiters) fail(w.res, 503, `append failed: ${(err as Error).message}`)
  } finally {
    flushing = false
    if (pendingWaiters.length > 0) scheduleFlush()
  }
}

function validOp (v: unknown): v is PitchOp {
  if (typeof v !== 'object' || v === null) return false
  const o = v as Record<string, unknown>
  if (typeof o.id !== 'string' || o.id.length === 0 || o.id.length > 200) return false
  if (typeof o.till !== 'string' || o.till.length === 0 || o.till.length > 100) return false
  if (o.kind !== 'SODA' && o.kind !== 'EODA') return false
  const body = o.body as Record<string, unknown> | null
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false
  if (!Number.isSafeInteger(body.cents)) return false
  if (o.sig !== undefined && typeof o.sig !== 'string') return false
  return true
}

function onOp (text: string, res: ServerResponse): void {
  let op: unknown
  try {
    op = JSON.parse(text)
  } catch {
    stats.malformed++
    return fail(res, 400, 'not JSON')
  }
  if (!validOp(op)) {
    stats.malformed++
    return fail(res, 400, 'not an op')
  }
  const sig = op.sig ?? ''
  if (guarded) {
    // Verify before anything else, duplicates included: an altered copy of an accepted op,
    // sent under its id and its original signature, must be refused, not called a duplicate.
    const key = keyObject(op.till)
    if (key === undefined) {
      stats.rejected++
      return fail(res, 403, 'unknown till')
    }
    const sigBytes = Buffer.from(sig, 'base64')
    let ok = false
    try {
      ok = sigBytes.length === 64 && verify(null, signedBytes(op), key, sigBytes)
    } catch {
      ok = false
    }
    if (!ok) {
      stats.rejected++
      return fail(res, 403, 'bad signature')
    }
  }
  const known = seen.get(op.id)
  if (known !== undefined) {
    if (guarded && known !== sig) {
      // Same id, a different (validly signed) op: never accepted, never overwrites the first.
      stats.conflicts++
      return fail(res, 409, 'a different op was accepted under this id')
    }
    stats.duplicates++
    // The first copy may still be in flight: answer once the next append (and sync) is done.
    pendingWaiters.push({ res, body: ACK_DUPLICATE })
    return scheduleFlush()
  }
  seen.set(op.id, sig)
  stats.accepted++
  stats.totals[op.kind] += op.body.cents
  pendingLines.push(JSON.stringify(op))
  pendingWaiters.push({ res, body: ACK_ACCEPTED })
  scheduleFlush()
}

function statsBody (): Buffer {
  const cpu = process.cpuUsage()
  const ru = process.resourceUsage()
  return Buffer.from(JSON.stringify({
    ...stats,
    guarded,
    pid: process.pid,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rssBytes: process.memoryUsage.rss(),
    maxRssBytes: ru.maxRSS * 1024
  }))
}

const server = createServer({ keepAliveTimeout: 120_000, requestTimeout: 60_000 }, (req: IncomingMessage, res: ServerResponse) => {
  if (req.method === 'POST' && req.url === '/op') {
    const chunks: Buffer[] = []
    let size = 0
    let tooBig = false
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > BODY_MAX) tooBig = true
      else chunks.push(c)
    })
    req.on('end', () => {
      if (tooBig) return fail(res, 413, 'op too large')
      onOp((chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks)).toString('utf8'), res)
    })
    return
  }
  if (req.method === 'GET' && req.url === '/stats') return reply(res, 200, statsBody())
  req.resume()
  fail(res, 404, 'not found')
})
server.maxRequestsPerSocket = 0
server.keepAliveTimeout = 120_000

let stopping = false
async function stop (): Promise<void> {
  if (stopping) return
  stopping = true
  server.close()
  server.closeAllConnections()
  try { await fh.close() } catch {}
  process.exit(0)
}
process.on('SIGTERM', () => { void stop() })
process.on('SIGINT', () => { void stop() })
process.stdin.on('end', () => { void stop() })
process.stdin.on('close', () => { void stop() })
process.stdin.resume()

server.listen(0, '127.0.0.1', () => {
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  process.stdout.write(`ready ${JSON.stringify({ port, pid: process.pid, guarded, tills: publicKeys.size })}\n`)
})

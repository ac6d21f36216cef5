/**
 * `tillbooks hq`: HqNode on LevelDB, reachable by tills over libp2p and by people and
 * tools over a local HTTP API. The HTTP API is for the back office (books, fleet) and for
 * admin tasks that happen on HQ's own machine (enrolment, replenishment, restoring logs
 * recovered from elsewhere), so it listens on 127.0.0.1 unless told otherwise.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import {
  asStoreId, asBusinessDay, fromHex, openEntry, parseTillId, rejectionOf, Signer, toHex,
  type PublicKey, type TillId
} from '@tillbooks/protocol'
import { demoCatalogue } from '@tillbooks/catalogue'
import { HqNode, EnrolmentConflictError } from '../hq/HqNode.ts'
import { CERT_PREFIX } from '../hq/keys.ts'
import { LevelStore } from '../storage/LevelStore.ts'
import { prefixEnd, type KvStore } from '../storage/KvStore.ts'
import { systemClock, type Logger } from '../components.ts'
import { WorkerVerifier } from '../verify/WorkerVerifier.ts'
import { TillbooksPeer } from '../net/TillbooksPeer.ts'
import { hqDbDir, hqRootKey } from './dataDir.ts'
import { ADMIN_ENTRIES_MAX, B64_ENTRY, bodyLimitBytes, errorHandler, TILL_ID_PARAM, STRICT_AJV, skuQtyLinesSchema } from './http.ts'
import { threadCpuDelta, threadCpuSnapshot } from './threadCpu.ts'

export interface HqDaemonOptions {
  dataDir: string
  listen: string[]
  httpPort: number
  httpHost?: string
  logger: Logger
  /** Verification worker threads (default: 2; 0 verifies inline). */
  verifyWorkers?: number
  /** Re-verify every signature when rebuilding from the log (default true). */
  rebuildVerify?: boolean
}

export interface HqReady {
  role: 'hq'
  peerId: string
  multiaddrs: string[]
  http: string
  rootKey: string
}

export interface HqDaemon {
  hq: HqNode
  peer: TillbooksPeer
  http: FastifyInstance
  ready: HqReady
  stop: () => Promise<void>
}

export async function startHqDaemon (o: HqDaemonOptions): Promise<HqDaemon> {
  const { logger } = o
  const root = await hqRootKey(o.dataDir)
  const signer = new Signer(root)
  const catalogue = demoCatalogue()
  const store: KvStore = new LevelStore(hqDbDir(o.dataDir))
  const workers = o.verifyWorkers ?? 2
  const hq = new HqNode({ store, clock: systemClock, logger }, {
    root: signer,
    costCents: sku => catalogue.costCents(sku),
    rebuildVerify: o.rebuildVerify ?? true,
    ...(workers > 0 ? { verifier: new WorkerVerifier({ threads: workers }) } : {})
  })
  const rebuilt = await hq.start()
  logger.info({ ...rebuilt }, 'HQ books rebuilt from the log')

  const peer = await TillbooksPeer.create({ seed: root.secretKey, listen: o.listen, logger })
  peer.handleSubmit(async entries => await hq.submit(entries))
  peer.handleLog(async (tillId, afterSeq) => await logAfter(hq, tillId, afterSeq))
  peer.handleHeads(() => {})
  peer.handleReplenishment(async (storeId) => hq.ordersFor(asStoreId(storeId)))

  const http = Fastify({ logger: false, bodyLimit: bodyLimitBytes(ADMIN_ENTRIES_MAX), ajv: { customOptions: STRICT_AJV } })
  http.setErrorHandler(errorHandler(logger))
  http.get('/health', async () => ({ ok: true }))
  http.get('/books', async () => hq.books.snapshot())
  http.get('/books.hledger', async (_req, reply) => await reply.type('text/plain; charset=utf-8').send(hq.books.toHledger()))
  http.get('/fleet', async () => ({ tills: hq.fleet() }))
  http.get('/counters', async () => ({ ...hq.counters, rejections: hq.rejections.slice(-100) }))
  // For benchmarks and monitoring: what this process has cost so far, all threads counted.
  http.get('/metrics', async () => {
    const cpu = process.cpuUsage()
    const usage = process.resourceUsage()
    return {
      cpuUserMicros: cpu.user,
      cpuSystemMicros: cpu.system,
      rssBytes: process.memoryUsage.rss(),
      maxRssBytes: usage.maxRSS * 1024,
      connections: peer.stats().connections,
      net: peer.stats(),
      counters: hq.counters,
      timings: hq.timings,
      // CPU ms per thread kind since start (Linux; {} elsewhere): main, verify threads, V8, libuv.
      threadCpuMs: threadCpuDelta(new Map(), threadCpuSnapshot())
    }
  })

  http.post('/admin/enrol', {
    schema: {
      body: {
        type: 'object',
        required: ['store', 'till', 'tillKey'],
        additionalProperties: false,
        properties: {
          store: { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,15}$' },
          till: { type: 'integer', minimum: 1, maximum: 999 },
          tillKey: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          fromSeq: { type: 'integer', minimum: 1, maximum: 1_000_000_000 }
        }
      }
    }
  }, async (req, reply) => {
    const b = req.body as { store: string, till: number, tillKey: string, fromSeq?: number }
    try {
      const bytes = await hq.enrol({ store: asStoreId(b.store), till: b.till, tillKey: fromHex(b.tillKey) as PublicKey, fromSeq: b.fromSeq ?? 1 })
      logger.info({ store: b.store, till: b.till, fromSeq: b.fromSeq ?? 1 }, 'till enrolled')
      return { tillId: `${b.store}-${b.till}`, certificate: Buffer.from(bytes).toString('base64'), hqRootKey: toHex(signer.publicKey), fromSeq: b.fromSeq ?? 1 }
    } catch (err) {
      if (err instanceof EnrolmentConflictError) return await reply.code(409).send({ error: err.message })
      throw err
    }
  })

  http.get('/admin/certificates/:tillId', { schema: { params: TILL_ID_PARAM } }, async req => {
    const { tillId } = req.params as { tillId: string }
    return { tillId, hqRootKey: toHex(signer.publicKey), certificates: (await certificatesOf(store, checkedTillId(tillId))).map(b => Buffer.from(b).toString('base64')) }
  })

  http.get('/admin/log/:tillId', { schema: { params: TILL_ID_PARAM } }, async req => {
    const { tillId } = req.params as { tillId: string }
    return { tillId, entries: (await hq.tillLog(checkedTillId(tillId))).map(b => Buffer.from(b).toString('base64')) }
  })

  http.post('/admin/entries', {
    schema: {
      body: {
        type: 'object',
        required: ['entries'],
        additionalProperties: false,
        properties: { entries: { type: 'array', maxItems: ADMIN_ENTRIES_MAX, items: B64_ENTRY } }
      }
    }
  }, async req => {
    const { entries } = req.body as { entries: string[] }
    const outcomes = await hq.submit(entries.map(e => new Uint8Array(Buffer.from(e, 'base64'))))
    return { outcomes }
  })

  http.post('/admin/opening-stock', {
    schema: {
      body: {
        type: 'object',
        required: ['date', 'lines'],
        additionalProperties: false,
        properties: { date: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, lines: skuQtyLinesSchema(1_000_000_000) }
      }
    }
  }, async req => {
    const b = req.body as { date: string, lines: Array<{ sku: string, qty: number }> }
    for (const l of b.lines) {
      if (!catalogue.stockedSkus().includes(l.sku)) throw Object.assign(new Error(`unknown stocked sku ${l.sku}`), { statusCode: 400 })
    }
    await hq.openingStock(b.lines, asBusinessDay(b.date))
    return { date: b.date, lines: b.lines.length }
  })

  http.post('/admin/replenishment', {
    schema: {
      body: {
        type: 'object',
        required: ['id', 'store', 'businessDay', 'lines'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$' },
          store: { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,15}$' },
          businessDay: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
          lines: skuQtyLinesSchema(1_000_000_000)
        }
      }
    }
  }, async req => {
    const b = req.body as { id: string, store: string, businessDay: string, lines: Array<{ sku: string, qty: number }> }
    for (const l of b.lines) {
      if (!catalogue.stockedSkus().includes(l.sku)) throw Object.assign(new Error(`unknown stocked sku ${l.sku}`), { statusCode: 400 })
    }
    const bytes = await hq.dispatchReplenishment({ id: b.id, store: asStoreId(b.store), businessDay: asBusinessDay(b.businessDay), lines: b.lines })
    return { id: b.id }
  })

  const url = await http.listen({ port: o.httpPort, host: o.httpHost ?? '127.0.0.1' })
  const ready: HqReady = { role: 'hq', peerId: peer.peerId, multiaddrs: peer.multiaddrs(), http: url, rootKey: toHex(signer.publicKey) }

  let stopping: Promise<void> | null = null
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      await http.close()
      await peer.stop()
      await hq.stop()
    })()
    await stopping
  }
  return { hq, peer, http, ready, stop }
}

function checkedTillId (tillId: string): TillId {
  try {
    parseTillId(tillId)
  } catch (err) {
    throw Object.assign(new Error(rejectionOf(err).reason), { statusCode: 400 })
  }
  return tillId as TillId
}

async function logAfter (hq: HqNode, tillId: string, afterSeq: number): Promise<Uint8Array[]> {
  // By seq, not by position: a fork puts two entries at one seq, and a gap none.
  const all = await hq.tillLog(checkedTillId(tillId))
  return all.filter(bytes => openEntry(bytes, { verify: false }).record.seq > afterSeq)
}

/** The certificates HQ issued for a till slot, oldest first. */
async function certificatesOf (store: KvStore, tillId: TillId): Promise<Uint8Array[]> {
  const prefix = `${CERT_PREFIX}${tillId}!`
  const out: Uint8Array[] = []
  for await (const [, bytes] of store.entries({ gte: prefix, lt: prefixEnd(prefix) })) out.push(bytes)
  return out
}


/**
 * A load generator: one OS process hosting whole stores, and acting as their store relay
 * towards HQ (one libp2p connection, one long-lived pipelined submit stream). Driven by the
 * orchestrator over stdin/stdout lines (proc.ts):
 *
 *   connect {hq}            dial HQ (the connect + noise + yamux handshake and a first round
 *                           trip, timed), then fetch each hosted store's HQ-signed orders
 *   generate {}             every hosted till (warm-up tills too) trades its day through TillNode
 *                           (MemoryStore, a fixed clock): opens with its delivery, rings up its
 *                           sales, closes; StockIn and Close are signed here, before any wave.
 *                           Answers the oracle's books for these tills and the numbering check.
 *   replicate {from, tills} keep a replica of a neighbouring store's tills' logs (fetched over
 *                           libp2p, each entry's signature checked), and serve it
 *   warmup {}               the warm-up tills' records (see WARMUP_TILLS), untimed
 *   wave {}                 the timed wave: every record, in batches, W calls in flight
 *   resend {}               B3: every entry of every 5th till, again
 *   fire {}                 the burnt store's tills lose everything
 *   probe {hq, count}       `count` more connections to HQ, each a till's own libp2p identity
 *   unprobe {}              close them
 *   legacy {addr, budgetMs} the legacy baseline: every sale takes its number from a central counter
 *   quit {}
 *
 *   node loadgen.ts --tills N --seed S --loadgens L --index K [--tills-per-store 4] [--sales 9]
 *                   [--batch 64] [--window 16] [--resend-every 5] [--legacy-lanes 256] [--warmup-tills 2000]
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import {
  docNoOf, fromHex, keyPairFromSeed, openEntry, openReplenishment, Signer, tillIdOf,
  type PublicKey, type SkuQty, type StoreId
} from '@tillbooks/protocol'
import { demoCatalogue } from '@tillbooks/catalogue'
import { silentLogger, type Clock } from '../../../../node/src/components.ts'
import { MemoryStore } from '../../../../node/src/storage/MemoryStore.ts'
import { TillNode } from '../../../../node/src/till/TillNode.ts'
import { TillbooksPeer } from '../../../../node/src/net/TillbooksPeer.ts'
import { Oracle, type TruthDay, type TruthSale } from '../../Oracle.ts'
import { Prng } from '../../Prng.ts'
import { childChannel } from './proc.ts'
import { BATCH_ENTRIES, LEGACY_LANES, RESEND_EVERY_NTH_TILL, SALES_PER_TILL, TILLS_PER_STORE, WARMUP_TILLS, WINDOW_CALLS } from './constants.ts'
import { fireStore, isResent, loadgenRange, makePlan, orderIdOf, relaySeed, storeOf, tillIdAt, tillNoOf, tillSeed, warmupRange } from './plan.ts'

const { values: a } = parseArgs({
  options: {
    tills: { type: 'string' },
    seed: { type: 'string', default: '1' },
    loadgens: { type: 'string' },
    index: { type: 'string' },
    'tills-per-store': { type: 'string', default: String(TILLS_PER_STORE) },
    sales: { type: 'string', default: String(SALES_PER_TILL) },
    batch: { type: 'string', default: String(BATCH_ENTRIES) },
    window: { type: 'string', default: String(WINDOW_CALLS) },
    'resend-every': { type: 'string', default: String(RESEND_EVERY_NTH_TILL) },
    'legacy-lanes': { type: 'string', default: String(LEGACY_LANES) },
    'warmup-tills': { type: 'string', default: String(WARMUP_TILLS) }
  }
})
const plan = makePlan({ tills: Number(a.tills), seed: Number(a.seed), loadgens: Number(a.loadgens), tillsPerStore: Number(a['tills-per-store']), salesPerTill: Number(a.sales), warmupTills: Number(a['warmup-tills']) })
const INDEX = Number(a.index)
const BATCH = Number(a.batch)
const WINDOW = Number(a.window)
const RESEND_EVERY = Number(a['resend-every'])
const LEGACY_LANES_N = Number(a['legacy-lanes'])
const { from: FROM, to: TO } = loadgenRange(plan, INDEX)
const { from: WARM_FROM, to: WARM_TO } = warmupRange(plan, INDEX)
/** Every till this process hosts: its fleet range, then its warm-up range. */
const HOSTED: number[] = []
for (let i = FROM; i < TO; i++) HOSTED.push(i)
for (let i = WARM_FROM; i < WARM_TO; i++) HOSTED.push(i)
const fire = fireStore(plan)
const hostsFire = fire.host === INDEX
const fireTills = new Set(fire.tills)

const MEMBERS = Array.from({ length: 40 }, (_, i) => `+4477009${String(10_000 + i * 7919).slice(-5)}`)
const catalogue = demoCatalogue()
const sellable = catalogue.products().filter(p => p.sellable).map(p => p.sku)
/** Every till's clock reads the same instant: the records are the same bytes on every run of the plan. */
const clock: Clock = { nowMs: () => Date.parse(`${plan.day}T12:00:00Z`) }

const peer = await TillbooksPeer.create({ seed: relaySeed(plan, INDEX), listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, callTimeoutMs: 120_000 })
let hqAddr = ''
let hqRootKey: PublicKey | null = null
/** Till index → its HQ-signed order for the day. */
const orders = new Map<number, Uint8Array>()
/** Till index → [StockIn, Close] bytes, as signed at the close. */
const records = new Map<number, Uint8Array[]>()
/** What goes to HQ for each hosted till: its records inside the changes of its log that put them (TillNode.outboxChanges). */
const outgoing = new Map<number, Uint8Array[]>()
/** Replicas this process keeps of neighbouring stores' tills (tillId → entries). */
const replicas = new Map<string, Uint8Array[]>()
/** Tills lost in the fire (their logs are gone from here). */
const burnt = new Set<string>()

// Serve logs: the hosted tills' own (a store relay holds its tills' logs) and the replicas.
const byTillId = new Map<string, number>()
for (const i of HOSTED) byTillId.set(tillIdAt(plan, i), i)
peer.handleLog(async (tillId) => {
  if (burnt.has(tillId)) return []
  const i = byTillId.get(tillId)
  if (i !== undefined) return records.get(i) ?? []
  return replicas.get(tillId) ?? []
})
peer.handleHeads(() => {})

function ioBytes (): { read: number, write: number } {
  try {
    const s = readFileSync('/proc/self/io', 'utf8')
    return { read: Number(/rchar:\s+(\d+)/.exec(s)?.[1] ?? 0), write: Number(/wchar:\s+(\d+)/.exec(s)?.[1] ?? 0) }
  } catch {
    return { read: 0, write: 0 }
  }
}
const epochMs = (): number => performance.timeOrigin + performance.now()

async function pool<T> (items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++] as T)
  }))
}

async function connect (body: { hq: string, rootKey: string }): Promise<unknown> {
  hqAddr = body.hq
  hqRootKey = fromHex(body.rootKey) as PublicKey
  const firstStore = storeOf(plan, FROM)
  const t0 = performance.now()
  await peer.fetchReplenishment(hqAddr, firstStore, null)
  const connectMs = performance.now() - t0
  let ordersMs = 0
  if (orders.size === 0) {
    const t1 = performance.now()
    const stores: StoreId[] = []
    for (const i of HOSTED) if (stores[stores.length - 1] !== storeOf(plan, i)) stores.push(storeOf(plan, i))
    const want = new Map<string, number>()
    for (const i of HOSTED) want.set(orderIdOf(plan, i), i)
    await pool(stores, 64, async store => {
      for (const bytes of await peer.fetchReplenishment(hqAddr, store, null)) {
        const o = openReplenishment(bytes, hqRootKey as PublicKey)
        const i = want.get(o.id)
        if (i !== undefined) orders.set(i, bytes)
      }
    })
    if (orders.size !== HOSTED.length) throw new Error(`HQ served ${orders.size} of ${HOSTED.length} orders`)
    ordersMs = performance.now() - t1
  }
  return { connectMs, ordersMs, connections: peer.stats().connections }
}

function priceOf (lines: SkuQty[]): number {
  let total = 0
  for (const l of lines) total += l.qty * catalogue.get(l.sku).priceCents
  return total
}

/** One till's day, through the real TillNode: the same sale mix as the simulator. */
async function tradeDay (i: number): Promise<{ truth: TruthDay, docNs: number[], entries: Uint8Array[], changes: Uint8Array[], closeHash: string, docLast: number, takingsCents: number }> {
  const store = storeOf(plan, i)
  const till = tillNoOf(plan, i)
  const tillId = tillIdOf(store, till)
  const signer = new Signer(keyPairFromSeed(tillSeed(plan, i)))
  const node = new TillNode({ store: new MemoryStore(), clock, logger: silentLogger }, { store, till, signer, catalogue, hqRootKey: hqRootKey as PublicKey })
  await node.start()
  const p = new Prng(`${plan.seed}/till/${i}`)
  const order = orders.get(i) as Uint8Array
  const shipped = openReplenishment(order, hqRootKey as PublicKey).lines.map(l => ({ sku: l.sku, qty: l.qty }))
  const received = shipped.map(l => ({ sku: l.sku, qty: p.chance(0.1) ? p.int(0, l.qty) : l.qty })).filter(l => l.qty > 0)
  await node.openDay(plan.day, { order, received })
  const sales: TruthSale[] = []
  const docNs: number[] = []
  for (let s = 0; s < plan.salesPerTill; s++) {
    const refund = p.chance(0.03)
    const lines = p.sample(sellable, p.int(1, 3)).map(sku => ({ sku, qty: p.int(1, 3) }))
    const member = !refund && p.chance(0.2) ? p.pick(MEMBERS) : null
    let receipt
    if (refund) {
      const tender = priceOf(lines) <= node.status().drawerCashCents ? 'cash' as const : 'card' as const
      receipt = await node.refund({ lines, tender })
      sales.push({ kind: 'refund', lines, cardCents: 0, member: null, refundTender: tender })
    } else {
      const total = priceOf(lines)
      const mode = p.int(0, 99)
      const tenders = mode < 55
        ? [{ type: 'card' as const, amountCents: total }]
        : mode < 90
          ? [{ type: 'cash' as const, amountCents: total + (p.chance(0.5) ? p.int(1, 2_000) : 0) }]
          : [{ type: 'card' as const, amountCents: Math.floor(total / 2) || total }, ...(total - (Math.floor(total / 2) || total) > 0 ? [{ type: 'cash' as const, amountCents: total - Math.floor(total / 2) }] : [])]
      const cardCents = tenders.filter(x => x.type === 'card').reduce((sum, x) => sum + x.amountCents, 0)
      receipt = await node.sell({ lines, tenders, ...(member !== null ? { member } : {}) })
      sales.push({ kind: 'sale', lines, cardCents, member })
    }
    if (!receipt.docNo.startsWith(`${tillId}-`)) throw new Error(`${tillId} printed ${receipt.docNo}`)
    docNs.push(Number(receipt.docNo.slice(tillId.length + 1)))
  }
  let expectedCash = 0
  for (const d of await node.journal(1, node.nextDocN - 1)) expectedCash += d.tenders.cash
  const cashCountedCents = expectedCash + (p.chance(0.08) ? p.int(-500, 500) : 0)
  const close = await node.closeDay({ cashCountedCents })
  const entries = node.log.map(e => e.bytes)
  const changes = node.outboxChanges().map(c => c.bytes)
  await node.stop()
  const r = close.record
  if (r.kind !== 'close') throw new Error('not a close')
  return {
    truth: { store, tillId, businessDay: plan.day, delivery: { shipped, received }, sales, cashCountedCents, closeCounts: true, stockInCounts: true },
    docNs,
    entries,
    changes,
    closeHash: close.hash,
    docLast: r.docLast,
    takingsCents: r.takingsCents.cash + r.takingsCents.card
  }
}

async function generate (): Promise<unknown> {
  if (hqRootKey === null) throw new Error('connect first')
  const t0 = performance.now()
  const days: TruthDay[] = []
  const docNos = new Set<string>()
  let documents = 0
  let contiguous = true
  let entryBytes = 0
  const fireCloses: Array<{ tillId: string, closeHash: string, docLast: number, takingsCents: number }> = []
  for (const i of HOSTED) {
    const d = await tradeDay(i)
    days.push(d.truth)
    records.set(i, d.entries)
    outgoing.set(i, d.changes)
    for (const e of d.changes) entryBytes += e.length
    // G1 at the till: numbers 1..k, contiguous, in the till's own name, and the Close says so.
    d.docNs.forEach((n, k) => { if (n !== k + 1) contiguous = false })
    if (d.docLast !== d.docNs.length) contiguous = false
    for (const n of d.docNs) docNos.add(docNoOf(storeOf(plan, i), tillNoOf(plan, i), n))
    documents += d.docNs.length
    if (hostsFire && fireTills.has(i)) fireCloses.push({ tillId: d.truth.tillId, closeHash: d.closeHash, docLast: d.docLast, takingsCents: d.takingsCents })
  }
  const genMs = performance.now() - t0
  const oracle = new Oracle(catalogue.products()).books(days, [], [])
  return {
    from: FROM,
    to: TO,
    tills: TO - FROM,
    entries: 2 * (TO - FROM),
    warmupTills: WARM_TO - WARM_FROM,
    entryBytes,
    genMs,
    oracle,
    g1: { documents, distinct: docNos.size, contiguous },
    fireCloses
  }
}

async function replicate (body: { from: string, tills: string[] }): Promise<unknown> {
  let entries = 0
  for (const tillId of body.tills) {
    const got = await peer.fetchLog(body.from, tillId, 0)
    // A replica keeps only entries that verify under their own signature and are this till's.
    const ok = got.filter(bytes => {
      try {
        return openEntry(bytes, { verify: true }).tillId === tillId
      } catch {
        return false
      }
    })
    replicas.set(tillId, ok)
    entries += ok.length
  }
  return { tills: body.tills.length, entries }
}

interface SendResult { sent: number, accepted: number, duplicates: number, rejected: number, failures: string[], lat: number[], latN: number[], startEpochMs: number, endEpochMs: number, ms: number }

async function send (list: Uint8Array[]): Promise<SendResult> {
  const batches: Uint8Array[][] = []
  for (let k = 0; k < list.length; k += BATCH) batches.push(list.slice(k, k + BATCH))
  const r: SendResult = { sent: list.length, accepted: 0, duplicates: 0, rejected: 0, failures: [], lat: [], latN: [], startEpochMs: epochMs(), endEpochMs: 0, ms: 0 }
  const t0 = performance.now()
  await pool(batches, WINDOW, async b => {
    const t = performance.now()
    try {
      const answers = await peer.submit(hqAddr, b, { timeoutMs: 300_000 })
      for (const x of answers) {
        if (x.status === 'accepted') r.accepted++
        else if (x.status === 'duplicate') r.duplicates++
        else {
          r.rejected++
          if (r.failures.length < 5) r.failures.push(`${x.code ?? ''} ${x.reason ?? ''}`)
        }
      }
    } catch (err) {
      r.rejected += b.length
      if (r.failures.length < 5) r.failures.push((err as Error).message)
    }
    r.lat.push(Math.round((performance.now() - t) * 100) / 100)
    r.latN.push(b.length)
  })
  r.ms = performance.now() - t0
  r.endEpochMs = epochMs()
  return r
}

/** Tills [from, to)'s StockIns (the morning's), then their Closes (the night's) but those of `withheld` tills. */
function dayRecords (from: number, to: number, withheld: (i: number) => boolean = () => false): Uint8Array[] {
  const list: Uint8Array[] = []
  for (let i = from; i < to; i++) list.push((outgoing.get(i) as Uint8Array[])[0] as Uint8Array)
  for (let i = from; i < to; i++) if (!withheld(i)) list.push((outgoing.get(i) as Uint8Array[])[1] as Uint8Array)
  return list
}

/** The warm-up tills' day: untimed, before each timed wave. */
async function warmup (): Promise<unknown> {
  const { lat: _l, latN: _n, ...r } = await send(dayRecords(WARM_FROM, WARM_TO))
  return r
}

async function wave (): Promise<unknown> {
  // The burnt store's Closes never leave it: its link is down.
  const list = dayRecords(FROM, TO, i => hostsFire && fireTills.has(i))
  const io0 = ioBytes()
  const cpu0 = process.cpuUsage()
  const r = await send(list)
  const cpu = process.cpuUsage(cpu0)
  const io1 = ioBytes()
  return { ...r, socketBytesRead: io1.read - io0.read, socketBytesWritten: io1.write - io0.write, cpuMs: (cpu.user + cpu.system) / 1000, stats: peer.stats() }
}

async function resend (): Promise<unknown> {
  const list: Uint8Array[] = []
  for (let i = FROM; i < TO; i++) {
    if (!isResent(i, RESEND_EVERY)) continue
    const [s, c] = outgoing.get(i) as Uint8Array[]
    list.push(s as Uint8Array)
    if (!(hostsFire && fireTills.has(i))) list.push(c as Uint8Array)
  }
  const { lat: _l, latN: _n, ...r } = await send(list)
  return r
}

async function burn (): Promise<unknown> {
  for (const i of fire.tills) {
    burnt.add(tillIdAt(plan, i))
    records.delete(i)
    outgoing.delete(i)
  }
  return { burnt: [...burnt] }
}

let probes: TillbooksPeer[] = []
/** Handshakes in progress at once per load generator during the probe. */
const PROBE_PARALLEL = 16
async function probe (body: { hq: string, count: number }): Promise<unknown> {
  const count = Math.min(body.count, TO - FROM)
  const t0 = performance.now()
  for (let k = 0; k < count; k++) probes.push(await TillbooksPeer.create({ seed: tillSeed(plan, FROM + k), listen: [], logger: silentLogger, callTimeoutMs: 120_000 }))
  const createMs = performance.now() - t0
  const ms: number[] = []
  const t1 = performance.now()
  await pool(probes.map((p, k) => ({ p, k })), PROBE_PARALLEL, async ({ p, k }) => {
    const t = performance.now()
    await p.fetchReplenishment(body.hq, storeOf(plan, FROM + k), null)
    ms.push(performance.now() - t)
  })
  return { count, createMs, allMs: performance.now() - t1, ms }
}

async function unprobe (): Promise<unknown> {
  const n = probes.length
  await Promise.allSettled(probes.map(async p => { await p.stop() }))
  probes = []
  return { closed: n }
}

async function legacy (body: { addr: string, budgetMs: number }): Promise<unknown> {
  const tillIds: string[] = []
  for (let i = FROM; i < TO; i++) tillIds.push(tillIdAt(plan, i))
  const numbers: number[] = []
  const failures: string[] = []
  let next = 0
  let tillsDone = 0
  const startEpochMs = epochMs()
  const t0 = performance.now()
  const deadline = t0 + body.budgetMs
  await Promise.all(Array.from({ length: Math.min(LEGACY_LANES_N, tillIds.length) }, async () => {
    while (next < tillIds.length && performance.now() < deadline) {
      const tillId = tillIds[next++] as string
      const ask = new TextEncoder().encode(tillId)
      let s = 0
      // A sale cannot print its receipt before the counter has answered: one round trip each, in turn.
      for (; s < plan.salesPerTill && performance.now() < deadline; s++) {
        try {
          const [answer] = await peer.submit(body.addr, [ask], { timeoutMs: 120_000 })
          if (answer?.status === 'accepted' && typeof answer.seq === 'number') numbers.push(answer.seq)
          else if (failures.length < 5) failures.push(JSON.stringify(answer))
        } catch (err) {
          if (failures.length < 5) failures.push((err as Error).message)
        }
      }
      if (s === plan.salesPerTill) tillsDone++
    }
  }))
  const ms = performance.now() - t0
  return { handoffs: numbers.length, tillsDone, tills: tillIds.length, cutShort: tillsDone < tillIds.length, ms, startEpochMs, endEpochMs: epochMs(), numbers, failures }
}

childChannel({
  connect,
  generate,
  replicate,
  warmup,
  wave,
  resend,
  fire: burn,
  probe,
  unprobe,
  legacy,
  quit: async () => {
    await unprobe()
    await peer.stop()
    setImmediate(() => process.exit(0))
    return { ok: true }
  }
})
process.on('SIGTERM', () => { void peer.stop().finally(() => process.exit(0)) })
process.stdout.write(`ready ${JSON.stringify({ index: INDEX, from: FROM, to: TO, multiaddrs: peer.multiaddrs(), peerId: peer.peerId })}\n`)

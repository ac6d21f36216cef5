/**
 * HQ back after a crash with a long log (issue 21): a log of N tills × D business days (two
 * signed records per till per day: the morning StockIn and the nightly Close; D = 365 is a
 * year), and the replenishment order each StockIn confirms (HQ-signed, one per store per day,
 * as the launcher dispatches them; `--no-orders` leaves them out, as the bench did before
 * 2026-12-07) is built straight into HQ's LevelDB in HQ's own layout (entries and their arrival
 * numbers, orders; certificates through HqNode.enrolMany), then the real `tillbooks hq` process:
 *   1. starts with `--rebuild full-trust`: the whole log folded, trusting it (records/s),
 *      and writes its first checkpoint of the books (a base: every entry) — its time and size;
 *   2. is SIGKILLed and started again as operators run it (`--rebuild verify`: the newest
 *      checkpoint, root-signed and hashed, then the log after it, every signature read from
 *      the log re-verified): seconds from the start of the process until it serves — the
 *      figure `restartSeconds` —, and the books identical to the cent;
 *   3. the same with `--rebuild full` (the whole log, re-verified) when asked (`--full-verify`),
 *      against three ceilings: one second of verifies on one core times the cores (the fleet
 *      benchmark's, on one message; and on the log's own records), best of three; and the log's
 *      records verified on every core at once for 3 × 10 s (sustained, as the rebuild runs),
 *      right after the rebuild and right before it (their mean: the VM's speed drifts in minutes).
 * `--books-db off`: the SQL projection is not part of HQ serving again (it follows later).
 * Not a test: `node node/bench/hqRestart.ts [tills] [days] [--full-verify] [--no-orders] [--keep DIR [--build-only | --reuse]]` from the
 * repo root (`--build-only` builds the log into DIR and stops; `--reuse` times a log built before).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { isDeepStrictEqual } from 'node:util'
import {
  asBusinessDay, asStoreId, fromHex, GENESIS_HASH, keyPairFromSeed, openEntry, signEntry, signReplenishment, Signer, signingBytes, toHex, verifySignature, type Close, type PublicKey, type StockIn
} from '@tillbooks/protocol'
import { demoCatalogue } from '@tillbooks/catalogue'
import { HqNode, LevelStore, silentLogger } from '../src/index.ts'
import { envelopeOf } from '../src/hq/loggedEntry.ts'
import { hqDbDir } from '../src/daemon/dataDir.ts'
import { ARRIVAL_NEXT_KEY, arrivalKey, entryKey, replenishmentKey } from '../src/hq/keys.ts'

const args = process.argv.slice(2)
const positional = args.filter(a => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--keep')
const TILLS = Number(positional[0] ?? 10_000)
const DAYS = Number(positional[1] ?? 365)
const FULL_VERIFY = args.includes('--full-verify')
const ORDERS = !args.includes('--no-orders')
const keepAt = args.indexOf('--keep')
const TILLS_PER_STORE = 10
/** Logged records whose signatures make the records ceiling. */
const RECORDS_CEILING_SAMPLE = 20_000
const HEAP_MB = 20_000
const CLI = resolve(import.meta.dirname, '../src/cli.ts')
const catalogue = demoCatalogue()
const stocked = catalogue.stockedSkus()

const dir = !isMainThread ? '' : keepAt >= 0 ? resolve(args[keepAt + 1] as string) : await mkdtemp(join(tmpdir(), 'tillbooks-restart-'))
const say = (s: string): void => { process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`) }
const started: ChildProcess[] = []

function dayOf (d: number): string {
  return new Date(Date.parse('2026-01-01T00:00:00Z') + d * 86_400_000).toISOString().slice(0, 10)
}

async function build (): Promise<{ ms: number, records: number, orders: number }> {
  const t0 = performance.now()
  await mkdir(dir, { recursive: true })
  const rootSeed = new Uint8Array(32).fill(21)
  await writeFile(join(dir, 'root.key'), toHex(rootSeed) + '\n', { mode: 0o600 })
  const root = new Signer(keyPairFromSeed(rootSeed))
  const signers = Array.from({ length: TILLS }, (_, t) => tillSigner(t))
  const storeOf = (t: number): string => storeOfTill(t, TILLS_PER_STORE)
  const tillNo = (t: number): number => (t % TILLS_PER_STORE) + 1
  const store = new LevelStore(hqDbDir(dir))
  const hq = new HqNode({ store, clock: { nowMs: () => Date.parse('2026-01-01T00:00:00Z') }, logger: silentLogger }, { root, costCents: s => catalogue.costCents(s) })
  await hq.start()
  for (let i = 0; i < TILLS; i += 5_000) {
    await hq.enrolMany(signers.slice(i, i + 5_000).map((s, k) => ({ store: asStoreId(storeOf(i + k)), till: tillNo(i + k), tillKey: s.publicKey })))
  }
  await hq.stop()
  const db = new LevelStore(hqDbDir(dir))
  await db.open()
  // The tills' records are made and signed on worker threads (a slice of the stores each), a
  // business day at a time; this thread writes them in arrival order, as HQ would have.
  const threads = Math.max(1, Math.min(4, availableParallelism()))
  const stores = Math.ceil(TILLS / TILLS_PER_STORE)
  const workers = Array.from({ length: threads }, (_, w) => {
    // Whole stores to each thread: a store's order is made by the thread that makes its tills' StockIns.
    const from = Math.min(TILLS, Math.floor(stores * w / threads) * TILLS_PER_STORE)
    const to = Math.min(TILLS, Math.floor(stores * (w + 1) / threads) * TILLS_PER_STORE)
    return new Worker(new URL(import.meta.url), { workerData: { from, to, tillsPerStore: TILLS_PER_STORE, rootSeedHex: ORDERS ? toHex(rootSeed) : null } })
  })
  // One error and exit listener per worker for the whole build: a failed worker fails the day asked of it.
  const asked = new Map<Worker, { resolve: (v: Array<[string, Uint8Array]>) => void, reject: (e: Error) => void }>()
  for (const w of workers) {
    w.on('message', (v: Array<[string, Uint8Array]>) => { asked.get(w)?.resolve(v) })
    w.on('error', err => { asked.get(w)?.reject(err) })
    w.on('exit', code => { asked.get(w)?.reject(new Error(`a signing worker exited ${code}`)) })
  }
  const next = (w: Worker, d: number): Promise<Array<[string, Uint8Array]>> => new Promise((resolve, reject) => {
    asked.set(w, { resolve, reject })
    w.postMessage(d)
  })
  let arrival = 1
  let records = 0
  let orders = 0
  const enc = new TextEncoder()
  try {
    for (let d = 0; d < DAYS; d++) {
      const ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
      for (const made of await Promise.all(workers.map(w => next(w, d)))) {
        for (const [key, bytes] of made) {
          // Orders written as a log from before order arrival numbers (w!) holds them: the first
          // start reads them all, and its first checkpoint, a base, holds them.
          if (key.startsWith('r!')) {
            ops.push({ type: 'put', key, value: bytes })
            orders++
            continue
          }
          ops.push({ type: 'put', key, value: bytes }, { type: 'put', key: arrivalKey(arrival++), value: enc.encode(key) })
          records++
        }
      }
      ops.push({ type: 'put', key: ARRIVAL_NEXT_KEY, value: enc.encode(String(arrival)) })
      await db.batch(ops, { sync: d === DAYS - 1 })
      if (d % 30 === 29 || d === DAYS - 1) say(`built ${d + 1} of ${DAYS} days: ${records} records, ${orders} orders (${Math.round(records / ((performance.now() - t0) / 1000))} records/s)`)
    }
  } finally {
    for (const w of workers) await w.terminate()
  }
  await db.close()
  return { ms: performance.now() - t0, records, orders }
}

/** On a worker thread: the records of tills [from, to) for business day `d`, signed, with their log keys. */
function workerMain (): void {
  const ceiling = (workerData as { ceiling?: { items: CeilingItem[], ms: number } }).ceiling
  if (ceiling !== undefined) {
    parentPort?.postMessage(verifiesPerSec(ceiling.items, ceiling.ms))
    return
  }
  const { from, to, tillsPerStore, rootSeedHex } = workerData as { from: number, to: number, tillsPerStore: number, rootSeedHex: string | null }
  const root = rootSeedHex === null ? null : new Signer(keyPairFromSeed(fromHex(rootSeedHex)))
  const signers = new Map<number, Signer>()
  const prev = new Map<number, Uint8Array>()
  let x = 12345 + from
  const rand = (n: number): number => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x % n }
  parentPort?.on('message', (d: number) => {
    const day = asBusinessDay(dayOf(d))
    const out: Array<[string, Uint8Array]> = []
    // The store's order for the day: what its tills' StockIns say was shipped (each sku once, sorted).
    let shipped = new Map<string, number>()
    for (let t = from; t < to; t++) {
      let s = signers.get(t)
      if (s === undefined) { s = tillSigner(t); signers.set(t, s) }
      const store = asStoreId(storeOfTill(t, tillsPerStore))
      const base = { v: 1 as const, store, till: (t % tillsPerStore) + 1, businessDay: day }
      const sku = stocked[rand(stocked.length)] as string
      const qty = 1 + rand(24)
      const stockIn: StockIn = { ...base, kind: 'stockIn', seq: d * 2 + 1, prevHash: prev.get(t) ?? GENESIS_HASH, atMs: Date.parse(`${day}T06:00:00Z`), replenishmentId: `R-${store}-${day}`, shipped: [{ sku, qty }], received: [{ sku, qty }] }
      const a = signEntry(stockIn, s)
      out.push([entryKey(a.tillId, a.seq, a.hash), a.bytes])
      shipped.set(sku, (shipped.get(sku) ?? 0) + qty)
      const sales = 20 + rand(200)
      const net = 5_000 + rand(400_000)
      const tax = Math.floor(net / 5)
      const card = rand(net + tax)
      const close: Close = {
        ...base, kind: 'close', seq: d * 2 + 2, prevHash: a.hashBytes, atMs: Date.parse(`${day}T21:00:00Z`), docFirst: d * 300 + 1, docLast: d * 300 + sales,
        saleCount: sales, refundCount: 0, takingsCents: { cash: net + tax - card, card }, tax: [{ rateBp: 2000, netCents: net, taxCents: tax }], refundsCents: 0,
        cashCountedCents: net + tax - card, consumed: [{ sku, qty: Math.min(qty, 1 + rand(3)) }], points: []
      }
      const b = signEntry(close, s)
      out.push([entryKey(b.tillId, b.seq, b.hash), b.bytes])
      prev.set(t, b.hashBytes)
      if (root !== null && ((t + 1) % tillsPerStore === 0 || t === to - 1)) {
        const id = stockIn.replenishmentId
        const lines = [...shipped].sort((x, y) => x[0] < y[0] ? -1 : 1).map(([sku, qty]) => ({ sku, qty }))
        out.push([replenishmentKey(id), signReplenishment(root, { id, store, businessDay: day, lines })])
        shipped = new Map()
      }
    }
    parentPort?.postMessage(out)
  })
}

function tillSigner (t: number): Signer {
  return new Signer(keyPairFromSeed(new Uint8Array(Buffer.from(`till-${t}`.padEnd(32, '.')).subarray(0, 32))))
}

function storeOfTill (t: number, tillsPerStore: number): string {
  return `S${String(Math.floor(t / tillsPerStore) + 1).padStart(5, '0')}`
}

/** Ed25519 verifies a second on one core (HQ's verifier), times the cores. */
function verifyCeilingPerSec (ms = 1_000): number {
  const signer = tillSigner(0)
  const message = new TextEncoder().encode('tillbooks verify ceiling')
  const sig = signer.sign(message)
  let n = 0
  const t0 = performance.now()
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 50; i++) if (!verifySignature(sig, message, signer.publicKey)) throw new Error('verify ceiling: a good signature failed')
    n += 50
  }
  return n / ((performance.now() - t0) / 1000) * availableParallelism()
}

/**
 * The same ceiling on the log's own records: the first RECORDS_CEILING_SAMPLE entries' signatures
 * (each under its till's key, over its whole body of ~290 bytes) verified on one core, times the
 * cores. What verifying these records can reach at best here, beside the one-message figure
 * (one key, 24 bytes) the fleet benchmark reports; on this VM the two differ by 5-25 % from run to run.
 */
async function recordsVerifyCeilingPerSec (ms = 1_000): Promise<{ perSec: number, sample: number, meanMessageBytes: number }> {
  const items = await ceilingItems()
  if (items.length === 0) return { perSec: NaN, sample: 0, meanMessageBytes: NaN }
  return { perSec: verifiesPerSec(items, ms) * availableParallelism(), sample: items.length, meanMessageBytes: items.reduce((a, x) => a + x.message.length, 0) / items.length }
}

interface CeilingItem { sig: Uint8Array, message: Uint8Array, signer: PublicKey }

/** The first RECORDS_CEILING_SAMPLE logged records' signatures, with what each signs. */
async function ceilingItems (): Promise<CeilingItem[]> {
  const store = new LevelStore(hqDbDir(dir))
  await store.open()
  const items: CeilingItem[] = []
  try {
    for await (const [, value] of store.entries({ gte: 'e!', lt: 'e"', limit: RECORDS_CEILING_SAMPLE })) {
      const e = openEntry(envelopeOf(value), { verify: false })
      items.push({ sig: e.sig.slice(), message: signingBytes(e.record.kind, e.body).slice(), signer: e.signer.slice() as PublicKey })
    }
  } finally {
    await store.close()
  }
  return items
}

/** Verifies of `items`, round and round, per second over `ms` on this thread. */
function verifiesPerSec (items: readonly CeilingItem[], ms: number): number {
  let n = 0
  const t0 = performance.now()
  while (performance.now() - t0 < ms) {
    for (const x of items) {
      if (!verifySignature(x.sig, x.message, x.signer)) throw new Error('records ceiling: a logged signature failed')
      if (++n % 64 === 0 && performance.now() - t0 >= ms) break
    }
  }
  return n / ((performance.now() - t0) / 1000)
}

/**
 * The records ceiling sustained, as a rebuild would have to: every core verifying the log's
 * own records at once (a thread each) for `ms`, in `windows` windows one after the other; the
 * mean of the windows' summed rates, and each. A one-second window on one core, doubled, reads
 * this VM at its fastest moment and assumes two threads run as fast as one: the rebuild it is
 * compared with runs for minutes, on both cores at once.
 */
async function sustainedCeilingPerSec (windows: number, ms: number): Promise<{ perSec: number, windows: number[] }> {
  const items = await ceilingItems()
  const rates: number[] = []
  for (let w = 0; w < windows; w++) {
    const threads = Array.from({ length: availableParallelism() }, () => new Worker(new URL(import.meta.url), { workerData: { ceiling: { items, ms } } }))
    const each = await Promise.all(threads.map(async t => await new Promise<number>((resolve, reject) => { t.once('message', resolve); t.once('error', reject) })))
    await Promise.all(threads.map(async t => await t.terminate()))
    rates.push(each.reduce((a, b) => a + b, 0))
  }
  return { perSec: rates.reduce((a, b) => a + b, 0) / rates.length, windows: rates.map(Math.round) }
}

interface Ready { http: string }

/** Start `tillbooks hq` on the directory; resolves once it serves, with the ms from spawn to ready and its rebuild log line. */
function startHq (how: string): Promise<{ child: ChildProcess, ready: Ready, readyMs: number, rebuilt: () => Record<string, unknown> | null }> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, CLI, 'hq', '--data', dir, '--http', '0', '--books-db', 'off', '--rebuild', how],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TILLBOOKS_LOG_LEVEL: 'info' } })
  started.push(child)
  let rebuilt: Record<string, unknown> | null = null
  let tail = ''
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', line => {
    tail = (tail + line + '\n').slice(-3000)
    if (line.includes('rebuilt from the log')) rebuilt = JSON.parse(line) as Record<string, unknown>
  })
  return new Promise((resolve, reject) => {
    child.on('exit', code => { reject(new Error(`hq exited ${code}: ${tail}`)) })
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', line => {
      if (line.startsWith('ready ')) resolve({ child, ready: JSON.parse(line.slice(6)) as Ready, readyMs: performance.now() - t0, rebuilt: () => rebuilt })
    })
  })
}

async function get<T> (url: string): Promise<T> {
  const r = await fetch(url)
  if (!r.ok) throw new Error(`${url}: ${r.status}`)
  return await r.json() as T
}

async function kill (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

if (!isMainThread) workerMain()
else try {
  say(`building the log of ${TILLS} tills × ${DAYS} days into ${dir}`)
  const built = keepAt >= 0 && args.includes('--reuse') ? { ms: 0, records: TILLS * DAYS * 2, orders: NaN } : await build()
  say(`built ${built.records} records and ${built.orders} orders in ${(built.ms / 1000).toFixed(1)} s`)
  if (args.includes('--build-only')) {
    process.stdout.write(JSON.stringify({ tills: TILLS, days: DAYS, records: built.records, orders: built.orders, buildSeconds: built.ms / 1000, dir }) + '\n')
    process.exit(0)
  }

  const full = await startHq('full-trust')
  const fullRebuilt = full.rebuilt()
  say(`--rebuild full-trust: serving ${(full.readyMs / 1000).toFixed(1)} s after the start; ${JSON.stringify(fullRebuilt)}`)
  const tCp = performance.now()
  let counters: { checkpoints: { last: { items: number, bytes: number, ms: number, segments: number } | null } }
  do {
    await new Promise(resolve => setTimeout(resolve, 500))
    counters = await get(`${full.ready.http}/counters`)
  } while (counters.checkpoints.last === null)
  const base = counters.checkpoints.last
  say(`the first checkpoint (a base) written ${((performance.now() - tCp) / 1000).toFixed(1)} s after serving: ${JSON.stringify(base)}`)
  const books = await get<unknown>(`${full.ready.http}/books`)
  const rss = (await get<{ rssBytes: number }>(`${full.ready.http}/metrics`)).rssBytes
  await kill(full.child)

  const restarts: Record<string, { readyMs: number, identical: boolean, rebuilt: unknown }> = {}
  let sustainedBefore: { perSec: number, windows: number[] } | null = null
  for (const how of ['verify', 'trust', ...(FULL_VERIFY ? ['full'] : [])]) {
    // The sustained ceiling right before the whole-log re-verify too: it runs for minutes while
    // this VM's speed drifts, so it is compared with the mean of the ceilings either side of it.
    if (how === 'full') sustainedBefore = await sustainedCeilingPerSec(3, 10_000)
    const hq = await startHq(how)
    const after = await get<unknown>(`${hq.ready.http}/books`)
    restarts[how] = { readyMs: hq.readyMs, identical: isDeepStrictEqual(after, books), rebuilt: hq.rebuilt() }
    say(`SIGKILLed, --rebuild ${how}: serving ${(hq.readyMs / 1000).toFixed(1)} s after the start; books identical: ${restarts[how].identical}; ${JSON.stringify(hq.rebuilt())}`)
    await kill(hq.child)
  }
  // The machine's verification ceiling, as the fleet benchmark measures it: HQ's verifier
  // (libsodium) on one core for a second, times the cores.
  // Each the best of three one-second windows: this VM's speed wanders within a minute, and a
  // ceiling taken low would flatter the rebuild's share of it.
  const ceiling = Math.max(verifyCeilingPerSec(), verifyCeilingPerSec(), verifyCeilingPerSec())
  const recordsCeiling = [await recordsVerifyCeilingPerSec(), await recordsVerifyCeilingPerSec(), await recordsVerifyCeilingPerSec()].reduce((a, b) => b.perSec > a.perSec ? b : a)
  // Sustained, right after the whole-log re-verify it is compared with: three windows of 10 s.
  const sustained = FULL_VERIFY ? await sustainedCeilingPerSec(3, 10_000) : null
  const bracket = sustained !== null && sustainedBefore !== null ? (sustained.perSec + sustainedBefore.perSec) / 2 : NaN
  const fullMs = Number(fullRebuilt?.ms ?? NaN)
  const result = {
    tills: TILLS, days: DAYS, records: built.records, orders: built.orders, buildSeconds: built.ms / 1000,
    rebuildTrustRecordsPerSec: built.records / (fullMs / 1000), fullTrustServingSeconds: full.readyMs / 1000, rssBytesAfterFullRebuild: rss,
    checkpoint: base,
    restartSeconds: (restarts.verify?.readyMs ?? NaN) / 1000,
    restartTrustSeconds: (restarts.trust?.readyMs ?? NaN) / 1000,
    verifyCeilingPerSec: ceiling,
    verifyCeilingRecordsPerSec: recordsCeiling.perSec,
    verifyCeilingRecordsSample: { records: recordsCeiling.sample, meanMessageBytes: Math.round(recordsCeiling.meanMessageBytes) },
    ...(FULL_VERIFY
      ? (() => {
          const r = restarts.full?.rebuilt as { entries: number, certificates: number, ms: number } | null | undefined
          const perSec = r === null || r === undefined ? NaN : r.entries / (r.ms / 1000)
          return {
            fullVerifySeconds: (restarts.full?.readyMs ?? NaN) / 1000,
            rebuildVerifyRecordsPerSec: perSec,
            rebuildVerifyOfCeiling: perSec / ceiling,
            rebuildVerifyOfRecordsCeiling: perSec / recordsCeiling.perSec,
            verifyCeilingSustainedPerSec: sustained?.perSec,
            verifyCeilingSustainedWindows: sustained?.windows,
            rebuildVerifyOfSustainedCeiling: perSec / (sustained?.perSec ?? NaN),
            verifyCeilingSustainedBeforePerSec: sustainedBefore?.perSec,
            verifyCeilingSustainedBeforeWindows: sustainedBefore?.windows,
            rebuildVerifyOfSustainedCeilingBothSides: perSec / bracket
          }
        })()
      : {}),
    identical: Object.values(restarts).every(r => r.identical)
  }
  process.stdout.write(JSON.stringify(result) + '\n')
} finally {
  for (const c of started) await kill(c)
  if (keepAt < 0) await rm(dir, { recursive: true, force: true })
}

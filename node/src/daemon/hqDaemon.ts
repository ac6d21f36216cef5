/**
 * `tillbooks hq`: HqNode on LevelDB, reachable by tills over libp2p and by people and
 * tools over an HTTP API: the back office (books, fleet), and admin tasks (enrolment codes,
 * enrolment, replenishment, restoring logs recovered from elsewhere). It listens on
 * 127.0.0.1 unless told otherwise, and beyond loopback only over HTTPS. Every admin route
 * and every write needs the admin token (DIR/admin.token), or for one till slot's
 * enrolment a one-time code; reads need the viewer token beyond loopback (../access/).
 */
import type { FastifyInstance } from 'fastify'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import {
  asStoreId, asBusinessDay, fromHex, isBusinessDay, openEntry, parseTillId, rejectionOf, Signer, toHex,
  type BusinessDay, type Entry, type PublicKey, type TillId
} from '@tillbooks/protocol'
import { CSV_BYTES_MAX, type Day } from '@tillbooks/catalogue'
import { actorIdFor, TillLog } from '@tillbooks/crdt'
import { HqNode, HqBusyError, EnrolmentConflictError, type CheckpointSummary } from '../hq/HqNode.ts'
import { pullTillLog } from '../hq/pullTillLog.ts'
import { HqReplication, hqRecordKinds } from '../hq/HqReplication.ts'
import { CERT_PREFIX } from '../hq/keys.ts'
import { LevelStore } from '../storage/LevelStore.ts'
import { prefixEnd, type KvOp, type KvStore } from '../storage/KvStore.ts'
import { systemClock, type Clock, type Logger } from '../components.ts'
import { WorkerVerifier } from '../verify/WorkerVerifier.ts'
import { BusyError, RefusedError, TillbooksPeer } from '../net/TillbooksPeer.ts'
import { DocSync } from '../sync/DocSync.ts'
import { dayAfter, EffectiveDayError, HqCatalogue, ResolutionError, type ImportResult } from '../hq/HqCatalogue.ts'
import { CATALOGUE_DOC } from '../sync/constants.ts'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { closeAmounts, closeTransaction, SettlementConflictError, stockInTransaction } from '@tillbooks/ledger'
import { SETTLEMENT_CSV_BYTES_MAX, SettlementFileError } from '@tillbooks/payments'
import { HqSettlements, type ReconcileOptions } from '../hq/HqSettlements.ts'
import { HqMembers, memberRecordKinds } from '../hq/HqMembers.ts'
import { registerConsole } from '../hq/console/Console.ts'
import { ConsoleSessions } from '../access/sessions.ts'
import { FoldedCloses } from '../hq/FoldedCloses.ts'
import { BooksProjection } from '../hq/BooksProjection.ts'
import { booksDbTarget } from '../hq/booksDb.ts'
import { booksDigest } from '../hq/booksDigest.ts'
import { SummedStore } from '../hq/SummedStore.ts'
import { Periodic } from '../Periodic.ts'
import { MembersError } from '@tillbooks/members'
import { APPROVALS_FETCH_TIMEOUT_MS, CHECKPOINT_CHECK_MS, CHECKPOINT_DEFER_MAX_MS } from '../hq/constants.ts'
import { REPLICA_HOLDERS_PER_TILL_MAX } from '../sync/constants.ts'
import { DocsBusyError } from '../hq/HqDocs.ts'
import { hasHqRootKey, hqDbDir, hqMemberKey, hqPeerKey, hqRootKey } from './dataDir.ts'
import { ADMIN_ENTRIES_MAX, B64_ENTRY, bodyLimitBytes, createApi, planApi, ServiceBusyError, TILL_ID_PARAM, skuQtyLinesSchema } from './http.ts'
import { EnrolmentCodes } from '../access/EnrolmentCodes.ts'
import { ForbiddenError, requireSlot } from '../access/guard.ts'
import { parseTtl } from '../access/codes.ts'
import { CODE_TTL_DEFAULT_MS } from '../access/constants.ts'
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
  /** At start: the newest valid checkpoint and the log after it (default), or the whole log (`full`). */
  rebuild?: 'checkpoint' | 'full'
  /** A checkpoint of the books after this many entries logged since the last (CHECKPOINT_RECORDS_EVERY). */
  checkpointRecordsEvery?: number
  /** The merchant account card payouts go to (an IBAN): a bank statement of another account is refused. */
  settlementAccount?: string
  /** The admin token's file (default DIR/admin.token), and the viewer's (default DIR/viewer.token). */
  adminTokenFile?: string
  viewerTokenFile?: string
  /** PEM certificate and key: HTTPS (required when httpHost is beyond loopback). */
  tlsCertFile?: string
  tlsKeyFile?: string
  /** Failed authentications allowed per client address and window before 429s. */
  authFailuresMax?: number
  authFailureWindowMs?: number
  /** HQ's clock (certificates' issue time, enrolment codes' expiry); default the system's. */
  clock?: Clock
  /**
   * Where the books are projected in SQL: a postgres:// URL, 'off', or (default) PGlite in
   * DIR/books-db. A projection of the log, followed off the intake path (BooksProjection).
   */
  booksDb?: string
  /**
   * Other replicas of this HQ (multiaddrs with /p2p/): they share its root key (DIR/root.key,
   * copied there, never made), and each brings itself up to the others (HqReplication).
   */
  replicaOf?: string[]
  /** How often a replica syncs with each other replica (REPLICA_SYNC_INTERVAL_MS). */
  replicaIntervalMs?: number
  /**
   * Tests only (no CLI flag, no environment variable): wraps HQ's LevelDB store, e.g. in a
   * FaultyKvStore, so a test can fail its disk under the running daemon.
   */
  wrapStoreForTests?: (store: KvStore) => KvStore
}

export interface HqReady {
  role: 'hq'
  peerId: string
  multiaddrs: string[]
  http: string
  rootKey: string
  /** Where the tokens are (never the tokens themselves). */
  adminTokenFile: string
  viewerTokenFile: string
  /** Where the books are projected in SQL (a URL without its password, a directory), or null when off. */
  booksDb: string | null
}

export interface HqDaemon {
  hq: HqNode
  peer: TillbooksPeer
  http: FastifyInstance
  ready: HqReady
  /** The SQL projection of the books, or null when off. */
  projection: BooksProjection | null
  stop: () => Promise<void>
}

export async function startHqDaemon (o: HqDaemonOptions): Promise<HqDaemon> {
  /**
   * A look at HQ's intake: whether records came in since this look's last call (a close wave).
   * Each caller gets its own, so one's looking does not hide the intake from another.
   */
  const intakeBusy = (): (() => boolean) => {
    let seen = -1
    return () => {
      const n = hq.counters.accepted + hq.counters.duplicates + hq.counters.rejected
      const busy = seen !== -1 && n !== seen
      seen = n
      return busy
    }
  }
  const { logger } = o
  // The HTTP API's rules are checked before anything is opened: HQ beyond loopback without
  // TLS, or with a token file others can read, refuses to start, having opened nothing.
  const httpHost = o.httpHost ?? '127.0.0.1'
  const plan = await planApi({
    daemon: 'HQ', dataDir: o.dataDir, host: httpHost, tls: { certFile: o.tlsCertFile, keyFile: o.tlsKeyFile },
    adminTokenFile: o.adminTokenFile, viewerTokenFile: o.viewerTokenFile, loopbackOpen: 'reads',
    bodyLimitBytes: bodyLimitBytes(ADMIN_ENTRIES_MAX), logger, authFailuresMax: o.authFailuresMax, authFailureWindowMs: o.authFailureWindowMs
  })
  // A --books-db that is not a postgres URL is refused before anything is opened.
  const booksDb = o.booksDb === 'off' ? null : booksDbTarget(o.booksDb, o.dataDir, logger)
  const replicaOf = o.replicaOf ?? []
  for (const addr of replicaOf) if (!/\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(addr)) throw new Error(`--replica-of ${addr}: a multiaddr ending /p2p/<peer id>`)
  if (replicaOf.length > 0 && !await hasHqRootKey(o.dataDir)) {
    throw new Error(`--replica-of: ${resolve(o.dataDir, 'root.key')} is missing. A replica signs as the HQ it replicates: copy root.key (and member.key) from that HQ's data directory, mode 0600`)
  }
  const freshDir = !existsSync(hqDbDir(o.dataDir))
  const root = await hqRootKey(o.dataDir)
  const signer = new Signer(root)
  const clock = o.clock ?? systemClock
  // The summed kinds (what replicas compare) are set once the members are known (initSums).
  const level = new LevelStore(hqDbDir(o.dataDir))
  const store = new SummedStore(o.wrapStoreForTests?.(level) ?? level)
  const codes = new EnrolmentCodes({ store, clock })
  // The console's sessions: signing in with a token gives the browser a cookie instead.
  const sessions = new ConsoleSessions(() => clock.nowMs())
  const api = await createApi(plan, codes, sessions)
  const { app: http, guard } = api
  const workers = o.verifyWorkers ?? 2
  // The catalogue first: the books cost each record with the cost in force on its business day.
  await store.open()
  const catalogueDoc = new HqCatalogue({ store, root: signer })
  await catalogueDoc.load()
  const hq = new HqNode({ store, clock, logger }, {
    root: signer,
    costCents: (sku, day) => catalogueDoc.costForBooks(sku, day),
    rebuildVerify: o.rebuildVerify ?? true,
    rebuild: o.rebuild ?? 'checkpoint',
    ...(o.checkpointRecordsEvery !== undefined ? { checkpointRecordsEvery: o.checkpointRecordsEvery } : {}),
    // A long log is folded on as many threads as verify (FoldThreads.ts); a short one on HQ's own.
    rebuildThreads: workers,
    ...(workers > 0 ? { verifier: new WorkerVerifier({ threads: workers }) } : {})
  })
  const rebuilt = await hq.start()
  logger.info({ ...rebuilt, awaitingCatalogue: hq.awaitingCatalogue }, 'HQ books rebuilt from the log')
  // Checkpoints of the books, off the intake path: while records come in (a close wave) one
  // waits, at most CHECKPOINT_DEFER_MAX_MS, so that a start after a crash folds a checkpoint and
  // a short tail of the log instead of the whole log.
  const checkpointIntake = intakeBusy()
  let checkpointWaitingSinceMs: number | null = null
  let lastCheckpoint: CheckpointSummary | null = null
  let checkpointError: string | null = null
  const checkpoints = new Periodic(async () => {
    // A catalogue a failed save left unsaved is saved once the disk works (HqCatalogue.flush),
    // before any checkpoint: what waited for it folds then.
    if (!await catalogueDoc.flush()) return CHECKPOINT_CHECK_MS
    if (!hq.checkpointDue) return CHECKPOINT_CHECK_MS
    const now = Date.now()
    checkpointWaitingSinceMs ??= now
    if (checkpointIntake() && now - checkpointWaitingSinceMs < CHECKPOINT_DEFER_MAX_MS) return CHECKPOINT_CHECK_MS
    checkpointWaitingSinceMs = null
    try {
      lastCheckpoint = await hq.checkpoint() ?? lastCheckpoint
      checkpointError = null
    } catch (err) {
      checkpointError = (err as Error).message
    }
    return CHECKPOINT_CHECK_MS
  })
  checkpoints.start(CHECKPOINT_CHECK_MS)
  // A store's new product reaching HQ by sync: what waited for it goes into the books.
  catalogueDoc.onChange(() => { hq.catalogueChanged() })
  logger.info(await codes.load(), 'enrolment codes loaded')

  // A replica is reached under its own identity (replicas share the root key; see hqPeerKey),
  // made at its first start; an HQ that ran before keeps the identity its tills know.
  const peerKey = await hqPeerKey(o.dataDir, replicaOf.length > 0 && freshDir) ?? root
  const peer = await TillbooksPeer.create({ seed: peerKey.secretKey, listen: o.listen, logger })
  // A batch HQ could not make durable (its disk failing) is answered BUSY: the till keeps it and resends.
  peer.handleSubmit(async entries => {
    try {
      return await hq.submit(entries)
    } catch (err) {
      if (err instanceof HqBusyError) throw new BusyError(err.message)
      throw err
    }
  })
  peer.handleLog(async (tillId, afterSeq) => await logAfter(hq, tillId, afterSeq))
  // Tills announce the heads of the replicas they keep: HQ remembers who keeps whom (in memory,
  // announced again at each sync), to ask for a till's approvals when the till cannot answer.
  const replicaHolders = new Map<string, string[]>()
  peer.handleHeads((heads, from) => {
    if (!enrolledPeer(from)) return
    for (const h of heads) {
      if (!hq.enrolment.has(h.tillId as TillId)) continue
      const list = (replicaHolders.get(h.tillId) ?? []).filter(p => p !== from)
      list.unshift(from)
      replicaHolders.set(h.tillId, list.slice(0, REPLICA_HOLDERS_PER_TILL_MAX))
    }
  })
  peer.handleReplenishment(async (storeId) => hq.ordersFor(asStoreId(storeId)))
  // HQ is a peer of the sync network: it serves every till's log (made of the till's own
  // changes it took in, HqNode.tillDoc) read-only with Automerge's sync protocol, to anyone,
  // as it serves entries over the log protocol: a replacement till after a fire, a
  // neighbour that lost its disk. It never pulls: tills send it their changes with submit.
  /** Whether the peer `from` (a libp2p peer id: an Ed25519 key) is a till HQ enrolled. */
  const enrolledPeer = (from: string): boolean => {
    try {
      const key = peerIdFromString(from).publicKey?.raw
      return key !== undefined && hq.enrolment.hasKey(key)
    } catch {
      return false
    }
  }
  /** Whether a peer is a replica of this HQ (HqReplication, made further down; until then none is). */
  let isReplica = (_from: string): boolean => false
  const docSync = new DocSync({
    peer,
    store,
    logger,
    docs: {
      served: async (id, from) => {
        // The catalogue: written by HQ and every store, each change screened by the document.
        // Written by enrolled tills only (a peer's id is its key): anyone else may read it.
        if (id === CATALOGUE_DOC) return { log: catalogueDoc.doc, own: false, writable: from !== undefined && (enrolledPeer(from) || isReplica(from)) }
        const log = await hq.tillDoc(checkedTillId(id), { wait: from !== undefined && isReplica(from) })
        return log === undefined ? undefined : { log, own: true }
      },
      replicaFor: () => undefined,
      changed: async id => { if (id === CATALOGUE_DOC) await catalogueDoc.changed() }
    }
  })
  peer.handleAmSync(async (doc, msg, from) => await docSync.answer(from, doc, msg))

  // ---------------------------------------------------------------- replicas of this HQ
  // A till's log pulled from another replica by Automerge's sync protocol (pullTillLog).
  const pulling = new Map<string, TillLog>()
  const replicaSync = new DocSync({ peer, store, logger, docs: { served: () => undefined, replicaFor: id => pulling.get(id), changed: async () => {} } })

  // Settlement files and reconciliation. A till's approvals are fetched from the till itself
  // over libp2p (its peer id is its key), only when its card totals do not match.
  const settlements = new HqSettlements({
    hq,
    logger,
    ...(o.settlementAccount !== undefined ? { account: o.settlementAccount } : {}),
    nowMs: () => clock.nowMs(),
    source: {
      approvals: async tillId => {
        for (const key of hq.enrolment.keysOf(tillId).reverse()) {
          const peerId = peerIdFromPublicKey(publicKeyFromRaw(key)).toString()
          try {
            return await peer.fetchApprovals(`/p2p/${peerId}`, tillId, { timeoutMs: APPROVALS_FETCH_TIMEOUT_MS })
          } catch (err) {
            logger.warn({ tillId, err: (err as Error).message }, 'approvals not fetched from the till')
          }
        }
        return null
      },
      replicaApprovals: async tillId => {
        const lists: Uint8Array[][] = []
        for (const holder of replicaHolders.get(tillId) ?? []) {
          try {
            lists.push(await peer.fetchApprovals(`/p2p/${holder}`, tillId, { timeoutMs: APPROVALS_FETCH_TIMEOUT_MS }))
          } catch (err) {
            logger.warn({ tillId, holder, err: (err as Error).message }, 'approvals not fetched from a replica')
          }
        }
        return lists
      }
    }
  })

  const PUBLIC = { config: { access: 'public' as const } }
  const READ = { config: { access: 'read' as const } }
  const ADMIN = { access: 'admin' as const }
  const SLOT = { access: 'slot' as const }
  http.get('/health', PUBLIC, async () => ({ ok: true }))
  // Stock on hand with the products resolved to be the same counted as one (from the day of
  // the resolution on, the fold's aliases): the balances and the journal are as booked.
  http.get('/books', READ, async () => stockThroughAliases(hq.books.snapshot(), catalogueDoc.fold(today()).aliases))
  // What replicas compare: the set of records folded and a hash of the canonical books.
  http.get('/books/digest', READ, async () => booksDigest(hq.books))
  // Replicas: who this HQ syncs with, how the last rounds went, what it refused.
  http.get('/replicas', READ, async () => replication.status())
  // The SQL projection: where it is, how far behind the books, why not following if it is not.
  const projection = booksDb === null ? null : new BooksProjection({
    connect: booksDb.connect, books: () => hq.books, logger, target: booksDb.target,
    // Busy: records came in since the last look (a close wave): the projection follows right after.
    busy: intakeBusy()
  })
  http.get('/books/projection', READ, async () => projection?.status() ?? { target: null, error: 'off (--books-db off)' })
  http.get('/books.hledger', READ, async (_req, reply) => await reply.type('text/plain; charset=utf-8').send(hq.books.toHledger()))
  http.get('/books.csv', READ, async (_req, reply) => await reply.type('text/csv; charset=utf-8').send(hq.books.toCsv()))
  http.get('/fleet', READ, async () => ({ tills: hq.fleet() }))
  // One Close as HQ holds it: the signed record, its signer and hash, the verdict, and the
  // journal lines it made (what the console's close page shows); its signed bytes as a file.
  const CLOSE_PARAMS = { type: 'object', required: ['tillId', 'seq'], properties: { tillId: TILL_ID_PARAM.properties.tillId, seq: { type: 'string', pattern: '^[1-9][0-9]{0,11}$' } } } as const
  const closeAt = async (tillId: TillId, seq: number): Promise<Entry | null> => {
    const [bytes] = await hq.tillLogRange(tillId, seq - 1, seq)
    return bytes === undefined ? null : openEntry(bytes, { verify: false })
  }
  http.get('/closes/:tillId/:seq', { ...READ, schema: { params: CLOSE_PARAMS } }, async (req, reply) => {
    const p = req.params as { tillId: string, seq: string }
    const entry = await closeAt(p.tillId as TillId, Number(p.seq))
    if (entry === null) return await reply.code(404).send({ error: `HQ holds no entry ${p.seq} of ${p.tillId}` })
    return closeView(entry)
  })
  // The signed bytes name members (and, in Closes before member ids, their phone numbers): the admin's only.
  http.get('/closes/:tillId/:seq/entry.bin', { config: ADMIN, schema: { params: CLOSE_PARAMS } }, async (req, reply) => {
    const p = req.params as { tillId: string, seq: string }
    const entry = await closeAt(p.tillId as TillId, Number(p.seq))
    if (entry === null) return await reply.code(404).send({ error: `HQ holds no entry ${p.seq} of ${p.tillId}` })
    return await reply.type('application/octet-stream').header('content-disposition', `attachment; filename="${p.tillId}-${p.seq}.tillbooks"`).send(Buffer.from(entry.bytes))
  })
  /** A signed entry as the console and the API show it: verified again here, its key checked against the enrolment. */
  const closeView = (entry: Entry): Record<string, unknown> => {
    let verdict = 'signature valid, key enrolled for this seq'
    try {
      openEntry(entry.bytes, { verify: true })
      const key = hq.enrolment.keyFor(entry.tillId, entry.record.seq)
      if (key === undefined || toHex(key) !== toHex(entry.signer)) verdict = 'signature valid, but the key is not enrolled for this seq'
    } catch (err) {
      verdict = `refused: ${(err as Error).message}`
    }
    // Folded: within the till's folded prefix (a fork stops it below the forked seq).
    const t = hq.till(entry.tillId)
    const folded = t !== undefined && t.lastSeq >= entry.record.seq
    const why = folded ? null : t?.forked === true ? 'the till forked at or before it: held as evidence, never folded' : 'held: an earlier entry of the till has not arrived yet'
    const r = entry.record
    // The journal lines it makes (or would, once folded); none while a sku it names has no cost yet.
    const cost = (sku: string, day: BusinessDay): number => {
      const c = catalogueDoc.costOf(sku, day)
      if (c === undefined) throw new Error(`${sku} has no cost on ${day} yet`)
      return c
    }
    let journal: Array<{ account: string, amountCents: number }> | null = null
    try {
      journal = (r.kind === 'close' ? closeTransaction(entry, cost) : stockInTransaction(entry, cost)).postings.map(x => ({ account: x.sub !== undefined ? `${x.account}:${x.sub}` : x.account, amountCents: x.amountCents }))
    } catch { /* waits for the catalogue */ }
    return {
      tillId: entry.tillId, seq: r.seq, kind: r.kind, businessDay: r.businessDay, hash: entry.hash, signer: toHex(entry.signer), verdict, folded, ...(why !== null ? { notFolded: why } : {}),
      // Members are named by totals only here (the record lists them, and older Closes by phone number): the signed bytes are the admin's.
      record: JSON.parse(JSON.stringify(r, (k, v: unknown) => v instanceof Uint8Array
        ? toHex(v)
        : ['points', 'redeemed', 'pointsCancelled', 'rightsReturned'].includes(k) && Array.isArray(v) ? { members: v.length, points: (v as Array<{ points: number }>).reduce((n, l) => n + l.points, 0) } : v)) as unknown,
      journal
    }
  }
  // P&L per store over a range of business days, from the folded Closes (what the books folded).
  const closeFigures = new FoldedCloses(hq, c => {
    const a = closeAmounts(c, (sku, day) => catalogueDoc.costOf(sku, day) ?? 0)
    return { store: c.store as string, day: c.businessDay as string, netCents: a.netCents, taxCents: a.taxCents, cogsCents: a.cogsCents, overShortCents: a.cashCountedCents - a.cashCents, loyaltyCents: (a.pointsEarnedCents ?? 0) - (a.pointsCancelledCents ?? 0) }
  })
  const DAY_RE = '^\\d{4}-\\d{2}-\\d{2}$'
  http.get('/books/pnl', { ...READ, schema: { querystring: { type: 'object', additionalProperties: false, properties: { from: { type: 'string', pattern: DAY_RE }, to: { type: 'string', pattern: DAY_RE } } } } }, async req => {
    const q = req.query as { from?: string, to?: string }
    const stores: Record<string, { salesNetCents: number, taxCents: number, cogsCents: number, grossMarginCents: number, cashOverShortCents: number, loyaltyPointsCents: number, closes: number }> = {}
    for (const ix of (await closeFigures.read()).values()) {
      for (const c of ix.items) {
        if ((q.from !== undefined && c.day < q.from) || (q.to !== undefined && c.day > q.to)) continue
        const t = stores[c.store] ??= { salesNetCents: 0, taxCents: 0, cogsCents: 0, grossMarginCents: 0, cashOverShortCents: 0, loyaltyPointsCents: 0, closes: 0 }
        t.salesNetCents += c.netCents
        t.taxCents += c.taxCents
        t.cogsCents += c.cogsCents
        t.grossMarginCents += c.netCents - c.cogsCents
        t.cashOverShortCents += c.overShortCents
        t.loyaltyPointsCents += c.loyaltyCents
        t.closes++
      }
    }
    return { from: q.from ?? null, to: q.to ?? null, stores: Object.fromEntries(Object.entries(stores).sort((a, b) => a[0] < b[0] ? -1 : 1)) }
  })
  // A store's day: per till, its folded Close of that day (the last one by default) as figures.
  const STORE_DAY_SCAN_MAX = 800
  http.get('/stores/:store/closes', { ...READ, schema: { params: { type: 'object', required: ['store'], properties: { store: { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,15}$' } } }, querystring: { type: 'object', additionalProperties: false, properties: { day: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } } } } }, async req => {
    const store = (req.params as { store: string }).store
    const day = (req.query as { day?: string }).day
    const fleet = hq.fleet()
    const tills = []
    for (const [tillId, t] of Object.entries(fleet).filter(([id]) => id.startsWith(`${store}-`)).sort((a, b) => a[0] < b[0] ? -1 : 1)) {
      // From the newest folded entry back, a page at a time, at most STORE_DAY_SCAN_MAX entries: a year of a till.
      let found: Entry | null = null
      for (let hi = t.lastSeq, scanned = 0; found === null && hi > 0 && scanned < STORE_DAY_SCAN_MAX; hi -= 64) {
        const page = await hq.tillLogRange(tillId as TillId, Math.max(0, hi - 64), hi)
        scanned += page.length
        for (const bytes of page.reverse()) {
          const e = openEntry(bytes, { verify: false })
          if (e.record.kind === 'close' && (day === undefined || e.record.businessDay === day)) { found = e; break }
          if (day !== undefined && e.record.businessDay < day) { hi = 0; break }
        }
      }
      if (found === null || found.record.kind !== 'close') { tills.push({ tillId, close: null, forked: t.forked, pending: t.pending }); continue }
      const c = found.record
      const folded = t.lastSeq >= c.seq
      tills.push({
        tillId,
        forked: t.forked,
        pending: t.pending,
        close: {
          seq: c.seq, businessDay: c.businessDay, hash: found.hash, takingsCents: c.takingsCents, expectedCashCents: c.takingsCents.cash, countedCashCents: c.cashCountedCents,
          overShortCents: c.cashCountedCents - c.takingsCents.cash, saleCount: c.saleCount, refundCount: c.refundCount, folded
        }
      })
    }
    return { store, day: day ?? null, tills }
  })
  /** Grants of rights over members' points made and refused, and members looked up by phone (over libp2p, for tills). */
  const memberCounters = { rightsGranted: 0, rightsReturned: 0, rightsRefused: 0, lookups: 0 }
  http.get('/counters', READ, async () => ({ ...hq.counters, lastDiskError: hq.lastDiskError, members: memberCounters, awaitingCatalogue: hq.awaitingCatalogue, checkpoints: { pending: hq.checkpointPending, last: lastCheckpoint, error: checkpointError, rebuilt: rebuilt.from }, sync: { ...docSync.counters, refusals: docSync.refusals.slice(-20) }, rejections: hq.rejections.slice(-100), auth: guard.counters, authRefusals: guard.refusals.slice(-100) }))
  // For benchmarks and monitoring: what this process has cost so far, all threads counted.
  http.get('/metrics', READ, async () => {
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

  http.post('/admin/enrolment-codes', {
    config: ADMIN,
    schema: {
      body: {
        type: 'object',
        required: ['store', 'till'],
        additionalProperties: false,
        properties: {
          store: { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,15}$' },
          till: { type: 'integer', minimum: 1, maximum: 999 },
          ttl: { type: 'string', maxLength: 16 }
        }
      }
    }
  }, async req => {
    const b = req.body as { store: string, till: number, ttl?: string }
    let ttlMs = CODE_TTL_DEFAULT_MS
    if (b.ttl !== undefined) {
      try {
        ttlMs = parseTtl(b.ttl)
      } catch (err) {
        throw Object.assign(new Error((err as Error).message), { statusCode: 400 })
      }
    }
    const issued = await codes.issue({ store: b.store, till: b.till }, ttlMs)
    req.audit = { issuedCode: issued.codeId, for: `${b.store}-${b.till}`, expiresAt: issued.expiresAt }
    return issued
  })

  // The operator's list: ids and states, never a code.
  http.get('/admin/enrolment-codes', { config: ADMIN }, async () => ({ codes: codes.list() }))

  http.post('/admin/enrol', {
    config: SLOT,
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
    requireSlot(req, b)
    try {
      const enrol = async (alsoWrite: KvOp[]): Promise<Uint8Array> => await hq.enrol({ store: asStoreId(b.store), till: b.till, tillKey: fromHex(b.tillKey) as PublicKey, fromSeq: b.fromSeq ?? 1 }, { alsoWrite })
      const p = req.principal
      const bytes = p.kind === 'code' ? await codes.spend(p.code, b.tillKey, enrol) : await codes.enrolByAdmin(b, enrol)
      req.audit = { enrolled: `${b.store}-${b.till}`, tillKey: b.tillKey, fromSeq: b.fromSeq ?? 1 }
      return { tillId: `${b.store}-${b.till}`, certificate: Buffer.from(bytes).toString('base64'), hqRootKey: toHex(signer.publicKey), fromSeq: b.fromSeq ?? 1 }
    } catch (err) {
      if (err instanceof EnrolmentConflictError) return await reply.code(409).send({ error: err.message })
      throw err
    }
  })

  http.get('/admin/certificates/:tillId', { config: SLOT, schema: { params: TILL_ID_PARAM } }, async req => {
    const { tillId } = req.params as { tillId: string }
    requireSlot(req, tillId)
    return { tillId, hqRootKey: toHex(signer.publicKey), certificates: (await certificatesOf(store, checkedTillId(tillId))).map(b => Buffer.from(b).toString('base64')) }
  })

  // The till's log as an Automerge document (TillLog, crdt/README.md has the shape): the
  // till's own changes HQ took in (its heads are the till's once both hold the same
  // entries), plus any entry that reached HQ bare, put by HQ's actor (HqNode.tillDoc).
  http.get('/admin/log/:file', { config: SLOT, schema: { params: { type: 'object', required: ['file'], properties: { file: { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,15}-[0-9]{1,3}(\\.automerge)?$' } } } } }, async (req, reply) => {
    const { file } = req.params as { file: string }
    const tillId = checkedTillId(file.replace(/\.automerge$/, ''))
    requireSlot(req, tillId)
    if (!file.endsWith('.automerge')) return { tillId, entries: (await hq.tillLog(tillId)).map(b => Buffer.from(b).toString('base64')) }
    let log
    try {
      log = await hq.tillDoc(tillId)
    } catch (err) {
      if (err instanceof DocsBusyError) return await reply.code(503).header('retry-after', '1').send({ error: err.message })
      throw err
    }
    // A slot HQ holds nothing of: the empty log every replica of it starts from.
    const bytes = log?.save() ?? emptyLog(tillId)
    return await reply.type('application/octet-stream').send(Buffer.from(bytes))
  })

  http.post('/admin/entries', {
    config: SLOT,
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
    const bytes = entries.map(e => new Uint8Array(Buffer.from(e, 'base64')))
    // A code holder hands over its own till's recovered log, and nobody else's.
    const p = req.principal
    if (p.kind === 'code') bytes.forEach((e, i) => { requireSlot(req, entryTill(e, i)) })
    let outcomes: Awaited<ReturnType<HqNode['submit']>>
    try {
      outcomes = await hq.submit(bytes)
    } catch (err) {
      // Nothing of it acknowledged (HQ's disk failing, or too much waiting for the catalogue): send it all again later.
      if (err instanceof HqBusyError) throw new ServiceBusyError(err.message)
      throw err
    }
    const accepted = outcomes.filter(x => x.status === 'accepted').length
    req.audit = { submitted: outcomes.length, accepted, rejected: outcomes.filter(x => x.status === 'rejected').length }
    return { outcomes }
  })

  http.post('/admin/opening-stock', {
    config: ADMIN,
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
    stockedOn(b.lines, b.date)
    await busyIsBusy(hq.openingStock(b.lines, asBusinessDay(b.date)))
    req.audit = { openingStock: b.date, lines: b.lines.length }
    return { date: b.date, lines: b.lines.length }
  })

  http.post('/admin/replenishment', {
    config: ADMIN,
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
    stockedOn(b.lines, b.businessDay)
    await busyIsBusy(hq.dispatchReplenishment({ id: b.id, store: asStoreId(b.store), businessDay: asBusinessDay(b.businessDay), lines: b.lines }))
    req.audit = { replenishment: b.id, store: b.store, businessDay: b.businessDay, lines: b.lines.length }
    return { id: b.id }
  })

  // ---------------------------------------------------------------- the catalogue (issue 16: HQ's side)
  /** Opening stock and orders name stocked products in force on their day: 400 otherwise. */
  /** HQ busy (a catalogue change naming a sku being saved): 503 with Retry-After, nothing written. */
  async function busyIsBusy<T> (p: Promise<T>): Promise<T> {
    try {
      return await p
    } catch (err) {
      if (err instanceof HqBusyError) throw new ServiceBusyError(err.message)
      throw err
    }
  }
  function stockedOn (lines: Array<{ sku: string }>, day: string): void {
    if (!isBusinessDay(day)) throw Object.assign(new Error('a day is a business day, YYYY-MM-DD'), { statusCode: 400 })
    for (const l of lines) {
      if (!catalogueDoc.isStocked(l.sku, day)) throw Object.assign(new Error(`unknown stocked sku ${l.sku} on ${day}`), { statusCode: 400 })
    }
  }
  const today = (): Day => new Date(clock.nowMs()).toISOString().slice(0, 10)
  const dayOf = (d: unknown): Day => {
    if (d === undefined) return today()
    if (typeof d !== 'string' || !isBusinessDay(d)) throw Object.assign(new Error('a day is a business day, YYYY-MM-DD'), { statusCode: 400 })
    return d
  }
  http.get('/catalogue', READ, async req => {
    const day = dayOf((req.query as { day?: unknown }).day)
    return { day, ...catalogueDoc.view(day) }
  })
  http.get('/catalogue.csv', READ, async (req, reply) => await reply.type('text/csv; charset=utf-8').send(catalogueDoc.exportCsv(dayOf((req.query as { day?: unknown }).day))))
  http.get('/catalogue/conflicts', READ, async req => {
    const day = dayOf((req.query as { day?: unknown }).day)
    return { day, conflicts: catalogueDoc.conflicts(day).map(c => ({ id: c.id, kind: c.kind, products: c.products, openedAt: new Date(c.openedAt).toISOString(), statements: c.statements })) }
  })
  http.post('/admin/catalogue/import', {
    config: ADMIN,
    bodyLimit: CSV_BYTES_MAX + 64 * 1024,
    schema: { body: { type: 'object', required: ['csv'], additionalProperties: false, properties: { csv: { type: 'string', maxLength: CSV_BYTES_MAX }, effective: { type: 'string' } } } }
  }, async (req, reply) => {
    const b = req.body as { csv: string, effective?: string }
    // By default from today, or the first day HQ has not booked yet if today already is; both
    // read in turn with other imports; records of those days wait until the import is in (costForBooks).
    const effective = b.effective !== undefined ? dayOf(b.effective) : (booked: Day | null): Day => booked !== null && booked >= today() ? dayAfter(booked) : today()
    let r: ImportResult
    try {
      r = await catalogueDoc.importCsv(b.csv, effective, clock.nowMs(), () => hq.latestBookedDay)
    } catch (err) {
      if (err instanceof EffectiveDayError) return await reply.code(409).send({ error: err.message })
      throw err
    }
    req.audit = { imported: r.imported, unchanged: r.unchanged, errors: r.errors.length }
    if (r.errors.length > 0) return await reply.code(400).send({ error: `the file is refused: ${r.errors.length} error(s), the first on line ${r.errors[0]?.line ?? 0}`, ...r })
    return r
  })
  http.post('/admin/catalogue/resolve', {
    config: ADMIN,
    schema: { body: { type: 'object', required: ['conflict', 'decision'], additionalProperties: false, properties: { conflict: { type: 'string', maxLength: 64 }, decision: { type: 'string', enum: ['same', 'distinct', 'withdraw'] }, canonical: { type: 'string', maxLength: 40 }, day: { type: 'string' } } } }
  }, async (req, reply) => {
    const b = req.body as { conflict: string, decision: 'same' | 'distinct' | 'withdraw', canonical?: string, day?: string }
    try {
      const r = await catalogueDoc.resolve({ conflict: b.conflict, decision: b.decision, ...(b.canonical !== undefined ? { canonical: b.canonical } : {}) }, dayOf(b.day), clock.nowMs())
      req.audit = { conflict: b.conflict, decision: b.decision, canonical: b.canonical }
      return { resolved: r.conflict.id, kind: r.conflict.kind, decision: b.decision, statement: r.statement }
    } catch (err) {
      if (err instanceof ResolutionError) return await reply.code(/no open clash/.test(err.message) ? 404 : 400).send({ error: err.message })
      throw err
    }
  })

  // A settlement file is posted as it is (CSV or camt.053 XML), never re-encoded.
  for (const type of ['text/csv', 'application/xml', 'text/xml', 'application/octet-stream']) {
    http.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: SETTLEMENT_CSV_BYTES_MAX }, (_req, body, done) => { done(null, body) })
  }
  const reconcileQuery = {
    type: 'object',
    additionalProperties: false,
    properties: {
      processor: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,31}$' },
      lagDays: { type: 'integer', minimum: 0, maximum: 31 },
      name: { type: 'string', maxLength: 200 },
      day: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }
    }
  } as const
  type ReconcileQuery = { processor?: string, lagDays?: number, name?: string, day?: string }
  const reconcileOptions = (q: ReconcileQuery): ReconcileOptions => ({
    ...(q.processor !== undefined ? { processor: q.processor } : {}),
    ...(q.lagDays !== undefined ? { lagDays: q.lagDays } : {}),
    ...(q.name !== undefined ? { name: q.name } : {})
  })
  http.post('/admin/settlements', { config: ADMIN, bodyLimit: SETTLEMENT_CSV_BYTES_MAX, schema: { querystring: reconcileQuery } }, async (req, reply) => {
    if (!Buffer.isBuffer(req.body)) return await reply.code(415).send({ error: 'post the file itself: Content-Type text/csv (a settlement report) or application/xml (camt.053)' })
    try {
      const r = await settlements.import(new Uint8Array(req.body), reconcileOptions(req.query as ReconcileQuery))
      req.audit = { fileId: r.fileId, day: r.day, processor: r.processor, duplicate: r.duplicate === true, exceptions: r.exceptions.length }
      return r
    } catch (err) {
      if (err instanceof SettlementFileError) return await reply.code(400).send({ error: err.message, ...(err.kind !== null ? { kind: err.kind } : {}), problems: err.problems.slice(0, 100) })
      if (err instanceof SettlementConflictError) return await reply.code(409).send({ error: err.message })
      throw err
    }
  })
  http.get('/reconciliation', { ...READ, schema: { querystring: reconcileQuery } }, async (req, reply) => {
    const q = req.query as ReconcileQuery
    try {
      return await settlements.reconcile(q.day !== undefined ? dayOf(q.day) : today(), reconcileOptions(q))
    } catch (err) {
      if (err instanceof SettlementFileError) return await reply.code(400).send({ error: err.message })
      throw err
    }
  })
  http.get('/settlements', READ, async () => ({
    files: [...hq.settlementFiles.values()].map(f => ({ fileId: f.id, kind: f.kind, day: f.day, processor: f.processor, lines: f.lines, payouts: f.payouts }))
      .sort((a, b) => a.day < b.day ? -1 : a.day > b.day ? 1 : a.fileId < b.fileId ? -1 : 1),
    counters: settlements.counters,
    // The distinct lines and payouts held (on disk, beside the files).
    settledLines: hq.settledLines
  }))

  // Members: enrolled by phone number, kept as a random id and a keyed hash of the number
  // (never the number, never in a log line); their card is the id signed by HQ's root key.
  const members = new HqMembers({ store, key: await hqMemberKey(o.dataDir), root: signer, clock, hq })

  const kinds = [...hqRecordKinds(hq), ...memberRecordKinds(members)]
  const tSums = performance.now()
  // A whole-log start also counts the records again (after an older version ran on this store, say).
  await store.initSums(kinds, { rescan: (o.rebuild ?? 'checkpoint') !== 'checkpoint' })
  logger.info({ from: store.sumsFrom, ms: Math.round(performance.now() - tSums) }, 'record sums for replicas ready')
  const replication = new HqReplication({
    hq,
    store,
    recordSums: () => store.sums(),
    busy: intakeBusy(),
    // HQ's decisions, then its members' (an id, a number's keyed hash, grants, rights given back).
    kinds,
    root: signer,
    peerId: peer.peerId,
    multiaddrs: () => peer.multiaddrs(),
    transport: peer,
    logger,
    nowMs: () => clock.nowMs(),
    ...(o.replicaIntervalMs !== undefined ? { intervalMs: o.replicaIntervalMs } : {}),
    pullCatalogue: async (addr, peerId) => { await docSync.pull(addr, peerId, CATALOGUE_DOC) },
    catalogueHeads: () => catalogueDoc.doc.getHeads(),
    pullTill: async (addr, peerId, tillId) => await pullTillLog(hq, replicaSync, pulling, addr, peerId, tillId, {
      // The entries themselves, over the log protocol.
      fetchEntries: async () => await peer.fetchLog(addr, tillId, 0),
      onEntries: reason => {
        logger.warn({ tillId, peer: peerId, err: reason }, 'replica: till log not synced by Automerge; its entries fetched instead')
        replication.counters.tillsPulledAsEntries++
      }
    })
  })
  peer.handleReplica(async (op, body, from) => await replication.serve(op, body, from))
  isReplica = from => replication.isReplica(from)
  for (const addr of replicaOf) replication.addPeer(addr)
  // Returns made at one till of another till's receipt without its consent (it was out of reach),
  // as the refunding tills' Closes report them, and lines refunded beyond what was sold, as the
  // selling tills report them once told: every refund of such a line named.
  const refundReports = new FoldedCloses(hq, c => c.flaggedRefunds === undefined && c.refundConflicts === undefined
    ? null
    : { till: `${c.store}-${c.till}`, flagged: c.flaggedRefunds ?? [], conflicts: c.refundConflicts ?? [] })
  http.get('/refunds/flagged', READ, async () => {
    const flagged: Array<{ till: string, receipt: string, refund: string, amountCents: number }> = []
    const conflicts: Array<{ till: string, receipt: string, sku: string, soldQty: number, refundedQty: number, refunds: string[] }> = []
    for (const ix of (await refundReports.read()).values()) {
      for (const r of ix.items) {
        for (const f of r.flagged) flagged.push({ till: r.till, ...f })
        for (const c of r.conflicts) conflicts.push({ till: r.till, ...c })
      }
    }
    return { flagged, conflicts }
  })
  // A customer gives their phone number at a till: HQ answers their member id (enrolling them
  // if new: giving it is joining), so the number never reaches the till's log. Enrolled tills only.
  peer.handleMemberLookup(async (phone, from) => {
    const key = peerIdFromString(from).publicKey?.raw
    if (key === undefined || !hq.enrolment.hasKey(key)) throw new RefusedError('members are looked up by enrolled tills only')
    try {
      const r = await members.enrol(phone)
      memberCounters.lookups++
      return r.member
    } catch (err) {
      if (err instanceof MembersError) throw new RefusedError(err.message)
      throw err
    }
  })
  // A till gives rights back (unused escrow): told straight away, grantable elsewhere at once.
  peer.handleRightsReturn(async (req, from) => {
    const key = peerIdFromString(from).publicKey?.raw
    try {
      if (key === undefined || !hq.enrolment.hasKey(key)) throw new MembersError('rights come back from enrolled tills only')
      await members.giveBack(req, key)
      memberCounters.rightsReturned++
    } catch (err) {
      if (err instanceof MembersError) {
        memberCounters.rightsRefused++
        logger.warn({ returnId: req.returnId, till: req.till, reason: err.message }, 'rights return refused')
        throw new RefusedError(err.message)
      }
      throw err
    }
  })
  // A till asks for rights over a member's points to redeem them (its peer id is its key: only
  // the till itself, as it is now enrolled, gets a grant to it), or looks a member up by phone.
  peer.handleRights(async (req, from) => {
    const key = peerIdFromString(from).publicKey?.raw
    try {
      if (key === undefined || !hq.enrolment.hasKey(key)) throw new MembersError('rights go to enrolled tills only')
      const grant = await members.grant(req, key)
      memberCounters.rightsGranted++
      logger.info({ grantId: req.grantId, till: req.till, points: req.points }, 'rights granted')
      return grant
    } catch (err) {
      if (err instanceof MembersError) {
        memberCounters.rightsRefused++
        logger.warn({ grantId: req.grantId, till: req.till, points: req.points, reason: err.message }, 'rights refused')
        throw new RefusedError(err.message)
      }
      throw err
    }
  })
  http.get('/members/:member', { ...READ, schema: { params: { type: 'object', required: ['member'], properties: { member: { type: 'string', pattern: '^m-[A-Za-z0-9_-]{22}$' } } } } }, async (req, reply) => {
    const v = await members.view((req.params as { member: string }).member, today())
    if (!v.enrolled && v.earned === 0) return await reply.code(404).send({ error: 'no such member' })
    return v
  })
  http.post('/admin/members', {
    config: ADMIN,
    schema: { body: { type: 'object', required: ['phone'], additionalProperties: false, properties: { phone: { type: 'string', maxLength: 40 } } } }
  }, async (req, reply) => {
    try {
      const r = await members.enrol((req.body as { phone: string }).phone)
      req.audit = { member: r.member, created: r.created }
      // 200 either way (`created` says which): the contract's answer, whatever a client checks.
      return r
    } catch (err) {
      if (err instanceof MembersError) return await reply.code(400).send({ error: err.message })
      throw err
    }
  })

  // The console: pages over the routes above, under /ui/.
  const console_ = registerConsole(http, { guard, sessions, tokens: { admin: plan.adminToken, viewer: plan.viewerToken }, secure: api.scheme === 'https', logger })

  const url = await http.listen({ port: o.httpPort, host: httpHost })
  const ready: HqReady = { role: 'hq', peerId: peer.peerId, multiaddrs: peer.multiaddrs(), http: url, rootKey: toHex(signer.publicKey), adminTokenFile: resolve(api.adminTokenFile), viewerTokenFile: resolve(api.viewerTokenFile), booksDb: booksDb?.target ?? null }
  // Once HQ serves: opening the database (PGlite's wasm, a server's connection) never holds intake back.
  projection?.start()
  replication.start()

  let stopping: Promise<void> | null = null
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      console_.stop()
      await http.close()
      await checkpoints.stop()
      await projection?.stop()
      await replication.stop()
      await peer.stop()
      catalogueDoc.close()
      await hq.stop()
    })()
    await stopping
  }
  return { hq, peer, http, ready, projection, stop }
}

/** The till an entry belongs to, for a code holder's slot check (403 when it cannot be read at all). */
function entryTill (bytes: Uint8Array, i: number): string {
  try {
    return openEntry(bytes, { verify: false }).tillId
  } catch (err) {
    throw new ForbiddenError(`entry ${i} cannot be read (${rejectionOf(err).reason}): an enrolment code hands over its own till's entries only`)
  }
}

function checkedTillId (tillId: string): TillId {
  try {
    parseTillId(tillId)
  } catch (err) {
    throw Object.assign(new Error(rejectionOf(err).reason), { statusCode: 400 })
  }
  return tillId as TillId
}

function emptyLog (tillId: TillId): Uint8Array {
  const log = TillLog.create(tillId, { actorId: actorIdFor(tillId, 'hq') })
  try {
    return log.save()
  } finally {
    log.free()
  }
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

/** The books' snapshot with each store's stock of an alias added to its canonical product's. */
export function stockThroughAliases<T extends { stores: Record<string, { stockOnHand: Record<string, number> }> }> (snapshot: T, aliases: ReadonlyMap<string, string>): T {
  if (aliases.size === 0) return snapshot
  for (const store of Object.values(snapshot.stores)) {
    const folded: Record<string, number> = {}
    for (const [sku, qty] of Object.entries(store.stockOnHand)) {
      const to = aliases.get(sku) ?? sku
      folded[to] = (folded[to] ?? 0) + qty
    }
    store.stockOnHand = Object.fromEntries(Object.entries(folded).sort((a, b) => a[0] < b[0] ? -1 : 1))
  }
  return snapshot
}

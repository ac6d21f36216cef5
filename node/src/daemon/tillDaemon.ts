/**
 * `tillbooks till`: one till on LevelDB, with the local HTTP API its POS front end uses,
 * and libp2p for everything that leaves the store. Selling never waits for the network:
 * every document is durable locally before the API answers; the outbox goes to HQ in the
 * background and is resent (with backoff) until HQ acknowledges it; new entries are pushed
 * to the neighbour stores, which keep replicas for fire recovery.
 */
import type { FastifyInstance } from 'fastify'
import {
  asBusinessDay, fromHex, openCertificate, openEntry, openReplenishment, Signer, tillIdOf, toHex,
  type BusinessDay, type Close, type PublicKey, type StoreId, type TillId
} from '@tillbooks/protocol'
import { COST_CENTS_MAX, NAME_CHARS_MAX, PRICE_CENTS_MAX, TAX_RATE_BP_MAX } from '@tillbooks/catalogue'
import { TillCatalogue, type InventInput } from '../till/TillCatalogue.ts'
import { PaymentDeclinedError, TillPayments } from '../till/TillPayments.ts'
import { EmbeddedProcessorAdapter } from '../payments/EmbeddedProcessorAdapter.ts'
import { PROFILES, profileNamed, type StoreAndForwardProfile } from '@tillbooks/payments'
import { CATALOGUE_DOC } from '../sync/constants.ts'
import { TillNode, type ReturnOfElsewhere, type TenderIn } from '../till/TillNode.ts'
import { ReturnRefusedError } from '../till/errors.ts'
import { LevelStore } from '../storage/LevelStore.ts'
import type { KvStore } from '../storage/KvStore.ts'
import { systemClock, type Clock, type Logger } from '../components.ts'
import { NetError, RefusedError, TillbooksPeer } from '../net/TillbooksPeer.ts'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { HEADS_MAX } from '../net/limits.ts'
import { ReplicaApprovals } from '../sync/ReplicaApprovals.ts'
import { receiptFor, type TillReceipt } from '../till/receipts.ts'
import { MEMBER_QR_PREFIX, openMemberCard } from '@tillbooks/protocol'
import { linesMatch, verifyReceipt, type VerifiedReceipt } from '@tillbooks/wallet'
import QRCode from 'qrcode'
import { readTillIdentity, replicaDbDir, tillDbDir, tillKey } from './dataDir.ts'
import { MailBackup } from '../mail/MailBackup.ts'
import { join } from 'node:path'
import { createApi, planApi, skuQtyLinesSchema } from './http.ts'
import { ReplicaDocs } from '../sync/ReplicaDocs.ts'
import { DocSync } from '../sync/DocSync.ts'
import { decodeAnnouncement, encodeAnnouncement, headsTopic, judgeAnnouncement } from '../net/gossip.ts'
import { VerifiedCertificates } from '../net/VerifiedCertificates.ts'
import { TopicValidatorResult } from '@libp2p/gossipsub'

export interface TillDaemonOptions {
  dataDir: string
  store: StoreId
  till: number
  /** HQ's multiaddr, with its /p2p/ peer id; several replicas of HQ comma-separated. */
  hq: string
  httpPort: number
  httpHost?: string
  listen: string[]
  /** Multiaddrs (with /p2p/) of tills in the neighbouring stores. */
  neighbours: string[]
  logger: Logger
  clock?: Clock
  /** The card processor's URL (the embedded one: `tillbooks processor`): card and wallet tenders go to it directly. */
  processor?: string
  /** The currency card payments are taken in (default EUR). */
  currency?: string
  /** Time a card payment waits for the processor before it is stored offline (default 5 s). */
  processorTimeoutMs?: number
  /** Resend cadence when HQ does not answer: starts here, doubles up to retryMaxMs. */
  retryMinMs?: number
  retryMaxMs?: number
  /** How long one call to HQ or a neighbour may take. */
  callTimeoutMs?: number
  /** Re-announce heads to neighbours this often (anti-entropy for lost announcements). */
  announceEveryMs?: number
  /**
   * Whether this till books the store's deliveries: an order is for a store, and exactly one
   * till confirms it with a StockIn, or the goods would be counted once per till. Default: till 1.
   */
  receivesDeliveries?: boolean
  /** Email each close as a signed backup: the SMTP server (smtp:// or smtps://) and the mailbox. */
  mail?: { smtpUrl: string, to: string, from?: string }
  /**
   * The HTTP API's tokens (default DIR/admin.token, DIR/viewer.token): needed only when it
   * listens beyond loopback, where it also needs a PEM certificate and key (HTTPS).
   */
  adminTokenFile?: string
  viewerTokenFile?: string
  tlsCertFile?: string
  tlsKeyFile?: string
  /**
   * The gossip ring this till announces its heads on and hears its neighbours' on
   * (`tillbooks/heads/1/<ring>`, ../net/gossip.ts); default 'default'; null: no gossip.
   */
  gossipRing?: string | null
  /**
   * Also announce new heads directly to each configured neighbour (default true): it reaches
   * a neighbour before gossipsub has grafted it into the mesh (a heartbeat, ~1 s, after
   * they connect), and every `announceEveryMs` it is the anti-entropy for anything missed.
   */
  announceDirect?: boolean
  /**
   * Tests only (no CLI flag, no environment variable): wraps the till's own LevelDB store (its
   * log, journal, day state, payments), e.g. in a FaultyKvStore, so a test can fail its disk.
   */
  wrapStoreForTests?: (store: KvStore) => KvStore
}

export interface TillReady {
  role: 'till'
  tillId: TillId
  peerId: string
  multiaddrs: string[]
  http: string
}

export interface TillDaemon {
  till: TillNode
  peer: TillbooksPeer
  http: FastifyInstance
  ready: TillReady
  /** Send the outbox to HQ and announce to neighbours now. */
  sync: () => Promise<{ sent: number, acked: number, outbox: number }>
  stop: () => Promise<void>
}

const SUBMIT_CHUNK = 64
/** A sale's or refund's lines: each names its product by sku, or by the GTIN a scanner read. */
const LINES_SCHEMA = (() => {
  const base = skuQtyLinesSchema(100_000)
  return {
    ...base,
    items: {
      type: 'object',
      required: ['qty'],
      additionalProperties: false,
      properties: { ...base.items.properties, gtin: { type: 'string', pattern: '^[0-9]{8,14}$' } },
      oneOf: [{ required: ['sku'] }, { required: ['gtin'] }]
    }
  } as const
})()
type LineIn = { sku: string, qty: number } | { gtin: string, qty: number }

export async function startTillDaemon (o: TillDaemonOptions): Promise<TillDaemon> {
  const { logger } = o
  const clock = o.clock ?? systemClock
  const identity = await readTillIdentity(o.dataDir)
  if (identity === null) throw new Error(`${o.dataDir} holds no enrolled till: run \`tillbooks enrol --hq URL --data ${o.dataDir} --store ${o.store} --till ${o.till}\` first`)
  if (identity.store !== o.store || identity.till !== o.till) throw new Error(`${o.dataDir} is enrolled as ${identity.tillId}, not ${o.store}-${o.till}`)
  const pair = await tillKey(o.dataDir)
  if (toHex(pair.publicKey) !== identity.publicKey) throw new Error(`${o.dataDir}/key does not match the enrolled key in till.json`)
  const tillId = identity.tillId as TillId
  // On loopback (the POS front end on this machine) everything is open, as it always was;
  // beyond it, reads need the till's viewer token, writes its admin token, over HTTPS.
  const httpHost = o.httpHost ?? '127.0.0.1'
  const { app: http } = await createApi(await planApi({
    daemon: `till ${tillId}`, dataDir: o.dataDir, host: httpHost, tls: { certFile: o.tlsCertFile, keyFile: o.tlsKeyFile },
    adminTokenFile: o.adminTokenFile, viewerTokenFile: o.viewerTokenFile, loopbackOpen: 'all', bodyLimitBytes: 256 * 1024, logger
  }))
  const signer = new Signer(pair)
  const certificate = new Uint8Array(Buffer.from(identity.certificate, 'base64'))
  const replicaStore = new LevelStore(replicaDbDir(o.dataDir))
  const replicas = new ReplicaDocs(replicaStore, pair.publicKey)
  // Neighbours' signed card approvals, beside their logs: HQ asks here when a till is gone.
  const replicaApprovals = new ReplicaApprovals(replicaStore)
  for (const u of (await replicas.open()).unloadable) logger.error({ tillId: u.tillId, reason: u.reason }, 'a replica on disk does not load: set aside (it is synced again from its till)')
  await replicaApprovals.load()
  // The catalogue: HQ's and every store's statements, synced, read offline for each business day.
  const tillLevel = new LevelStore(tillDbDir(o.dataDir))
  const tillStore = o.wrapStoreForTests?.(tillLevel) ?? tillLevel
  await tillStore.open()
  const catalogue = await TillCatalogue.open({
    store: replicas.store, ownStore: tillStore, hqRootKey: fromHex(identity.hqRootKey) as PublicKey, storeId: o.store, till: o.till, signer, certificate, logger
  })
  // Card and wallet payments: straight to the processor, under its store-and-forward profile
  // (asked of it at start; the conservative default if it cannot be reached then).
  let payments: TillPayments | undefined
  if (o.processor !== undefined) {
    const adapter = new EmbeddedProcessorAdapter(o.processor, { timeoutMs: o.processorTimeoutMs ?? 5_000 })
    let profile = PROFILES.default as StoreAndForwardProfile
    try {
      profile = profileNamed(await new EmbeddedProcessorAdapter(o.processor, { timeoutMs: 2_000 }).profileName())
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'processor unreachable at start: its default store-and-forward profile applies')
    }
    payments = await TillPayments.open({ store: tillStore, tillId, signer, adapter, profile, currency: o.currency ?? 'EUR', clock, logger })
  }
  // Rights over members' points beyond what this till holds are asked of HQ over libp2p (the
  // peer starts below; its id is the till's key, so HQ knows who asks).
  // HQ, or several replicas of it: the till talks to one at a time (the current), and moves to the next when it does not answer.
  const hqAddrs = o.hq.split(',').map(a => a.trim()).filter(a => a.length > 0)
  if (hqAddrs.length === 0) throw new Error('--hq names no HQ')
  let hqAt = 0
  const hqAddr = (): string => hqAddrs[hqAt] as string
  const rightsVia: { peer: TillbooksPeer | null, reachable: () => boolean } = { peer: null, reachable: () => false }
  const till = new TillNode({ store: tillStore, clock, logger }, {
    store: o.store,
    till: o.till,
    signer,
    catalogue,
    hqRootKey: fromHex(identity.hqRootKey) as PublicKey,
    ...(payments !== undefined ? { payments } : {}),
    rights: {
      ask: async req => {
        if (rightsVia.peer === null) throw new Error('the till is starting')
        // Known to be out of reach: ask briefly, so the cashier hears at once that only the till's own rights can be spent.
        return await rightsVia.peer.askRights(hqAddr(), req, { timeoutMs: rightsVia.reachable() ? o.callTimeoutMs ?? 5_000 : Math.min(o.callTimeoutMs ?? 5_000, 1_000) })
      },
      giveBack: async req => {
        if (rightsVia.peer === null) throw new Error('the till is starting')
        await rightsVia.peer.giveBackRights(hqAddr(), req, { timeoutMs: rightsVia.reachable() ? o.callTimeoutMs ?? 5_000 : Math.min(o.callTimeoutMs ?? 5_000, 1_000) })
      }
    }
  })
  await till.start()
  // Card payments of sales never written (a crash between the payment and the sale): reversed.
  await payments?.orphans(docNo => Number(docNo.slice(docNo.lastIndexOf('-') + 1)) < till.nextDocN)
  /** The business day the till sells on: its open (or last) day, else the clock's. */
  const sellingDay = (): BusinessDay => till.businessDay ?? asBusinessDay(new Date(clock.nowMs()).toISOString().slice(0, 10))

  // The backup outbox is its own LevelDB: a close queued for mail survives a restart, and
  // sending (retried with backoff) never holds up a sale or the close itself.
  const mail = o.mail === undefined
    ? null
    : new MailBackup({ store: new LevelStore(join(o.dataDir, 'mail')), smtpUrl: o.mail.smtpUrl, to: o.mail.to, from: o.mail.from ?? `till-${tillId}@localhost`, logger, clock })
  await mail?.start()

  const gossipTopic = o.gossipRing === null ? null : headsTopic(o.gossipRing ?? 'default')
  const peer = await TillbooksPeer.create({ seed: pair.secretKey, listen: o.listen, logger, ...(gossipTopic !== null ? { gossip: { topic: gossipTopic } } : {}) })
  const neighbourByPeer = new Map<string, string>()
  for (const addr of o.neighbours) {
    const id = addr.split('/p2p/')[1]
    if (id === undefined) throw new Error(`neighbour ${addr} needs its /p2p/<peer id>`)
    neighbourByPeer.set(id, addr)
  }
  const timeoutMs = o.callTimeoutMs ?? 5_000
  // HQ's replicas peer ids: each is HQ to this till (their approvals requests, the catalogue).
  const hqPeerIds = new Set(hqAddrs.map(a => a.split('/p2p/')[1]).filter((id): id is string => id !== undefined))
  const isHq = (id: string): boolean => hqPeerIds.has(id)

  // Automerge's sync protocol: this till's own log served read-only, its replicas served and
  // pulled; sessions with its neighbours and HQ persisted (a restart then costs no resync).
  const docSync = new DocSync({
    peer,
    store: replicas.store,
    logger,
    callTimeoutMs: timeoutMs,
    persistFor: id => neighbourByPeer.has(id) || isHq(id),
    docs: {
      served: (id, from) => {
        // The catalogue: every store and HQ write it, each change screened by the document;
        // written here by HQ and this till's configured neighbours only, read by anyone.
        if (id === CATALOGUE_DOC) return { log: catalogue.doc, own: false, writable: from !== undefined && (isHq(from) || neighbourByPeer.has(from)) }
        if (id === tillId) return { log: till.logDoc, own: true }
        const doc = replicas.doc(id as TillId)
        return doc === undefined ? undefined : { log: doc, own: false }
      },
      replicaFor: id => id === tillId || id === CATALOGUE_DOC ? undefined : replicas.replicaFor(id as TillId),
      changed: async id => {
        if (id === CATALOGUE_DOC) await catalogue.changed()
        else await replicas.changed(id as TillId)
      }
    }
  })
  peer.handleAmSync(async (doc, msg, from) => await docSync.answer(from, doc, msg))
  // The till's signed card approvals, to HQ only (they name cards by last 4 and auth code):
  // HQ asks when a settlement does not match this till's Close totals.
  // Our own to HQ and to our configured neighbours (who keep them for when we are gone); the
  // neighbours' we keep, to HQ only.
  peer.handleApprovals(async (id, from) => {
    if (id === tillId) {
      if (!isHq(from) && !neighbourByPeer.has(from)) throw new RefusedError('a till\'s approvals are served to HQ and its neighbours only')
      return payments?.approvalEnvelopes() ?? []
    }
    if (!isHq(from)) throw new RefusedError('the approvals of a till kept here are served to HQ only')
    return replicaApprovals.of(id)
  })
  /** Per neighbouring till: the head seq its approvals were last fetched at (a new Close brings the day's). */
  const approvalsAt = new Map<string, number>()
  /**
   * Keep a neighbour's own approvals beside its log, once per new head: fetched from the neighbour
   * (peer `from`), they must be signed by its key (a neighbour can hand over only its own).
   */
  const pullApprovals = async (addr: string, from: string, id: TillId): Promise<void> => {
    const head = replicas.head(id)
    if ((approvalsAt.get(id) ?? -1) >= head) return
    // Only the till whose log it signs (the replica's head): a neighbour cannot make us keep approvals of tills it is not.
    const key = peerIdFromString(from).publicKey?.raw
    const signer = await replicas.headSigner(id)
    if (key === undefined || signer === undefined || !Buffer.from(key).equals(Buffer.from(signer))) return
    try {
      const r = await replicaApprovals.add(id, await peer.fetchApprovals(addr, id, { timeoutMs }), key)
      approvalsAt.set(id, head)
      if (r.refused.length > 0) logger.warn({ tillId: id, refused: r.refused.length, first: r.refused[0] }, 'neighbour approvals refused')
    } catch (err) {
      logger.warn({ neighbour: addr, tillId: id, err: (err as Error).message }, 'neighbour approvals not fetched')
    }
  }
  /** Sync the catalogue with a peer (HQ, a neighbour): what each lacks goes both ways. */
  const syncCatalogue = async (addr: string, peerId: string): Promise<void> => {
    await docSync.pull(addr, peerId, CATALOGUE_DOC)
  }

  // Gossip: every announcement judged before gossipsub forwards it (reject: forged,
  // unenrolled, malformed; ignore: stale); an accepted one from a neighbour, or for a till
  // whose replica we keep, starts a sync with the till that published it.
  const gossip = { accepted: 0, ignored: 0, rejected: 0, published: 0 }
  const pubsub = peer.pubsub
  const hqRootKey = fromHex(identity.hqRootKey) as PublicKey
  const certificates = new VerifiedCertificates(hqRootKey)
  if (pubsub !== null && gossipTopic !== null) {
    pubsub.topicValidators.set(gossipTopic, (_from, msg) => {
      const v = judgeAnnouncement(msg, msg.type === 'signed' ? msg.from.publicKey?.raw : undefined, { hqRootKey, certificates, holds: (id, seq, hash) => id === tillId || replicas.holds(id as TillId, seq, hash) })
      if (v.result === TopicValidatorResult.Accept) gossip.accepted++
      else if (v.result === TopicValidatorResult.Ignore) gossip.ignored++
      else {
        gossip.rejected++
        logger.warn({ from: msg.type === 'signed' ? msg.from.toString() : null, reason: v.reason }, 'gossip announcement rejected')
      }
      return v.result
    })
    pubsub.addEventListener('message', evt => {
      const msg = evt.detail
      if (msg.topic !== gossipTopic || msg.type !== 'signed') return
      const a = decodeAnnouncement(msg.data)
      if ('reason' in a) return
      const from = msg.from.toString()
      const id = a.tillId as TillId
      const configured = neighbourByPeer.get(from)
      if (id === tillId || (configured === undefined && !replicas.has(id))) return
      void docSync.pull(configured ?? `/p2p/${from}`, from, id, { until: () => replicas.holds(id, a.seq, a.hash) })
        // A configured neighbour's own till: its approvals too (it serves them to its neighbours only).
        .then(async () => { if (configured !== undefined) await pullApprovals(configured, from, id) })
        .catch((err: Error) => { logger.warn({ from, tillId: id, err: err.message }, 'could not sync after a gossip announcement') })
    })
    pubsub.subscribe(gossipTopic)
  }

  // Neighbours push entries of their tills here; we keep them and serve them to anyone.
  peer.handleSubmit(async (entries, from) => {
    const outcomes = await replicas.add(entries, tillId)
    for (const x of outcomes) if (x.status === 'rejected') logger.warn({ code: x.code, from }, `replica entry refused: ${x.reason}`)
    return outcomes
  })
  peer.handleLog(async (wanted, afterSeq) => {
    if (wanted === tillId) return till.log.filter(e => e.record.seq > afterSeq).map(e => e.bytes)
    return await replicas.log(wanted as TillId, afterSeq)
  })
  // A configured neighbour announced new heads: pull what we lack from it. Nobody else is
  // pulled from on their say-so (they would choose what we store); a replacement till after a
  // fire, with a new key and peer id, is heard by gossip, whose announcements prove the key
  // is enrolled for the till.
  peer.handleHeads(async (heads, from) => {
    const configured = neighbourByPeer.get(from)
    if (configured === undefined) return
    for (const h of heads) {
      const id = h.tillId as TillId
      // Pulled unless this very entry is held: a forged or forked entry at the seq must not
      // stop the genuine one from replicating.
      if (id === tillId) continue
      if (!replicas.holds(id, h.seq, h.hash)) {
        try {
          await docSync.pull(configured, from, id, { until: () => replicas.holds(id, h.seq, h.hash) })
        } catch (err) {
          logger.warn({ from, tillId: h.tillId, err: (err as Error).message }, 'could not pull a neighbour log')
        }
      }
      // A new record (a Close): the day's approvals came with it (fetched again at a later announcement if this failed).
      await pullApprovals(configured, from, id)
    }
  })

  // ---------------------------------------------------------------- the outbox pump
  let hqAckedSeq = 0
  let hqReachable = false
  rightsVia.peer = peer
  rightsVia.reachable = () => hqReachable
  let pumping: Promise<{ sent: number, acked: number, outbox: number }> | null = null
  let timer: NodeJS.Timeout | null = null
  let retryMs = o.retryMinMs ?? 500
  let stopped = false

  /**
   * `fn` with HQ's current replica, then each other in turn until one answers; the one that
   * answered is current from then on. Throws the last failure if none answers.
   */
  const withHq = async <T>(fn: (addr: string) => Promise<T>): Promise<T> => {
    let last: unknown
    for (let k = 0; k < hqAddrs.length; k++) {
      const i = (hqAt + k) % hqAddrs.length
      try {
        const r = await fn(hqAddrs[i] as string)
        hqAt = i
        return r
      } catch (err) {
        last = err
      }
    }
    throw last
  }

  // Each entry inside the change of our log that put it: HQ keeps our document's history. A
  // record leaves the outbox once any replica of HQ acknowledged it (durably: HQ answers after its fsync).
  const pushToHq = async (): Promise<{ sent: number, acked: number }> => await withHq(async addr => await pushTo(addr))
  const pushTo = async (addr: string): Promise<{ sent: number, acked: number }> => {
    const out = till.outboxChanges()
    let acked = 0
    for (let i = 0; i < out.length; i += SUBMIT_CHUNK) {
      const chunk = out.slice(i, i + SUBMIT_CHUNK)
      const answers = await peer.submit(addr, chunk.map(c => c.bytes), { timeoutMs })
      const mapped = answers.map((a, k) => ({ seq: (chunk[k] as { seq: number }).seq, status: a.status, ...(a.reason !== undefined ? { reason: a.reason } : {}) }))
      await till.acknowledge(mapped)
      for (const m of mapped) if (m.status !== 'rejected') { acked++; hqAckedSeq = Math.max(hqAckedSeq, m.seq) }
    }
    return { sent: out.length, acked }
  }

  const announce = async (): Promise<void> => {
    // Gossipsub dials nobody: keep a connection to each neighbour, so the mesh can form.
    if (pubsub !== null) await Promise.all(o.neighbours.map(async addr => { await peer.connect(addr, { timeoutMs }).catch(() => {}) }))
    const head = till.head
    if (head === undefined) return
    const heads = [{ tillId, seq: head.record.seq, hash: head.hash }]
    if (pubsub !== null && gossipTopic !== null) {
      try {
        await pubsub.publish(gossipTopic, encodeAnnouncement({ tillId, seq: head.record.seq, hash: head.hash, cert: certificate }))
        gossip.published++
      } catch (err) {
        // A duplicate (nothing new since the last announcement) or nobody in the mesh yet.
        if (!/duplicate/i.test((err as Error).message)) logger.warn({ err: (err as Error).message }, 'gossip announcement not published')
      }
    }
    if (o.announceDirect === false) return
    await Promise.all(o.neighbours.map(async addr => {
      try {
        await peer.announceHeads(addr, heads, { timeoutMs })
      } catch (err) {
        logger.warn({ neighbour: addr, err: (err as Error).message }, 'neighbour unreachable; will announce again')
      }
    }))
  }

  // The catalogue spreads store to store too: a product made up next door reaches us with HQ out of reach.
  const syncCatalogueWithNeighbours = async (): Promise<void> => {
    await Promise.all([...neighbourByPeer].map(async ([id, addr]) => {
      await syncCatalogue(addr, id).catch((err: Error) => { logger.warn({ neighbour: addr, err: err.message }, 'catalogue not synced with a neighbour') })
    }))
  }

  const schedule = (ms: number): void => {
    if (stopped) return
    if (timer !== null) clearTimeout(timer)
    timer = setTimeout(() => { void sync().catch(() => {}) }, ms)
    timer.unref()
  }

  // Returns of receipts across tills. The till that sold is asked to consent before another
  // refunds its lines (it alone knows what of the sale was refunded); a return made without it
  // (out of reach) is told to it later, and it reports lines refunded twice in its Close.
  const returns = { consented: 0, refused: 0, told: 0, asked: 0, flagged: 0 }
  peer.handleReturns(async (req, from) => {
    try {
      const c = openCertificate(req.cert, hqRootKey).cert
      const key = peerIdFromString(from).publicKey?.raw
      if (key === undefined || toHex(key) !== toHex(c.tillKey)) throw new RefusedError('the asking peer is not the till its certificate names')
      if (!req.refund.startsWith(`${tillIdOf(c.store, c.till)}-`)) throw new RefusedError(`refund ${req.refund} is not a document of the asking till`)
      const v = verifyReceipt(req.receipt, hqRootKey)
      if (v.tillId !== tillId) throw new RefusedError(`a receipt of ${v.tillId}: this is ${tillId}`)
      if (v.receipt.kind !== 'sale') throw new RefusedError('a refund\'s receipt is not refunded again')
      await till.approveReturn({ refund: req.refund, docNo: v.receipt.docNo, lines: req.lines, made: req.made })
      if (req.made) returns.told++
      else returns.consented++
    } catch (err) {
      returns.refused++
      const reason = (err as Error).message
      logger.warn({ refund: req.refund, made: req.made, reason }, 'return refused')
      throw err instanceof RefusedError ? err : new RefusedError(reason)
    }
  })
  /** The address of the till that signed a receipt, if it is a neighbour (its peer id is its key). */
  const issuerAddr = (v: VerifiedReceipt): string | undefined => neighbourByPeer.get(peerIdFromPublicKey(publicKeyFromRaw(fromHex(v.tillKey))).toString())
  /** Returns made here without their till's consent, told to it once it is reachable. */
  const tellFlaggedReturns = async (): Promise<void> => {
    for (const f of await till.flaggedReturns()) {
      const v = verifyReceipt(f.cose, hqRootKey)
      const addr = issuerAddr(v)
      if (addr === undefined) continue
      try {
        await peer.askReturn(addr, { refund: f.refund, receipt: f.cose, lines: f.lines, made: true, cert: certificate }, { timeoutMs })
        await till.returnTold(f.refund)
      } catch (err) {
        logger.warn({ refund: f.refund, till: v.tillId, err: (err as Error).message }, 'a return made without its till\'s consent is not told to it yet')
      }
    }
  }

  const sync = async (): Promise<{ sent: number, acked: number, outbox: number }> => {
    pumping ??= (async () => {
      let r = { sent: 0, acked: 0 }
      // Stored card payments forwarded, unknown outcomes resolved: straight with the processor, whatever HQ's link.
      await payments?.forward().catch((err: Error) => { logger.warn({ err: err.message }, 'stored card payments not forwarded yet') })
      try {
        // The catalogue first: HQ learns of a product made up here before the Close that sold it.
        await withHq(async addr => {
          const id = addr.split('/p2p/')[1]
          if (id !== undefined) await syncCatalogue(addr, id)
        }).catch((err: Error) => { logger.warn({ err: err.message }, 'catalogue not synced with HQ') })
        r = await pushToHq()
        hqReachable = true
        // Tell HQ whose logs (and approvals) we keep: where it asks when one of those tills is gone.
        const held = replicas.headsWithHash().slice(0, HEADS_MAX)
        if (held.length > 0) await peer.announceHeads(hqAddr(), held, { timeoutMs }).catch((err: Error) => { logger.warn({ err: err.message }, 'replica heads not announced to HQ') })
        retryMs = o.retryMinMs ?? 500
      } catch (err) {
        // HQ busy (its disk refused the batch: nothing of it acknowledged) is HQ reachable but
        // not taking: the outbox waits all the same, resent on the same backoff.
        const busy = err instanceof NetError && err.code === 'BUSY'
        hqReachable = busy
        logger.warn({ err: (err as Error).message, retryMs }, busy ? 'HQ busy; selling goes on, the outbox waits' : 'HQ unreachable; selling goes on, the outbox waits')
        retryMs = Math.min(retryMs * 2, o.retryMaxMs ?? 30_000)
      }
      await announce()
      await syncCatalogueWithNeighbours()
      await tellFlaggedReturns().catch((err: Error) => { logger.warn({ err: err.message }, 'flagged returns not told') })
      // The day's catalogue built now, if a sync changed it, rather than by the next sale.
      catalogue.on(sellingDay())
      const outbox = till.outbox().length
      schedule(outbox > 0 ? retryMs : (o.announceEveryMs ?? 30_000))
      return { ...r, outbox }
    })().finally(() => { pumping = null })
    return await pumping
  }

  // ---------------------------------------------------------------- HTTP API
  http.get('/health', { config: { access: 'public' } }, async () => ({ ok: true }))
  // The replicas this till keeps: per till, the highest contiguous seq whose entries' own
  // signatures hold, and the document's Automerge heads; each replica's document itself.
  http.get('/replicas', async () => ({ replicas: replicas.summary(), sync: { ...docSync.counters, lastPull: docSync.lastPull, lastCataloguePull: docSync.lastCataloguePull, refusals: docSync.refusals.slice(-20) }, gossip: { topic: gossipTopic, ...gossip } }))
  http.get('/replicas/:file', { schema: { params: { type: 'object', required: ['file'], properties: { file: { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,15}-[0-9]{1,3}\\.automerge$' } } } } }, async (req, reply) => {
    const id = (req.params as { file: string }).file.replace(/\.automerge$/, '') as TillId
    const doc = replicas.doc(id)
    if (doc === undefined) return await reply.code(404).send({ error: `no replica of ${id} is kept here` })
    return await reply.type('application/octet-stream').send(Buffer.from(doc.save()))
  })
  // The till's own log as Automerge's save() bytes: anyone with @automerge/automerge can load
  // it and list the signed entries (crdt/README.md has the document's shape).
  http.get('/log.automerge', async (_req, reply) => await reply.type('application/octet-stream').send(Buffer.from(till.logDocument())))
  // What this till sells today (its open business day, else the clock's): offline, from its replica.
  http.get('/catalogue', async () => ({ businessDay: sellingDay(), products: catalogue.sellable(sellingDay()), heads: catalogue.getHeads() }))
  /** Lines as the till sells them: a scanned GTIN read as the product that scans as it today (none while two claim it). */
  const bySku = (lines: LineIn[]): Array<{ sku: string, qty: number }> => lines.map(l => ({ sku: 'sku' in l ? l.sku : catalogue.skuOf({ gtin: l.gtin }, sellingDay()), qty: l.qty }))
  http.post('/catalogue/products', {
    schema: {
      body: {
        type: 'object',
        required: ['name', 'priceCents', 'taxRateBp'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: NAME_CHARS_MAX },
          gtin: { type: 'string', pattern: '^[0-9]{8,14}$' },
          priceCents: { type: 'integer', minimum: 0, maximum: PRICE_CENTS_MAX },
          taxRateBp: { type: 'integer', minimum: 0, maximum: TAX_RATE_BP_MAX },
          costCents: { type: 'integer', minimum: 0, maximum: COST_CENTS_MAX }
        }
      }
    }
  }, async req => {
    const b = req.body as InventInput
    const r = await catalogue.invent(b, sellingDay(), clock.nowMs())
    req.log.info({ sku: r.sku }, 'product made up at this store')
    void sync().catch(() => {})
    return r
  })
  http.get('/status', async () => ({ ...till.status(), hqAckedSeq, hqReachable, returns, replicas: replicas.heads(), mailPending: mail?.pending().length ?? 0, ...(payments !== undefined ? { payments: payments.status() } : {}) }))

  http.post('/sales', {
    schema: {
      body: {
        type: 'object',
        required: ['lines'],
        additionalProperties: false,
        properties: {
          lines: LINES_SCHEMA,
          tenders: {
            type: 'array',
            minItems: 1,
            maxItems: 8,
            items: {
              type: 'object',
              required: ['type', 'amountCents'],
              additionalProperties: false,
              properties: {
                type: { enum: ['cash', 'card', 'wallet'] },
                amountCents: { type: 'integer', minimum: 1, maximum: 100_000_000_00 },
                card: { type: 'object', additionalProperties: false, properties: { token: { type: 'string', pattern: '^tok_[a-z_]{1,40}$' } } }
              }
            }
          },
          // A member's card (its QR text, signed by HQ), a member id, or a phone number (looked up at HQ: it goes no further).
          member: { type: 'string', maxLength: 1024, pattern: '^(\\+?[0-9]{6,15}|m-[A-Za-z0-9_-]{22}|TBM1:[A-Za-z0-9_-]{1,1000})$' },
          // Points the member pays with (a tender worth POINT_VALUE_CENTS each), within this till's rights or granted by HQ.
          redeemPoints: { type: 'integer', minimum: 1, maximum: 1_000_000_000 }
        }
      }
    }
  }, async (req, reply) => {
    const b = req.body as { lines: LineIn[], tenders?: TenderIn[], member?: string, redeemPoints?: number }
    if (payments === undefined && b.tenders?.some(t => t.type === 'wallet') === true) return await reply.code(400).send({ error: 'a wallet payment needs a processor: start the till with --processor' })
    // A member's card is read offline against HQ's root key: the log gets the member id.
    let member = b.member
    if (member?.startsWith(MEMBER_QR_PREFIX) === true) {
      try {
        member = openMemberCard(member, hqRootKey).member
      } catch (err) {
        return await reply.code(400).send({ error: `member card refused: ${(err as Error).message}` })
      }
    } else if (member !== undefined && !member.startsWith('m-')) {
      // A phone number: HQ answers the member id (enrolling a new number), so the number never
      // reaches the journal, the Close or the receipt. Offline, it cannot be looked up.
      try {
        member = await peer.lookupMember(hqAddr(), member, { timeoutMs: hqReachable ? timeoutMs : Math.min(timeoutMs, 1_000) })
      } catch (err) {
        if (err instanceof NetError && err.code === 'REFUSED') return await reply.code(400).send({ error: `member refused: ${err.message}` })
        return await reply.code(409).send({ error: 'a phone number is looked up at HQ, which is out of reach: scan the member\'s card, or sell without a member' })
      }
    }
    try {
      const sold = await till.sell({ lines: bySku(b.lines), ...(b.tenders !== undefined ? { tenders: b.tenders } : {}), ...(member !== undefined ? { member } : {}), ...(b.redeemPoints !== undefined ? { redeemPoints: b.redeemPoints } : {}) })
      // The signed receipt: the customer's proof of purchase (its QR text; GET /receipts/<docNo> has it whole).
      const r = await receiptOf(sold.docNo)
      return { ...sold, ...(r !== null ? { receipt: { docNo: r.docNo, qr: r.qr } } : {}) }
    } catch (err) {
      // A card or wallet payment refused (by the processor, or beyond the store-and-forward limits): no sale.
      if (err instanceof PaymentDeclinedError) return await reply.code(402).send({ error: err.message, payment: err.payment })
      throw err
    }
  })

  // Rights over a member's points this till holds (redeemable with the network down), and asking
  // HQ for more ahead of time (a member who will spend them here, a till about to go offline).
  const MEMBER_PARAM = { type: 'object', required: ['member'], properties: { member: { type: 'string', pattern: '^m-[A-Za-z0-9_-]{22}$' } } } as const
  http.get('/members/:member/rights', { schema: { params: MEMBER_PARAM } }, async req => {
    const member = (req.params as { member: string }).member
    return { member, till: tillId, instance: till.instance, rights: await till.rightsOf(member) }
  })
  http.post('/members/:member/rights', {
    schema: { params: MEMBER_PARAM, body: { type: 'object', required: ['points'], additionalProperties: false, properties: { points: { type: 'integer', minimum: 1, maximum: 1_000_000_000 } } } }
  }, async req => {
    const member = (req.params as { member: string }).member
    return { member, till: tillId, instance: till.instance, rights: await till.reserveRights(member, (req.body as { points: number }).points) }
  })

  http.post('/members/:member/rights/return', {
    schema: { params: MEMBER_PARAM, body: { type: ['object', 'null'], additionalProperties: false, properties: { points: { type: 'integer', minimum: 1, maximum: 1_000_000_000 } } } }
  }, async req => {
    // Unused escrow back to HQ (all of it by default): spendable here no more, elsewhere once the next Close reaches HQ.
    const member = (req.params as { member: string }).member
    const points = (req.body as { points?: number } | null)?.points
    return { member, till: tillId, instance: till.instance, rights: await till.returnRights(member, points) }
  })

  /** A document's signed receipt, made from the journal (the same bytes each time); null if there is no such document. */
  const receiptOf = async (docNo: string): Promise<TillReceipt | null> => {
    const m = /-(\d{1,12})$/.exec(docNo)
    if (m === null || !docNo.startsWith(`${tillId}-`)) return null
    const n = Number(m[1])
    const [doc] = await till.journal(n, n)
    if (doc === undefined || doc.n !== n) return null
    return receiptFor(doc, {
      tillId, currency: o.currency ?? 'EUR', signer, certificate,
      priceOf: (sku, day) => { try { return catalogue.on(day as BusinessDay).catalogue.get(sku).priceCents } catch { return 0 } }
    })
  }
  const DOC_PARAM = { type: 'object', required: ['doc'], properties: { doc: { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,15}-[0-9]{1,3}-[0-9]{1,12}(\\.png)?$' } } } as const
  http.get('/receipts/:doc', { schema: { params: DOC_PARAM } }, async (req, reply) => {
    const doc = (req.params as { doc: string }).doc
    const png = doc.endsWith('.png')
    const r = await receiptOf(png ? doc.slice(0, -4) : doc)
    if (r === null) return await reply.code(404).send({ error: `no document ${doc} at this till` })
    if (png) return await reply.type('image/png').send(await QRCode.toBuffer(r.qr, { errorCorrectionLevel: 'M', margin: 2 }))
    return { docNo: r.docNo, qr: r.qr, receipt: { ...r.receipt, linesDigest: Buffer.from(r.receipt.linesDigest).toString('hex') }, lines: r.lines }
  })

  http.post('/refunds', {
    schema: {
      body: {
        type: 'object',
        required: ['lines'],
        additionalProperties: false,
        properties: {
          lines: LINES_SCHEMA,
          tender: { enum: ['cash', 'card'] },
          paymentId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$' },
          receipt: { type: 'string', maxLength: 8192, pattern: '^TB1:' },
          // The receipt's lines (from its file, GET /receipts/<docNo>): checked against its digest; needed to return another till's receipt while that till is out of reach.
          receiptLines: {
            type: 'array',
            maxItems: 200,
            items: { type: 'object', required: ['sku', 'qty', 'priceCents'], additionalProperties: false, properties: { sku: { type: 'string', maxLength: 40 }, qty: { type: 'integer' }, priceCents: { type: 'integer' } } }
          }
        }
      }
    }
  }, async (req, reply) => {
    const b = req.body as { lines: LineIn[], tender?: 'cash' | 'card', paymentId?: string, receipt?: string, receiptLines?: Array<{ sku: string, qty: number, priceCents: number }> }
    // A return by receipt: checked offline against HQ's root key, no lookup.
    let returnOf: string | undefined
    let elsewhere: ReturnOfElsewhere | undefined
    if (b.receipt !== undefined) {
      let v: VerifiedReceipt
      try {
        v = verifyReceipt(b.receipt, hqRootKey)
      } catch (err) {
        return await reply.code(400).send({ error: `receipt refused: ${(err as Error).message}` })
      }
      if (v.receipt.kind !== 'sale') return await reply.code(400).send({ error: 'a refund\'s receipt is not refunded again' })
      if (b.receiptLines !== undefined && !linesMatch(v.receipt, b.receiptLines)) return await reply.code(400).send({ error: 'receiptLines are not the lines the receipt was signed with' })
      if (v.tillId === tillId) {
        returnOf = v.receipt.docNo
      } else {
        // Another till's receipt: that till is asked to consent (over libp2p, if it is a neighbour).
        const addr = issuerAddr(v)
        const lines = bySku(b.lines)
        const points = v.receipt.tenders.filter(t => t.type === 'points').reduce((n, t) => n + t.amountCents, 0)
        elsewhere = {
          docNo: v.receipt.docNo,
          tillId: v.tillId,
          businessDay: asBusinessDay(v.receipt.businessDay),
          moneyCents: v.receipt.totalCents - points,
          soldLines: b.receiptLines?.map(l => ({ sku: l.sku, qty: l.qty })) ?? null,
          cose: v.cose,
          ask: async refund => {
            if (addr === undefined) return 'unreachable'
            returns.asked++
            try {
              await peer.askReturn(addr, { refund, receipt: v.cose, lines, made: false, cert: certificate }, { timeoutMs: Math.min(timeoutMs, 2_000) })
              return 'consented'
            } catch (err) {
              if (err instanceof NetError && err.code === 'REFUSED') throw new ReturnRefusedError(`till ${v.tillId}, which sold it, refused: ${err.message}`)
              return 'unreachable'
            }
          }
        }
      }
    }
    try {
      const refunded = await till.refund({ lines: bySku(b.lines), ...(b.tender !== undefined ? { tender: b.tender } : {}), ...(b.paymentId !== undefined ? { paymentId: b.paymentId } : {}), ...(returnOf !== undefined ? { receiptOf: returnOf } : {}), ...(elsewhere !== undefined ? { elsewhere } : {}) })
      const r = await receiptOf(refunded.docNo)
      const [doc] = await till.journal(Number(refunded.docNo.slice(refunded.docNo.lastIndexOf('-') + 1)), Number(refunded.docNo.slice(refunded.docNo.lastIndexOf('-') + 1)))
      if (doc?.elsewhere === 'flagged') returns.flagged++
      return { ...refunded, ...(r !== null ? { receipt: { docNo: r.docNo, qr: r.qr } } : {}), ...(doc?.elsewhere !== undefined ? { elsewhere: doc.elsewhere } : {}) }
    } catch (err) {
      if (err instanceof PaymentDeclinedError) return await reply.code(402).send({ error: err.message, payment: err.payment })
      throw err
    }
  })

  http.post('/day/open', {
    schema: {
      body: {
        type: ['object', 'null'],
        additionalProperties: false,
        properties: { businessDay: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } }
      }
    }
  }, async req => {
    const b = (req.body ?? {}) as { businessDay?: string }
    const day: BusinessDay = asBusinessDay(b.businessDay ?? new Date(clock.nowMs()).toISOString().slice(0, 10))
    // The morning delivery's HQ-signed order: if HQ is out of reach, the till opens anyway
    // and the goods stay in transit in the books until a later StockIn confirms them.
    let order: Uint8Array | undefined
    if (o.receivesDeliveries ?? o.till === 1) {
      try {
        // Known to be out of reach: ask briefly, so a till cut off for days still opens at once.
        const orders = await peer.fetchReplenishment(hqAddr(), o.store, null, { timeoutMs: hqReachable ? timeoutMs : Math.min(timeoutMs, 1_000) })
        order = orders.find(bytes => orderDay(bytes, identity.hqRootKey) === day)
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'HQ unreachable at opening: opening without the delivery')
      }
    }
    const entry = await till.openDay(day, order !== undefined ? { order } : undefined)
    void sync().catch(() => {})
    return { state: till.state, businessDay: till.businessDay, stockIn: entry === null ? null : { seq: entry.record.seq, replenishmentId: (entry.record as { replenishmentId: string }).replenishmentId } }
  })

  http.post('/day/close', {
    schema: {
      body: {
        type: ['object', 'null'],
        additionalProperties: false,
        properties: { cashCountedCents: { type: 'integer', minimum: -100_000_000_00, maximum: 100_000_000_00 } }
      }
    }
  }, async req => {
    const b = (req.body ?? {}) as { cashCountedCents?: number }
    const entry = await till.closeDay(b.cashCountedCents !== undefined ? { cashCountedCents: b.cashCountedCents } : {})
    const c = entry.record as Close
    void sync().catch(() => {})
    if (mail !== null) {
      await mail.queue(till, { certificates: [certificate] }).catch((err: Error) => { logger.error({ err: err.message }, 'mail backup not queued') })
    }
    return {
      tillId,
      seq: c.seq,
      hash: entry.hash,
      businessDay: c.businessDay,
      docFirst: c.docFirst,
      docLast: c.docLast,
      saleCount: c.saleCount,
      refundCount: c.refundCount,
      takingsCents: c.takingsCents.cash + c.takingsCents.card,
      tenders: c.takingsCents,
      refundsCents: c.refundsCents,
      cashCountedCents: c.cashCountedCents,
      tax: c.tax
    }
  })

  http.post('/sync', async () => {
    const r = await sync()
    const m = mail === null ? null : await mail.flush()
    return { ...r, ...(m !== null ? { mailPending: m.pending } : {}) }
  })

  const url = await http.listen({ port: o.httpPort, host: httpHost })
  const ready: TillReady = { role: 'till', tillId, peerId: peer.peerId, multiaddrs: peer.multiaddrs(), http: url }
  schedule(0)

  let stopping: Promise<void> | null = null
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      stopped = true
      if (timer !== null) clearTimeout(timer)
      await http.close()
      await pumping?.catch(() => {})
      await peer.stop()
      await mail?.stop()
      catalogue.close()
      await replicas.close()
      await till.stop()
    })()
    await stopping
  }
  return { till, peer, http, ready, sync, stop }
}

/** The business day of an HQ-signed order, or null if it does not verify under HQ's root key. */
function orderDay (bytes: Uint8Array, rootKeyHex: string): string | null {
  try {
    return openReplenishment(bytes, fromHex(rootKeyHex) as PublicKey).businessDay
  } catch {
    return null
  }
}

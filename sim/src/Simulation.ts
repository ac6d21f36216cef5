/**
 * The deterministic simulator: a fleet of real TillNodes and a real HqNode, on a virtual
 * clock, a simulated WAN and in-memory disks that lose unsynced writes on a crash, all
 * driven by one seed. Faults are injected on a schedule drawn from the seed; afterwards
 * pure checks over the recorded history (Jepsen style) compare HQ's books with the
 * Oracle's, to the cent.
 */
import { isDeepStrictEqual } from 'node:util'
import {
  asBusinessDay, asStoreId, canonicalEncode, Enrolment, issueCertificate, keyPairFromSeed, nextBusinessDay, openEntry, POINT_VALUE_CENTS, signEntry, Signer, tillIdOf, toHex,
  type BusinessDay, type Close, type Entry, type SkuQty, type StoreId, type TillId, type TillRecord
} from '@tillbooks/protocol'
import { demoCatalogue, type Catalogue } from '@tillbooks/catalogue'
import { actorIdFor, keyOfBytes, TillLog } from '@tillbooks/crdt'
import {
  CATALOGUE_DOC, DocSync, encodeAnnouncement, HqCatalogue, HqNode, HqSettlements, MemoryStore, PaymentDeclinedError, RedemptionRefusedError, ReturnRefusedError, SaleRejectedError, TillCatalogue, TillStateError, TillPayments, ReplicaDocs, TillNode, TopicValidatorResult, silentLogger, VerifiedCertificates,
  type Clock, type SaleReceipt, type SubmitOutcome, type SyncCounters, type TenderIn
} from '@tillbooks/node'
import { ALL_FAULT_NAMES, type Fault } from './faults.ts'
import { dailyUse, onShelf, openingStock, PAR_DAYS, parLevels, replenishment, Shelves } from './stock.ts'
import { Oracle, type OracleAlias, type OracleProduct, type TruthDay } from './Oracle.ts'
import { Prng } from './Prng.ts'
import { Scheduler } from './Scheduler.ts'
import { QUIET_LINK, SimNetwork, type LinkProfile } from './SimNetwork.ts'
import { SimMailbox } from './mailPath.ts'
import { announce, judgeGossip, signGossip, type AnnounceMsg } from './SimGossip.ts'
import { SimReplicas } from './hqReplicas.ts'
import { SimDiskFaults } from './diskFaults.ts'
import { isSyncMsg, SimSync, type SimSyncCounters, type SyncMsg } from './SimSync.ts'
import { parseSettlementCsv, PROFILES } from '@tillbooks/payments'
import { PSP_ADDRESS, SimProcessor, SimProcessorAdapter, type PspMsg } from './SimProcessor.ts'

/** Lines in a settlement report (the production reader's count). */
function readSettlementFileLines (bytes: Uint8Array): number {
  return parseSettlementCsv(new TextDecoder().decode(bytes), CARD_CURRENCY).lines.length
}

/** The simulated processor's name, as its adapter gives it and the Closes carry it. */
const PROCESSOR_NAME = 'simpsp'
import { earnedAtFork, newReturnsState, overRefunded, RETURN_CHANCE, overspent, REDEEM_CHANCE, REDEEM_POINTS_MAX, RESERVE_CHANCE, SimMembers, SIM_RETURN_WINDOW_DAYS, type ReturnsState, type SimReceipt } from './members.ts'
import { ANSWER_DROP_RATE, CARD_CURRENCY, CARD_FEE_BP, checkCards, drawCard, FORWARD_EVERY_MS, planCards, SETTLEMENT_LAG_DAYS, type CardPlan } from './cardPayments.ts'

export interface SimOptions {
  seed: number
  tills: number
  days: number
  faults: Set<Fault>
  tillsPerStore?: number
  salesPerDayMax?: number
  /** Each store replicates the logs of this many neighbour stores. */
  neighbours?: number
  firstDay?: string
  onDay?: (day: number) => void
}

export interface SimResult {
  seed: number
  tills: number
  stores: number
  days: number
  /** With seed, tills, days and faults, what the run was made of: a replay names them all (replay.ts). */
  tillsPerStore: number
  salesPerDayMax: number
  faults: string[]
  sales: number
  recordsAccepted: number
  duplicatesIgnored: number
  forgedRejected: number
  forksDetected: number
  booksCents: number
  oracleCents: number
  invariants: Record<string, boolean>
  details: Record<string, unknown>
  books: { accounts: Record<string, number>, stores: Record<string, { takingsCents: number }> }
}

type Msg =
  | { t: 'submit', entries: Uint8Array[] }
  | { t: 'acks', answers: SubmitOutcome[] }
  /** A till's signed head announcement (gossip), judged by the production validator. */
  | AnnounceMsg
  /** A till's direct announcement to its configured neighbours (TillbooksPeer.announceHeads): the anti-entropy. */
  | { t: 'heads', heads: Array<{ tillId: TillId, seq: number, hash: string }> }
  /** Automerge's sync protocol (DocSync over SimSync). */
  | SyncMsg
  /** A till's request to the card processor, and its answer (cardPayments). */
  | PspMsg

/** Tills in a store, unless a run says otherwise. */
export const TILLS_PER_STORE_DEFAULT = 4
/** A till rings up between 1 and this many sales a day, unless a run says otherwise. */
export const SALES_PER_DAY_MAX_DEFAULT = 10
/** The share of delivery lines that arrive short, and by how much of the line at most. */
const SHORT_LINE_CHANCE = 0.1
const SHORT_LINE_SHARE_MAX = 0.1
const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
const MEMBERS = Array.from({ length: 40 }, (_, i) => `+4477009${String(10_000 + i * 7919).slice(-5)}`)
const RETRY_MS_MIN = 10 * 60_000
const RETRY_MS_MAX = 4 * HOUR_MS
/** A till announces its head directly to its neighbour stores this often (the daemon's announceEveryMs): lost announcements and failed pulls are repaired. */
const HEADS_EVERY_MS = 30 * 60_000
/** A forger squatting a burnt till's address announces its forgery this often, until the slot is recovered. */
const FORGER_HEADS_EVERY_MS = 30 * 60_000
/**
 * catalogueClash: a till syncs the catalogue with HQ and its neighbours this often (the
 * daemon's sync cycle, slowed down: the catalogue changes a few times a run, and every
 * till doing it every 30 virtual minutes would make a run twice as long for nothing).
 */
const CATALOGUE_SYNC_EVERY_MS = 2 * HOUR_MS
/** HQ's automation looks at the clash list this often, and resolves a GTIN clash it finds. */
const CLASH_WATCH_EVERY_MS = HOUR_MS
/** HQ saves a catalogue a failed save left unsaved this often (its daemon: every second). */
const CATALOGUE_FLUSH_EVERY_MS = 60_000
/** The share of sales at a till holding a store-made product that sell one. */
const INVENTED_IN_SALE_CHANCE = 0.4
/** Tax rates a store-made product is drawn with (the demo catalogue's, so a Close carries no new one). */
const INVENTED_TAX_RATES_BP = [550, 1000, 2000] as const
/** Names the two stores give the one product (different, as two people would: the GTIN is what clashes). */
const INVENTED_NAMES = ['Garden Gnome', 'Gnome, Garden (large)'] as const

interface TillSim {
  tillId: TillId
  store: StoreId
  tillNo: number
  generation: number
  signer: Signer
  certs: Uint8Array[]
  kv: MemoryStore
  node: TillNode
  skewMs: number
  burnt: boolean
  retryArmed: boolean
  retryMs: number
  /** Its side of Automerge's sync protocol: it serves its own log, read-only. */
  sync: SimSync
  docSync: DocSync
  /** An equivocating till's second close, in a document it serves beside its log (its neighbours take it as evidence). */
  twin: TillLog | null
  /** Every document number this slot ever issued, across generations (for G1). */
  docNs: number[]
  /** Its replica of the catalogue (catalogueClash runs), on its own disk: what it sells on each day, and the products it makes up. */
  catalogue: TillCatalogue | null
  catalogueKv: MemoryStore | null
  /** Catalogue syncs under way, by peer address: one at a time with each. */
  cataloguePulls: Map<string, Promise<void>>
  /**
   * What its catalogue held when it last read it for its business day (the store-made products,
   * the `same` resolutions): what it prices sales by until it reads it again. A TillCatalogue
   * reads its document again when told of a sync (`changed`) or after making a product up,
   * not while a pull is still under way; the simulator has it read at those moments and at
   * the day's opening, and notes what the document held then.
   */
  catalogueRead: { invented: string[], resolutions: string[] }
  delivery: { order: Uint8Array, received: SkuQty[], shipped: SkuQty[] } | null
  /** Its card payments (cardPayments runs): the production TillPayments, over its adapter to the simulated processor. */
  payments: TillPayments | null
  psp: SimProcessorAdapter | null
  /** A forward() under way: the cycle does not start another over it. */
  forwarding: boolean
}

/** A store's server: it keeps replicas of its neighbour stores' tills' logs, pulled by Automerge's sync protocol. */
interface StoreSim {
  id: StoreId
  tills: TillSim[]
  neighbours: StoreId[]
  /** Down while burnt: its replicas are lost with it, and synced again from scratch when it comes back. */
  up: boolean
  incarnation: number
  /** Logs of the neighbour stores' tills this store keeps a replica of (production's ReplicaDocs). */
  replicas: ReplicaDocs
  /** The certificates its gossip validator verified, as the daemon keeps them (lost when it burns). */
  certificates: VerifiedCertificates
  sync: SimSync
  docSync: DocSync
  /** Pulls under way, by `<till address>!<document>`. */
  pulling: Set<string>
}

/** catalogueClash's plan, drawn from the seed. */
interface ClashPlan {
  gtin: string
  /** Index (in the run's days) of the day both stores make the product up. */
  inventDay: number
  fenceFromMs: number
  healAtMs: number
  /** Per store: who makes the product up, when, and at what price, tax and cost. */
  products: Array<{ store: number, tillNo: number, atMs: number, name: string, priceCents: number, taxRateBp: number, costCents: number }>
}

/** What happened to the clash, as the simulator saw it (never read from a fold). */
/** cardPayments: the processor, its plan, and what the tills did with cards. */
interface CardState {
  plan: CardPlan
  processor: SimProcessor
  /** Every till process's payments (burnt ones too): what reconciliation reads. */
  tills: Array<{ t: TillSim, generation: number, payments: TillPayments }>
  /** The business day of each sale's payments, by payment id. */
  saleDays: Map<string, string>
  /** The payments a sale's receipt showed stored (taken offline), as the simulator saw them. */
  storedAtSale: Set<string>
  counts: { cardSales: number, approved: number, stored: number, declinedSales: number, cardRefunds: number, refundsNotMade: number, forwardCycles: number, forwardErrors: number, forwarded: number, lateDeclines: number, expired: number, resolved: number }
  outage: { from: string, until: string } | null
  /** Losses a Close reported that the processor charged after all (P4: none). */
  lossesContradicted: string[]
}

interface ClashState {
  /** Each store's product as the simulator made it: what the Oracle prices and costs it by. */
  invented: Array<{ store: StoreId, tillId: TillId, sku: string, statement: string, priceCents: number, taxRateBp: number, costCents: number }>
  /** The clash as HQ listed it first. */
  listed: { atMs: number, conflict: string, skus: string[], gtins: Array<string | null> } | null
  /** The resolution the automation signed (or found signed, after an HQ crash). */
  resolution: { atMs: number, id: string, from: BusinessDay, canonical: string } | null
  resolving: boolean
  resolveFailures: string[]
  /** Every `same` resolution any till held when it sold: what the Oracle's aliases are. */
  heldResolutions: Map<string, { from: string, canonical: string | undefined, conflict: string }>
  sales: { inventedLines: number, throughAlias: number }
  awaitingMax: number
  sync: { pulls: number, failed: number }
  skipped: string | null
}

export async function runSimulation (opts: SimOptions): Promise<SimResult> {
  const sim = new Simulation(opts)
  return await sim.run()
}

class Simulation {
  readonly opts: SimOptions
  readonly prng: Prng
  readonly scheduler: Scheduler
  readonly net: SimNetwork<Msg>
  readonly catalogue: Catalogue
  readonly root: Signer
  /** Members: enrolled at HQ, earning, and redeeming points within their tills' rights. */
  readonly members: SimMembers
  /** Returns by receipt: the cash sales a customer may bring back, and what became of each attempt. */
  readonly returns: ReturnsState = newReturnsState()
  readonly faults: Set<Fault>
  readonly stores: StoreSim[] = []
  readonly tills = new Map<TillId, TillSim>()
  readonly truth = new Map<string, TruthDay>()
  readonly dispatched: Array<{ lines: SkuQty[] }> = []
  readonly opening: SkuQty[]
  /** Each till's par level, by stocked sku: what its 06:00 delivery fills its shelf up to. */
  readonly par: Map<string, number>
  /** What the warehouse still holds, by stocked sku (it ships no more). */
  readonly warehouse: Map<string, number>
  /** What each till has on its shelf as the run goes: a customer takes only what is there. */
  readonly shelves: Shelves
  /** Customers who found less than they wanted on the shelf: lines short or gone, sales with nothing left to sell. */
  readonly #stockouts = { linesShort: 0, salesLost: 0 }
  hqKv: MemoryStore
  /** Failing disks (fault diskFaults): HQ's store and the tills' go through it. */
  readonly disk: SimDiskFaults | null
  hq!: HqNode
  /** HQ's replica of the catalogue: loaded from HQ's store before HQ starts, so a rebuild costs every record as it was. */
  hqCatalogue!: HqCatalogue
  /** HQ's side of Automerge's sync: it serves the catalogue, writable. */
  hqSync: SimSync | null = null
  /** HQ's replicas (fault hqReplicas). */
  replicas: SimReplicas | null = null
  readonly clashPlan: ClashPlan | null
  readonly clash: ClashState | null
  readonly cards: CardState | null
  hqUp = false
  hqIncarnation = 0
  running = false
  readonly totals = { accepted: 0, duplicates: 0, forged: 0, forks: 0, sales: 0 }
  readonly counted = new Set<string>()
  /** Hashes HQ answered `accepted`, as the tills saw the answers (for set-full). */
  readonly ackedAccepted = new Set<string>()
  /** Of those, the ones HQ logged but left out of the books, waiting for the catalogue (by hash, with their till). */
  readonly ackedAwaiting = new Map<string, TillId>()
  readonly forgeriesSent: string[] = []
  readonly plantedForgeries: string[] = []
  readonly attackAnswers: string[] = []
  readonly plantedEntries: Uint8Array[] = []
  readonly checks: Record<string, boolean> = {}
  readonly details: Record<string, unknown> = {}
  /** Checkpoints of the books HQ wrote (a crash restart and B5 fold the newest). */
  checkpointsWritten = 0
  readonly firstDay: BusinessDay
  readonly plan: { crashDay: number, fireDay: number, fireStore: number, equivocationDay: number, equivocationTill: string | null }
  /** Every close is emailed here when fires are simulated (the email path of fire recovery). */
  readonly mail: SimMailbox | null
  /** Each burnt till's last Close: what both recovery paths must bring back. */
  fireLastCloses: Record<string, { seq: number, hash: string, takingsCents: number }> = {}
  /** Every DocSync and SimSync that ran (crashed ones too): the run's sync counters are their sums. */
  readonly docSyncs: DocSync[] = []
  readonly simSyncs: SimSync[] = []
  /** Every catalogue replica opened (HQ's and the tills', crashed and burnt ones too): freed at the end. */
  readonly catalogues: Array<HqCatalogue | TillCatalogue> = []
  readonly gossip = { announced: 0, accepted: 0, ignored: 0, rejected: 0, headsSent: 0, pulls: 0, pullsFailed: 0 }
  /** Forged announcements (by identity: a duplicated delivery is the same message) and the validator's verdicts on them. */
  readonly forgedAnnouncements = new Set<AnnounceMsg>()
  readonly forgedGossip = { sent: 0, accepted: 0, ignored: 0, rejected: 0, pullsFromAttacker: 0 }
  /** The equivocating till's two closes at one seq: both must reach its neighbours' replicas, as evidence. */
  twinOf: { tillId: TillId, seq: number, genuine: string, twin: string } | null = null
  /** Why the last pull of each `<till>@<store>` failed, while it keeps failing. */
  readonly lastPullFailure = new Map<string, string>()
  sellable: string[]
  stocked: string[]

  constructor (opts: SimOptions) {
    if (!Number.isSafeInteger(opts.tills) || opts.tills < 1) throw new RangeError('tills must be a positive integer')
    if (!Number.isSafeInteger(opts.days) || opts.days < 1) throw new RangeError('days must be a positive integer')
    this.opts = opts
    this.faults = opts.faults
    this.prng = new Prng(opts.seed)
    this.firstDay = asBusinessDay(opts.firstDay ?? '2026-03-02')
    this.scheduler = new Scheduler(Date.parse(`${this.firstDay}T00:00:00Z`))
    const profile: LinkProfile = {
      latencyMs: 40,
      jitterMs: this.faults.has('reorder') ? 5_000 : 0,
      lossRate: this.faults.has('loss') ? 0.15 : 0,
      duplicateRate: this.faults.has('duplicate') ? 0.1 : 0
    }
    this.net = new SimNetwork<Msg>(this.scheduler, this.prng.fork('net'), profile)
    this.catalogue = demoCatalogue()
    this.sellable = this.catalogue.products().filter(p => p.sellable).map(p => p.sku)
    this.stocked = this.catalogue.products().filter(p => p.stocked).map(p => p.sku)
    this.root = new Signer(keyPairFromSeed(this.prng.fork('root').bytes(32)))
    this.hqKv = this.#hqStore()
    this.disk = this.faults.has('diskFaults') ? new SimDiskFaults({ scheduler: this.scheduler, prng: this.prng.fork('disk'), hqKv: this.hqKv }) : null
    // Stock sized for the run and its shops' expected sales (stock.ts): the books a newcomer reads show a believable business.
    const use = dailyUse(this.catalogue, this.sellable, opts.salesPerDayMax ?? SALES_PER_DAY_MAX_DEFAULT)
    this.par = parLevels(use)
    this.opening = openingStock(this.stocked, use, opts.tills, opts.days)
    this.warehouse = new Map(this.opening.map(l => [l.sku, l.qty]))
    this.shelves = new Shelves(this.catalogue)
    const planPrng = this.prng.fork('plan')
    const perStore = opts.tillsPerStore ?? TILLS_PER_STORE_DEFAULT
    const storeCount = Math.ceil(opts.tills / perStore)
    this.plan = {
      crashDay: planPrng.int(0, opts.days - 1),
      fireDay: planPrng.int(0, Math.max(0, opts.days - 2)),
      fireStore: planPrng.int(0, storeCount - 1),
      equivocationDay: planPrng.int(0, opts.days - 1),
      equivocationTill: null
    }
    this.mail = this.faults.has('fire') ? new SimMailbox() : null
    this.clash = this.faults.has('catalogueClash')
      ? { invented: [], listed: null, resolution: null, resolving: false, resolveFailures: [], heldResolutions: new Map(), sales: { inventedLines: 0, throughAlias: 0 }, awaitingMax: 0, sync: { pulls: 0, failed: 0 }, skipped: null }
      : null
    this.clashPlan = this.clash === null ? null : this.#planClash(storeCount, perStore)
    this.cards = this.faults.has('cardPayments') ? this.#newCards() : null
    this.members = new SimMembers(MEMBERS, this.prng.fork('members'))
  }

  /**
   * cardPayments: the processor (its answers back to the tills over the network, a share lost
   * after booking), the day it is down for a stretch, all drawn from their own streams.
   */
  #newCards (): CardState {
    const drop = this.prng.fork('psp-drop')
    const processor = new SimProcessor({
      scheduler: this.scheduler,
      send: (to, m) => { this.net.send(PSP_ADDRESS, to, m) },
      currency: CARD_CURRENCY,
      feeBp: CARD_FEE_BP,
      dropAnswer: () => drop.chance(ANSWER_DROP_RATE)
    })
    return {
      plan: planCards(this.prng.fork('cardPayments'), this.opts.days, i => this.#dayStartMs(i)),
      processor,
      tills: [],
      saleDays: new Map(),
      storedAtSale: new Set(),
      counts: { cardSales: 0, approved: 0, stored: 0, declinedSales: 0, cardRefunds: 0, refundsNotMade: 0, forwardCycles: 0, forwardErrors: 0, forwarded: 0, lateDeclines: 0, expired: 0, resolved: 0 },
      outage: null,
      lossesContradicted: []
    }
  }

  /**
   * Two stores (never the one that burns: its unsynced product would burn with it), cut off
   * from each other and from HQ from early on the day they make the product up until one to
   * two days later; each makes it up mid-morning, with its own price, tax and cost.
   */
  #planClash (storeCount: number, perStore: number): ClashPlan | null {
    const p = this.prng.fork('catalogueClash')
    const eligible = Array.from({ length: storeCount }, (_, i) => i).filter(i => !(this.faults.has('fire') && storeCount >= 2 && i === this.plan.fireStore))
    if (eligible.length < 2) {
      (this.clash as ClashState).skipped = `${storeCount} store(s), ${eligible.length} that may clash: two are needed`
      return null
    }
    const stores = p.sample(eligible, 2).sort((a, b) => a - b)
    const inventDay = p.int(0, Math.max(0, this.opts.days - 4))
    const dayStart = this.#dayStartMs(inventDay)
    const fenceFromMs = dayStart + p.int(0, 5 * 60) * 60_000
    const healAtMs = this.#dayStartMs(inventDay + p.int(1, 2)) + p.int(8 * 60, 20 * 60) * 60_000
    const gtin = gtin13(p)
    // Different prices at the two stores: a sale through the alias is priced as the canonical product, not as itself.
    const first = p.int(500, 4_000)
    const prices = [first, first + p.int(1, 300) * (p.chance(0.5) ? 1 : -1)]
    const products = stores.map((store, k) => {
      const tills = Math.min(perStore, this.opts.tills - store * perStore)
      const priceCents = prices[k] as number
      return {
        store,
        tillNo: p.int(1, tills),
        atMs: dayStart + p.int(9 * 60, 11 * 60 + 59) * 60_000,
        name: INVENTED_NAMES[k] as string,
        priceCents,
        taxRateBp: p.pick(INVENTED_TAX_RATES_BP),
        costCents: p.int(100, Math.floor(priceCents / 2))
      }
    })
    return { gtin, inventDay, fenceFromMs, healAtMs, products }
  }

  #hqStore (): MemoryStore {
    // An fsync takes a few virtual ms once the clock runs, so a crash can catch one in flight.
    return new MemoryStore({ syncDelay: async () => { if (this.running) await this.scheduler.sleep(3) } })
  }

  #clockFor (skewMs: number): Clock {
    return { nowMs: () => this.scheduler.nowMs + skewMs }
  }

  #day (i: number): BusinessDay {
    let d = this.firstDay
    for (let k = 0; k < i; k++) d = nextBusinessDay(d)
    return d
  }

  #dayStartMs (i: number): number {
    return Date.parse(`${this.firstDay}T00:00:00Z`) + i * DAY_MS
  }

  /**
   * HQ (re)starts as the daemon does: the catalogue loaded from HQ's store first (the books
   * cost each record with the cost in force on its day, rebuild included), then the books
   * from the log; the catalogue's changes fold what waited for them; a new DocSync serves
   * the catalogue, writable (each change screened by the document).
   */
  async #startHq (): Promise<void> {
    this.hqIncarnation++
    const hqKv = this.disk?.hq ?? this.hqKv
    await hqKv.open()
    const catalogue = new HqCatalogue({ store: hqKv, root: this.root, actorId: actorOf(this.prng.fork(`hq-catalogue:${this.hqIncarnation}`)) })
    await catalogue.load()
    this.hqCatalogue = catalogue
    this.catalogues.push(catalogue)
    const hq = new HqNode({ store: hqKv, clock: this.#clockFor(0), logger: silentLogger }, { root: this.root, costCents: (sku, day) => catalogue.costForBooks(sku, day), rebuildVerify: true })
    this.hq = hq
    await hq.start()
    await this.members.start({ store: hqKv, root: this.root, clock: this.#clockFor(0), hq })
    catalogue.onChange(() => { hq.catalogueChanged() })
    this.hqUp = true
    const incarnation = this.hqIncarnation
    const sync: SimSync = new SimSync({ scheduler: this.scheduler, send: (to, m) => { this.net.send('hq', to, m) } }, { answer: async (from, doc, msg) => await docSync.answer(from, doc, msg) })
    const docSync: DocSync = new DocSync({
      peer: sync,
      store: hqKv,
      logger: silentLogger,
      clock: this.#clockFor(0),
      docs: {
        served: id => id === CATALOGUE_DOC ? { log: catalogue.doc, own: false, writable: true } : undefined,
        replicaFor: () => undefined,
        changed: async id => { if (id === CATALOGUE_DOC) await catalogue.changed() }
      }
    })
    this.hqSync = sync
    this.docSyncs.push(docSync)
    this.simSyncs.push(sync)
    this.net.attach('hq', (from, msg) => {
      if (isSyncMsg(msg)) { sync.receive(from, msg); return }
      if (msg.t !== 'submit') return
      void this.hq.submit(msg.entries).then(answers => {
        if (incarnation !== this.hqIncarnation || !this.hqUp) return // the answer died with the process
        this.#countAnswers(answers)
        if (this.clash !== null) this.clash.awaitingMax = Math.max(this.clash.awaitingMax, this.hq.awaitingCatalogue)
        this.net.send('hq', from, { t: 'acks', answers })
      }, () => { /* HQ crashed mid-fsync: no answer is sent */ })
    })
  }

  #countAnswers (answers: SubmitOutcome[]): void {
    for (const a of answers) {
      if (a.status === 'accepted') {
        this.totals.accepted++
        if (a.hash !== undefined) this.ackedAccepted.add(a.hash)
        if (a.hash !== undefined && a.folded === false && a.tillId !== undefined) this.ackedAwaiting.set(a.hash, a.tillId)
      }
      else if (a.status === 'duplicate') this.totals.duplicates++
      else if (a.code === 'FORK') this.totals.forks++
      else this.totals.forged++
    }
  }

  #tillSigner (tillId: TillId, generation: number): Signer {
    return new Signer(keyPairFromSeed(this.prng.fork(`key:${tillId}:${generation}`).bytes(32)))
  }

  /** A till enrolled at HQ from `fromSeq`: its certificate, and the till itself. */
  async #enrolledTill (store: StoreSim, tillNo: number, generation: number, fromSeq: number): Promise<TillSim> {
    if (this.clash === null) {
      // The till first, then its certificate: the order every run without the catalogue replays.
      const t = await this.#newTill(store, tillNo, generation, null)
      t.certs = [...t.certs, await this.hq.enrol({ store: store.id, till: tillNo, tillKey: t.signer.publicKey, fromSeq })]
      return t
    }
    // A till's catalogue signs its store's statements with its certificate: enrolled first.
    const signer = this.#tillSigner(tillIdOf(store.id, tillNo), generation)
    const cert = await this.hq.enrol({ store: store.id, till: tillNo, tillKey: signer.publicKey, fromSeq })
    const t = await this.#newTill(store, tillNo, generation, cert)
    t.certs = [...t.certs, cert]
    return t
  }

  /** A till process: with a replica of the catalogue when `cert` is given (catalogueClash runs), else selling the built-in catalogue. */
  async #newTill (store: StoreSim, tillNo: number, generation: number, cert: Uint8Array | null): Promise<TillSim> {
    const tillId = tillIdOf(store.id, tillNo)
    const signer = this.#tillSigner(tillId, generation)
    const kv = new MemoryStore()
    const skewMs = this.faults.has('skew') && this.prng.chance(0.3) ? this.prng.int(-36 * HOUR_MS, 36 * HOUR_MS) : 0
    let catalogueKv: MemoryStore | null = null
    let catalogue: TillCatalogue | null = null
    if (cert !== null) {
      // Its own disk, as the daemon's replicas/ LevelDB: it burns with the till.
      catalogueKv = new MemoryStore()
      await catalogueKv.open()
      catalogue = await TillCatalogue.open({
        store: catalogueKv, hqRootKey: this.root.publicKey, storeId: store.id, till: tillNo, signer, certificate: cert, logger: silentLogger,
        actorId: actorOf(this.prng.fork(`catalogue:${tillId}:${generation}`))
      })
      this.catalogues.push(catalogue)
    }
    // Card payments: the production TillPayments on the till's own disk, its clock the till's, its processor across the simulated WAN.
    let payments: TillPayments | null = null
    let psp: SimProcessorAdapter | null = null
    if (this.cards !== null) {
      await kv.open()
      psp = new SimProcessorAdapter({ scheduler: this.scheduler, send: m => { this.net.send(tillId, PSP_ADDRESS, m) }, prefix: `${tillId}/${generation}` })
      payments = await TillPayments.open({ store: kv, tillId, signer, adapter: psp, profile: PROFILES.default as (typeof PROFILES)[string], currency: CARD_CURRENCY, clock: this.#clockFor(skewMs), logger: silentLogger })
    }
    const node = new TillNode({ store: this.disk?.tillStore(tillId, kv, this.prng) ?? kv, clock: this.#clockFor(skewMs), logger: silentLogger }, {
      store: store.id,
      till: tillNo,
      signer,
      catalogue: catalogue ?? this.catalogue,
      hqRootKey: this.root.publicKey,
      ...(payments !== null ? { payments } : {}),
      rights: this.members.rightsFor(signer, () => this.hqUp && !this.net.isCut(tillId, 'hq'), () => this.plan.equivocationTill !== null && this.hq.till(this.plan.equivocationTill as TillId)?.forked === true),
      returnWindowDays: SIM_RETURN_WINDOW_DAYS
    })
    await node.start()
    const prev = this.tills.get(tillId)
    const t = {
      tillId, store: store.id, tillNo, generation, signer, certs: prev?.certs ?? [], kv, node, skewMs, burnt: false, retryArmed: false, retryMs: RETRY_MS_MIN, twin: null, docNs: prev?.docNs ?? [], delivery: null,
      catalogue, catalogueKv, cataloguePulls: new Map(), catalogueRead: { invented: [], resolutions: [] }, payments, psp, forwarding: false
    } as Omit<TillSim, 'sync' | 'docSync'> as TillSim
    if (this.cards !== null && payments !== null) this.cards.tills.push({ t, generation, payments })
    // A new process: a new DocSync, with no live sessions.
    t.sync = new SimSync({ scheduler: this.scheduler, send: (to, m) => { this.net.send(tillId, to, m) } }, { answer: async (from, doc, msg) => await t.docSync.answer(from, doc, msg) })
    t.docSync = new DocSync({
      peer: t.sync,
      store: kv,
      logger: silentLogger,
      clock: this.#clockFor(0),
      docs: {
        // Its own log, read-only; the catalogue, which every store and HQ write, each change screened by the document.
        served: id => id === tillId ? { log: this.#servedLog(t), own: true } : id === CATALOGUE_DOC && t.catalogue !== null ? { log: t.catalogue.doc, own: false, writable: true } : undefined,
        replicaFor: () => undefined,
        changed: async id => {
          if (id !== CATALOGUE_DOC || t.catalogue === null) return
          await t.catalogue.changed()
          this.#readCatalogue(t)
        }
      }
    })
    this.docSyncs.push(t.docSync)
    this.simSyncs.push(t.sync)
    this.tills.set(tillId, t)
    this.net.attach(tillId, (from, msg) => { void this.#tillReceive(t, from, msg) })
    this.#armHeads(t)
    if (t.catalogue !== null) this.#armCatalogueSync(t)
    if (t.payments !== null) this.#armForward(t)
    return t
  }

  /**
   * The till's payments cycle (the daemon's sync loop calls `forward()` each round, whatever
   * HQ's link): stored payments forwarded, unknown outcomes resolved, overdue ones expired.
   */
  #armForward (t: TillSim): void {
    const cards = this.cards as CardState
    const gen = t.generation
    const tick = (): void => {
      if (t.burnt || t.generation !== gen || this.tills.get(t.tillId) !== t || t.payments === null) return
      this.scheduler.after(FORWARD_EVERY_MS, tick)
      if (t.forwarding) return
      t.forwarding = true
      cards.counts.forwardCycles++
      void t.payments.forward().then(r => {
        cards.counts.forwarded += r.forwarded
        cards.counts.lateDeclines += r.lateDeclines
        cards.counts.expired += r.expired
        cards.counts.resolved += r.resolved
      }, () => { cards.counts.forwardErrors++ }).finally(() => { t.forwarding = false })
    }
    this.scheduler.after(this.prng.fork(`forward:${t.tillId}:${gen}`).int(1, FORWARD_EVERY_MS), tick)
  }

  /**
   * Sync the catalogue with the node at `peer` (HQ, a till): one pull, which takes their
   * changes in and, the document being writable at both ends, gives them ours. One at a
   * time with each peer; a failure (a cut link, a peer down) waits for the next cycle.
   */
  async #syncCatalogue (t: TillSim, peer: string): Promise<void> {
    const under = t.cataloguePulls.get(peer)
    if (under !== undefined) return await under
    const clash = this.clash as ClashState
    clash.sync.pulls++
    const run = t.docSync.pull(peer, peer, CATALOGUE_DOC).then(() => {}, () => { clash.sync.failed++ }).finally(() => { t.cataloguePulls.delete(peer) })
    t.cataloguePulls.set(peer, run)
    await run
  }

  /**
   * Whom a till syncs the catalogue with each cycle, besides HQ: the other tills of its store
   * (its LAN), and the till in the same slot at each of its neighbour stores (the daemon's
   * configured neighbours). Burnt tills are skipped: their address may be a forger's.
   */
  #cataloguePeers (t: TillSim): TillSim[] {
    const own = this.#store(t.store)
    const peers = own.tills.filter(x => x.tillId !== t.tillId)
    for (const id of own.neighbours) {
      const n = this.#store(id).tills
      const x = n.find(y => y.tillNo === t.tillNo) ?? n[0]
      if (x !== undefined) peers.push(x)
    }
    return peers.filter(x => !x.burnt && x.catalogue !== null && this.tills.get(x.tillId) === x)
  }

  /** The catalogue sync cycle, while the till lives: HQ, then its peers. */
  #armCatalogueSync (t: TillSim): void {
    const tick = (): void => {
      if (t.burnt || this.tills.get(t.tillId) !== t) return
      void this.#syncCatalogue(t, 'hq')
      for (const peer of this.#cataloguePeers(t)) void this.#syncCatalogue(t, peer.tillId)
      this.scheduler.after(CATALOGUE_SYNC_EVERY_MS, tick)
    }
    // Staggered, so that the fleet does not sync all at one virtual instant.
    this.scheduler.after(this.prng.fork(`catalogue-sync:${t.tillId}:${t.generation}`).int(1, CATALOGUE_SYNC_EVERY_MS), tick)
  }

  async #tillReceive (t: TillSim, from: string, msg: Msg): Promise<void> {
    if (t.burnt) return
    if (msg.t === 'pspAnswer') {
      t.psp?.receive(msg)
    } else if (msg.t === 'acks') {
      await t.node.acknowledge(msg.answers.filter(a => a.seq !== undefined && a.tillId === t.tillId).map(a => ({ seq: a.seq as number, status: a.status, ...(a.reason !== undefined ? { reason: a.reason } : {}) })))
    } else if (isSyncMsg(msg)) {
      t.sync.receive(from, msg)
    }
  }

  /** What a till serves of its own log: the log itself, or a compromised till's twin document kept up with it. */
  #servedLog (t: TillSim): TillLog {
    if (t.twin === null) return t.node.logDoc
    t.twin.merge(t.node.logDoc)
    return t.twin
  }

  /** Send the outbox to HQ and announce the new head to the neighbours, who pull it by sync. */
  #flush (t: TillSim): void {
    this.#flushHq(t)
    void this.#tellFlaggedReturns(t)
    const head = t.node.head
    if (head !== undefined) this.#announce(t, head.record.seq, head.hash)
  }

  /** HQ is across the WAN: resend with exponential backoff. */
  #flushHq (t: TillSim): void {
    if (t.burnt) return
    // As the daemon: the catalogue first, so that HQ learns of a product made up here before the Close that sold it.
    if (t.catalogue !== null) { void this.#syncCatalogue(t, 'hq').then(() => { this.#submit(t) }); return }
    this.#submit(t)
  }

  #submit (t: TillSim): void {
    if (t.burnt) return
    const outbox = t.node.outboxChanges().map(c => c.bytes)
    if (outbox.length === 0) { t.retryMs = RETRY_MS_MIN; return }
    this.net.send(t.tillId, 'hq', { t: 'submit', entries: outbox })
    if (t.retryArmed) return
    t.retryArmed = true
    const gen = t.generation
    this.scheduler.after(t.retryMs, () => {
      if (t.generation !== gen) return
      t.retryArmed = false
      t.retryMs = Math.min(RETRY_MS_MAX, t.retryMs * 2)
      this.#flushHq(t)
    })
  }

  /** The stores that keep replicas of `store`'s tills: its ring, the gossip topic its tills announce on. */
  #ring (store: StoreId): StoreSim[] {
    return this.stores.filter(s => s.neighbours.includes(store))
  }

  /** Gossip: the till's signed announcement of (seq, hash), with its HQ certificate, to every store of its ring. */
  #announce (t: TillSim, seq: number, hash: string): void {
    const cert = t.certs[t.certs.length - 1]
    if (t.burnt || cert === undefined) return
    const m = announce({ tillId: t.tillId, seq, hash, cert }, t.signer)
    for (const s of this.#ring(t.store)) {
      this.gossip.announced++
      this.net.send(t.tillId, s.id, m)
    }
  }

  /** The direct announcement, every HEADS_EVERY_MS while the till lives: whatever a store missed, it pulls now. */
  #armHeads (t: TillSim): void {
    const gen = t.generation
    const tick = (): void => {
      if (t.burnt || t.generation !== gen || this.tills.get(t.tillId) !== t) return
      const head = t.node.head
      if (head !== undefined) {
        const heads: Array<{ tillId: TillId, seq: number, hash: string }> = [{ tillId: t.tillId, seq: head.record.seq, hash: head.hash }]
        // A compromised till keeps pushing its twin too, until every neighbour holds it.
        if (t.twin !== null && this.twinOf?.tillId === t.tillId) heads.push({ tillId: t.tillId, seq: this.twinOf.seq, hash: this.twinOf.twin })
        for (const s of this.#ring(t.store)) {
          this.gossip.headsSent++
          this.net.send(t.tillId, s.id, { t: 'heads', heads })
        }
      }
      this.scheduler.after(HEADS_EVERY_MS, tick)
    }
    this.scheduler.after(HEADS_EVERY_MS, tick)
  }

  #store (id: StoreId): StoreSim {
    const s = this.stores.find(x => x.id === id)
    if (s === undefined) throw new Error(`no store ${id}`)
    return s
  }

  /**
   * A store's server (re)starts: empty replicas (ReplicaDocs over its disk), a new DocSync
   * that pulls them from the tills that announce, and serves them read-only.
   */
  async #startStoreServer (store: StoreSim): Promise<void> {
    store.incarnation++
    const self = keyPairFromSeed(this.prng.fork(`store-key:${store.id}:${store.incarnation}`).bytes(32)).publicKey
    const replicas = new ReplicaDocs(new MemoryStore(), self)
    await replicas.open()
    const sync: SimSync = new SimSync({ scheduler: this.scheduler, send: (to, m) => { this.net.send(store.id, to, m) } }, { answer: async (from, doc, msg) => await docSync.answer(from, doc, msg) })
    const docSync: DocSync = new DocSync({
      peer: sync,
      store: replicas.store,
      logger: silentLogger,
      clock: this.#clockFor(0),
      // As the daemon persists its sessions with its neighbours: every peer a store pulls from is one.
      persistFor: () => true,
      docs: {
        served: id => { const d = replicas.doc(id as TillId); return d === undefined ? undefined : { log: d, own: false } },
        replicaFor: id => replicas.replicaFor(id as TillId),
        changed: async id => { await replicas.changed(id as TillId) }
      }
    })
    store.replicas = replicas
    store.certificates = new VerifiedCertificates(this.root.publicKey)
    store.sync = sync
    store.docSync = docSync
    store.pulling = new Set()
    store.up = true
    this.docSyncs.push(docSync)
    this.simSyncs.push(sync)
    this.net.attach(store.id, (from, msg) => { this.#storeReceive(store, from, msg) })
  }

  /** A store's server burns: its replicas and its sync sessions are gone with it. */
  #burnStoreServer (store: StoreSim): void {
    store.up = false
    store.sync.stop()
    this.net.attach(store.id, undefined)
  }

  /** A till of a neighbour store: who a store pulls from on a direct announcement (the daemon's configured neighbours). */
  #configured (store: StoreSim, from: string): boolean {
    const t = this.tills.get(from as TillId)
    return t !== undefined && store.neighbours.includes(t.store)
  }

  /**
   * A store server hears its ring, as the daemon does: a gossip announcement judged by the
   * production validator and, if accepted, a pull from its publisher; a direct announcement
   * from a configured neighbour pulled unless its very entry is held; sync messages to DocSync.
   */
  #storeReceive (store: StoreSim, from: string, msg: Msg): void {
    if (!store.up) return
    if (isSyncMsg(msg)) { store.sync.receive(from, msg); return }
    const replicas = store.replicas
    if (msg.t === 'announce') {
      const v = judgeGossip(msg, { hqRootKey: this.root.publicKey, certificates: store.certificates, holds: (id, seq, hash) => replicas.holds(id as TillId, seq, hash) })
      const counts = this.forgedAnnouncements.has(msg) ? this.forgedGossip : this.gossip
      if (v.result === TopicValidatorResult.Accept) counts.accepted++
      else if (v.result === TopicValidatorResult.Ignore) counts.ignored++
      else counts.rejected++
      if (v.result !== TopicValidatorResult.Accept || v.announcement === undefined) return
      const id = v.announcement.tillId as TillId
      if (!this.#configured(store, from) && !replicas.has(id)) return
      const a = v.announcement
      this.#pull(store, from, id, () => replicas.holds(id, a.seq, a.hash))
    } else if (msg.t === 'heads') {
      if (!this.#configured(store, from)) return
      // Pulled unless this very entry is held: a forged or forked entry at the seq must not stop the genuine one.
      for (const h of msg.heads) if (!replicas.holds(h.tillId, h.seq, h.hash)) this.#pull(store, from, h.tillId, () => replicas.holds(h.tillId, h.seq, h.hash))
    }
  }

  /**
   * One pull per (till address, document) at a time: an announcement heard while one runs is
   * dropped, not queued behind it (the pull under way, or the next announcement, brings it).
   */
  #pull (store: StoreSim, from: string, id: TillId, until: () => boolean): void {
    const { docSync, pulling } = store
    const key = `${from}!${id}`
    if (pulling.has(key)) return
    pulling.add(key)
    this.gossip.pulls++
    if (this.tills.get(from as TillId) === undefined) this.forgedGossip.pullsFromAttacker++
    void docSync.pull(from, from, id, { until }).then(() => {
      pulling.delete(key)
      this.lastPullFailure.delete(`${id}@${store.id}`)
    }, (err: Error) => {
      this.gossip.pullsFailed++
      this.lastPullFailure.set(`${id}@${store.id}`, err.message)
      pulling.delete(key)
    })
  }

  async #setup (): Promise<void> {
    const perStore = this.opts.tillsPerStore ?? TILLS_PER_STORE_DEFAULT
    const storeCount = Math.ceil(this.opts.tills / perStore)
    const k = Math.min(this.opts.neighbours ?? 2, storeCount - 1)
    await this.#startHq()
    await this.hq.openingStock(this.opening, this.firstDay)
    if (this.faults.has('hqReplicas')) {
      this.replicas = new SimReplicas({
        scheduler: this.scheduler,
        root: this.root,
        clock: this.#clockFor(0),
        primary: () => ({ hq: this.hq, catalogue: this.hqCatalogue, kv: this.hqKv, up: this.hqUp }),
        actor: label => actorOf(this.prng.fork(label))
      })
      await this.replicas.start()
    }
    // The parser loads from disk once, now, rather than at a nondeterministic point of the run.
    if (this.mail !== null) await SimMailbox.preload()
    for (let s = 0; s < storeCount; s++) {
      const id = asStoreId(`S${String(s + 1).padStart(Math.max(3, String(storeCount).length), '0')}`)
      this.stores.push({ id, tills: [], neighbours: [], up: false, incarnation: 0 } as Omit<StoreSim, 'replicas' | 'certificates' | 'sync' | 'docSync' | 'pulling'> as StoreSim)
    }
    for (let s = 0; s < storeCount; s++) {
      const store = this.stores[s] as StoreSim
      for (let j = 1; j <= k; j++) store.neighbours.push((this.stores[(s + j) % storeCount] as StoreSim).id)
      await this.#startStoreServer(store)
    }
    let n = 0
    for (const store of this.stores) {
      for (let tillNo = 1; tillNo <= perStore && n < this.opts.tills; tillNo++, n++) {
        store.tills.push(await this.#enrolledTill(store, tillNo, 1, 1))
      }
    }
    if (this.faults.has('equivocation')) {
      const candidates = [...this.tills.values()].filter(t => !(this.faults.has('fire') && this.stores.length >= 2 && t.store === this.stores[this.plan.fireStore]?.id))
      if (candidates.length > 0) this.plan.equivocationTill = this.prng.fork('equivocator').pick(candidates).tillId
    }
  }

  #truth (t: TillSim, day: BusinessDay): TruthDay {
    const key = `${t.tillId}|${day}`
    let d = this.truth.get(key)
    if (d === undefined) {
      d = { store: t.store, tillId: t.tillId, businessDay: day, delivery: null, sales: [], cashCountedCents: null, closeCounts: true, stockInCounts: true }
      this.truth.set(key, d)
    }
    return d
  }

  #scheduleDay (i: number): void {
    const day = this.#day(i)
    const start = this.#dayStartMs(i)
    const p = this.prng.fork(`day:${i}`)
    // 06:00 HQ dispatches each till's replenishment, its shelf up to par; the signed order rides with the goods.
    this.scheduler.at(start + 6 * HOUR_MS, async () => {
      for (const t of this.tills.values()) {
        // Yesterday's goods still wait for it (it did not open): nothing more is sent after them.
        if (t.delivery !== null) continue
        const lines = replenishment(this.shelves.of(t.tillId), this.par, this.warehouse)
        if (lines.length === 0) continue
        const id = `R-${day}-${t.tillId}`
        const order = await this.hq.dispatchReplenishment({ id, store: t.store, businessDay: day, lines })
        this.dispatched.push({ lines })
        // Now and then a line arrives short (damaged, miscounted, taken): by up to a tenth of it, as shrinkage goes.
        const received = lines.map(l => ({ sku: l.sku, qty: p.chance(SHORT_LINE_CHANCE) ? l.qty - p.int(1, Math.ceil(l.qty * SHORT_LINE_SHARE_MAX)) : l.qty })).filter(l => l.qty > 0)
        t.delivery = { order, received, shipped: lines }
      }
    })
    for (const t of this.tills.values()) {
      const tp = p.fork(t.tillId)
      const openAt = start + 7 * HOUR_MS + tp.int(0, 30 * 60_000)
      const closeAt = start + 20 * HOUR_MS + tp.int(0, 30 * 60_000)
      this.scheduler.at(openAt, async () => { await this.#open(t.tillId, day) })
      const salesCount = tp.int(1, this.opts.salesPerDayMax ?? SALES_PER_DAY_MAX_DEFAULT)
      const times = Array.from({ length: salesCount }, () => tp.int(start + 8 * HOUR_MS, start + 19 * HOUR_MS + 30 * 60_000)).sort((a, b) => a - b)
      for (const at of times) {
        const sp = tp.fork(String(at))
        this.scheduler.at(at, async () => { await this.#sale(t.tillId, day, sp) })
      }
      this.scheduler.at(closeAt, async () => { await this.#close(t.tillId, day, tp.fork('close')) })
    }
    this.#scheduleFaults(i, day, start, p.fork('faults'))
  }

  async #open (tillId: TillId, day: BusinessDay): Promise<void> {
    const t = this.tills.get(tillId)
    if (t === undefined || t.burnt || t.node.state !== 'closed') return
    if (t.node.lastClosedDay !== null && t.node.lastClosedDay >= day) return
    const delivery = t.delivery
    t.delivery = null
    const entry = await t.node.openDay(day, delivery === null ? undefined : { order: delivery.order, received: delivery.received })
    this.#readCatalogue(t)
    if (entry !== null && delivery !== null) {
      const truth = this.#truth(t, day)
      truth.delivery = { shipped: delivery.shipped, received: delivery.received }
      this.shelves.receive(t.tillId, delivery.received)
      truth.stockInCounts = !this.#excluded(t.tillId, day, 'stockIn')
    }
    this.#flush(t)
  }

  /** After a till equivocates, HQ folds none of its entries from the fork on. */
  #excluded (tillId: string, day: BusinessDay, kind: 'stockIn' | 'close'): boolean {
    if (this.plan.equivocationTill !== tillId) return false
    const e = this.#day(this.plan.equivocationDay)
    return kind === 'close' ? day >= e : day > e
  }

  async #sale (tillId: TillId, day: BusinessDay, p: Prng): Promise<void> {
    const t = this.tills.get(tillId)
    if (t === undefined || t.burnt || t.node.state !== 'open' || t.node.businessDay !== day) return
    // Now and then a customer brings a receipt back instead (drawn from a stream of its own):
    // to the till that sold, another till of the store, or another store, now and then two at once.
    const back = p.fork('return')
    if (back.chance(RETURN_CHANCE) && this.returns.receipts.length > 0) {
      await this.#returnByReceipt(t, day, back)
      return
    }
    const refund = p.chance(0.03)
    const lines = p.sample(this.sellable, p.int(1, 3)).map(sku => ({ sku, qty: p.int(1, 3) }))
    // A member: mostly one of this till's regulars (who come back, and whose points it may hold), now and then anyone.
    const phone = !refund && p.chance(0.2) ? (p.fork('regular').chance(0.7) ? p.pick(this.#regulars(tillId)) : p.pick(MEMBERS)) : null
    const member = phone === null ? null : this.members.idOf(phone)
    // A product made up at a store, if this till's catalogue holds one (its own draws: the rest of the sale is as without it).
    const held = t.catalogue === null ? null : t.catalogueRead
    if (!refund && held !== null && held.invented.length > 0) {
      const ip = p.fork('invented')
      if (ip.chance(INVENTED_IN_SALE_CHANCE)) {
        const sku = ip.pick(held.invented)
        lines.push({ sku, qty: ip.int(1, 3) })
        const clash = this.clash as ClashState
        clash.sales.inventedLines++
        if (this.#soldAs(sku, day, held.resolutions) !== sku) clash.sales.throughAlias++
      }
    }
    const resolutions = held?.resolutions ?? []
    // A customer takes only what is on the shelf: a line at most what is left of it, none from an
    // empty one (drawn as before: the rest of the world is the same). A blind refund brings goods back.
    const taken = refund ? lines : this.shelves.take(tillId, lines)
    if (!refund) this.#stockouts.linesShort += lines.filter(l => !taken.some(x => x.sku === l.sku && x.qty === l.qty)).length
    if (taken.length === 0) { this.#stockouts.salesLost++; return }
    let rung = false
    try {
      rung = await this.#ringUp(t, day, p, { refund, lines: taken, member, resolutions })
    } finally {
      if (!rung && !refund) this.shelves.putBack(tillId, taken)
    }
  }

  /** A sale (or a blind refund) of what the customer took, rung up: whether it was (declined, or no refund made: not). */
  async #ringUp (t: TillSim, day: BusinessDay, p: Prng, sale: { refund: boolean, lines: SkuQty[], member: string | null, resolutions: string[] }): Promise<boolean> {
    const { refund, lines, member, resolutions } = sale
    const tillId = t.tillId
    // A sale the disk refuses first, of the catalogue's products (none left on the shelf, a store's own product alone: none).
    const stocked = lines.filter(l => this.sellable.includes(l.sku))
    if (!refund && this.disk !== null && stocked.length > 0) await this.disk.beforeSale(t, stocked, p.fork('disk'))
    let receipt: SaleReceipt | undefined
    let cardCents = 0
    let redeemPoints = 0
    let refundTender: 'cash' | 'card' = 'cash'
    if (refund) {
      // A large refund goes back to the card: the drawer holds only its float and the day's cash.
      const amount = this.#priceOf(lines, day, resolutions)
      const tender = amount <= t.node.status().drawerCashCents ? 'cash' : 'card'
      refundTender = tender
      if (tender === 'card' && t.payments !== null) {
        // With a processor a card refund goes back to a card payment of this till with enough left
        // on it (the first such); none, or the processor refusing or out of reach: no refund made.
        const cards = this.cards as CardState
        const original = refundableFor(t.payments, amount)
        if (original === null) { cards.counts.refundsNotMade++; return false }
        try {
          receipt = await t.node.refund({ lines, tender, paymentId: original })
        } catch (err) {
          if (!(err instanceof PaymentDeclinedError)) throw err
          cards.counts.refundsNotMade++
          return false
        }
        cards.counts.cardRefunds++
      } else {
        receipt = await t.node.refund({ lines, tender })
      }
    } else {
      const total = this.#priceOf(lines, day, resolutions)
      const mode = p.int(0, 99)
      // Drawn only for a cash sale, as before members paid with points (the same seed, the same world).
      const extraCash = mode >= 55 && mode < 90 && p.chance(0.5) ? p.int(1, 2_000) : 0
      // A member pays part with points now and then (drawn from a stream of its own).
      const mp = p.fork('points')
      redeemPoints = member !== null && mp.chance(REDEEM_CHANCE) ? mp.int(1, Math.max(1, Math.min(total, REDEEM_POINTS_MAX))) : 0
      const tendersFor = (due: number): TenderIn[] => mode < 55
        ? [{ type: 'card' as const, amountCents: due }]
        : mode < 90
          ? [{ type: 'cash' as const, amountCents: due + extraCash }]
          : [{ type: 'card' as const, amountCents: Math.floor(due / 2) || due }, ...(due - (Math.floor(due / 2) || due) > 0 ? [{ type: 'cash' as const, amountCents: due - Math.floor(due / 2) }] : [])]
      // Points this till holds for the member are offered first (what it redeems with its link cut).
      const before = redeemPoints > 0 ? await t.node.rightsOf(member as string) : 0
      if (before > 0) redeemPoints = Math.min(redeemPoints, before)
      let tenders = tendersFor(total - redeemPoints)
      if (redeemPoints > 0) {
        // Within the till's rights no round trip; beyond them HQ is asked, and out of reach or
        // refused the cashier sells without points (what the till's 409 tells them to do).
        const t0 = this.members.counts
        try {
          receipt = await t.node.sell({ lines, tenders: tenders.map(x => x.type === 'card' ? { type: 'cash' as const, amountCents: x.amountCents } : x), member: member as string, redeemPoints })
          t0.redemptions++
          t0.redeemedPoints += redeemPoints
          if (before >= redeemPoints) t0.withinRights++
          cardCents = 0
        } catch (err) {
          if (!(err instanceof RedemptionRefusedError)) throw err
          if (/HQ out of reach|no HQ/.test(err.message)) t0.refusedOffline++
          else t0.refusedByHq++
          redeemPoints = 0
          tenders = tendersFor(total)
        }
      }
      if (receipt === undefined) cardCents = tenders.filter(x => x.type === 'card').reduce((s, x) => s + x.amountCents, 0)
      const cards = this.cards
      if (receipt !== undefined) {
        // Paid with points (the rest in cash): made above.
      } else if (cards === null || cardCents === 0) {
        receipt = await t.node.sell({ lines, tenders, ...(member !== null ? { member } : {}) })
      } else {
        // The card is drawn from a stream of its own: the rest of the sale is as without cards.
        const card = drawCard(p.fork('card'))
        cards.counts.cardSales++
        try {
          receipt = await t.node.sell({ lines, tenders: tenders.map(x => x.type === 'card' ? { type: card.type, amountCents: x.amountCents, card: { token: card.token } } : x), ...(member !== null ? { member } : {}) })
        } catch (err) {
          // Declined (by the card, or refused offline beyond the profile): no sale, nothing in the books.
          if (!(err instanceof PaymentDeclinedError)) throw err
          cards.counts.declinedSales++
          return false
        }
        for (const x of receipt.payments ?? []) {
          cards.saleDays.set(x.paymentId, day)
          if (x.status === 'approved') cards.counts.approved++
          else if (x.status === 'stored') { cards.counts.stored++; cards.storedAtSale.add(x.paymentId) }
        }
      }
    }
    if (receipt === undefined) throw new Error('a sale without its receipt')
    if (!refund && member === null && cardCents === 0) this.returns.receipts.push({ docNo: receipt.docNo, tillId, store: t.store, day, lines: lines.map(l => ({ ...l })), resolutions, totalCents: receipt.totalCents })
    // Now and then a member's points are escrowed at this till ahead (they will spend them here):
    // what it can later redeem with its link to HQ cut.
    const rp = p.fork('reserve')
    if (member !== null && rp.chance(RESERVE_CHANCE)) {
      try {
        await t.node.reserveRights(member, rp.int(10, 60))
        this.members.counts.reserved++
      } catch (err) {
        if (!(err instanceof RedemptionRefusedError)) throw err
      }
    } else if (member !== null && rp.chance(0.2) && await t.node.rightsOf(member) > 0) {
      // Or what the till holds of them goes back (told to HQ at once if it is reachable, else in the Close).
      await t.node.returnRights(member)
      this.members.counts.givenBack++
    }
    this.totals.sales++
    t.docNs.push(Number(receipt.docNo.slice(receipt.docNo.lastIndexOf('-') + 1)))
    // Points earned on what was paid in money, by the simulator's own price list.
    const earnedPoints = member === null || refund ? 0 : Math.floor(Math.max(0, this.#priceOf(lines, day, resolutions) - redeemPoints * POINT_VALUE_CENTS) / 100)
    this.#truth(t, day).sales.push({
      kind: refund ? 'refund' : 'sale', lines, cardCents, member, ...(refund ? { refundTender } : {}), ...(resolutions.length > 0 ? { resolutionsHeld: resolutions } : {}),
      ...(redeemPoints > 0 ? { redeemedPoints: redeemPoints } : {}), ...(earnedPoints > 0 ? { earnedPoints } : {})
    })
    if (refund) this.shelves.putBack(tillId, lines)
    return true
  }

  /**
   * A customer brings back lines of a receipt: at the till that sold (refunded at most once,
   * offline), at another till (which asks the selling till, if it reaches it, or refunds within
   * its allowance against the receipt's lines, flagged), now and then at two stores at once.
   */
  async #returnByReceipt (t: TillSim, day: BusinessDay, p: Prng): Promise<void> {
    const r = p.pick(this.returns.receipts)
    const line = p.pick(r.lines)
    const lines = [{ sku: line.sku, qty: p.int(1, line.qty + 1) }] // now and then more than was sold
    const tills = [t]
    if (p.chance(0.3)) {
      // The same return at a till of another store, at the same moment.
      const others = [...this.tills.values()].filter(x => x.store !== t.store && !x.burnt && x.node.state === 'open' && x.node.businessDay === day)
      if (others.length > 0) tills.push(p.pick(others))
    }
    await Promise.all(tills.map(async x => { await this.#returnAt(x, day, r, lines) }))
  }

  async #returnAt (t: TillSim, day: BusinessDay, r: SimReceipt, lines: SkuQty[]): Promise<void> {
    const counts = this.returns.counts
    counts.attempts++
    const issuer = this.tills.get(r.tillId as TillId)
    let receipt: SaleReceipt
    try {
      if (r.tillId === t.tillId) {
        receipt = await t.node.refund({ lines, tender: 'cash', receiptOf: r.docNo })
      } else {
        receipt = await t.node.refund({
          lines,
          tender: 'cash',
          elsewhere: {
            docNo: r.docNo, tillId: r.tillId, businessDay: r.day, moneyCents: r.totalCents, soldLines: r.lines, cose: new Uint8Array(0),
            ask: async refund => {
              if (issuer === undefined || !this.#reaches(t, issuer)) return 'unreachable'
              try {
                await issuer.node.approveReturn({ refund, docNo: r.docNo, lines, made: false })
              } catch (err) {
                if (err instanceof SaleRejectedError) throw new ReturnRefusedError(`till ${r.tillId}, which sold it, refused: ${err.message}`)
                throw err
              }
              return 'consented'
            }
          }
        })
      }
    } catch (err) {
      if (!(err instanceof SaleRejectedError || err instanceof ReturnRefusedError || err instanceof TillStateError)) throw err
      counts.refused++
      return
    }
    const [doc] = await t.node.journal(Number(receipt.docNo.slice(receipt.docNo.lastIndexOf('-') + 1)), Number(receipt.docNo.slice(receipt.docNo.lastIndexOf('-') + 1)))
    const flagged = doc?.elsewhere === 'flagged'
    if (flagged) counts.flagged++
    else if (r.tillId === t.tillId) counts.atIssuer++
    else counts.consented++
    this.totals.sales++
    t.docNs.push(Number(receipt.docNo.slice(receipt.docNo.lastIndexOf('-') + 1)))
    this.#truth(t, day).sales.push({ kind: 'refund', lines, cardCents: 0, member: null, refundTender: 'cash', priceDay: r.day, receipt: r.docNo, flagged, doc: receipt.docNo, ...(r.resolutions.length > 0 ? { resolutionsHeld: r.resolutions } : {}) })
    this.shelves.putBack(t.tillId, lines)
  }

  /** Whether a till reaches another over the network: of its own store (the LAN), or of a neighbour store with neither link cut. */
  #reaches (from: TillSim, to: TillSim): boolean {
    if (to.burnt) return false
    if (from.store === to.store) return true
    if (!this.#ring(from.store).some(s => s.id === to.store)) return false
    return !this.net.isCut(from.tillId, to.store) && !this.net.isCut(to.tillId, from.store)
  }

  /** Returns made at `t` without consent, told to their tills once reachable (as the daemon's sync does). */
  async #tellFlaggedReturns (t: TillSim): Promise<void> {
    if (t.burnt) return
    for (const f of await t.node.flaggedReturns()) {
      const issuer = this.tills.get(f.tillId as TillId)
      if (issuer === undefined || !this.#reaches(t, issuer)) continue
      try {
        await issuer.node.approveReturn({ refund: f.refund, docNo: f.docNo, lines: f.lines, made: true })
        await t.node.returnTold(f.refund)
        this.returns.counts.told++
      } catch (err) {
        // The selling till lost the sale's journal (a fire): nothing to tell it against.
        if (!(err instanceof SaleRejectedError)) throw err
        this.returns.counts.untellable++
        await t.node.returnTold(f.refund)
      }
    }
  }

  /** A till's regular members: a few of MEMBERS, by the till's place in the fleet. */
  #regulars (tillId: TillId): string[] {
    const ids = [...this.tills.keys()].sort()
    const k = Math.max(0, ids.indexOf(tillId))
    const mine = MEMBERS.filter((_, i) => i % ids.length === k % MEMBERS.length)
    return mine.length > 0 ? mine : [...MEMBERS]
  }

  /** What the till will charge, by the simulator's own price list: the catalogue's, the stores' products, a resolved sku as its canonical one. */
  #priceOf (lines: SkuQty[], day: BusinessDay, resolutions: readonly string[]): number {
    let total = 0
    for (const l of lines) {
      const sku = this.#soldAs(l.sku, day, resolutions)
      const made = this.clash?.invented.find(x => x.sku === sku)
      total += l.qty * (made !== undefined ? made.priceCents : this.catalogue.get(sku).priceCents)
    }
    return total
  }

  /** The sku a line rung up as `sku` is sold as: the canonical product, if the till holds a `same` resolution in force on `day`. */
  #soldAs (sku: string, day: BusinessDay, resolutions: readonly string[]): string {
    for (const id of resolutions) {
      const r = this.clash?.heldResolutions.get(id)
      if (r === undefined || r.from > day || r.canonical === undefined || r.canonical === sku) continue
      if (this.clash?.invented.some(x => x.sku === sku) === true) return r.canonical
    }
    return sku
  }

  /**
   * The till reads its catalogue for its business day (TillCatalogue.on: what its sales are
   * priced by from now until its next read), and the simulator notes which store-made
   * products (`invent` statements) and `same` resolutions the document held: read from its
   * statements, not from a fold (what a line sells as is the simulator's own reckoning).
   */
  #readCatalogue (t: TillSim): void {
    const clash = this.clash
    if (clash === null || t.catalogue === null || t.burnt) return
    const day = t.node.state === 'open' ? t.node.businessDay : null
    if (day !== null) t.catalogue.on(day)
    const invented: string[] = []
    const resolutions: string[] = []
    for (const s of t.catalogue.doc.statements()) {
      if (s.type === 'invent' && clash.invented.some(x => x.statement === s.id)) invented.push(s.sku)
      else if (s.type === 'resolve' && s.decision === 'same') {
        resolutions.push(s.id)
        if (!clash.heldResolutions.has(s.id)) clash.heldResolutions.set(s.id, { from: s.from, canonical: s.canonical, conflict: s.conflict })
      }
    }
    t.catalogueRead = { invented: invented.sort(), resolutions: resolutions.sort() }
  }

  async #close (tillId: TillId, day: BusinessDay, p: Prng): Promise<void> {
    const t = this.tills.get(tillId)
    if (t === undefined || t.burnt || t.node.state !== 'open' || t.node.businessDay !== day) return
    const docs = await t.node.journal(t.node.status().nextDocNo === undefined ? 1 : 1, t.node.nextDocN - 1)
    let expectedCash = 0
    for (const d of docs) if (d.businessDay === day) expectedCash += d.tenders.cash
    const miscount = p.chance(0.08) ? p.int(-500, 500) : 0
    const cashCountedCents = expectedCash + miscount
    if (this.disk !== null) await this.disk.beforeClose(t, day, p.fork('disk'))
    const entry = await t.node.closeDay({ cashCountedCents })
    const truth = this.#truth(t, day)
    truth.cashCountedCents = cashCountedCents
    truth.closeCounts = !this.#excluded(t.tillId, day, 'close')
    this.#cardLosses(truth, entry.record)
    if (this.plan.equivocationTill === t.tillId && this.#day(this.plan.equivocationDay) === day) this.#equivocate(t, entry)
    // The close's backup is emailed (dated by the till's own, possibly skewed, clock); it never waits on anything.
    this.mail?.backup(t.node, t.certs, this.scheduler.nowMs + t.skewMs)
    this.#flush(t)
  }

  /** The till signs a second, different Close for the same seq (skimming cash) and sends it. */
  #equivocate (t: TillSim, entry: Entry): void {
    const r = entry.record as Close
    const skim = 1_000
    const tax = r.tax.map((l, i) => i === 0 ? { ...l, netCents: l.netCents - skim } : l)
    if (tax.length === 0) tax.push({ rateBp: 0, netCents: -skim, taxCents: 0 })
    const twin = signEntry({ ...r, tax, takingsCents: { ...r.takingsCents, cash: r.takingsCents.cash - skim }, cashCountedCents: Math.max(0, r.cashCountedCents - skim) }, t.signer)
    this.details.equivocation = { tillId: t.tillId, seq: r.seq, day: r.businessDay }
    this.twinOf = { tillId: t.tillId, seq: r.seq, genuine: entry.hash, twin: twin.hash }
    // The compromised till shows its neighbours the twin through the protocol: it serves it
    // beside its log and announces it, signed with its own enrolled key (so the validator
    // accepts it); their replicas take both closes in, as evidence of the fork.
    t.twin = TillLog.create(t.tillId, { actorId: actorIdFor(t.tillId, 'twin') })
    t.twin.ingest(twin)
    this.#announce(t, r.seq, twin.hash)
    // The compromised till pushes its twin until HQ has answered for it.
    const push = (): void => {
      if (!this.hqUp) { this.scheduler.after(HOUR_MS, push); return }
      void this.hq.submit([twin.bytes]).then(answers => { this.#countAnswers(answers) }, () => { this.scheduler.after(HOUR_MS, push) })
    }
    push()
  }

  #scheduleFaults (i: number, day: BusinessDay, start: number, p: Prng): void {
    if (this.faults.has('partition')) {
      for (const store of this.stores) {
        if (!p.chance(0.1)) continue
        const from = start + p.int(0, 23) * HOUR_MS
        const until = from + p.int(2, 60) * HOUR_MS
        for (const t of store.tills) this.net.cut(t.tillId, 'hq', until)
        // Half the time the store's uplink is down, not just HQ's side: its neighbours are cut off too.
        const lan = p.chance(0.5)
        this.scheduler.at(from, () => {
          for (const t of store.tills) {
            this.net.cut(t.tillId, 'hq', until)
            if (lan) for (const n of this.#ring(store.id)) this.net.cut(t.tillId, n.id, until)
            // The uplink down: the card processor out of reach too (the tills store and forward).
            if (lan && this.cards !== null) this.net.cut(t.tillId, PSP_ADDRESS, until)
          }
        })
      }
    }
    if (this.replicas !== null) {
      const replicas = this.replicas
      const rp = this.prng.fork(`replicas:${i}`)
      // Replica B loses power in the middle of this day's close wave (the crash day's, as HQ's own);
      // replica C is cut off from HQ and B from the evening before until the next morning.
      if (i === this.plan.crashDay) this.scheduler.at(start + 20 * HOUR_MS + rp.int(5, 50) * 60_000, () => { replicas.crash('hq-b', rp.int(20, 120) * 60_000) })
      if (i === (this.plan.crashDay + 1) % this.opts.days) this.scheduler.at(start + 18 * HOUR_MS, () => { replicas.cut('hq-c', start + 30 * HOUR_MS) })
    }
    if (this.faults.has('hqCrash') && i === this.plan.crashDay) {
      const crashAt = start + 20 * HOUR_MS + p.int(2, 28) * 60_000
      this.scheduler.at(crashAt, async () => { await this.#crashHq(p.int(5, 40) * 60_000) })
    }
    // A checkpoint of the books at a seeded moment of the day, as HQ's daemon writes one every
    // so many records (in the close wave, its crash, a failing disk: whatever comes): a restart
    // then folds the newest checkpoint and the log after its watermark. Its own stream, so the
    // day's other draws are those of a run without it.
    const cp = this.prng.fork(`checkpoint:${i}`)
    this.scheduler.at(start + cp.int(12, 22) * HOUR_MS + cp.int(0, 59) * 60_000, async () => {
      if (!this.hqUp) return
      const written = await this.hq.checkpoint().catch(() => null)
      if (written !== null) this.checkpointsWritten++
    })
    if (this.faults.has('fire') && i === this.plan.fireDay && this.stores.length >= 2) {
      const store = this.stores[this.plan.fireStore] as StoreSim
      // The evening link to HQ is down, so the last close can only come back through a neighbour.
      this.scheduler.at(start + 19 * HOUR_MS, () => { for (const t of store.tills) this.net.cut(t.tillId, 'hq', start + 33 * HOUR_MS) })
      this.scheduler.at(start + 23 * HOUR_MS, () => { this.#burn(store) })
      this.scheduler.at(start + 33 * HOUR_MS + 30 * 60_000, async () => { await this.#recoverStore(store, this.#day(i + 1)) })
    }
    this.disk?.schedule(start, p.fork('disk'), { hqCrashDay: this.faults.has('hqCrash') && i === this.plan.crashDay })
    if (this.faults.has('forgery')) {
      this.scheduler.at(start + 21 * HOUR_MS + p.int(0, HOUR_MS), () => { this.#forge(p.fork('forge')) })
    }
    if (this.faults.has('replay') && i > 0) {
      this.scheduler.at(start + 12 * HOUR_MS + p.int(0, HOUR_MS), () => { this.#replay(p.fork('replay')) })
    }
  }

  /**
   * catalogueClash: the two stores go off the WAN (each cut off from HQ and every other
   * store, its own tills and server still together), a till in each makes up a product
   * with the one GTIN mid-morning and sells it, and they come back one to two days later.
   * HQ's automation watches the clash list from then on.
   */
  #scheduleClash (): void {
    const plan = this.clashPlan
    if (plan === null) return
    this.scheduler.at(plan.fenceFromMs, () => {
      for (const k of plan.products) {
        const store = this.stores[k.store] as StoreSim
        this.net.fence([store.id, ...store.tills.map(t => t.tillId)], plan.healAtMs)
      }
    })
    plan.products.forEach((k, i) => { this.scheduler.at(k.atMs, async () => { await this.#invent(i) }) })
    const watch = (): void => {
      this.#watchClash()
      this.scheduler.after(CLASH_WATCH_EVERY_MS, watch)
    }
    this.scheduler.at(plan.fenceFromMs, watch)
    // HQ's daemon saves a catalogue that a failed save left unsaved once its disk works
    // (HqCatalogue.flush, every CHECKPOINT_CHECK_MS): here every CATALOGUE_FLUSH_EVERY_MS.
    const flush = async (): Promise<void> => {
      if (this.hqUp && this.hqCatalogue.unsaved) await this.hqCatalogue.flush()
      this.scheduler.after(CATALOGUE_FLUSH_EVERY_MS, flush)
    }
    this.scheduler.at(plan.fenceFromMs, flush)
  }

  /** A till of the store makes the product up, offline: the TillCatalogue signs it with the till's key and certificate. */
  async #invent (i: number): Promise<void> {
    const plan = this.clashPlan as ClashPlan
    const clash = this.clash as ClashState
    const k = plan.products[i] as ClashPlan['products'][number]
    const store = this.stores[k.store] as StoreSim
    const t = store.tills.find(x => x.tillNo === k.tillNo)
    if (t === undefined || t.burnt || t.catalogue === null) { clash.skipped = `${store.id}'s till ${k.tillNo} could not make the product up`; return }
    const day = this.#day(plan.inventDay)
    const made = await t.catalogue.invent({ name: k.name, gtin: plan.gtin, priceCents: k.priceCents, taxRateBp: k.taxRateBp, costCents: k.costCents }, day, this.scheduler.nowMs + t.skewMs)
    const statement = t.catalogue.doc.statements().find(s => s.type === 'invent' && s.sku === made.sku)
    if (statement === undefined) throw new Error(`bug: ${t.tillId} made up ${made.sku} and its catalogue does not hold it`)
    clash.invented.push({ store: store.id, tillId: t.tillId, sku: made.sku, statement: statement.id, priceCents: k.priceCents, taxRateBp: k.taxRateBp, costCents: k.costCents })
    this.#readCatalogue(t)
  }

  /** HQ's business day by its clock. */
  #hqDay (): BusinessDay {
    return asBusinessDay(new Date(this.scheduler.nowMs).toISOString().slice(0, 10))
  }

  /**
   * HQ's automation, hourly: once the clash list shows the GTIN clash between the two stores'
   * products, it signs `same` with the smallest sku canonical, from the next business day.
   * A resolution lost in an HQ crash is signed again; one that reached HQ's disk is found.
   */
  #watchClash (): void {
    const clash = this.clash as ClashState
    if (!this.hqUp) return
    clash.awaitingMax = Math.max(clash.awaitingMax, this.hq.awaitingCatalogue)
    if (clash.invented.length < 2 || clash.resolution !== null || clash.resolving) return
    const gtin = (this.clashPlan as ClashPlan).gtin
    const today = this.#hqDay()
    const cat = this.hqCatalogue
    const open = cat.conflicts(today).find(c => c.kind === 'gtin-duplicate' && c.products.some(p => p.gtin === gtin))
    if (open === undefined) return
    clash.listed ??= { atMs: this.scheduler.nowMs, conflict: open.id, skus: open.products.map(p => p.sku), gtins: open.products.map(p => p.gtin) }
    const canonical = clash.invented.map(x => x.sku).sort()[0] as string
    const from = nextBusinessDay(today)
    if (!cat.conflicts(from).some(c => c.id === open.id)) {
      const signed = cat.doc.statements().find(s => s.type === 'resolve' && s.conflict === open.id)
      if (signed !== undefined && signed.type === 'resolve') clash.resolution = { atMs: signed.atMs, id: signed.id, from: asBusinessDay(signed.from), canonical: signed.canonical ?? '' }
      return
    }
    clash.resolving = true
    void cat.resolve({ conflict: open.id, decision: 'same', canonical }, from, this.scheduler.nowMs).then(r => {
      clash.resolution = { atMs: this.scheduler.nowMs, id: r.statement, from, canonical }
    }, (err: Error) => {
      // HQ crashed in the fsync: tried again once HQ is back.
      clash.resolveFailures.push(err.message)
    }).finally(() => { clash.resolving = false })
  }

  async #crashHq (downMs: number): Promise<void> {
    if (!this.hqUp) return
    const before = this.hq.books.snapshot()
    this.hqUp = false
    this.members.stop()
    this.net.attach('hq', undefined)
    this.hqSync?.stop()
    ;(this.disk?.hq ?? this.hqKv).crash()
    this.details.hqCrash = { atMs: this.scheduler.nowMs, downMs }
    this.scheduler.after(downMs, async () => {
      await this.#startHq()
      const after = this.hq.books.snapshot()
      // Books fold only what an fsync made durable, so the rebuild equals the pre-crash books.
      this.checks.B5_rebuildIdentical = isDeepStrictEqual(stripCounts(before), stripCounts(after))
      const missing = await this.#ackedLost()
      this.checks.B5_noAckedRecordLost = missing.length === 0
      this.details.hqRestart = { ackedBeforeCrash: this.ackedAccepted.size, missing: missing.length }
    })
  }

  #burn (store: StoreSim): void {
    const lastHeads: Record<string, { seq: number, hash: string, docLast: number | null }> = {}
    for (const t of store.tills) {
      const head = t.node.head
      const lastClose = [...t.node.log].reverse().find(e => e.record.kind === 'close')?.record as Close | undefined
      lastHeads[t.tillId] = { seq: head?.record.seq ?? 0, hash: head?.hash ?? '', docLast: lastClose?.docLast ?? null }
      const closeEntry = [...t.node.log].reverse().find(e => e.record.kind === 'close')
      if (lastClose !== undefined && closeEntry !== undefined) this.fireLastCloses[t.tillId] = { seq: lastClose.seq, hash: closeEntry.hash, takingsCents: lastClose.takingsCents.cash + lastClose.takingsCents.card }
      t.burnt = true
      t.generation++
      t.kv.burn()
      t.catalogueKv?.burn()
      t.sync.stop()
      this.net.attach(t.tillId, undefined)
    }
    // The store's server burns with its tills: the replicas it kept of its neighbours are lost.
    this.#burnStoreServer(store)
    this.details.fire = { store: store.id, atMs: this.scheduler.nowMs, lastHeads }
    // A forger also mails a backup of one burnt till with its last close rewritten and signed by the forger.
    const victim = store.tills.find(t => t.node.log.some(e => e.record.kind === 'close'))
    if (this.mail !== null && victim !== undefined) this.mail.plantForgery(victim.tillId, victim.node.log, this.prng.fork('mail-forger').bytes(32), this.scheduler.nowMs)
    // A forger takes each burnt till's network address and serves, by sync, a tampered copy of
    // its last entry signed by the forger's own key; it announces it directly to the
    // neighbours, who pull it from what they take for their neighbour. The replicas keep it as
    // evidence; recovery must refuse it.
    const forger = new Signer(keyPairFromSeed(this.prng.fork('forger').bytes(32)))
    if (this.#ring(store.id).length > 0) {
      for (const t of store.tills) {
        const last = t.node.log[t.node.log.length - 1]
        if (last === undefined) continue
        const forged = signEntry({ ...last.record, seq: last.record.seq + 1, prevHash: last.hashBytes }, forger)
        this.#squat(t, forged)
        this.plantedForgeries.push(forged.hash)
        this.plantedEntries.push(forged.bytes)
      }
    }
  }

  /** The forger at a burnt till's address: it serves a document holding its forgery, until the slot's replacement takes the address back. */
  #squat (t: TillSim, forged: Entry): void {
    const doc = TillLog.create(t.tillId, { actorId: actorIdFor(t.tillId, 'forger') })
    doc.ingest(forged)
    const sync: SimSync = new SimSync({ scheduler: this.scheduler, send: (to, m) => { this.net.send(t.tillId, to, m) } }, { answer: async (from, id, msg) => await docSync.answer(from, id, msg) })
    const docSync: DocSync = new DocSync({
      peer: sync,
      store: new MemoryStore(),
      logger: silentLogger,
      clock: this.#clockFor(0),
      docs: { served: id => id === t.tillId ? { log: doc, own: true } : undefined, replicaFor: () => undefined, changed: async () => {} }
    })
    this.docSyncs.push(docSync)
    this.simSyncs.push(sync)
    this.net.attach(t.tillId, (from, m) => { if (isSyncMsg(m)) sync.receive(from, m) })
    const tick = (): void => {
      if (this.tills.get(t.tillId) !== t) { sync.stop(); return }
      for (const s of this.#ring(t.store)) this.net.send(t.tillId, s.id, { t: 'heads', heads: [{ tillId: t.tillId, seq: forged.record.seq, hash: forged.hash }] })
      this.scheduler.after(FORGER_HEADS_EVERY_MS, tick)
    }
    tick()
  }

  async #recoverStore (store: StoreSim, day: BusinessDay): Promise<void> {
    const fire = this.details.fire as { lastHeads: Record<string, { seq: number, hash: string, docLast: number | null }> }
    const recovered: Record<string, { seq: number, hash: string, from: string, forgedRejected: number }> = {}
    let plantedReached = 0
    let plantedFound = 0
    let plantedAccepted = 0
    // The store's server comes back empty: its neighbours' tills' next announcements fill its replicas again.
    await this.#startStoreServer(store)
    // The email path: the mailbox alone, checked against HQ's root key and the slots' certificates.
    const mail = this.mail === null ? null : await this.mail.recover(store.id, this.root.publicKey, id => this.tills.get(id)?.certs ?? [])
    for (const old of store.tills) {
      const enrolment = new Enrolment(this.root.publicKey)
      for (const c of old.certs) enrolment.add(c)
      let best: { entries: Entry[], from: string, invalid: number } | null = null
      const copies: TillLog[] = []
      for (const n of this.#ring(store.id)) {
        const replica = n.up ? n.replicas.doc(old.tillId) : undefined
        if (replica === undefined) continue
        // Work on a copy, as a replacement till does after fetching the neighbour's document.
        const copy = TillLog.load(replica.save())
        copies.push(copy)
        const report = copy.verify((id, seq) => enrolment.keyFor(id, seq))
        const held = new Set(copy.entryBytes().map(b => hashOf(b)))
        for (const h of this.plantedForgeries) {
          if (held.has(h)) plantedReached++
          if (report.invalid.some(x => x.key.includes(h))) plantedFound++
          if (report.chain.some(e => e.hash === h)) plantedAccepted++
        }
        if (best === null || report.chain.length > best.entries.length) best = { entries: report.chain, from: n.id, invalid: report.invalid.length }
      }
      // HQ serves the slot's log too; take whichever verified chain is longest.
      const fromHq = TillLog.create(old.tillId, { actorId: replicaActor(old.tillId, 'hq') })
      for (const bytes of await this.hq.tillLog(old.tillId)) fromHq.ingest(openEntry(bytes, { verify: false }))
      const hqChain = fromHq.verify((id, seq) => enrolment.keyFor(id, seq)).chain
      if (best === null || hqChain.length > best.entries.length) best = { entries: hqChain, from: 'hq', invalid: 0 }
      const fromMail = mail?.restored.find(r => r.tillId === old.tillId)
      if (fromMail !== undefined && fromMail.entries.length > best.entries.length) best = { entries: fromMail.entries, from: 'mail', invalid: 0 }
      const entries = best.entries
      const gen = old.generation + 1
      const head = entries[entries.length - 1]
      const replacement = await this.#enrolledTill(store, old.tillNo, gen, (head?.record.seq ?? 0) + 1)
      replacement.generation = gen
      // With the history of a replica's document that holds exactly this chain, when one does
      // (as `tillbooks enrol` recovers): the replacement's log then shares its neighbours' heads.
      const keys = entries.map(e => keyOfBytes(e.bytes).key)
      let changes: Uint8Array[] | null = null
      for (const c of copies) if ((changes = c.changesPutting(keys)) !== null) break
      for (const c of copies) c.free()
      await replacement.node.adoptRecoveredLog(entries, changes)
      store.tills[store.tills.indexOf(old)] = replacement
      recovered[old.tillId] = { seq: head?.record.seq ?? 0, hash: head?.hash ?? '', from: best.from, forgedRejected: best.invalid }
      // The replacement opens late today with today's delivery, and resends the recovered log.
      replacement.delivery = old.delivery
      await this.#open(replacement.tillId, day)
      this.#flush(replacement)
    }
    this.details.fireRecovery = recovered
    this.checks.B6_fireRecoveredLastClose = Object.entries(fire.lastHeads).every(([id, h]) => recovered[id]?.seq === h.seq && recovered[id]?.hash === h.hash)
    // Every forged copy planted at a neighbour was seen there and refused; none entered a recovered chain.
    // Every forged copy that reached a neighbour's replica (by sync, from the forger at the burnt
    // till's address) was refused at recovery; none entered a recovered chain.
    this.checks.B6_forgedReplicaRejected = plantedFound === plantedReached && plantedAccepted === 0
    this.details.fireForgeries = { planted: this.plantedForgeries.length, reachedReplicas: plantedReached, refusedAtRecovery: plantedFound, accepted: plantedAccepted }
    if (mail !== null && this.mail !== null) {
      // The email path alone brings back every burnt till's last close, to the cent.
      this.checks.B6_fireRecoveredFromMail = Object.entries(this.fireLastCloses).every(([id, c]) => {
        const r = mail.restored.find(x => x.tillId === id)
        return r !== undefined && r.lastSeq === c.seq && r.headHash === c.hash && r.takingsCents === c.takingsCents
      })
      // The forged email is rejected as forged, and none of its entries is in a restored chain.
      const forged = this.mail.forged
      this.checks.B6_forgedMailRejected = forged.every(p => mail.rejected.some(x => x.source === p.source && x.reason.startsWith('forged'))) &&
        mail.restored.every(r => r.entries.every(e => !forged.some(p => p.hashes.includes(e.hash))))
      this.details.fireMail = {
        messages: mail.messages,
        restored: mail.restored.map(r => ({ tillId: r.tillId, seq: r.lastSeq, takingsCents: r.takingsCents })),
        rejected: mail.rejected.length,
        otherStores: mail.rejected.filter(x => x.reason.startsWith('message for another store')).length,
        forgedPlanted: forged.length,
        errors: this.mail.errors.slice(0, 5)
      }
    }
    // The forger also tries HQ directly with them.
    if (this.plantedEntries.length > 0) this.#attack(this.plantedEntries)
  }

  /**
   * The card money a Close reported lost, for the oracle, each loss confirmed by the
   * processor's own record (never charged: declined when forwarded, or never received);
   * a loss the processor contradicts is kept for P4.
   */
  #cardLosses (truth: TruthDay, r: TillRecord): void {
    if (r.kind !== 'close' || this.cards === null) return
    let lost = 0
    for (const d of [...(r.lateDeclines ?? []), ...(r.expired ?? [])]) {
      const seen = this.cards.processor.records.get(d.paymentId)
      if (seen !== undefined && seen.answer.status === 'approved') this.cards.lossesContradicted.push(`${d.paymentId}: reported lost, charged by the processor`)
      lost += d.amountCents
    }
    if (lost !== 0) truth.cardLossesCents = (truth.cardLossesCents ?? 0) + lost
  }

  /**
   * The card checks (true where there are no cards): the processor settles every day through
   * today, then P1–P3 (cardPayments.ts) over every till process's payments, burnt ones too.
   */
  async #checkCards (): Promise<void> {
    const cards = this.cards
    if (cards === null) {
      this.checks.P1_noPaymentChargedTwice = true
      this.checks.P2_everyApprovalReconciled = true
      this.checks.P3_storedForwarded = true
      this.checks.P4_lossesNeverCharged = true
      this.checks.P5_clearingEqualsOpenExceptions = true
      return
    }
    const today = new Date(this.scheduler.nowMs).toISOString().slice(0, 10)
    cards.processor.settleThrough(today)
    const c = checkCards({
      tills: cards.tills.map(x => ({ tillId: x.t.tillId, generation: x.generation, burnt: x.t.burnt, attempts: x.payments.attempts(), clockNowMs: this.scheduler.nowMs + x.t.skewMs })),
      processor: cards.processor,
      saleDays: cards.saleDays,
      storedAtSale: cards.storedAtSale,
      nowMs: this.scheduler.nowMs,
      throughDay: today,
      plant: this.prng.fork('settlement-faults')
    })
    this.checks.P1_noPaymentChargedTwice = c.P1_noPaymentChargedTwice
    this.checks.P2_everyApprovalReconciled = c.P2_everyApprovalReconciled
    this.checks.P3_storedForwarded = c.P3_storedForwarded
    this.checks.P4_lossesNeverCharged = cards.lossesContradicted.length === 0
    if (cards.lossesContradicted.length > 0) this.details.P4_contradicted = cards.lossesContradicted.slice(0, 20)
    const atHq = await this.#reconcileAtHq(c.files, today)
    this.checks.P5_clearingEqualsOpenExceptions = atHq.ok
    this.details.cardPayments = { outage: cards.outage, sales: { ...cards.counts }, ...c.details, atHq: atHq.details }
  }

  /**
   * P5: HQ (the production HqSettlements) imports each day's settlement report, each twice (the
   * second changes nothing), and reconciles through today against the Closes it folded, asking a
   * till for its approvals (here: from the till process, as the libp2p fetch would; a burnt one
   * answers nothing) only when its totals do not match. Its card clearing must equal the open
   * exceptions, unless a till's detail could not be had, and then only for a till that burnt.
   */
  async #reconcileAtHq (files: readonly string[], today: string): Promise<{ ok: boolean, details: Record<string, unknown> }> {
    const cards = this.cards as CardState
    const settlements = new HqSettlements({
      hq: this.hq,
      logger: silentLogger,
      nowMs: () => this.scheduler.nowMs,
      source: {
        approvals: async tillId => {
          const live = cards.tills.filter(x => x.t.tillId === tillId && !x.t.burnt && this.tills.get(tillId) === x.t)
          return live.length === 0 ? null : live.flatMap(x => x.payments.approvalEnvelopes())
        }
      }
    })
    const problems: string[] = []
    let empty = 0
    for (const csv of files) {
      const bytes = new TextEncoder().encode(csv)
      // A day without card payments: a report that settles nothing, which HQ refuses as such.
      if (readSettlementFileLines(bytes) === 0) { empty++; continue }
      const first = await settlements.import(bytes, { processor: PROCESSOR_NAME, lagDays: SETTLEMENT_LAG_DAYS })
      const again = await settlements.import(bytes, { processor: PROCESSOR_NAME, lagDays: SETTLEMENT_LAG_DAYS })
      if (again.duplicate !== true || JSON.stringify(again.exceptions) !== JSON.stringify(first.exceptions)) problems.push(`the file of ${first.day} imported again changed something`)
    }
    const r = await settlements.reconcile(today, { processor: PROCESSOR_NAME, lagDays: SETTLEMENT_LAG_DAYS })
    const burnt = new Set(cards.tills.filter(x => x.t.burnt).map(x => x.t.tillId))
    const unexplained = r.tillsWithoutDetail.filter(t => !burnt.has(t as TillId))
    if (unexplained.length > 0) problems.push(`no usable approvals from live tills ${unexplained.join(', ')}`)
    if (r.tillsWithoutDetail.length === 0 && r.clearingCents !== r.openCents) problems.push(`card clearing ${r.clearingCents} ≠ open exceptions ${r.openCents}`)
    const byKind: Record<string, number> = {}
    for (const x of r.exceptions) byKind[x.kind] = (byKind[x.kind] ?? 0) + 1
    return {
      ok: problems.length === 0,
      details: { files: files.length, empty, matched: r.matched, exceptions: byKind, clearingCents: r.clearingCents, openCents: r.openCents, tillsFetched: r.tillsFetched.length, tillsWithoutDetail: r.tillsWithoutDetail, counters: settlements.counters, ...(problems.length > 0 ? { problems } : {}) }
    }
  }

  /**
   * Records HQ answered `accepted` that it no longer holds: neither in the books nor, for one
   * accepted while it waited for the catalogue (a store's product HQ had not heard of), in its log.
   */
  async #ackedLost (): Promise<string[]> {
    const lost: string[] = []
    const held = this.hq.books.entryHashes()
    for (const h of this.ackedAccepted) {
      if (held.has(h as never)) continue
      const till = this.ackedAwaiting.get(h)
      if (till === undefined || !(await this.hq.tillLog(till)).some(b => hashOf(b) === h)) lost.push(h)
    }
    return lost
  }

  /** The products the stores made up, as the simulator made them (for the Oracle). */
  #inventedProducts (): OracleProduct[] {
    return (this.clash?.invented ?? []).map(x => ({ sku: x.sku, priceCents: x.priceCents, taxRateBp: x.taxRateBp, costCents: x.costCents, stocked: true }))
  }

  /** Every `same` resolution a till held at a sale: from its day, each of the clash's other products is sold as the canonical one. */
  #oracleAliases (): OracleAlias[] {
    const clash = this.clash
    if (clash === null) return []
    const out: OracleAlias[] = []
    for (const [id, r] of clash.heldResolutions) {
      if (r.canonical === undefined) continue
      for (const x of clash.invented) if (x.sku !== r.canonical) out.push({ resolution: id, sku: x.sku, canonical: r.canonical, from: r.from })
    }
    return out
  }

  /**
   * The catalogue checks, once the run has settled (true where there is no catalogue to check):
   * - C1: every live till's replica of the catalogue has HQ's Automerge heads.
   * - C2: HQ listed the GTIN clash, between exactly the two stores' products (each under a sku
   *   of its own store's), and signed `same`
   *   (smallest sku canonical); no gtin-duplicate is open at HQ on the last day; every
   *   resolution any till sold by is that one's.
   * - C3: no record waits for the catalogue at HQ (and none after a rebuild: set there).
   * - C4: on every till, the GTIN scans as the canonical product and the other sku sells as it.
   */
  #checkCatalogue (): void {
    const clash = this.clash
    const hq = this.hq
    this.checks.C3_noRecordAwaitingCatalogue = hq.awaitingCatalogue === 0
    if (clash === null) {
      this.checks.C1_catalogueHeadsEqual = true
      this.checks.C2_clashListedThenResolved = true
      this.checks.C4_gtinScansAsCanonical = true
      return
    }
    const plan = this.clashPlan
    const live = [...this.tills.values()].filter(t => !t.burnt && t.catalogue !== null)
    const hqHeads = [...this.hqCatalogue.doc.getHeads()].sort()
    const behind = live.filter(t => !isDeepStrictEqual([...(t.catalogue as TillCatalogue).getHeads()].sort(), hqHeads)).map(t => t.tillId)
    this.checks.C1_catalogueHeadsEqual = behind.length === 0
    const skus = clash.invented.map(x => x.sku).sort()
    const canonical = skus[0]
    const r = clash.resolution
    const lastDay = this.#day(this.opts.days - 1)
    const endDay = r !== null && r.from > lastDay ? r.from : lastDay
    const openAtEnd = this.hqCatalogue.conflicts(endDay).filter(c => c.kind === 'gtin-duplicate').map(c => c.id)
    this.checks.C2_clashListedThenResolved = plan === null || (
      clash.invented.length === 2 && clash.invented.every(x => x.sku.startsWith(`${x.store}.`)) && clash.listed !== null && isDeepStrictEqual(clash.listed.skus, skus) && clash.listed.gtins.every(g => g === plan.gtin) &&
      r !== null && r.canonical === canonical && openAtEnd.length === 0 &&
      [...clash.heldResolutions.values()].every(h => h.conflict === clash.listed?.conflict && h.canonical === canonical)
    )
    const scans: string[] = []
    if (plan !== null && r !== null && canonical !== undefined) {
      for (const t of live) {
        const cat = t.catalogue as TillCatalogue
        try {
          const byGtin = cat.skuOf({ gtin: plan.gtin }, endDay)
          const bySku = skus.map(sku => cat.skuOf({ sku }, endDay))
          if (byGtin !== canonical || bySku.some(x => x !== canonical)) scans.push(`${t.tillId}: ${plan.gtin} → ${byGtin}, ${skus.join(', ')} → ${bySku.join(', ')}`)
        } catch (err) {
          scans.push(`${t.tillId}: ${(err as Error).message}`)
        }
      }
    }
    this.checks.C4_gtinScansAsCanonical = plan === null || (r !== null && scans.length === 0)
    this.details.catalogueClash = {
      ...(clash.skipped !== null ? { skipped: clash.skipped } : {}),
      ...(plan !== null
        ? {
            gtin: plan.gtin,
            stores: plan.products.map(k => (this.stores[k.store] as StoreSim).id),
            inventDay: this.#day(plan.inventDay),
            offline: { from: new Date(plan.fenceFromMs).toISOString(), until: new Date(plan.healAtMs).toISOString() }
          }
        : {}),
      invented: clash.invented.map(x => ({ sku: x.sku, tillId: x.tillId, priceCents: x.priceCents, taxRateBp: x.taxRateBp, costCents: x.costCents })),
      listed: clash.listed === null ? null : { at: new Date(clash.listed.atMs).toISOString(), conflict: clash.listed.conflict, skus: clash.listed.skus },
      resolution: r === null ? null : { at: new Date(r.atMs).toISOString(), from: r.from, canonical: r.canonical },
      resolutionsHeld: clash.heldResolutions.size,
      resolveFailures: clash.resolveFailures.length,
      sales: { ...clash.sales },
      awaitingCatalogueMax: clash.awaitingMax,
      sync: { ...clash.sync },
      heads: { tills: live.length, behind: behind.slice(0, 10) },
      ...(openAtEnd.length > 0 ? { openAtEnd } : {}),
      ...(scans.length > 0 ? { scans: scans.slice(0, 10) } : {})
    }
  }

  #forge (p: Prng): void {
    const victims = [...this.tills.values()].filter(t => !t.burnt && t.node.log.length > 0)
    if (victims.length === 0) return
    const v = p.pick(victims)
    const last = v.node.log[v.node.log.length - 1] as Entry
    const attacker = new Signer(keyPairFromSeed(p.bytes(32)))
    const bad: Array<{ kind: string, bytes: Uint8Array }> = []
    // 1. A copy of a real record with its takings raised, signed by a key HQ never enrolled.
    if (last.record.kind === 'close') {
      const r = last.record
      bad.push({ kind: 'wrong key', bytes: signEntry({ ...r, takingsCents: { ...r.takingsCents, card: r.takingsCents.card + 100_000 }, tax: [...r.tax, { rateBp: 9_999, netCents: 100_000, taxCents: 0 }] }, attacker).bytes })
    } else {
      bad.push({ kind: 'wrong key', bytes: signEntry({ ...last.record, seq: last.record.seq + 1, prevHash: last.hashBytes }, attacker).bytes })
    }
    // 2. A real entry with one bit of its signature flipped.
    const sig = new Uint8Array(last.sig)
    const at = p.int(0, 63)
    sig[at] = (sig[at] as number) ^ (1 << p.int(0, 7))
    bad.push({ kind: 'bad signature', bytes: canonicalEncode({ v: 1, kind: last.record.kind, body: last.body, signer: last.signer, sig }) })
    // 3. A till HQ never enrolled.
    bad.push({ kind: 'unenrolled till', bytes: signEntry({ ...last.record, store: asStoreId('ZZZ'), seq: 1, prevHash: new Uint8Array(32) }, attacker).bytes })
    // 4. Noise, a truncated entry, and an oversized one.
    bad.push({ kind: 'malformed', bytes: p.bytes(p.int(1, 300)) })
    bad.push({ kind: 'truncated', bytes: last.bytes.slice(0, last.bytes.length - 7) })
    bad.push({ kind: 'oversized', bytes: canonicalEncode({ v: 1, kind: 'close', body: new Uint8Array(70_000), signer: new Uint8Array(32), sig: new Uint8Array(64) }) })
    for (const b of bad) this.forgeriesSent.push(b.kind)
    this.#attack(bad.map(b => b.bytes))
    this.#forgeAnnouncements(p, v, last)
  }

  /**
   * The attacker announces a head the victim never signed to the victim's ring, four ways;
   * the validator must reject each (and no store pulls from the attacker).
   */
  #forgeAnnouncements (p: Prng, v: TillSim, last: Entry): void {
    const cert = v.certs[v.certs.length - 1]
    if (cert === undefined) return
    const attacker = new Signer(keyPairFromSeed(p.bytes(32)))
    const head = { tillId: v.tillId, seq: last.record.seq + 1, hash: toHex(p.bytes(32)) }
    const stolen = announce({ ...head, cert }, attacker)
    const selfIssued = issueCertificate(attacker, { store: v.store, till: v.tillNo, tillKey: attacker.publicKey, fromSeq: 1, issuedAtMs: this.scheduler.nowMs })
    const forged: AnnounceMsg[] = [
      // 1. The till's genuine certificate, signed by the attacker's key: not the enrolled key.
      stolen,
      // 2. The same, claiming the till's key as its signer: the signature does not hold.
      { ...stolen, key: v.signer.publicKey },
      // 3. A certificate the attacker issued itself, for its own key: not HQ's.
      announce({ ...head, cert: selfIssued.bytes }, attacker),
      // 4. Noise, signed.
      signGossip(p.bytes(p.int(1, 300)), attacker)
    ]
    for (const m of forged) {
      this.forgedAnnouncements.add(m)
      for (const s of this.#ring(v.store)) {
        this.forgedGossip.sent++
        this.net.send('attacker', s.id, m)
      }
    }
  }

  /** The attacker reaches HQ directly (a good link is the attacker's best case); every answer is kept. */
  #attack (entries: Uint8Array[]): void {
    if (!this.hqUp) return
    const hq = this.hq
    void hq.submit(entries).then(answers => {
      this.attackAnswers.push(...answers.map(a => a.status === 'rejected' ? `rejected:${a.code ?? ''}` : a.status))
      this.totals.forged += answers.filter(a => a.status === 'rejected').length
    }, () => {})
  }

  #replay (p: Prng): void {
    const all = [...this.tills.values()].flatMap(t => t.node.log.slice(0, -1))
    if (all.length === 0) return
    const picked = p.sample(all, Math.min(20, all.length))
    this.net.send('attacker', 'hq', { t: 'submit', entries: picked.map(e => e.bytes) })
  }

  /**
   * cardPayments: the processor on the network from the start, down for a stretch of one day
   * (requests to it dropped: the tills store and forward), and each day settled at midnight by
   * its clock (the drain's days too).
   */
  #scheduleCards (): void {
    const cards = this.cards
    if (cards === null) return
    const attach = (): void => { this.net.attach(PSP_ADDRESS, (from, m) => { if (m.t === 'psp') cards.processor.receive(from, m) }) }
    attach()
    const { outageFromMs, outageUntilMs } = cards.plan
    this.scheduler.at(outageFromMs, () => {
      this.net.attach(PSP_ADDRESS, undefined)
      cards.outage = { from: new Date(outageFromMs).toISOString(), until: new Date(outageUntilMs).toISOString() }
    })
    this.scheduler.at(outageUntilMs, attach)
    for (let i = 0; i < this.opts.days + 3; i++) {
      const day = new Date(this.#dayStartMs(i)).toISOString().slice(0, 10)
      this.scheduler.at(this.#dayStartMs(i + 1), () => { cards.processor.settle(day) })
    }
  }

  async run (): Promise<SimResult> {
    await this.#setup()
    for (let i = 0; i < this.opts.days; i++) this.#scheduleDay(i)
    this.#scheduleClash()
    this.#scheduleCards()
    this.running = true
    for (let i = 0; i < this.opts.days; i++) {
      await this.scheduler.runUntil(this.#dayStartMs(i + 1) - 1)
      this.opts.onDay?.(i)
    }
    // Drain: the WAN heals and every till retries until HQ and its neighbours have everything.
    this.net.setProfile(QUIET_LINK)
    const end = this.#dayStartMs(this.opts.days)
    await this.scheduler.runUntil(end + 2 * DAY_MS)
    for (const t of this.tills.values()) { t.retryMs = RETRY_MS_MIN; this.#flush(t) }
    await this.scheduler.runUntil(end + 3 * DAY_MS)
    return await this.#finish()
  }

  async #finish (): Promise<SimResult> {
    this.running = false
    const hq = this.hq
    const books = hq.books.snapshot()
    const oracle = new Oracle([...this.catalogue.products(), ...this.#inventedProducts()], this.#oracleAliases()).books([...this.truth.values()], this.dispatched, this.opening)

    // B4: the books equal the oracle's, account by account and store by store, to the cent.
    const storeTakings = Object.fromEntries(Object.entries(books.stores).map(([k, v]) => [k, v.takingsCents]).filter(([, v]) => v !== 0))
    const oracleTakings = Object.fromEntries(Object.entries(oracle.stores).map(([k, v]) => [k, v.takingsCents]).filter(([, v]) => v !== 0))
    const accountsEqual = isDeepStrictEqual(nonZero(books.accounts), nonZero(oracle.accounts))
    this.checks.B4_booksEqualOracle = accountsEqual && isDeepStrictEqual(storeTakings, oracleTakings)
    this.checks.B4_debitsEqualCredits = books.trialBalance.debitsCents === books.trialBalance.creditsCents && sum(Object.values(books.accounts)) === 0
    this.checks.pointsEqualOracle = isDeepStrictEqual(books.members, oracle.members)
    // Members' points: the liability the books keep is the oracle's, to the cent; no member
    // redeemed more than they earned on days HQ folded; HQ's view shows no one overspent.
    this.checks.pointsLiabilityEqualsOracle = (books.accounts['liabilities:loyalty points'] ?? 0) === (oracle.accounts['liabilities:loyalty points'] ?? 0)
    // A fork found after HQ granted points of its first side leaves a member below zero: by at
    // most what the fork holds of theirs (HQ's heldAtForks, never more than the truth's), and
    // only if HQ granted them nothing since it knew (spendable below zero refuses every grant,
    // and vested points never go down but by a fork); anything else is overspending.
    const { before: beforeFork, after: afterFork } = this.members.grantsAroundFork()
    const { over, repaying } = overspent([...this.truth.values()], beforeFork)
    const atFork = earnedAtFork([...this.truth.values()])
    const views = await this.members.views(new Date(this.scheduler.nowMs).toISOString().slice(0, 10)) ?? []
    const negative = views.filter(v => Object.values(v.rights).some(r => r < 0) ||
      (v.spendable < 0 && (-v.spendable > v.heldAtForks || (afterFork.get(v.member) ?? 0) > 0)) ||
      v.heldAtForks > (atFork.get(v.member) ?? 0))
    this.checks.pointsNeverOverspent = over.length === 0 && negative.length === 0
    this.details.members = { ...this.members.counts, overspent: over.slice(0, 5), repayingAfterFork: repaying.slice(0, 5), negative: negative.slice(0, 5).map(v => v.member) }
    // Returns by receipt: no line refunded beyond what was sold, but by a refund made without the
    // selling till's consent (flagged), which that till then knows of (a conflict naming the
    // refunds) once told, unless a fire took the record of it (either till's).
    const refunds = overRefunded([...this.truth.values()], this.returns.receipts)
    const conflicts = new Set<string>()
    const pending = new Set<string>()
    for (const t of this.tills.values()) {
      if (t.burnt) continue
      for (const c of await t.node.returnConflicts()) conflicts.add(`${c.receipt}\u0000${c.sku}`)
      for (const f of await t.node.flaggedReturns()) pending.add(f.docNo)
    }
    const burntSince = (tillId: string): boolean => (this.tills.get(tillId as TillId)?.generation ?? 1) > 1
    const flaggedBy = new Map<string, string[]>()
    for (const d of this.truth.values()) for (const x of d.sales) if (x.receipt !== undefined && x.flagged === true) flaggedBy.set(x.receipt, [...(flaggedBy.get(x.receipt) ?? []), d.tillId])
    const unreported = refunds.over.filter(o => o.flagged && !conflicts.has(`${o.receipt}\u0000${o.sku}`) && !pending.has(o.receipt) &&
      !burntSince(o.receipt.slice(0, o.receipt.lastIndexOf('-'))) && !(flaggedBy.get(o.receipt) ?? []).some(burntSince))
    // And every flagged refund of a Close HQ folds is listed at HQ (what GET /refunds/flagged serves).
    const atHq = new Set<string>()
    for (const [tillId, tb] of Object.entries(books.tills)) {
      for (const bytes of await hq.tillLogRange(tillId as TillId, 0, tb.lastSeq)) {
        const r = openEntry(bytes, { verify: false }).record
        if (r.kind === 'close') for (const f of r.flaggedRefunds ?? []) atHq.add(f.refund)
      }
    }
    const notListed = [...this.truth.values()].filter(d => d.closeCounts).flatMap(d => d.sales.filter(x => x.flagged === true && x.doc !== undefined && !atHq.has(x.doc)).map(x => x.doc as string))
    this.checks.refundsAtMostOnce = refunds.unexplained === 0 && unreported.length === 0 && notListed.length === 0
    this.details.returns = { ...this.returns.counts, overRefunded: refunds.over.length, unexplained: refunds.over.filter(o => !o.flagged).slice(0, 5), unreported: unreported.slice(0, 5), flaggedAtHq: atHq.size, notListed: notListed.slice(0, 5) }
    if (!this.checks.B4_booksEqualOracle) this.details.B4_diff = diff(nonZero(books.accounts), nonZero(oracle.accounts))

    // Every till's outbox drained and every honest till's whole log folded.
    const unfolded = [...this.tills.values()].filter(t => {
      const folded = books.tills[t.tillId]?.lastSeq ?? 0
      return t.tillId !== this.plan.equivocationTill && folded !== (t.node.head?.record.seq ?? 0)
    }).map(t => t.tillId)
    this.checks.allClosesFolded = unfolded.length === 0
    if (unfolded.length > 0) this.details.unfolded = unfolded.slice(0, 10)

    // B3: resend every entry of 20% of the tills: nothing is accepted, no total moves.
    const resendPrng = this.prng.fork('resend')
    const resend = resendPrng.sample([...this.tills.values()], Math.max(1, Math.round(this.tills.size / 5)))
    const before = hq.books.snapshot()
    const answers = await hq.submit(resend.flatMap(t => t.node.log.map(e => e.bytes)))
    const after = hq.books.snapshot()
    this.checks.B3_resendAddsNothing = answers.every(a => a.status !== 'accepted') && isDeepStrictEqual(stripCounts(before), stripCounts(after))
    this.details.B3 = { tillsResent: resend.length, entriesResent: answers.length, accepted: answers.filter(a => a.status === 'accepted').length }
    this.totals.duplicates += answers.filter(a => a.status === 'duplicate').length

    this.#checkCatalogue()
    await this.#checkCards()
    // The books as they end: with the settlement files HQ imported in the card checks.
    const final = hq.books.snapshot()
    const lost = await this.#ackedLost()

    // HQ's replicas: with every link up, a few rounds, and each one's books are HQ's, byte for byte
    // (HQ's books are the oracle's: B4). A replica that lost power or was cut off caught up by itself.
    if (this.replicas !== null) {
      const replicas = this.replicas
      const c = await replicas.converge(async ms => { await this.scheduler.runUntil(this.scheduler.nowMs + ms) })
      this.checks.R_replicasAgree = c.equal && Object.keys(c.digests).length === 3
      this.details.replicas = { finalRounds: c.rounds, ...replicas.counts, digests: c.digests, counters: replicas.counters() }
      await replicas.stop()
    }

    // B5 at the end too: a fresh HQ rebuilt from the final log holds identical books (its catalogue loaded first, as the daemon does).
    const hqTillSums = [...hq.tillSums].map(([k, v]) => [k, { ...v }] as const)
    const store = this.hqKv
    this.hqUp = false
    await hq.stop()
    await store.open()
    const freshCatalogue = new HqCatalogue({ store, root: this.root, actorId: actorOf(this.prng.fork('hq-catalogue:rebuild')) })
    await freshCatalogue.load()
    const fresh = new HqNode({ store, clock: this.#clockFor(0), logger: silentLogger }, { root: this.root, costCents: (sku, day) => freshCatalogue.costOf(sku, day), rebuildVerify: true, rebuild: 'full' })
    const replay = await fresh.start()
    this.checks.B5_rebuildFromLogIdentical = isDeepStrictEqual(stripCounts(fresh.books.snapshot()), stripCounts(final))
    // C3 after a restart too: nothing the rebuild read waits for the catalogue.
    this.checks.C3_noRecordAwaitingCatalogue &&= fresh.awaitingCatalogue === 0
    await fresh.stop()
    // And as HQ starts: its newest checkpoint and the log after it give the same books.
    const fromCheckpoint = new HqNode({ store, clock: this.#clockFor(0), logger: silentLogger }, { root: this.root, costCents: (sku, day) => freshCatalogue.costOf(sku, day), rebuildVerify: true })
    const restored = await fromCheckpoint.start()
    this.checks.B5_checkpointRestartIdentical = isDeepStrictEqual(stripCounts(fromCheckpoint.books.snapshot()), stripCounts(final)) &&
      isDeepStrictEqual([...fromCheckpoint.tillSums].sort(), [...hqTillSums].sort())
    this.details.rebuild = { entries: replay.entries, checkpointsWritten: this.checkpointsWritten, fromCheckpoint: 'checkpoint' in restored.from ? restored.from.checkpoint : null }
    await fromCheckpoint.stop()
    // The catalogues' Automerge documents live in wasm memory, outside the garbage collector's reach: freed with the run.
    freshCatalogue.close()
    for (const c of this.catalogues) c.close()
    this.checks.B5_rebuildIdentical ??= true
    this.checks.B5_noAckedRecordLost ??= lost.length === 0

    // B6 (set when a fire happened) and forgeries: every forged entry rejected, none folded.
    this.checks.B6_fireRecoveredLastClose ??= true
    this.checks.B6_forgedReplicaRejected ??= true
    this.checks.B6_fireRecoveredFromMail ??= true
    this.checks.B6_forgedMailRejected ??= true
    // Each forged entry sent to HQ was answered `rejected` (lost messages were resent until answered).
    this.checks.forgeriesRejected = this.attackAnswers.every(a => a.startsWith('rejected:'))
    const byCode: Record<string, number> = {}
    for (const a of this.attackAnswers) byCode[a] = (byCode[a] ?? 0) + 1
    this.details.forgeries = byCode

    // Forks: the equivocating till is flagged and its fork never folded.
    const eq = this.plan.equivocationTill
    if (eq !== null && this.details.equivocation !== undefined) {
      const e = this.details.equivocation as { seq: number }
      const tb = books.tills[eq]
      this.checks.forkDetectedNotFolded = tb !== undefined && tb.forked && tb.lastSeq < e.seq
    } else {
      this.checks.forkDetectedNotFolded = Object.values(books.tills).every(t => !t.forked)
    }

    // S1: once the run has settled, every neighbour's replica of a till holds the till's own log:
    // the same Automerge heads, or, for a slot whose replicas keep a fork or a forgery beside
    // it as evidence (the equivocating till, a replacement after a fire), all of its changes.
    const s1 = { pairs: 0, equal: 0, withEvidence: 0, missing: 0, diverged: 0 }
    const behind: string[] = []
    for (const t of this.tills.values()) {
      if (t.burnt) continue
      const own = t.node.logDoc
      const heads = headsKey(own)
      for (const s of this.#ring(t.store)) {
        if (!s.up) continue
        s1.pairs++
        const r = s.replicas.doc(t.tillId)
        if (r === undefined) {
          if (own.entryCount === 0) s1.equal++
          else { s1.missing++; behind.push(`${t.tillId}@${s.id}: no replica`) }
          continue
        }
        if (headsKey(r) === heads) s1.equal++
        else if ((t.generation > 1 || t.tillId === this.plan.equivocationTill) && holdsAll(r, own)) s1.withEvidence++
        else {
          s1.diverged++
          const why = this.lastPullFailure.get(`${t.tillId}@${s.id}`)
          behind.push(`${t.tillId}@${s.id}: ${r.entryCount} of ${own.entryCount} entries${holdsAll(r, own) ? ', and more' : ''}${why !== undefined ? `; its last pull failed: ${why}` : ''}`)
        }
      }
    }
    this.checks.S1_replicaHeadsEqual = s1.missing === 0 && s1.diverged === 0
    if (behind.length > 0) this.details.S1_behind = behind.slice(0, 10)
    // S2: every forged announcement that reached a store was rejected by the validator, and no store pulled from the forger.
    const fg = this.forgedGossip
    this.checks.S2_forgedAnnouncementsRejected = fg.accepted === 0 && fg.ignored === 0 && fg.pullsFromAttacker === 0
    // S3: the equivocating till's two closes reached every neighbour's replica, as evidence of the fork.
    const tw = this.twinOf
    const twinRing = tw === null ? [] : this.#ring((this.tills.get(tw.tillId) as TillSim).store).filter(s => s.up)
    this.checks.S3_forkHeldAsEvidence = tw === null || twinRing.every(s => s.replicas.holds(tw.tillId, tw.seq, tw.genuine) && s.replicas.holds(tw.tillId, tw.seq, tw.twin))
    this.details.sync = {
      ...sumCounters<SyncCounters>(this.docSyncs.map(d => d.counters)),
      transport: sumCounters<SimSyncCounters>(this.simSyncs.map(x => x.counters)),
      gossip: { ...this.gossip },
      forgedAnnouncements: { ...fg },
      replicas: s1,
      refusals: this.docSyncs.flatMap(d => d.refusals).sort((a, b) => a.atMs - b.atMs).slice(0, 5).map(r => `${r.peer} ${r.doc}: ${r.reason}`)
    }

    // Stock on the shelves at the end, counted again from the truth (what was received, less what sold, plus what came back): per store at cost, and any (till, sku) below zero.
    const shelves = onShelf(this.truth.values(), this.catalogue)
    const shelfCents: Record<string, number> = {}
    const belowZero: string[] = []
    for (const t of this.tills.values()) {
      for (const [sku, qty] of shelves.get(t.tillId) ?? []) {
        shelfCents[t.store] = (shelfCents[t.store] ?? 0) + qty * this.catalogue.costCents(sku)
        if (qty < 0) belowZero.push(`${t.tillId} ${sku} ${qty}`)
      }
    }
    this.details.stock = { parDays: PAR_DAYS, shelfCents: Object.fromEntries(Object.entries(shelfCents).sort((a, b) => a[0] < b[0] ? -1 : 1)), belowZero: belowZero.length, belowZeroFirst: belowZero.slice(0, 5), ...this.#stockouts, warehouseUnitsLeft: Object.fromEntries(this.warehouse) }
    // A customer takes only what is there: counted again from the truth alone, no shelf ever holds less than nothing.
    this.checks.shelvesNeverBelowZero = belowZero.length === 0

    // G1: document numbers are unique and contiguous per till slot, across replacements.
    let clashes = 0
    let gaps = 0
    for (const t of this.tills.values()) {
      const sorted = [...t.docNs].sort((a, b) => a - b)
      for (let i = 0; i < sorted.length; i++) {
        if (i > 0 && sorted[i] === sorted[i - 1]) clashes++
        if (sorted[i] !== i + 1) gaps++
      }
    }
    this.checks.G1_noDocNoClash = clashes === 0
    this.checks.G1_docNosContiguous = gaps === 0
    this.details.G1 = { documents: this.totals.sales, clashes, gaps, centralCounterHandoffs: 0 }
    if (this.disk !== null) {
      // D1: a write a disk refused changed nothing; D2: every receipt printed is in its till's journal, and nothing else is.
      const journals = await this.disk.journalsMatch(this.tills.values())
      this.checks.D1_refusedWriteChangedNothing = this.disk.violations.length === 0
      this.checks.D2_journalIsReceiptsPrinted = journals.length === 0
      this.details.diskFaults = { ...this.disk.counts, violations: this.disk.violations.slice(0, 5), journals: journals.slice(0, 5) }
    }

    const ordered = Object.fromEntries(Object.entries(this.checks).sort((a, b) => a[0] < b[0] ? -1 : 1))
    return {
      seed: this.opts.seed,
      tills: this.opts.tills,
      stores: this.stores.length,
      days: this.opts.days,
      tillsPerStore: this.opts.tillsPerStore ?? TILLS_PER_STORE_DEFAULT,
      salesPerDayMax: this.opts.salesPerDayMax ?? SALES_PER_DAY_MAX_DEFAULT,
      faults: ALL_FAULT_NAMES.filter(f => this.faults.has(f)),
      sales: this.totals.sales,
      recordsAccepted: this.totals.accepted,
      duplicatesIgnored: this.totals.duplicates,
      forgedRejected: this.totals.forged,
      forksDetected: this.totals.forks,
      booksCents: sum(Object.values(books.stores).map(s => s.takingsCents)),
      oracleCents: oracle.takingsCents,
      invariants: ordered,
      details: { network: this.net.stats, events: this.scheduler.eventsRun, ...this.details },
      books: { accounts: books.accounts, stores: Object.fromEntries(Object.entries(books.stores).map(([k, v]) => [k, { takingsCents: v.takingsCents }])) }
    }
  }
}

/** The first approved card payment of the till with at least `amountCents` left to refund on it, or null. */
function refundableFor (payments: TillPayments, amountCents: number): string | null {
  const attempts = payments.attempts()
  for (const a of attempts) {
    if (a.state !== 'approved' || a.refundOf !== undefined || a.answer === null) continue
    const refunded = attempts.filter(x => x.refundOf === a.paymentId && x.state === 'approved').reduce((n, x) => n - x.amountCents, 0)
    if (a.answer.approvedCents - refunded >= amountCents) return a.paymentId
  }
  return null
}

function headsKey (log: TillLog): string {
  return [...log.getHeads()].sort().join(',')
}

/** Whether `replica` holds every change of `log` (a copy takes `log`'s changes in, and finds none new). */
function holdsAll (replica: TillLog, log: TillLog): boolean {
  const copy = TillLog.load(replica.save())
  try {
    const r = copy.merge(log)
    return r.accepted === 0 && r.rejected.length === 0
  } finally {
    copy.free()
  }
}

function sumCounters<T extends object> (all: T[]): T {
  const out: Record<string, number> = {}
  for (const c of all) for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + (v as number)
  return out as T
}

/** The entry hash of stored bytes ('' for bytes that are not an entry at all). */
function hashOf (bytes: Uint8Array): string {
  try {
    return openEntry(bytes, { verify: false }).hash
  } catch {
    return ''
  }
}

function replicaActor (tillId: string, storeId: string): string {
  return Buffer.from(`${tillId}@${storeId}`).toString('hex').padEnd(32, '0').slice(0, 64)
}

function sum (xs: number[]): number {
  let s = 0
  for (const x of xs) s += x
  return s
}

function nonZero (o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0).sort((a, b) => a[0] < b[0] ? -1 : 1))
}

function diff (a: Record<string, number>, b: Record<string, number>): Record<string, { books: number, oracle: number }> {
  const out: Record<string, { books: number, oracle: number }> = {}
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if (a[k] !== b[k]) out[k] = { books: a[k] ?? 0, oracle: b[k] ?? 0 }
  return out
}

/** Snapshots compared across a crash or a resend: the running counters of duplicates are not books. */
function stripCounts<T extends { counts?: unknown }> (s: T): Omit<T, 'counts'> {
  const { counts: _, ...rest } = s
  return rest
}

/** A GTIN-13 drawn from the seed: twelve digits (the first not 0), then the GS1 check digit (weights 1, 3, 1, … from the left). */
function gtin13 (p: Prng): string {
  const digits = [p.int(1, 9), ...Array.from({ length: 11 }, () => p.int(0, 9))]
  let sum = 0
  digits.forEach((d, i) => { sum += d * (i % 2 === 0 ? 1 : 3) })
  return [...digits, (10 - (sum % 10)) % 10].join('')
}

/**
 * An Automerge actor id drawn from the seed: an actor is part of every change's hash, and the
 * sync protocol's Bloom filters hold hashes, so random actors would make round trips (false
 * positives) differ from run to run and a run would not replay from its seed.
 */
function actorOf (p: Prng): string {
  return Buffer.from(p.bytes(16)).toString('hex')
}

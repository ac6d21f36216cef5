/**
 * A till: sells on its own, numbers its own documents, and writes two signed records a
 * day into its own log — a StockIn when the day opens with a delivery, a Close at night
 * computed from its own sale journal. Nothing here waits for HQ: the outbox holds what HQ
 * has not acknowledged and is resent until it is.
 *
 * Business day state machine:
 *
 *     closed ──openDay()──▶ open ──closeDay()──▶ closing ──(Close durable)──▶ closed
 *                            │ ▲
 *                            └─┘ sell(), refund()
 *
 * Durable layout (KvStore): `s!<n>` one key per document (sale/refund, fsync'd before the
 * receipt is printed), `a!*` the till's own signed log as an Automerge document
 * (TillLogStore.ts: a snapshot and incremental chunks; `l!<seq>` in directories from before,
 * migrated on first start), `m!*` state. A record is durable in the same fsync'd batch as
 * the state it moves the day to. The next document number is derived from the journal and
 * the log on start, never from a separate counter that could drift from them.
 */
import {
  canonicalDecode, canonicalEncode, docNoOf, GENESIS_HASH, LINES_MAX, MEMBER_ID_RE, MEMBERS_MAX, nextBusinessDay, openEntry, openReplenishment, openRightsGrant, paymentsDigest, paymentSetHash, POINT_VALUE_CENTS, signEntry, tillIdOf, toHex,
  type BusinessDay, type CancelLine, type Canonical, type Close, type FlaggedRefund, type RefundConflict, type DocNo, type Entry, type LateDecline, type PaymentTotal, type PublicKey, type RedeemLine, type Signer, type SkuQty,
  type StockIn, type StoreId, type Tender, type TillId
} from '@tillbooks/protocol'
import { lastReturnDay, tillInstance, TillRights } from '@tillbooks/members'
import { Catalogue, priceSale } from '@tillbooks/catalogue'
import { entryKey, readEntryChange, tillActorOf, type TillLog } from '@tillbooks/crdt'
import type { NodeComponents } from '../components.ts'
import { diskErrorCode, prefixEnd, type KvOp } from '../storage/KvStore.ts'
import { OneAtATime } from '../OneAtATime.ts'
import { TillLogStore } from './TillLogStore.ts'
import type { PaymentOutcome, TillPayments } from './TillPayments.ts'
import { RedemptionRefusedError, ReturnRefusedError, SaleRejectedError, TillDiskError, TillStateError } from './errors.ts'

export type DayState = 'closed' | 'open' | 'closing'

export interface SaleLine { sku: string, qty: number }
/** A tender: cash, or a card or wallet payment (to the processor, when the till has one; `card.token` a tokenised card). */
export interface TenderIn { type: Tender | 'wallet', amountCents: number, card?: { token?: string } }

/** One document in the till's journal: a sale or a refund, in full. */
export interface SaleDoc {
  n: number
  kind: 'sale' | 'refund'
  businessDay: BusinessDay
  atMs: number
  lines: SaleLine[]
  /** Signed gross per tender actually kept (cash after change); negative for refunds. */
  tenders: Record<Tender, number>
  totalCents: number
  changeCents: number
  perRate: Array<{ rateBp: number, netCents: number, taxCents: number }>
  consumed: SkuQty[]
  member: string | null
  points: number
  /** Card and wallet payments taken for it (with a processor): ids, outcomes, signed lines. */
  payments?: PaymentOutcome[]
  /** A return by receipt: the sale's document number (its lines are refunded at most once). */
  receiptOf?: string
  /** Points redeemed as a tender on a sale (`till`: the instance whose rights paid). */
  redeemed?: { member: string, points: number, till: string }
  /** Points a refund gave back to the member (what its sale redeemed, after its money). */
  restored?: { member: string, points: number, till: string }
  /** Points of the refunded sale taken back before they vested (a refund within the return window). */
  cancelled?: { member: string, saleDay: BusinessDay, points: number }
  /** A return of another till's receipt (`receiptOf`): with its consent, or flagged (it was out of reach). */
  elsewhere?: 'consented' | 'flagged'
}

/** Lines summed per sku, sorted by sku: one shape for a return however it was asked. */
function sumLines (lines: readonly SaleLine[]): SaleLine[] {
  const m = new Map<string, number>()
  for (const l of lines) m.set(l.sku, (m.get(l.sku) ?? 0) + l.qty)
  return [...m].sort((a, b) => a[0] < b[0] ? -1 : 1).map(([sku, qty]) => ({ sku, qty }))
}

/** Conflicts of one receipt's line reported since the last Close, merged: the most refunded, every refund named. */
function mergeConflicts (list: RefundConflict[]): RefundConflict[] {
  const m = new Map<string, RefundConflict>()
  for (const c of list) {
    const key = `${c.receipt}\u0000${c.sku}`
    const had = m.get(key)
    m.set(key, had === undefined ? c : { ...c, refundedQty: Math.max(had.refundedQty, c.refundedQty), refunds: [...new Set([...had.refunds, ...c.refunds])].sort().slice(-CONFLICT_REFUNDS_MAX) })
  }
  return [...m].sort((a, b) => a[0] < b[0] ? -1 : 1).map(([, c]) => c)
}

/** A return here of another till's receipt: what the receipt says, and how to ask its till. */
export interface ReturnOfElsewhere {
  /** The receipt's document number, till and business day (the lines are priced as on that day). */
  docNo: string
  tillId: string
  businessDay: BusinessDay
  /** What the sale took in money (its total less any points tender): never more is refunded here. */
  moneyCents: number
  /** The receipt's lines (from its file, checked against its digest), or null if only its QR was shown. */
  soldLines: SaleLine[] | null
  /** The receipt's COSE bytes: sent to its till. */
  cose: Uint8Array
  /** Ask the receipt's till to consent to this refund (its document number): 'consented', or 'unreachable'; throws its refusal. */
  ask: (refund: string) => Promise<'consented' | 'unreachable'>
}

/** A return made without its till's consent, still to be told to that till. */
export interface FlaggedReturn { refund: string, tillId: string, docNo: string, cose: Uint8Array, lines: SaleLine[] }

/** A sale a return by receipt refunds, and what earlier refunds of it already gave back. */
interface ReturnOf { sale: SaleDoc, moneyCents: number, restoredPoints: number, cancelledPoints: number }

/** What the refunds of one sale gave back so far, here and (with consent, or told after) at other tills. */
interface Returned { lines: Map<string, number>, moneyCents: number, restoredPoints: number, cancelledPoints: number, by: Map<string, string[]> }

function newReturned (): Returned {
  return { lines: new Map(), moneyCents: 0, restoredPoints: 0, cancelledPoints: 0, by: new Map() }
}

function addReturned (r: Returned, refund: { name: string, lines: SaleLine[], moneyCents: number, restoredPoints: number, cancelledPoints: number }): void {
  for (const l of refund.lines) {
    r.lines.set(l.sku, (r.lines.get(l.sku) ?? 0) + l.qty)
    r.by.set(l.sku, [...(r.by.get(l.sku) ?? []), refund.name])
  }
  r.moneyCents += refund.moneyCents
  r.restoredPoints += refund.restoredPoints
  r.cancelledPoints += refund.cancelledPoints
}

/** A refund document of this till, as what it gave back of its sale. */
function ownReturn (tillId: string, d: SaleDoc): Parameters<typeof addReturned>[1] {
  return { name: `${tillId}-${d.n}`, lines: d.lines.map(l => ({ sku: l.sku, qty: -l.qty })), moneyCents: -(d.tenders.cash + d.tenders.card), restoredPoints: d.restored?.points ?? 0, cancelledPoints: d.cancelled?.points ?? 0 }
}

/**
 * A return of one of this till's receipts made at another till: consented to here before it was
 * made, or told of after (made without consent while this till was out of reach). Kept under
 * `f!<refund>`; its cancelled points and any line refunded beyond what was sold go in the next Close.
 */
interface ReturnElsewhere {
  refund: string
  docNo: string
  lines: SaleLine[]
  moneyCents: number
  cancelled: { member: string, saleDay: BusinessDay, points: number } | null
  conflicts: Array<{ sku: string, soldQty: number, refundedQty: number, refunds: string[] }>
  /** The seq of the Close that reported it; 0 until then. */
  reportedIn: number
}

/** Asks HQ for a grant of rights over a member's points (the signed grant's bytes), or throws why not. */
export interface RightsSource {
  ask (req: { grantId: string, member: string, till: string, points: number }): Promise<Uint8Array>
  /** Tell HQ at once of rights given back (it also reads them in the next Close): HQ may grant them elsewhere now. */
  giveBack? (req: { returnId: string, member: string, till: string, points: number }): Promise<void>
}

export interface SaleReceipt {
  docNo: DocNo
  totalCents: number
  changeCents: number
  points: number
  payments?: PaymentOutcome[]
}

/** The catalogue in force on a business day, and the skus sold as another (TillCatalogue is one). */
export interface CatalogueSource {
  on (day: BusinessDay): { catalogue: Catalogue, aliases: ReadonlyMap<string, string> }
}

export interface TillInit {
  store: StoreId
  till: number
  signer: Signer
  /** One catalogue for every day, or what is in force on each business day. */
  catalogue: Catalogue | CatalogueSource
  /** HQ's root key: replenishment orders must carry its signature. */
  hqRootKey: PublicKey
  /** Points earned per whole currency unit spent. */
  pointsPerUnit?: number
  /** Cash put in the drawer at open; cash refunds may use it, never more. */
  floatCents?: number
  /** Card and wallet payments to the processor; without it a card tender is only recorded. */
  payments?: TillPayments
  /** HQ, for rights over members' points beyond what this till holds; without it the till redeems only within its rights. */
  rights?: RightsSource
  /** The retailer's return window in days (RETURN_WINDOW_DAYS): a refund within it takes the sale's points back. */
  returnWindowDays?: number
}

const SALES_PREFIX = 's!'
/** HQ's signed grants of rights to this till, by grant id. */
const GRANTS_PREFIX = 'g!'
/** Returns of this till's receipts made at other tills, by their refund's document number. */
const ELSEWHERE_PREFIX = 'f!'
/** Returns of other tills' receipts made here without consent, until told to the issuing till. */
const FLAGGED_PREFIX = 'o!'
/** Rights this till gave back to HQ, by a number of their own; reported in the next Close. */
const RETURNED_PREFIX = 'q!'
const STATE_KEY = 'm!day'
const ACKED_KEY = 'm!acked'
const pad = (n: number): string => String(n).padStart(12, '0')
const SALES_PER_DAY_MAX = 1_000_000
/** Late declines one Close carries, at most (protocol's LINES_MAX bounds the list). */
const LATE_DECLINES_PER_CLOSE = 400
const DEFAULT_FLOAT_CENTS = 20_000
/**
 * Refunds of other tills' receipts a till makes in a business day without their consent (they
 * were out of reach): a loss bounded per till and day if a receipt turns out refunded already.
 */
export const REFUNDS_WITHOUT_CONSENT_CENTS_PER_DAY = 20_000
/** Returns made elsewhere one Close reports at most (their cancelled points and conflicts); the rest go in the next. */
const RETURNS_PER_CLOSE = 400
/** Refunds one conflict names at most (the protocol's bound). */
const CONFLICT_REFUNDS_MAX = 64

export class TillNode {
  readonly store: StoreId
  readonly till: number
  readonly tillId: TillId
  readonly #components: NodeComponents
  readonly #init: TillInit
  #state: DayState = 'closed'
  #businessDay: BusinessDay | null = null
  #lastClosedDay: BusinessDay | null = null
  /** First document number of the open day. */
  #dayDocFirst = 1
  #nextDocN = 1
  /**
   * What undoes a write the disk refused (a document: #notWritten; a Close or StockIn: #persist),
   * not yet written: a failed write is in doubt (the disk may yet replay it, at a reopen or after
   * a power cut), so it is undone by the next write that works: the keys it made deleted, the
   * values it replaced put back. Before, only the next document at that number replaced a
   * refused sale: a till that lost power first came back with it in its journal, counted in its
   * Close; and a refused Close could come back as the day's state after a reopen.
   */
  #voids: KvOp[] = []
  #log: Entry[] = []
  /** The same log as an Automerge document: what is on disk, and what replicas sync. */
  #doc: TillLog | null = null
  readonly #logStore: TillLogStore
  /** The change of the log that put each unacknowledged entry, by seq (what HQ is sent). */
  #changes = new Map<number, Uint8Array>()
  #acked = new Set<number>()
  #ackedThrough = 0
  #rejected = new Map<number, string>()
  #started = false
  /** Cash taken (net of cash refunds) since the day opened. */
  #dayCashCents = 0
  readonly #oneAtATime = new OneAtATime()
  /** This till as a holder of rights: its id and key (a till with another key after a fire holds none of these). */
  readonly instance: string
  /** Rights over members' points: a fold of HQ's grants and the journal's redemptions (made on first use). */
  #rights: TillRights | null = null
  /** HQ's grants this till holds (any instance's): the next grant id is one more. */
  #grantsHeld = 0

  #drawerCashCents (): number {
    return (this.#init.floatCents ?? DEFAULT_FLOAT_CENTS) + this.#dayCashCents
  }

  constructor (components: NodeComponents, init: TillInit) {
    this.#components = components
    this.#init = init
    this.store = init.store
    this.till = init.till
    this.tillId = tillIdOf(init.store, init.till)
    this.instance = tillInstance(this.tillId, toHex(init.signer.publicKey))
    this.#logStore = new TillLogStore({ store: components.store, tillId: this.tillId, ownKey: init.signer.publicKey })
  }

  /**
   * One operation at a time. Each reads the till's state (the next document number, the day),
   * awaits a durable write, then moves the state on: two interleaved would take the same
   * number. A POS front end may well send requests concurrently; they queue here.
   */
  async #serial<T> (op: () => Promise<T>): Promise<T> {
    return await this.#oneAtATime.run(op)
  }

  /** Whether an operation (a sale waiting on the processor, a close…) is under way or waiting its turn. */
  get busy (): boolean { return this.#oneAtATime.busy }

  /** Settles once every operation asked for so far has. */
  async idle (): Promise<void> {
    await this.#oneAtATime.idle()
  }

  /** The journal's key of document `n`: the one write that makes it (a fault aimed at one document's write). */
  static journalKey (n: number): string {
    return `${SALES_PREFIX}${pad(n)}`
  }

  /** The key of the day's state, written with each opening and close (a fault aimed at a close's write). */
  static readonly dayStateKey = STATE_KEY

  get state (): DayState { return this.#state }
  get businessDay (): BusinessDay | null { return this.#businessDay }
  get lastClosedDay (): BusinessDay | null { return this.#lastClosedDay }
  get nextDocN (): number { return this.#nextDocN }
  get log (): readonly Entry[] { return this.#log }
  get head (): Entry | undefined { return this.#log[this.#log.length - 1] }
  /** The log as Automerge's `save()` bytes (GET /log.automerge). */
  logDocument (): Uint8Array {
    // Every append is persisted before anything else runs (#appendRecord), so moving
    // Automerge's "saved" mark here loses no change from the next incremental chunk.
    return this.#loadedDoc().save()
  }

  /** The log's live document: what sync serves (read-only) to neighbours and HQ. */
  get logDoc (): TillLog { return this.#loadedDoc() }

  /** Chunks beside the log's snapshot on disk (they are compacted every LOG_CHUNKS_MAX). */
  get logChunks (): number { return this.#logStore.chunks }

  #loadedDoc (): TillLog {
    if (this.#doc === null) throw new TillStateError('the till has not started')
    return this.#doc
  }

  async start (): Promise<void> {
    const { store } = this.#components
    await store.open()
    this.#log = []
    this.#changes = new Map()
    const loaded = await this.#logStore.load()
    this.#doc = loaded.log
    for (const e of loaded.entries) this.#pushLog(e)
    if (loaded.migrated > 0) this.#components.logger.info({ tillId: this.tillId, entries: loaded.migrated }, 'till log migrated to an Automerge document')
    const acked = await store.get(ACKED_KEY)
    this.#ackedThrough = acked === undefined ? 0 : canonicalDecode(acked) as number
    const state = await store.get(STATE_KEY)
    if (state !== undefined) {
      const s = canonicalDecode(state) as { state: DayState, businessDay: BusinessDay | null, dayDocFirst: number }
      this.#state = s.state === 'closing' ? 'open' : s.state
      this.#businessDay = s.businessDay
      this.#dayDocFirst = s.dayDocFirst
    }
    const lastClose = this.#lastClose()
    this.#lastClosedDay = lastClose?.businessDay ?? null
    // The next number follows the highest of: the last document in the journal, the last
    // Close in the log (the journal may be gone after a fire, the log recovered).
    let lastN = lastClose?.docLast ?? 0
    for await (const [key] of store.entries({ gte: SALES_PREFIX, lt: prefixEnd(SALES_PREFIX) })) {
      lastN = Math.max(lastN, Number(key.slice(SALES_PREFIX.length)))
    }
    this.#nextDocN = lastN + 1
    if (this.#state === 'closed') this.#dayDocFirst = this.#nextDocN
    // A crash between the Close becoming durable and the state write: the log wins.
    if (this.#state === 'open' && lastClose !== undefined && lastClose.businessDay === this.#businessDay) {
      this.#state = 'closed'
      this.#dayDocFirst = this.#nextDocN
    }
    this.#dayCashCents = 0
    this.#rights = null
    this.#receiptRefunds = null
    if (this.#state === 'open') {
      for (const d of await this.journal(this.#dayDocFirst, this.#nextDocN - 1)) this.#dayCashCents += d.tenders.cash
    }
    this.#started = true
  }

  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#oneAtATime.idle()
    this.#doc?.free()
    this.#doc = null
    await this.#components.store.close()
  }

  #pushLog (entry: Entry): void {
    const head = this.head
    const expectedSeq = (head?.record.seq ?? 0) + 1
    if (entry.record.seq !== expectedSeq) throw new Error(`till log broken: seq ${entry.record.seq} after ${expectedSeq - 1}`)
    const prev = head?.hashBytes ?? GENESIS_HASH
    if (Buffer.compare(entry.record.prevHash, prev) !== 0) throw new Error(`till log broken: prevHash mismatch at seq ${entry.record.seq}`)
    this.#log.push(entry)
  }

  #lastClose (): Close | undefined {
    for (let i = this.#log.length - 1; i >= 0; i--) {
      const r = this.#log[i]?.record
      if (r?.kind === 'close') return r
    }
    return undefined
  }

  async #saveState (): Promise<void> {
    await this.#write([this.#stateOp(this.#state, this.#businessDay, this.#dayDocFirst)])
  }

  /**
   * The ops that put back what `ops` would change: each key's value before them, or its delete.
   * A key an undo still to be written names is as that undo leaves it (the store may hold, by
   * then, what a refused write put there).
   */
  async #undoOf (ops: readonly KvOp[]): Promise<KvOp[]> {
    const undo: KvOp[] = []
    const pending = new Map(this.#voids.map(op => [op.key, op]))
    const seen = new Set<string>()
    for (const op of ops) {
      if (seen.has(op.key)) continue
      seen.add(op.key)
      const was = pending.get(op.key)
      if (was !== undefined) {
        undo.push(was)
        continue
      }
      const old = await this.#components.store.get(op.key)
      undo.push(old === undefined ? { type: 'del', key: op.key } : { type: 'put', key: op.key, value: old })
    }
    return undo
  }

  /**
   * One fsync'd batch of the till's own writes, after the deletes of any refused document
   * (#voids). Only in turn (#serial): a write outside it could land after the document that
   * took the refused one's number, and delete it.
   */
  async #write (ops: KvOp[]): Promise<void> {
    const voids = this.#voids
    await this.#components.store.batch([...voids, ...ops], { sync: true })
    if (this.#voids === voids) this.#voids = []
  }

  #stateOp (state: DayState, businessDay: BusinessDay | null, dayDocFirst: number): KvOp {
    return { type: 'put', key: STATE_KEY, value: canonicalEncode({ state, businessDay, dayDocFirst }) }
  }

  /**
   * Sign a record, append it to the log document, and make both durable with `alsoWrite`
   * (the state the record moves the day to) in one fsync'd batch.
   */
  async #appendRecord (record: StockIn | Close, alsoWrite: KvOp[]): Promise<Entry> {
    const entry = signEntry(record, this.#init.signer)
    await this.#persist([entry], alsoWrite)
    return entry
  }

  /** Append entries to the document and write them (and `alsoWrite`) in one batch; on a failed write, back to what the disk holds. */
  async #persist (entries: Entry[], alsoWrite: KvOp[]): Promise<void> {
    const doc = this.#loadedDoc()
    const changes: Array<[number, Uint8Array]> = []
    for (const e of entries) {
      doc.append(e)
      const change = doc.lastLocalChange()
      if (change !== undefined) changes.push([e.record.seq, change])
    }
    const ops = this.#logStore.persistOps(doc)
    // What the batch would replace, read first: on a refusal it is put back (#voids).
    const undo = await this.#undoOf([...ops, ...alsoWrite]).catch(() => null)
    try {
      await this.#write([...ops, ...alsoWrite])
    } catch (err) {
      if (undo !== null) {
        this.#voids = [...this.#voids, ...undo]
        await this.#write([]).catch(() => {})
      }
      // The document moved on and the disk did not: take the document back from the disk
      // (or, if the disk cannot even be read, keep none: the till must be restarted).
      this.#doc = await this.#logStore.load().then(l => l.log, () => null)
      throw err
    }
    this.#logStore.written(ops)
    for (const e of entries) this.#pushLog(e)
    for (const [seq, change] of changes) this.#changes.set(seq, change)
  }

  #header (businessDay: BusinessDay): { v: 1, store: StoreId, till: number, businessDay: BusinessDay, seq: number, prevHash: Uint8Array, atMs: number } {
    const head = this.head
    return {
      v: 1,
      store: this.store,
      till: this.till,
      businessDay,
      seq: (head?.record.seq ?? 0) + 1,
      prevHash: head?.hashBytes ?? GENESIS_HASH,
      atMs: Math.max(0, this.#components.clock.nowMs())
    }
  }

  /**
   * Open the business day. With a delivery, the HQ-signed replenishment order is checked
   * and a StockIn records what was received (which may differ from what was shipped).
   */
  async openDay (businessDay: BusinessDay, delivery?: { order: Uint8Array, received?: SkuQty[] }): Promise<Entry | null> {
    return await this.#serial(async () => await this.#openDay(businessDay, delivery))
  }

  async #openDay (businessDay: BusinessDay, delivery?: { order: Uint8Array, received?: SkuQty[] }): Promise<Entry | null> {
    if (this.#state !== 'closed') throw new TillStateError(`cannot open ${businessDay}: the day ${this.#businessDay ?? ''} is ${this.#state}`)
    if (this.#lastClosedDay !== null && businessDay <= this.#lastClosedDay) throw new TillStateError(`cannot open ${businessDay}: already closed ${this.#lastClosedDay}`)
    let entry: Entry | null = null
    if (delivery !== undefined) {
      const order = openReplenishment(delivery.order, this.#init.hqRootKey)
      if (order.store !== this.store) throw new SaleRejectedError(`replenishment ${order.id} is for store ${order.store}`)
      const received = (delivery.received ?? order.lines).filter(l => l.qty !== 0).map(l => ({ sku: l.sku, qty: l.qty })).sort((a, b) => a.sku < b.sku ? -1 : 1)
      entry = await this.#appendRecord({ ...this.#header(businessDay), kind: 'stockIn', replenishmentId: order.id, shipped: order.lines, received }, [this.#stateOp('open', businessDay, this.#nextDocN)])
    }
    this.#state = 'open'
    this.#businessDay = businessDay
    this.#dayDocFirst = this.#nextDocN
    this.#dayCashCents = 0
    if (entry === null) await this.#saveState()
    return entry
  }

  /** Ring up a sale. Durable before it returns: the receipt's number is never reused. */
  async sell (sale: { lines: SaleLine[], tenders?: TenderIn[], member?: string, redeemPoints?: number }): Promise<SaleReceipt> {
    return await this.#serial(async () => await this.#document('sale', sale))
  }

  /** The rights this till holds over a member's points (what it may redeem with the network down). */
  async rightsOf (member: string): Promise<number> {
    return await this.#serial(async () => (await this.#rightsFold()).rights(member))
  }

  /**
   * Ask HQ now for rights over `points` more of a member's points (a till about to lose its
   * network, or a member who says they will spend them here): held until redeemed.
   */
  async reserveRights (member: string, points: number): Promise<number> {
    return await this.#serial(async () => {
      if (!MEMBER_ID_RE.test(member)) throw new SaleRejectedError('rights are over a member id\'s points')
      if (!Number.isSafeInteger(points) || points < 1) throw new SaleRejectedError('points are a positive whole number')
      const rights = await this.#rightsFold()
      await this.#askRights(member, points)
      return rights.rights(member)
    })
  }

  /**
   * Give rights this till holds back to HQ (all of them by default): written here first, so they
   * can no longer be spent here, then reported in the next Close, from which HQ may grant them
   * elsewhere. Answers the rights left.
   */
  async returnRights (member: string, points?: number): Promise<number> {
    return await this.#serial(async () => {
      const rights = await this.#rightsFold()
      const n = points ?? rights.rights(member)
      if (!MEMBER_ID_RE.test(member)) throw new SaleRejectedError('rights are over a member id\'s points')
      if (!Number.isSafeInteger(n) || n < 0 || n > rights.rights(member)) throw new SaleRejectedError(`${String(n)} points to give back: this till holds rights to ${rights.rights(member)}`)
      if (n === 0) return 0
      const returns = await this.#rightsReturns()
      const id = `q${returns.length + 1}`
      rights.apply({ kind: 'return', id, member, till: this.instance, points: n }) // BeyondRightsError beyond what it holds
      const record = { id, member, points: n, reportedIn: 0 }
      try {
        await this.#write([{ type: 'put', key: `${RETURNED_PREFIX}${pad(returns.length + 1)}`, value: canonicalEncode(record) }])
      } catch (err) {
        this.#rights = null // the fold is read again from what the disk holds
        throw err
      }
      // HQ told at once, if it is reachable: the points can be escrowed at another till now (the
      // next Close reports the return anyway; HQ counts it once, by its number).
      try {
        await this.#init.rights?.giveBack?.({ returnId: id, member, till: this.instance, points: n })
      } catch (err) {
        this.#components.logger.warn({ tillId: this.tillId, returnId: id, err: (err as Error).message }, 'rights given back: HQ hears of it with the next Close')
      }
      return rights.rights(member)
    })
  }

  async #rightsReturns (): Promise<Array<{ id: string, member: string, points: number, reportedIn: number }>> {
    const out: Array<{ id: string, member: string, points: number, reportedIn: number }> = []
    for await (const [, v] of this.#components.store.entries({ gte: RETURNED_PREFIX, lt: prefixEnd(RETURNED_PREFIX) })) out.push(canonicalDecode(v) as unknown as { id: string, member: string, points: number, reportedIn: number })
    return out
  }

  /** The fold of this till's rights: HQ's grants to this instance, then the journal's redemptions and restores by it, then its returns. */
  async #rightsFold (): Promise<TillRights> {
    if (this.#rights !== null) return this.#rights
    const rights = new TillRights(this.instance)
    this.#grantsHeld = 0
    for await (const [, bytes] of this.#components.store.entries({ gte: GRANTS_PREFIX, lt: prefixEnd(GRANTS_PREFIX) })) {
      this.#grantsHeld++
      const g = openRightsGrant(bytes, this.#init.hqRootKey)
      if (g.till === this.instance) rights.apply({ kind: 'grant', id: g.id, member: g.member, till: g.till, points: g.points })
    }
    for (const d of this.#nextDocN > 1 ? await this.journal(1, this.#nextDocN - 1) : []) {
      if (d.redeemed !== undefined && d.redeemed.till === this.instance) rights.apply({ kind: 'redeem', id: `r${d.n}`, member: d.redeemed.member, till: this.instance, points: d.redeemed.points })
      if (d.restored !== undefined && d.restored.till === this.instance) rights.apply({ kind: 'restore', id: `s${d.n}`, member: d.restored.member, till: this.instance, points: d.restored.points })
    }
    // Returns are debits checked against what was held when each was written: all of it precedes them here, so each holds again.
    for (const q of await this.#rightsReturns()) rights.apply({ kind: 'return', id: q.id, member: q.member, till: this.instance, points: q.points })
    this.#rights = rights
    return rights
  }

  /**
   * Ask HQ for a grant of `points` (one round trip), keep it (fsync'd) and credit it: refused
   * with the reason. Grants are numbered by this till (`<instance>:g<n>`, n one more than the
   * grants it holds): a retry after a lost answer asks with the same id and gets the same grant
   * back, which is kept (it is this till's, whatever it was for), and the next id is asked.
   */
  async #askRights (member: string, points: number): Promise<void> {
    const source = this.#init.rights
    const rights = await this.#rightsFold()
    if (source === undefined) throw new RedemptionRefusedError(`this till holds rights to ${rights.rights(member)} of ${member}'s points and has no HQ to ask for more`)
    const want = rights.rights(member) + points
    for (let attempt = 0; attempt < 2 && rights.rights(member) < want; attempt++) {
      const grantId = `${this.instance}:g${this.#grantsHeld + 1}`
      const asked = want - rights.rights(member)
      let bytes: Uint8Array
      try {
        bytes = await source.ask({ grantId, member, till: this.instance, points: asked })
      } catch (err) {
        throw new RedemptionRefusedError(`this till holds rights to ${rights.rights(member)} of ${member}'s points; HQ granted no more: ${(err as Error).message}`)
      }
      const g = openRightsGrant(bytes, this.#init.hqRootKey)
      if (g.till !== this.instance || g.id !== grantId) throw new RedemptionRefusedError(`HQ's grant ${g.id} is not the one asked for`)
      await this.#write([{ type: 'put', key: `${GRANTS_PREFIX}${g.id}`, value: bytes }])
      rights.apply({ kind: 'grant', id: g.id, member: g.member, till: this.instance, points: g.points })
      this.#grantsHeld++
    }
  }

  /**
   * Refund goods (lines with positive qty are returned): money goes back on the given tender.
   * With a processor, a card refund names the card payment it goes back to (`paymentId`) and is
   * made through the processor first: no refund document unless it approves.
   */
  async refund (refund: { lines: SaleLine[], tender?: Tender, paymentId?: string, receiptOf?: string, elsewhere?: ReturnOfElsewhere }): Promise<SaleReceipt> {
    const lines = refund.lines.map(l => ({ sku: l.sku, qty: -l.qty }))
    return await this.#serial(async () => {
      if (refund.elsewhere !== undefined) return await this.#refundElsewhere(refund.elsewhere, refund.lines, refund.tender ?? 'cash')
      if (refund.receiptOf === undefined) return await this.#document('refund', { lines, tenders: [{ type: refund.tender ?? 'cash', amountCents: 0 }], ...(refund.paymentId !== undefined ? { refundOf: refund.paymentId } : {}) })
      // A return by receipt: each of the sale's lines refunded at most once (what this till has
      // refunded against it is in its own journal), at the price it was sold at, and a card
      // refund goes back to the sale's own card payment unless another is named.
      const docNo = refund.receiptOf
      const original = await this.#sold(docNo)
      const returned = await this.#refundedAgainst(docNo)
      const refunded = returned.lines
      const sold = new Map<string, number>()
      for (const l of original.lines) sold.set(l.sku, (sold.get(l.sku) ?? 0) + l.qty)
      const asked = new Map<string, number>()
      for (const l of refund.lines) asked.set(l.sku, (asked.get(l.sku) ?? 0) + l.qty)
      for (const [sku, qty] of asked) {
        const left = (sold.get(sku) ?? 0) - (refunded.get(sku) ?? 0)
        if (qty > left) throw new SaleRejectedError(`receipt ${docNo}: ${qty} × ${sku} asked back, ${left} left to refund (sold ${sold.get(sku) ?? 0}, refunded ${refunded.get(sku) ?? 0})`)
      }
      const cardPayment = original.payments?.find(p => p.status !== 'declined' && p.amountCents > 0)?.paymentId
      const paymentId = refund.paymentId ?? cardPayment
      const returnOf: ReturnOf = { sale: original, moneyCents: returned.moneyCents, restoredPoints: returned.restoredPoints, cancelledPoints: returned.cancelledPoints }
      const r = await this.#document('refund', { lines, tenders: [{ type: refund.tender ?? 'cash', amountCents: 0 }], ...(paymentId !== undefined ? { refundOf: paymentId } : {}), receiptOf: docNo, priceDay: original.businessDay, returnOf })
      return r
    })
  }

  /** Per sold document, what its refunds gave back: quantities, money, points restored and cancelled (from the journal, read once, then kept up to date). */
  #receiptRefunds: Map<string, Returned> | null = null

  /** The sale a receipt names, from this till's journal (a document of another till, or not a sale: refused). */
  async #sold (docNo: string): Promise<SaleDoc> {
    const prefix = `${docNoOf(this.store, this.till, 1).slice(0, -1)}`
    const n = docNo.startsWith(prefix) ? Number(docNo.slice(prefix.length)) : NaN
    if (!Number.isSafeInteger(n) || n < 1 || n >= this.#nextDocN) throw new SaleRejectedError(`document ${docNo} is not one of this till's`)
    const [doc] = await this.journal(n, n)
    if (doc === undefined || doc.kind !== 'sale') throw new SaleRejectedError(`document ${docNo} is not a sale`)
    return doc
  }

  async #refundedAgainst (docNo: string): Promise<Returned> {
    if (this.#receiptRefunds === null) {
      const all = new Map<string, Returned>()
      const add = (docNo: string, x: Parameters<typeof addReturned>[1]): void => {
        let r = all.get(docNo)
        if (r === undefined) {
          r = newReturned()
          all.set(docNo, r)
        }
        addReturned(r, x)
      }
      const own = `${this.tillId}-`
      for (const d of this.#nextDocN > 1 ? await this.journal(1, this.#nextDocN - 1) : []) {
        // Refunds here of this till's own receipts (another till's receipt refunded here is that till's to count).
        if (d.kind === 'refund' && d.receiptOf?.startsWith(own) === true) add(d.receiptOf, ownReturn(this.tillId, d))
      }
      for (const f of await this.#returnsElsewhere()) add(f.docNo, { name: f.refund, lines: f.lines, moneyCents: f.moneyCents, restoredPoints: 0, cancelledPoints: f.cancelled?.points ?? 0 })
      this.#receiptRefunds = all
    }
    let r = this.#receiptRefunds.get(docNo)
    if (r === undefined) {
      r = newReturned()
      this.#receiptRefunds.set(docNo, r)
    }
    return r
  }


  /**
   * A return of another till's receipt: that till is asked to consent first (it alone knows
   * what of it was refunded already); out of reach, the refund is made within this till's daily
   * allowance for such refunds, against the receipt's own lines, flagged in the Close, and told
   * to that till when it can be. Money back never exceeds what the sale took in money.
   */
  async #refundElsewhere (r: ReturnOfElsewhere, asked: SaleLine[], tender: Tender): Promise<SaleReceipt> {
    if (this.#state !== 'open' || this.#businessDay === null) throw new TillStateError(`the till is ${this.#state}: open the day first`)
    const refundDocNo = docNoOf(this.store, this.till, this.#nextDocN)
    const value = this.#priceOn(r.businessDay, asked).priced.totalCents
    // What this till already refunded of that receipt (its own journal): never more than the sale took.
    let moneyHere = 0
    const here = new Map<string, number>()
    let flaggedToday = 0
    for (const d of this.#nextDocN > 1 ? await this.journal(1, this.#nextDocN - 1) : []) {
      if (d.kind === 'refund' && d.receiptOf === r.docNo) {
        moneyHere -= d.tenders.cash + d.tenders.card
        for (const l of d.lines) here.set(l.sku, (here.get(l.sku) ?? 0) - l.qty)
      }
      if (d.elsewhere === 'flagged' && d.n >= this.#dayDocFirst) flaggedToday -= d.tenders.cash + d.tenders.card
    }
    if (value > r.moneyCents - moneyHere) throw new ReturnRefusedError(`receipt ${r.docNo} took ${r.moneyCents} cents in money, ${r.moneyCents - moneyHere} are left to refund here; these lines are worth ${value} (points are given back at ${r.tillId})`)
    // Everything that could refuse this refund here is checked before the selling till is asked:
    // its consent counts the lines as refunded.
    if (value <= 0) throw new ReturnRefusedError('these lines are worth nothing: there is nothing to refund')
    if (tender === 'cash' && value > this.#drawerCashCents()) throw new SaleRejectedError(`the drawer holds ${this.#drawerCashCents()} cents, the refund is ${value}: refund to card`)
    if (tender === 'card' && this.#init.payments !== undefined) throw new ReturnRefusedError(`a card payment is refunded through the till that took it (${r.tillId}); here, refund in cash`)
    const answer = await r.ask(refundDocNo)
    let elsewhere: 'consented' | 'flagged' = 'consented'
    const alsoWrite: KvOp[] = []
    if (answer === 'unreachable') {
      if (r.soldLines === null) throw new ReturnRefusedError(`till ${r.tillId}, which sold it, is out of reach: without the receipt's lines (its file), nothing shows they were sold; return it at ${r.tillId}, or bring the receipt file`)
      const sold = new Map<string, number>()
      for (const l of r.soldLines) sold.set(l.sku, (sold.get(l.sku) ?? 0) + l.qty)
      for (const l of asked) {
        const left = (sold.get(l.sku) ?? 0) - (here.get(l.sku) ?? 0)
        if (l.qty > left) throw new ReturnRefusedError(`receipt ${r.docNo}: ${l.qty} × ${l.sku} asked back, ${Math.max(0, left)} left on it (refunded here before: ${here.get(l.sku) ?? 0})`)
      }
      if (flaggedToday + value > REFUNDS_WITHOUT_CONSENT_CENTS_PER_DAY) throw new ReturnRefusedError(`till ${r.tillId}, which sold it, is out of reach, and this till has refunded ${flaggedToday} cents of other tills' receipts without consent today: at most ${REFUNDS_WITHOUT_CONSENT_CENTS_PER_DAY}`)
      elsewhere = 'flagged'
      const flagged: FlaggedReturn = { refund: refundDocNo, tillId: r.tillId, docNo: r.docNo, cose: r.cose, lines: asked.map(l => ({ sku: l.sku, qty: l.qty })) }
      alsoWrite.push({ type: 'put', key: `${FLAGGED_PREFIX}${refundDocNo}`, value: canonicalEncode(flagged as unknown as Canonical) })
    }
    return await this.#document('refund', { lines: asked.map(l => ({ sku: l.sku, qty: -l.qty })), tenders: [{ type: tender, amountCents: 0 }], receiptOf: r.docNo, priceDay: r.businessDay, elsewhere, alsoWrite })
  }

  /** Returns made here without their till's consent, not yet told to it (oldest first). */
  async flaggedReturns (): Promise<FlaggedReturn[]> {
    const out: FlaggedReturn[] = []
    // A refund the disk refused may be back (a reopen replayed it) until its undo is written: not one to tell.
    const undone = new Set(this.#voids.map(op => op.key))
    for await (const [k, v] of this.#components.store.entries({ gte: FLAGGED_PREFIX, lt: prefixEnd(FLAGGED_PREFIX) })) if (!undone.has(k)) out.push(canonicalDecode(v) as unknown as FlaggedReturn)
    return out
  }

  /** The receipt's till has recorded a flagged return: nothing left to tell it. */
  async returnTold (refund: string): Promise<void> {
    // In turn, so that it carries what undoes a refused write (#voids).
    await this.#serial(async () => { await this.#write([{ type: 'del', key: `${FLAGGED_PREFIX}${refund}` }]) })
  }

  /** Lines of this till's receipts refunded beyond what was sold, as told by the tills that refunded them without consent. */
  async returnConflicts (): Promise<Array<{ receipt: string, sku: string, soldQty: number, refundedQty: number, refunds: string[] }>> {
    return (await this.#returnsElsewhere()).flatMap(f => f.conflicts.map(c => ({ receipt: f.docNo, ...c })))
  }

  /** Every return of this till's receipts made elsewhere, as recorded here. */
  async #returnsElsewhere (): Promise<ReturnElsewhere[]> {
    const out: ReturnElsewhere[] = []
    for await (const [, v] of this.#components.store.entries({ gte: ELSEWHERE_PREFIX, lt: prefixEnd(ELSEWHERE_PREFIX) })) out.push(canonicalDecode(v) as unknown as ReturnElsewhere)
    return out
  }

  /**
   * Another till returns lines of one of this till's receipts as its refund `refund`: asked
   * before (`made` false: consent only within what is left to refund, and to the money the sale
   * took: its points go back only here), or told after it was made without consent (`made`
   * true: recorded whatever it is, lines beyond what was sold reported as conflicts naming
   * every refund of them). Either way the sale's pending points the refund undoes are cancelled
   * in this till's next Close. The same refund again changes nothing.
   */
  async approveReturn (req: { refund: string, docNo: string, lines: SaleLine[], made: boolean }): Promise<void> {
    await this.#serial(async () => {
      const had = await this.#components.store.get(`${ELSEWHERE_PREFIX}${req.refund}`)
      if (had !== undefined) {
        // The same return again (a retry, or told after it was consented): nothing changes. The
        // same refund number for another return is refused: it cannot be counted twice.
        const was = canonicalDecode(had) as unknown as ReturnElsewhere
        const key = (lines: readonly SaleLine[]): string => sumLines(lines).map(l => `${l.sku}:${l.qty}`).join()
        const same = was.docNo === req.docNo && key(was.lines) === key(req.lines)
        if (!same) throw new SaleRejectedError(`refund ${req.refund} was recorded here for another return`)
        return
      }
      if (req.refund.startsWith(`${this.tillId}-`)) throw new SaleRejectedError('a refund of this till is not a return elsewhere')
      const sale = await this.#sold(req.docNo)
      const returned = await this.#refundedAgainst(req.docNo)
      const sold = new Map<string, number>()
      for (const l of sale.lines) sold.set(l.sku, (sold.get(l.sku) ?? 0) + l.qty)
      for (const l of req.lines) if (!Number.isSafeInteger(l.qty) || l.qty < 1) throw new SaleRejectedError(`bad quantity for ${l.sku}`)
      const asked = new Map(sumLines(req.lines).map(l => [l.sku, l.qty]))
      const conflicts: ReturnElsewhere['conflicts'] = []
      for (const [sku, qty] of asked) {
        const before = returned.lines.get(sku) ?? 0
        const left = (sold.get(sku) ?? 0) - before
        if (qty <= left) continue
        if (!req.made) throw new SaleRejectedError(`receipt ${req.docNo}: ${qty} × ${sku} asked back, ${Math.max(0, left)} left to refund (sold ${sold.get(sku) ?? 0}, refunded ${before})`)
        conflicts.push({ sku, soldQty: sold.get(sku) ?? 0, refundedQty: before + qty, refunds: [...(returned.by.get(sku) ?? []), req.refund].sort() })
      }
      const valueCents = this.#priceOn(sale.businessDay, [...asked].map(([sku, qty]) => ({ sku, qty }))).priced.totalCents
      const soldMoney = sale.totalCents - (sale.redeemed?.points ?? 0) * POINT_VALUE_CENTS
      const moneyLeft = soldMoney - returned.moneyCents
      if (!req.made && valueCents > moneyLeft) throw new SaleRejectedError(`receipt ${req.docNo} was paid partly with points: ${moneyLeft} cents are left to refund in money, these lines are worth ${valueCents}; the rest is returned at ${this.tillId}, which gives the points back`)
      let cancelled: ReturnElsewhere['cancelled'] = null
      // The day the cancellation will be reported on: today's Close, or (closed) the next one. HQ vests
      // the sale's points once it holds this till's Close of the window's last day, so a cancellation
      // reported after that day would take back vested points: none then.
      const today = this.#state !== 'closed' ? this.#businessDay : this.#lastClosedDay === null ? null : nextBusinessDay(this.#lastClosedDay)
      if (sale.member !== null && sale.points > 0 && today !== null && today <= lastReturnDay(sale.businessDay, this.#init.returnWindowDays)) {
        const kept = Math.floor(Math.max(0, moneyLeft - valueCents) / 100) * (this.#init.pointsPerUnit ?? 1)
        const cancel = Math.max(0, sale.points - returned.cancelledPoints - kept)
        if (cancel > 0) cancelled = { member: sale.member, saleDay: sale.businessDay, points: cancel }
      }
      const record: ReturnElsewhere = { refund: req.refund, docNo: req.docNo, lines: sumLines(req.lines), moneyCents: valueCents, cancelled, conflicts, reportedIn: 0 }
      await this.#write([{ type: 'put', key: `${ELSEWHERE_PREFIX}${req.refund}`, value: canonicalEncode(record as unknown as Canonical) }])
      addReturned(returned, { name: req.refund, lines: record.lines, moneyCents: valueCents, restoredPoints: 0, cancelledPoints: cancelled?.points ?? 0 })
      if (conflicts.length > 0) this.#components.logger.warn({ tillId: this.tillId, receipt: req.docNo, refund: req.refund, conflicts }, 'lines of a receipt refunded beyond what was sold')
    })
  }

  /** Lines priced by the catalogue in force on `day` (a sku since resolved to be another is sold as that one). */
  #priceOn (day: BusinessDay, input: SaleLine[]): { lines: SaleLine[], priced: ReturnType<typeof priceSale> } {
    const inForce = this.#init.catalogue instanceof Catalogue ? { catalogue: this.#init.catalogue, aliases: new Map<string, string>() } : this.#init.catalogue.on(day)
    const lines = inForce.aliases.size === 0 ? input : input.map(l => ({ sku: inForce.aliases.get(l.sku) ?? l.sku, qty: l.qty }))
    try {
      return { lines, priced: priceSale(inForce.catalogue, lines) }
    } catch (err) {
      throw new SaleRejectedError((err as Error).message)
    }
  }

  async #document (kind: 'sale' | 'refund', input: { lines: SaleLine[], tenders?: TenderIn[], member?: string, redeemPoints?: number, refundOf?: string, receiptOf?: string, priceDay?: BusinessDay, returnOf?: ReturnOf, elsewhere?: 'consented' | 'flagged', alsoWrite?: KvOp[] }): Promise<SaleReceipt> {
    if (this.#state !== 'open' || this.#businessDay === null) throw new TillStateError(`the till is ${this.#state}: open the day first`)
    if (this.#nextDocN - this.#dayDocFirst >= SALES_PER_DAY_MAX) throw new SaleRejectedError('too many documents today')
    if (!Array.isArray(input.lines) || input.lines.length === 0) throw new SaleRejectedError('a sale needs at least one line')
    for (const l of input.lines) {
      if (!Number.isSafeInteger(l.qty) || l.qty === 0 || (kind === 'sale' && l.qty < 0)) throw new SaleRejectedError(`bad quantity for ${String(l.sku)}: ${String(l.qty)}`)
    }
    // Priced by the catalogue in force on the sale's business day; a sku since resolved to be
    // the same as another is sold (and counted in the Close) as that one.
    // A return by receipt is priced as it was sold: by the catalogue of the sale's day.
    const { lines, priced } = this.#priceOn(input.priceDay ?? this.#businessDay, input.lines)
    const total = priced.totalCents
    const tenders: Record<Tender, number> = { cash: 0, card: 0 }
    const pointsPerUnit = this.#init.pointsPerUnit ?? 1
    const n = this.#nextDocN
    const member = kind === 'sale' && input.member !== undefined ? input.member : null
    // Points redeemed pay part of a sale, like a tender (checked against this till's rights below).
    const redeemPoints = kind === 'sale' ? input.redeemPoints ?? 0 : 0
    if (!Number.isSafeInteger(redeemPoints) || redeemPoints < 0) throw new SaleRejectedError('redeemPoints is a whole number of points')
    if (redeemPoints > 0 && (member === null || !MEMBER_ID_RE.test(member))) throw new SaleRejectedError('points are redeemed by a member: their card or member id')
    const redeemCents = redeemPoints * POINT_VALUE_CENTS
    if (redeemPoints > 0 && redeemCents > total) throw new SaleRejectedError(`${redeemPoints} points are worth ${redeemCents} cents, more than the sale's ${total}`)
    const payable = total - redeemCents
    let changeCents = 0
    let restored: SaleDoc['restored']
    let cancelled: SaleDoc['cancelled']
    if (kind === 'refund') {
      const given = input.tenders?.[0]?.type ?? 'cash'
      const t: Tender = given === 'wallet' ? 'card' : given
      // A return by receipt gives the money its sale took back first, then the points it redeemed.
      let moneyCents = -total
      const r = input.returnOf
      if (r !== undefined) {
        const sold = r.sale
        const soldRedeemed = sold.redeemed?.points ?? 0
        const soldMoney = sold.totalCents - soldRedeemed * POINT_VALUE_CENTS
        moneyCents = Math.min(-total, soldMoney - r.moneyCents)
        // Whole points back, never worth more than what is left after the money (the rest is money).
        const restorePoints = Math.min(soldRedeemed - r.restoredPoints, Math.floor((-total - moneyCents) / POINT_VALUE_CENTS))
        moneyCents = -total - restorePoints * POINT_VALUE_CENTS
        if (restorePoints > 0 && sold.redeemed !== undefined) {
          // Given back to the rights that paid: this till's, as it was then. A till since given
          // another key (a fire, a fork) holds none of them, and cannot give them back.
          if (sold.redeemed.till !== this.instance) throw new SaleRejectedError(`receipt ${input.receiptOf ?? ''} was paid partly with points redeemed under this till's earlier key: its points cannot be given back here`)
          if (restorePoints > (await this.#rightsFold()).redeemed(sold.redeemed.member)) throw new Error(`till rights broken: ${restorePoints} points to give back, fewer redeemed here`)
          restored = { member: sold.redeemed.member, points: restorePoints, till: this.instance }
        }
        // Within the return window the sale's points are still pending: take back those the money kept no longer earns.
        if (sold.member !== null && sold.points > 0 && this.#businessDay <= lastReturnDay(sold.businessDay, this.#init.returnWindowDays)) {
          const kept = Math.floor(Math.max(0, soldMoney - r.moneyCents - moneyCents) / 100) * pointsPerUnit
          const cancel = Math.max(0, sold.points - r.cancelledPoints - kept)
          if (cancel > 0) cancelled = { member: sold.member, saleDay: sold.businessDay, points: cancel }
        }
      }
      if (t === 'cash' && moneyCents > this.#drawerCashCents()) throw new SaleRejectedError(`the drawer holds ${this.#drawerCashCents()} cents, the refund is ${moneyCents}: refund to card`)
      tenders[t] = moneyCents === 0 ? 0 : -moneyCents
    } else if (input.tenders === undefined || input.tenders.length === 0) {
      tenders.cash = payable
    } else {
      let card = 0
      let cash = 0
      for (const t of input.tenders) {
        if (!Number.isSafeInteger(t.amountCents) || t.amountCents <= 0) throw new SaleRejectedError('tender amounts are positive integer cents')
        // A wallet is paid through the card processor: it is card takings in the Close.
        if (t.type === 'card' || t.type === 'wallet') card += t.amountCents
        else if (t.type === 'cash') cash += t.amountCents
        else throw new SaleRejectedError(`unknown tender ${String((t as { type: unknown }).type)}`)
      }
      if (card > payable) throw new SaleRejectedError(`card ${card} exceeds the ${redeemCents > 0 ? 'amount left after points' : 'total'} ${payable}`)
      const due = payable - card
      if (cash < due) throw new SaleRejectedError(`tenders ${card + cash} do not cover the ${redeemCents > 0 ? 'amount left after points' : 'total'} ${payable}`)
      changeCents = cash - due
      tenders.card = card
      tenders.cash = due
    }
    // Points are earned on what the member paid (not on what points paid).
    const points = member !== null && payable > 0 ? Math.floor(payable / 100) * pointsPerUnit : 0
    // Within this till's rights, no round trip; beyond them, HQ is asked for the difference.
    if (redeemPoints > 0 && member !== null) {
      const rights = await this.#rightsFold()
      const have = rights.rights(member)
      if (have < redeemPoints) await this.#askRights(member, redeemPoints - have)
      if (!rights.canSpend(member, redeemPoints)) throw new RedemptionRefusedError(`${redeemPoints} points asked, this till holds rights to ${rights.rights(member)}`)
    }
    // Card and wallet tenders go to the processor now (one round trip each), before the sale is
    // written: a declined one means no sale, and what the sale's other tenders took is undone.
    const payments: PaymentOutcome[] = []
    if (kind === 'refund' && tenders.card !== 0 && this.#init.payments !== undefined) {
      if (input.refundOf === undefined) throw new SaleRejectedError('a card refund names the card payment it goes back to (paymentId)')
      payments.push(await this.#init.payments.refund(input.refundOf, -tenders.card, docNoOf(this.store, this.till, n)))
    }
    if (kind === 'sale' && this.#init.payments !== undefined) {
      for (const t of input.tenders ?? []) {
        if (t.type !== 'card' && t.type !== 'wallet') continue
        try {
          payments.push(await this.#init.payments.pay({ type: t.type, amountCents: t.amountCents, ...(t.card?.token !== undefined ? { token: t.card.token } : {}) }, docNoOf(this.store, this.till, n), this.#businessDay))
        } catch (err) {
          for (const done of payments) await this.#init.payments.reverse(done.paymentId)
          throw err
        }
      }
    }
    const doc: SaleDoc = {
      n,
      kind,
      businessDay: this.#businessDay,
      atMs: Math.max(0, this.#components.clock.nowMs()),
      lines: lines.map(l => ({ sku: l.sku, qty: l.qty })),
      tenders,
      totalCents: total,
      changeCents,
      perRate: priced.perRate.map(r => ({ rateBp: r.rateBp, netCents: r.netCents, taxCents: r.taxCents })),
      consumed: priced.consumed,
      member,
      points,
      ...(payments.length > 0 ? { payments } : {}),
      ...(input.receiptOf !== undefined ? { receiptOf: input.receiptOf } : {}),
      ...(redeemPoints > 0 && member !== null ? { redeemed: { member, points: redeemPoints, till: this.instance } } : {}),
      ...(restored !== undefined ? { restored } : {}),
      ...(cancelled !== undefined ? { cancelled } : {}),
      ...(input.elsewhere !== undefined ? { elsewhere: input.elsewhere } : {})
    }
    const ops: KvOp[] = [{ type: 'put', key: TillNode.journalKey(n), value: canonicalEncode(doc as unknown as Canonical) }, ...(input.alsoWrite ?? [])]
    try {
      await this.#write(ops)
    } catch (err) {
      throw await this.#notWritten(kind, n, ops, payments, err)
    }
    this.#nextDocN = n + 1
    this.#dayCashCents += tenders.cash
    // A return of one of this till's receipts: counted at once, in the same step as the write.
    if (kind === 'refund' && input.receiptOf?.startsWith(`${this.tillId}-`) === true && this.#receiptRefunds !== null) {
      let r = this.#receiptRefunds.get(input.receiptOf)
      if (r === undefined) {
        r = newReturned()
        this.#receiptRefunds.set(input.receiptOf, r)
      }
      addReturned(r, ownReturn(this.tillId, doc))
    }
    // The journal holds them now: the rights fold follows (checked before the write: it cannot refuse).
    if (doc.redeemed !== undefined) this.#rights?.apply({ kind: 'redeem', id: `r${n}`, member: doc.redeemed.member, till: this.instance, points: doc.redeemed.points })
    if (restored !== undefined && restored.till === this.instance) (await this.#rightsFold()).apply({ kind: 'restore', id: `s${n}`, member: restored.member, till: this.instance, points: restored.points })
    return { docNo: docNoOf(this.store, this.till, n), totalCents: total, changeCents, points, ...(payments.length > 0 ? { payments } : {}) }
  }

  /**
   * A document the disk would not take: not made. Nothing in memory moved (the number, the
   * drawer, the rights fold all move after the write), so the next document takes number `n`
   * again: numbers stay contiguous, and the journal never holds a number twice (that write,
   * at `n`, replaces whatever of this one the disk may yet replay: a failed write is in doubt
   * until the store reopens). What card tenders took for a sale is given back, as for a
   * declined tender; a refund's money already went back at the processor, and stays in
   * its record there for reconciliation (logged).
   */
  async #notWritten (kind: 'sale' | 'refund', n: number, ops: readonly KvOp[], payments: PaymentOutcome[], err: unknown): Promise<TillDiskError> {
    const code = diskErrorCode(err) ?? 'UNKNOWN'
    const docNo = docNoOf(this.store, this.till, n)
    this.#components.logger.error({ tillId: this.tillId, docNo, kind, code, err: (err as Error)?.message }, 'document not written: refused, no receipt; numbering, day and stock unchanged')
    // Deleted at once if the disk takes it, else by the next write that works. A document's
    // writes only make keys (its number, and what it flags, are new), so deleting them is
    // taking it back.
    this.#voids = [...this.#voids, ...ops.map(op => ({ type: 'del' as const, key: op.key }))]
    await this.#write([]).catch(() => {})
    if (kind === 'sale' && this.#init.payments !== undefined) {
      for (const p of payments) {
        // Its own writes may fail on the same disk: then the payment stays as recorded, and
        // settlement shows it against no document (reconciliation's exception).
        await this.#init.payments.reverse(p.paymentId).catch((e: unknown) => {
          this.#components.logger.error({ tillId: this.tillId, docNo, paymentId: p.paymentId, err: (e as Error)?.message }, 'a card payment of a sale not written is not reversed yet')
        })
      }
    } else if (payments.length > 0) {
      this.#components.logger.error({ tillId: this.tillId, docNo, payments: payments.map(p => p.paymentId) }, 'a card refund went through at the processor, its document was not written')
    }
    return new TillDiskError(`the till could not record ${kind === 'sale' ? 'the sale' : 'the refund'} (disk: ${code}): not made, no receipt; try again`, code, { cause: err })
  }

  /** The day's documents, from the journal. */
  async journal (fromN: number, toN: number): Promise<SaleDoc[]> {
    const docs: SaleDoc[] = []
    for await (const [, v] of this.#components.store.entries({ gte: `${SALES_PREFIX}${pad(fromN)}`, lt: `${SALES_PREFIX}${pad(toN + 1)}` })) {
      docs.push(canonicalDecode(v) as unknown as SaleDoc)
    }
    return docs
  }

  /**
   * Close the day: sum the journal into a Close, sign it, make it durable, queue it for HQ.
   * `cashCountedCents` is what the drawer count found (defaults to what it should hold).
   */
  async closeDay (opts: { cashCountedCents?: number } = {}): Promise<Entry> {
    return await this.#serial(async () => await this.#closeDay(opts))
  }

  async #closeDay (opts: { cashCountedCents?: number }): Promise<Entry> {
    if (this.#state !== 'open' || this.#businessDay === null) throw new TillStateError(`cannot close: the till is ${this.#state}`)
    this.#state = 'closing'
    try {
      const docFirst = this.#dayDocFirst
      const docLast = this.#nextDocN - 1
      const docs = await this.journal(docFirst, docLast)
      if (docs.length !== docLast - docFirst + 1 || docs.some((d, i) => d.n !== docFirst + i)) {
        throw new Error(`till journal broken: documents ${docFirst}..${docLast} not contiguous`)
      }
      const takingsCents: Record<Tender, number> = { cash: 0, card: 0 }
      const perRate = new Map<number, { netCents: number, taxCents: number }>()
      const consumed = new Map<string, number>()
      const points = new Map<string, number>()
      const redeemed = new Map<string, number>()
      const cancelled = new Map<string, CancelLine>()
      const cancel = (x: CancelLine): void => {
        const key = `${x.member}\u0000${x.saleDay}`
        const c = cancelled.get(key) ?? { member: x.member, saleDay: x.saleDay, points: 0 }
        c.points += x.points
        cancelled.set(key, c)
      }
      const flaggedRefunds: FlaggedRefund[] = []
      // Card and wallet payments through a processor, per processor, type and mode: the detail stays here.
      const paid = new Map<string, { processor: string, type: 'card' | 'wallet', mode: 'online' | 'offline', approvals: Array<{ paymentId: string, amountCents: number }> }>()
      let refundsCents = 0
      let saleCount = 0
      for (const d of docs) {
        if (d.kind === 'sale') saleCount++
        else refundsCents += -d.totalCents
        takingsCents.cash += d.tenders.cash
        takingsCents.card += d.tenders.card
        for (const r of d.perRate) {
          const acc = perRate.get(r.rateBp) ?? { netCents: 0, taxCents: 0 }
          acc.netCents += r.netCents
          acc.taxCents += r.taxCents
          perRate.set(r.rateBp, acc)
        }
        for (const c of d.consumed) consumed.set(c.sku, (consumed.get(c.sku) ?? 0) + c.qty)
        if (d.member !== null && d.points > 0) points.set(d.member, (points.get(d.member) ?? 0) + d.points)
        if (d.redeemed !== undefined) redeemed.set(d.redeemed.member, (redeemed.get(d.redeemed.member) ?? 0) + d.redeemed.points)
        if (d.restored !== undefined) redeemed.set(d.restored.member, (redeemed.get(d.restored.member) ?? 0) - d.restored.points)
        if (d.cancelled !== undefined) cancel(d.cancelled)
        if (d.elsewhere === 'flagged' && d.receiptOf !== undefined) flaggedRefunds.push({ receipt: d.receiptOf, refund: `${this.tillId}-${d.n}`, amountCents: -(d.tenders.cash + d.tenders.card) })
        for (const p of d.payments ?? []) {
          if (p.status === 'declined') continue
          const mode = p.status === 'stored' ? 'offline' as const : 'online' as const
          const key = `${p.processor}\u0000${p.type}\u0000${mode}`
          const g = paid.get(key) ?? { processor: p.processor, type: p.type, mode, approvals: [] }
          g.approvals.push({ paymentId: p.paymentId, amountCents: p.amountCents })
          paid.set(key, g)
        }
      }
      // Late declines since the last report: the log itself says which an earlier Close carried (no mark to lose in a crash).
      const reported = new Set<string>()
      for (const e of this.#log) if (e.record.kind === 'close') for (const d of [...(e.record.lateDeclines ?? []), ...(e.record.expired ?? [])]) reported.add(d.paymentId)
      // At most LATE_DECLINES_PER_CLOSE of each in one Close (the rest in the next): a day can always be closed.
      const unreported = (list: Array<{ paymentId: string, processor: string, amountCents: number, saleDay: string }>): LateDecline[] => list.filter(d => !reported.has(d.paymentId))
        .sort((a, b) => a.paymentId < b.paymentId ? -1 : 1).slice(0, LATE_DECLINES_PER_CLOSE).map(d => ({ ...d, saleDay: d.saleDay as BusinessDay }))
      const lateDeclines = unreported(this.#init.payments?.lateDeclines() ?? [])
      const expired = unreported(this.#init.payments?.expiredPayments() ?? [])
      const payments: PaymentTotal[] = [...paid].sort((a, b) => a[0] < b[0] ? -1 : 1).map(([, g]) => ({
        processor: g.processor, type: g.type, mode: g.mode, count: g.approvals.length,
        amountCents: g.approvals.reduce((n, a) => n + a.amountCents, 0), digest: paymentsDigest(g.approvals), setHash: paymentSetHash(g.approvals)
      }))
      // Returns of this till's receipts made elsewhere since the last Close: the points they cancel,
      // and lines refunded beyond what was sold (marked reported in the Close's own batch).
      // At most RETURNS_PER_CLOSE of them and LINES_MAX conflicts in one Close (the rest in the next): a day can always be closed.
      const elsewhere: ReturnElsewhere[] = []
      const refundConflicts: RefundConflict[] = []
      for (const f of (await this.#returnsElsewhere()).filter(f => f.reportedIn === 0)) {
        if (elsewhere.length >= RETURNS_PER_CLOSE || refundConflicts.length + f.conflicts.length > LINES_MAX) break
        elsewhere.push(f)
        if (f.cancelled !== null) cancel(f.cancelled)
        // Every refund of the line named, up to the protocol's bound (the first and the latest kept).
        for (const c of f.conflicts) refundConflicts.push({ receipt: f.docNo, ...c, refunds: c.refunds.length <= CONFLICT_REFUNDS_MAX ? c.refunds : [...c.refunds.slice(0, CONFLICT_REFUNDS_MAX - 1), c.refunds[c.refunds.length - 1] as string].sort() })
      }
      const conflictLines = mergeConflicts(refundConflicts)
      // Rights given back to HQ since the last Close, each by its number (at most MEMBERS_MAX; the rest in the next).
      const returns = (await this.#rightsReturns()).filter(q => q.reportedIn === 0).slice(0, MEMBERS_MAX)
      const redeemedLines: RedeemLine[] = [...redeemed].filter(([, p]) => p !== 0).sort((a, b) => a[0] < b[0] ? -1 : 1)
        .map(([member, p]) => ({ member, points: p, amountCents: p * POINT_VALUE_CENTS }))
      const cancelLines = [...cancelled].sort((a, b) => a[0] < b[0] ? -1 : 1).map(([, c]) => c)
      const close: Close = {
        ...this.#header(this.#businessDay),
        kind: 'close',
        docFirst,
        docLast,
        saleCount,
        refundCount: docs.length - saleCount,
        takingsCents,
        tax: [...perRate].sort((a, b) => a[0] - b[0]).filter(([, v]) => v.netCents !== 0 || v.taxCents !== 0).map(([rateBp, v]) => ({ rateBp, ...v })),
        refundsCents,
        cashCountedCents: opts.cashCountedCents ?? takingsCents.cash,
        consumed: [...consumed].filter(([, q]) => q !== 0).sort((a, b) => a[0] < b[0] ? -1 : 1).map(([sku, qty]) => ({ sku, qty })),
        points: [...points].sort((a, b) => a[0] < b[0] ? -1 : 1).map(([member, p]) => ({ member, points: p })),
        ...(payments.length > 0 ? { payments } : {}),
        ...(lateDeclines.length > 0 ? { lateDeclines } : {}),
        ...(expired.length > 0 ? { expired } : {}),
        ...(redeemedLines.length > 0 ? { redeemed: redeemedLines } : {}),
        ...(cancelLines.length > 0 ? { pointsCancelled: cancelLines } : {}),
        ...(flaggedRefunds.length > 0 ? { flaggedRefunds: flaggedRefunds.sort((a, b) => a.refund < b.refund ? -1 : 1) } : {}),
        ...(conflictLines.length > 0 ? { refundConflicts: conflictLines } : {}),
        ...(returns.length > 0 ? { rightsReturned: returns.map(q => ({ id: q.id, member: q.member, points: q.points })).sort((a, b) => a.id < b.id ? -1 : 1) } : {})
      }
      // The Close and the closed day in one fsync'd batch.
      const seq = close.seq
      const marked: KvOp[] = elsewhere.map(f => ({ type: 'put', key: `${ELSEWHERE_PREFIX}${f.refund}`, value: canonicalEncode({ ...f, reportedIn: seq } as unknown as Canonical) }))
      for (const q of returns) marked.push({ type: 'put', key: `${RETURNED_PREFIX}${pad(Number(q.id.slice(1)))}`, value: canonicalEncode({ ...q, reportedIn: seq }) })
      const entry = await this.#appendRecord(close, [this.#stateOp('closed', this.#businessDay, this.#nextDocN), ...marked])
      this.#lastClosedDay = this.#businessDay
      this.#state = 'closed'
      this.#dayDocFirst = this.#nextDocN
      return entry
    } catch (err) {
      if (this.#state === 'closing') this.#state = 'open'
      throw err
    }
  }

  /** Entries HQ has not acknowledged, oldest first (resend all of them: HQ dedups). */
  outbox (): Uint8Array[] {
    return this.#unacked().map(e => e.bytes)
  }

  /**
   * What is sent to HQ for the entries it has not acknowledged, oldest first: each entry
   * inside the change of this till's log that put it (HQ keeps the changes, so it serves the
   * till's document with the till's own history and heads), or the bare envelope where the
   * log holds no change of that entry alone.
   */
  outboxChanges (): Array<{ seq: number, bytes: Uint8Array }> {
    const unacked = this.#unacked()
    const seqs = new Set(unacked.map(e => e.record.seq))
    for (const seq of this.#changes.keys()) if (!seqs.has(seq)) this.#changes.delete(seq)
    const missing = unacked.filter(e => !this.#changes.has(e.record.seq))
    if (missing.length > 0) {
      // After a restart or an adopted log: found once in the document, then kept.
      const keys = new Map(missing.map(e => [entryKey(e.record.seq, e.hash, e.bytes) as string, e]))
      const found = this.#loadedDoc().changesOf(keys.keys())
      // An entry with no change of its own is sent bare (and not looked for again); so is one
      // whose change another log wrote than its signer's (a replacement till's re-appended
      // history after a fire): HQ keeps a change only from the log of the entry's signer.
      for (const [key, e] of keys) {
        const change = found.get(key)
        const own = change !== undefined && readEntryChange(change).actor === tillActorOf(this.tillId, e.signer)
        this.#changes.set(e.record.seq, own ? change : e.bytes)
      }
    }
    return unacked.map(e => ({ seq: e.record.seq, bytes: this.#changes.get(e.record.seq) ?? e.bytes }))
  }

  #unacked (): Entry[] {
    return this.#log.filter(e => e.record.seq > this.#ackedThrough && !this.#acked.has(e.record.seq) && !this.#rejected.has(e.record.seq))
  }

  /** HQ answered for these seqs. Rejected ones stop being resent and are reported. */
  async acknowledge (answers: Array<{ seq: number, status: 'accepted' | 'duplicate' | 'rejected', reason?: string }>): Promise<void> {
    await this.#serial(async () => { await this.#acknowledge(answers) })
  }

  async #acknowledge (answers: Array<{ seq: number, status: 'accepted' | 'duplicate' | 'rejected', reason?: string }>): Promise<void> {
    for (const a of answers) {
      if (a.status === 'rejected') {
        this.#rejected.set(a.seq, a.reason ?? 'rejected')
        this.#components.logger.error({ tillId: this.tillId, seq: a.seq, reason: a.reason }, 'HQ rejected our own entry')
      } else {
        this.#acked.add(a.seq)
      }
    }
    const before = this.#ackedThrough
    while (this.#acked.has(this.#ackedThrough + 1)) this.#acked.delete(++this.#ackedThrough)
    if (this.#ackedThrough !== before) {
      // Not synced: losing it only means resending entries HQ will answer as duplicates. Synced
      // when it carries what undoes a refused write (#voids): any write reopens a store a write
      // failed on, and may bring the refused one back.
      const op: KvOp = { type: 'put', key: ACKED_KEY, value: canonicalEncode(this.#ackedThrough) }
      if (this.#voids.length > 0) await this.#write([op])
      else await this.#components.store.batch([op], { sync: false })
    }
  }

  /**
   * Start a replacement till from a log recovered elsewhere (a neighbour's replica or an
   * email backup), already verified by the caller. Numbering continues after the last
   * recovered Close, so no document number is reused.
   */
  async adoptRecoveredLog (entries: Entry[], changes: Uint8Array[] | null = null): Promise<{ withHistory: boolean }> {
    return await this.#serial(async () => await this.#adoptRecoveredLog(entries, changes))
  }

  /**
   * `changes`: the recovered document's changes that put exactly these entries
   * (TillLog.changesPutting), so the replacement's log shares its history with the
   * neighbours' replicas; without them (or if they do not carry exactly the chain) the
   * entries are appended anew.
   */
  async #adoptRecoveredLog (entries: Entry[], changes: Uint8Array[] | null): Promise<{ withHistory: boolean }> {
    if (this.#log.length > 0) throw new TillStateError('a replacement till starts empty')
    for (const e of entries) {
      if (e.tillId !== this.tillId) throw new TillStateError(`recovered entry is for ${e.tillId}, not ${this.tillId}`)
    }
    let lastClose: Close | undefined
    for (const e of entries) if (e.record.kind === 'close') lastClose = e.record
    const nextDocN = (lastClose?.docLast ?? 0) + 1
    const businessDay = lastClose?.businessDay ?? null
    // The recovered chain and the closed state in one batch: a crash leaves an empty till or this one.
    const adopted = this.#logStore.adopt(entries, changes)
    await this.#write([...adopted.ops, this.#stateOp('closed', businessDay, nextDocN)])
    this.#logStore.written(adopted.ops)
    this.#doc?.free()
    this.#doc = adopted.log
    for (const e of entries) this.#pushLog(e)
    this.#lastClosedDay = businessDay
    this.#nextDocN = nextDocN
    this.#dayDocFirst = nextDocN
    this.#state = 'closed'
    this.#businessDay = businessDay
    return { withHistory: adopted.withHistory }
  }

  status (): { tillId: TillId, state: DayState, businessDay: BusinessDay | null, lastClosedDay: BusinessDay | null, nextDocNo: DocNo, headSeq: number, outbox: number, rejected: number, drawerCashCents: number } {
    return {
      drawerCashCents: this.#drawerCashCents(),
      tillId: this.tillId,
      state: this.#state,
      businessDay: this.#businessDay,
      lastClosedDay: this.#lastClosedDay,
      nextDocNo: docNoOf(this.store, this.till, this.#nextDocN),
      headSeq: this.head?.record.seq ?? 0,
      outbox: this.outbox().length,
      rejected: this.#rejected.size
    }
  }
}

/**
 * Books = fold(records): HQ's double-entry books as a pure function of the SET of verified
 * till entries (plus HQ's own replenishment orders and opening balances).
 *
 * The same set, added in any order, with any number of duplicates, gives the same
 * snapshot, journal and exports, byte for byte (the one exception is `counts.duplicates`,
 * which counts how many redundant add calls were made). Three things make that hold:
 *  - which entries count is decided per till by TillChain as a function of the set: the
 *    verified, hash-linked prefix of its chain, stopped at the first gap, fork or break;
 *  - every balance is a sum of integer cents, checked to stay exact, so it does not depend
 *    on the order of the additions, and an un-fold subtracts exactly what the fold added;
 *  - every output is sorted by keys (code-unit order), never by arrival.
 *
 * Cost: `add` is O(1) amortised per in-order entry plus O(lines in the record); balances,
 * store totals and member points are kept up to date incrementally, and nothing is sorted
 * until an output is asked for. Memory: per folded entry, a 32-byte hash and a compact
 * summary (see summary.ts); never the entry's bytes or its decoded record.
 *
 * Input is trusted to be verified (signature, enrolment, record validation) by the caller;
 * what Books checks is the chain: seq, prevHash, forks.
 */
import { hash } from 'node:crypto'
import {
  bytesEqual, fromHex, GENESIS_HASH, InvalidRecordError, invariant, isHexOf, toHex,
  type BusinessDay, type Entry, type EntryHash, type Replenishment, type SkuQty, type StoreId, type TillId
} from '@tillbooks/protocol'
import { ACCOUNT_NAMES, ACCOUNTS, accountIndex, compareText, type Account } from './accounts.ts'
import { HELD_ENTRIES_PER_TILL_MAX, CURRENCY_DEFAULT } from './constants.ts'
import { IdReusedError, SettlementConflictError } from './errors.ts'
import { assertCurrency, toCsv, toHledger } from './exports.ts'
import {
  cashOverShortCents, checkOpeningStock, closePostings, makeTransaction, openingStockDescription, openingStockPostings, openingStockTxId,
  payoutPostings, replenishmentTransactionAt, settledLinePostings, settlementTxId, shrinkageCents,
  stockInPostings, unitCostCents, type BankPayout, type CostCents, type Posting, type SettledLine, type Settlement, type Transaction
} from './journal.ts'
import { addCents, negCents, subCents } from './money.ts'
import { Interner, StringPool, summarise, summaryTransaction, type CloseSummary, type Summary, type SummaryContext } from './summary.ts'
import { TillChain, type AddOutcome, type ChainSink, type ForkEvidence } from './TillChain.ts'
import { BlockTable, CheckpointFormatError, decodeSummaries, encodeSummaries, type CheckpointItem, type CheckpointWriter, type CodecNames } from './checkpointCodec.ts'
import { ByteReader, ByteWriter } from './bytes.ts'
import { bug } from './bug.ts'

export interface BooksOptions {
  /** Standard cost per unit of a SKU on a business day, in cents. Must be pure for the life of the books. */
  costCents: CostCents
  /** The commodity named in the hledger export. Default CURRENCY_DEFAULT. */
  currency?: string
  /** Limit on entries held unfolded per till. Default HELD_ENTRIES_PER_TILL_MAX. */
  heldEntriesPerTillMax?: number
  /**
   * The block table these books encode blocks against (default: a new one). A rebuild's fold
   * thread passes one table to each of its successive books, so that what it sends HQ's
   * thread is the table's growth, not the whole table again (`writeBase`'s `tableFrom`).
   */
  table?: BlockTable
  /**
   * Where the distinct settled lines and payouts are kept: `memory` (default), in these books;
   * `caller`, by the caller (HQ keeps them on disk): it hands `prepareSettlement` the ones a file
   * names, writes the plan's `lines` and `payouts` and `files` with the file, and at a start
   * gives each file's sums back (`restoreSettlementFile`). The books then hold per file only
   * its sums, whatever the number of lines.
   */
  settledLines?: 'memory' | 'caller'
}

export interface StoreSnapshot {
  /** Cash + card takings, net of refunds. */
  takingsCents: number
  cashCents: number
  cardCents: number
  /** Net sales (excluding VAT), net of refunds. */
  salesNetCents: number
  taxCents: number
  /** Gross amount refunded (already netted out of takings, sales and tax). */
  refundsCents: number
  cogsCents: number
  /** salesNetCents − cogsCents. */
  grossMarginCents: number
  /** Counted − cash takings, summed: positive is over, negative is short. */
  cashOverShortCents: number
  /** (Shipped − received) × cost, summed: positive is a loss. */
  shrinkageCents: number
  saleCount: number
  refundCount: number
  /** Received − consumed per SKU, from folded records; SKUs at 0 left out. Can go negative (sold before counted in). */
  stockOnHand: Record<string, number>
}

export interface TillSnapshot {
  /** Entries 1..lastSeq are folded. */
  lastSeq: number
  /** Business day of the last folded Close. */
  lastClosedDay: BusinessDay | null
  /** Entries held and not folded: waiting behind a gap, or after a fork. */
  pending: number
  forked: boolean
  /** The last document number issued, per the last folded Close (null before the first document). */
  lastDocN: number | null
}

export interface TrialBalanceRow {
  account: Account
  debitCents: number
  creditCents: number
}

export interface TrialBalance {
  rows: TrialBalanceRow[]
  debitsCents: number
  creditsCents: number
}

export interface ProfitAndLoss {
  /** Net sales: the credit balance of revenue:sales. */
  revenueCents: number
  costOfGoodsSoldCents: number
  /** revenue − cost of goods sold. */
  grossProfitCents: number
  shrinkageCents: number
  /** Positive when drawers held more than rung up (a gain), negative when short. */
  cashOverShortCents: number
  /** The card processors' fees. */
  cardFeesCents: number
  /** Card money that never came: late declines, expired stored payments, chargebacks. */
  cardLossesCents: number
  /** Points given to members (at their redemption value), less points cancelled by refunds. */
  loyaltyPointsCents: number
  /** gross profit − shrinkage + cash over/short − card fees − card losses − loyalty points. */
  netIncomeCents: number
}

export interface BooksSnapshot {
  /** Every account of the chart, debit positive. */
  accounts: Record<Account, number>
  trialBalance: { debitsCents: number, creditsCents: number }
  /** By StoreId: stores with at least one folded till entry. (Plain string keys: this is JSON for HTTP.) */
  stores: Record<string, StoreSnapshot>
  /** By TillId: tills with at least one entry (folded or held). */
  tills: Record<string, TillSnapshot>
  /** Loyalty points earned per member (member id; a phone number in Closes before member ids), members at 0 left out. */
  members: Record<string, number>
  /** Per forked till, why it stopped folding. Sorted by till. */
  forks: ForkEvidence[]
  counts: {
    /** Till entries folded. */
    folded: number
    /** add calls that changed nothing (the only field not a function of the set). */
    duplicates: number
    /** Till entries held, not folded. */
    pending: number
    /** Tills forked. */
    forks: number
    replenishments: number
    openings: number
    /** Settlement files folded (distinct by hash), and the distinct lines and payouts they hold. */
    settlements: number
    settledLines: number
    payouts: number
  }
  /**
   * Balances of sub-accounts (`assets:card clearing:<processor>`, `assets:card payouts due:<processor>`),
   * non-zero ones only, each included in its parent's balance in `accounts`.
   */
  subAccounts: Record<string, number>
}

/** A settlement file checked and planned (`Books.prepareSettlement`), to commit as it is. */
export interface PreparedSettlement {
  readonly settlement: Settlement
  readonly postings: readonly Posting[]
  /** Settled lines and payouts new, or changed (a smaller file id holds it, or it is known now as a chargeback), by `processor\0ref`. */
  readonly lines: ReadonlyArray<readonly [string, HeldLine]>
  readonly payouts: ReadonlyArray<readonly [string, HeldPayout]>
  /** Each file whose journal transaction changes (this one, and those it takes lines from), as it will be. */
  readonly files: ReadonlyArray<readonly [string, SettlementFileSums]>
  /** Lines and payouts that are new to the books (not in any file folded before). */
  readonly newLines: number
  readonly newPayouts: number
  readonly generation: number
}

/** A settled line or payout, with the file that carries it in the journal (the smallest id among the files holding it). */
export interface HeldLine { file: string, processor: string, line: SettledLine }
export interface HeldPayout { file: string, processor: string, payout: BankPayout }

/** The settled lines and payouts the books already hold, by `processor\0ref` (settledLines: 'caller'). */
export interface KnownSettled {
  readonly lines: ReadonlyMap<string, HeldLine>
  readonly payouts: ReadonlyMap<string, HeldPayout>
}

/**
 * What the journal says of one settlement file: the sums of the lines and payouts it carries
 * (those no file with a smaller id holds), per account and sub-account, and how many it carries.
 */
export interface SettlementFileSums {
  processor: string
  day: BusinessDay
  lines: number
  payouts: number
  /** [account, sub ('' for none), cents], in chart order then sub; zeros kept out. */
  sums: Array<[Account, string, number]>
}

/** Running totals of one store, kept incrementally. */
class StoreTotals {
  readonly id: StoreId
  constructor (id: StoreId) { this.id = id }
  foldedEntries = 0
  cashCents = 0
  cardCents = 0
  salesNetCents = 0
  taxCents = 0
  refundsCents = 0
  cogsCents = 0
  cashOverShortCents = 0
  shrinkageCents = 0
  saleCount = 0
  refundCount = 0
  /** skuId → qty, zeros deleted. */
  readonly stock = new Map<number, number>()
}

interface TillState {
  readonly chain: TillChain<Summary>
  readonly store: StoreTotals
  /** Seq of the last folded Close, 0 if none. */
  lastCloseSeq: number
  /** Its summary (kept here so that a till restored from a checkpoint need not decode its history to answer a snapshot). */
  lastClose: CloseSummary | null
  /**
   * The table the chain's encoded block names its strings by: the books' own, or the table of
   * the fold thread that built the block (a whole-log rebuild on threads). A block of another
   * table is encoded again against the books' own before it is written to a checkpoint.
   */
  table: BlockTable
}

/**
 * A replenishment order or opening balance folded: its fingerprint (to tell a duplicate
 * from a reused id), its transaction (two postings) and its value at cost; a replenishment
 * order's store (what a checkpoint's ORDER item keeps).
 */
interface FoldedOrder {
  fingerprint: string
  tx: Transaction
  valueCents: number
  store?: StoreId
}

/** An order that passed every check, with the balances folding it will leave. */
interface PreparedOrder extends FoldedOrder {
  balances: number[]
}

export class Books {
  readonly #costCents: CostCents
  readonly #currency: string
  readonly #heldEntriesPerTillMax: number
  readonly #ctx: SummaryContext
  /** The strings of checkpoint blocks (checkpointCodec.ts): book-wide, only growing. */
  readonly #table: BlockTable
  readonly #names: CodecNames
  readonly #tills = new Map<TillId, TillState>()
  /** Moved by every call that may change the books: for caching what is derived from them (a digest, an export). */
  #version = 0
  readonly #stores = new Map<StoreId, StoreTotals>()
  /** Balances by accountIndex. */
  readonly #balances: number[] = ACCOUNT_NAMES.map(() => 0)
  /** Points by interned member id. */
  readonly #memberPoints: number[] = []
  readonly #replenishments = new Map<string, FoldedOrder>()
  readonly #openings = new Map<string, FoldedOrder>()
  /** Balances of sub-accounts, by `account:sub`; zeros deleted. */
  readonly #subBalances = new Map<string, number>()
  /** Settlement files folded, by id: what the journal says of each (its sums). */
  readonly #settlements = new Map<string, SettlementFileSums>()
  /** Distinct settled lines, by `processor\0ref`: one line counts once whichever files hold it (null: the caller keeps them). */
  readonly #settledLines: Map<string, HeldLine> | null
  /** Distinct payouts into the bank, by `processor\0ref` (null: the caller keeps them). */
  readonly #payouts: Map<string, HeldPayout> | null
  #settledLineCount = 0
  #payoutCount = 0
  #duplicates = 0

  constructor (opts: BooksOptions) {
    invariant(typeof opts.costCents === 'function', 'costCents must be a function')
    this.#costCents = opts.costCents
    this.#currency = assertCurrency(opts.currency ?? CURRENCY_DEFAULT)
    this.#heldEntriesPerTillMax = opts.heldEntriesPerTillMax ?? HELD_ENTRIES_PER_TILL_MAX
    this.#table = opts.table ?? new BlockTable()
    const inMemory = (opts.settledLines ?? 'memory') === 'memory'
    this.#settledLines = inMemory ? new Map() : null
    this.#payouts = inMemory ? new Map() : null
    this.#ctx = { costCents: opts.costCents, skus: new Interner(), members: new Interner(), strings: new StringPool() }
    const ctx = this.#ctx
    this.#names = {
      sku: id => ctx.skus.name(id),
      member: id => ctx.members.name(id),
      skuId: name => ctx.skus.id(name),
      memberId: name => ctx.members.id(name),
      pooled: s => ctx.strings.get(s)
    }
  }

  /**
   * Fold a verified till entry (see AddOutcome). Throws HeldLimitError if it would be held
   * beyond the per-till limit; any other throw is a bug or a cost function that refused a
   * SKU, and in every case nothing has changed.
   */
  /** Changes whenever the books may have: what is derived from them (a digest, an export) can be cached against it. */
  get version (): number { return this.#version }

  add (entry: Entry): AddOutcome {
    this.#version++
    const r = entry.record
    if (entry.tillId !== `${r.store}-${r.till}`) bug(`entry.tillId ${entry.tillId} does not match its record`)
    invariant(entry.hashBytes.length === 32 && isHexOf(entry.hashBytes, entry.hash), 'entry.hash and entry.hashBytes disagree')
    // One hash, one record body (it is a SHA-256 of it), so one seq of one till: the till's
    // chain knows every entry added to it (folded or held), by seq.
    if (this.#tills.get(entry.tillId)?.chain.contains(r.seq, entry.hash, entry.hashBytes) === true) {
      this.#duplicates++
      return 'duplicate'
    }
    // Summarised even if it will never fold (a fork), so that a cost function refusing a
    // SKU refuses the entry whatever the order of arrival.
    const summary = summarise(r, this.#ctx)
    const till = this.#tills.get(entry.tillId) ?? this.#newTill(entry.tillId, r.store)
    return till.chain.add(r.seq, entry.hash, entry.hashBytes, r.prevHash, summary)
  }

  /** Entries of the till held unfolded: waiting for a gap before them, or at or after a fork. */
  heldCount (tillId: TillId): number {
    return this.#tills.get(tillId)?.chain.heldCount ?? 0
  }

  /**
   * Where an entry at `seq` would land in the till's chain: after its folded prefix or not, at
   * or after its halt (a fork: nothing from there on folds again; Infinity when it never forked),
   * and how many entries are held at `seq` already. What a bound on held entries asks (HqNode).
   */
  chainAt (tillId: TillId, seq: number): { foldedSeq: number, haltSeq: number, heldAtSeq: number } {
    const chain = this.#tills.get(tillId)?.chain
    if (chain === undefined) return { foldedSeq: 0, haltSeq: Number.POSITIVE_INFINITY, heldAtSeq: 0 }
    return { foldedSeq: chain.foldedSeq, haltSeq: chain.haltSeq ?? Number.POSITIVE_INFINITY, heldAtSeq: chain.heldAt(seq) }
  }

  /**
   * Fold an entry from a checkpoint: what `add` does once it has summarised the record. The
   * summary must be what `summarise` gave for that entry's record when it was first added
   * (a checkpoint HQ wrote and signed itself; see checkpointCodec.ts).
   */
  restore (tillId: TillId, store: StoreId, seq: number, hashBytes: Uint8Array, prevHash: Uint8Array, summary: Summary): AddOutcome {
    this.#version++
    const till = this.#tills.get(tillId) ?? this.#newTill(tillId, store)
    if (till.chain.contains(seq, null, hashBytes)) {
      this.#duplicates++
      return 'duplicate'
    }
    return till.chain.add(seq, null, hashBytes, prevHash, summary)
  }

  /** Whether this exact entry (its till, seq and hash) was added before: folded, pending or held as fork evidence. O(1). */
  contains (tillId: TillId, seq: number, hashBytes: Uint8Array): boolean {
    return this.#tills.get(tillId)?.chain.contains(seq, null, hashBytes) === true
  }

  /** The names behind the books' interned ids, both ways: for writing and reading checkpoints. */
  get checkpointNames (): CodecNames { return this.#names }

  /**
   * Write a base checkpoint: every till's folded prefix as a block (and its held entries as
   * items after it), the sums of the till entries (AGGREGATES, with the caller's `meta` text)
   * and the block table, into the writers `next` gives (it starts a new segment when the
   * current one is full). Synchronous: blocks and sums are of one moment of the books. After
   * it, each till keeps its folded summaries as the block written (their objects freed).
   */
  writeBase (next: () => CheckpointWriter, meta: string, opts: { tableFrom?: number } = {}): void {
    const encode = (list: readonly Summary[]): Uint8Array => encodeSummaries(list, this.#table, this.#names)
    // Every block encoded first, so that the table (which encoding grows) is written, whole,
    // before them: a start reads it first, and a block's last Close is read at once.
    const blocks: Array<{ tillId: TillId, hashes: Uint8Array, lastClose: Uint8Array, summaries: Uint8Array }> = []
    for (const [tillId, t] of this.#tills) {
      if (t.chain.foldedSeq === 0) continue
      this.#ownTable(t)
      const { hashes, summaries } = t.chain.foldedBlock(encode)
      blocks.push({ tillId, hashes, lastClose: t.lastClose === null ? new Uint8Array(0) : encode([t.lastClose]), summaries })
    }
    // From `tableFrom`: a fold thread's successive bases share one table; each sends its growth.
    const tableFrom = opts.tableFrom ?? 0
    invariant(Number.isSafeInteger(tableFrom) && tableFrom >= 0 && tableFrom <= this.#table.size, 'tableFrom must be within the table')
    next().table(this.#table.names().slice(tableFrom))
    next().aggregates(this.#entryAggregates(meta))
    const byTill = new Map(blocks.map(b => [b.tillId, b]))
    for (const [tillId, t] of this.#tills) {
      const b = byTill.get(tillId)
      if (b !== undefined) {
        next().block(tillId, t.store.id, t.chain.foldedSeq, t.lastCloseSeq, b.hashes, b.lastClose, b.summaries)
        t.chain.compactTo(b.summaries)
      }
      for (const e of t.chain.held()) {
        const w = next()
        if (e.summary === null) w.logRef(tillId, e.seq, e.hash)
        else w.summary(tillId, t.store.id, e.seq, e.hash, e.prevHash, e.summary)
      }
    }
  }

  /**
   * Keep one till's folded summaries as an encoded block (what a base writes), freeing their
   * objects: the books answer the same. A base after a whole-log rebuild would encode every
   * summary in its one synchronous step; compacting the tills first, a few at a time between
   * turns of the event loop, leaves that step little but copying.
   */
  compactTill (tillId: TillId): number {
    const t = this.#tills.get(tillId)
    if (t === undefined || t.chain.foldedSeq === 0) return 0
    this.#ownTable(t)
    const { summaries } = t.chain.foldedBlock(list => encodeSummaries(list, this.#table, this.#names))
    t.chain.compactTo(summaries)
    return t.chain.foldedSeq
  }

  /**
   * Restore a base's block, sums or table (the caller replays its SUMMARY and LOG REF items
   * through `restore` and `add`). A block's till must be new to these books.
   *
   * `from`: the table of the base's blocks when it is not these books' own — the bases a
   * rebuild's fold threads make, each against its thread's table, whose TABLE items are that
   * table's growth (appended to `from`). Without it, a base's TABLE is the books' own table, whole.
   */
  restoreBase (item: Extract<CheckpointItem, { kind: 'block' | 'aggregates' | 'table' }>, from?: BlockTable): string | null {
    if (item.kind === 'table') {
      if (from === undefined) this.#table.restore(item.names)
      else from.append(item.names)
      return null
    }
    this.#version++
    if (item.kind === 'aggregates') return this.#addAggregates(item.bytes)
    if (this.#tills.has(item.tillId)) throw new CheckpointFormatError(`checkpoint: a second block for ${item.tillId}`)
    const t = this.#newTill(item.tillId, item.store)
    t.table = from ?? this.#table
    // A copy: the segment's bytes are not kept alive by one till's history.
    t.chain.restoreFolded(item.hashes, item.folded, item.summaries.slice())
    t.lastCloseSeq = item.lastCloseSeq
    if (item.lastCloseSeq > 0) {
      const [last] = decodeSummaries(item.lastClose, 1, t.table, this.#names)
      if (last?.kind !== 'close') throw new CheckpointFormatError(`checkpoint: ${item.tillId}'s last Close is not a Close`)
      t.lastClose = last
    }
    return null
  }

  /** The sums only the till entries make: balances (less what HQ's own records posted), stores, members. */
  #entryAggregates (meta: string): Uint8Array {
    const hq = new Map<string, number>()
    const hqSub = new Map<string, number>()
    for (const tx of this.hqTransactions()) {
      for (const p of tx.postings) {
        hq.set(p.account, addCents(hq.get(p.account) ?? 0, p.amountCents))
        if (p.sub !== undefined) hqSub.set(`${p.account}:${p.sub}`, addCents(hqSub.get(`${p.account}:${p.sub}`) ?? 0, p.amountCents))
      }
    }
    const w = new ByteWriter()
    const text = (x: string): void => { const b = new TextEncoder().encode(x); w.uint(b.length); w.raw(b) }
    text(meta)
    const balances: Array<[string, number]> = []
    ACCOUNT_NAMES.forEach((a, i) => { balances.push([a, subCents(this.#balances[i] ?? 0, hq.get(a) ?? 0)]) })
    // Every sub-account either side touched: one the settlements cleared to 0 is gone from
    // #subBalances while the till entries' share of it is not 0.
    for (const k of new Set([...this.#subBalances.keys(), ...hqSub.keys()])) balances.push([`\u0000${k}`, subCents(this.#subBalances.get(k) ?? 0, hqSub.get(k) ?? 0)])
    const kept = balances.filter(([, v]) => v !== 0)
    w.uint(kept.length)
    for (const [k, v] of kept) { text(k); w.int(v) }
    const members: Array<[string, number]> = []
    this.#memberPoints.forEach((points, id) => { if (points !== 0) members.push([this.#ctx.members.name(id), points]) })
    w.uint(members.length)
    for (const [k, v] of members) { text(k); w.int(v) }
    w.uint(this.#stores.size)
    for (const [id, st] of this.#stores) {
      text(id)
      for (const n of [st.foldedEntries, st.cashCents, st.cardCents, st.salesNetCents, st.taxCents, st.refundsCents, st.cogsCents, st.cashOverShortCents, st.shrinkageCents, st.saleCount, st.refundCount]) w.int(n)
      w.uint(st.stock.size)
      for (const [sku, qty] of st.stock) { text(this.#ctx.skus.name(sku)); w.int(qty) }
    }
    return w.finish()
  }

  /** Add a base's sums (#entryAggregates) to these books; returns its meta text. */
  #addAggregates (bytes: Uint8Array): string {
    const r = new ByteReader(bytes, 'checkpoint aggregates')
    const dec = new TextDecoder('utf-8', { fatal: true })
    const text = (): string => dec.decode(r.view(r.uint()))
    const meta = text()
    for (let n = r.uint(); n > 0; n--) {
      const k = text()
      const v = r.int()
      if (k.startsWith('\u0000')) {
        const key = k.slice(1)
        const next = addCents(this.#subBalances.get(key) ?? 0, v)
        if (next === 0) this.#subBalances.delete(key)
        else this.#subBalances.set(key, next)
      } else {
        const i = accountIndex(k as Account)
        this.#balances[i] = addCents(this.#balances[i] ?? 0, v)
      }
    }
    for (let n = r.uint(); n > 0; n--) {
      const id = this.#ctx.members.id(text())
      this.#memberPoints[id] = addCount(this.#memberPoints[id] ?? 0, r.int())
    }
    for (let n = r.uint(); n > 0; n--) {
      const id = text() as StoreId
      let st = this.#stores.get(id)
      if (st === undefined) {
        st = new StoreTotals(id)
        this.#stores.set(id, st)
      }
      st.foldedEntries += r.int()
      st.cashCents = addCents(st.cashCents, r.int())
      st.cardCents = addCents(st.cardCents, r.int())
      st.salesNetCents = addCents(st.salesNetCents, r.int())
      st.taxCents = addCents(st.taxCents, r.int())
      st.refundsCents = addCents(st.refundsCents, r.int())
      st.cogsCents = addCents(st.cogsCents, r.int())
      st.cashOverShortCents = addCents(st.cashOverShortCents, r.int())
      st.shrinkageCents = addCents(st.shrinkageCents, r.int())
      st.saleCount = addCount(st.saleCount, r.int())
      st.refundCount = addCount(st.refundCount, r.int())
      for (let m = r.uint(); m > 0; m--) {
        const sku = this.#ctx.skus.id(text())
        adjust(st.stock, sku, r.int())
      }
    }
    if (!r.done) throw new CheckpointFormatError('checkpoint aggregates: bytes left over')
    return meta
  }

  /**
   * Write replenishment orders folded, as ORDER items into the writers `next` gives: every
   * one (a base), or those of `ids` the books hold (an incremental checkpoint). Returns how many.
   */
  writeCheckpointOrders (next: () => CheckpointWriter, ids?: Iterable<string>): number {
    let n = 0
    const write = (id: string, o: FoldedOrder): void => {
      invariant(o.store !== undefined, 'a replenishment order folded knows its store')
      next().order(id, o.store, o.tx.date as BusinessDay, o.valueCents, fromHex(o.fingerprint))
      n++
    }
    if (ids === undefined) for (const [id, o] of this.#replenishments) write(id, o)
    else {
      for (const id of ids) {
        const o = this.#replenishments.get(id)
        if (o !== undefined) write(id, o)
      }
    }
    return n
  }

  /**
   * Fold a replenishment order a checkpoint kept (its ORDER item) as `addReplenishment` folded
   * the order: the same transaction, costed as it was then. The same order again is a
   * duplicate (not counted as a resend); its id with another fingerprint means the checkpoint
   * and what the books hold disagree (CheckpointFormatError).
   */
  restoreOrder (item: Extract<CheckpointItem, { kind: 'order' }>): 'folded' | 'duplicate' {
    const fingerprint = toHex(item.fingerprint)
    const existing = this.#replenishments.get(item.id)
    if (existing !== undefined) {
      if (existing.fingerprint !== fingerprint) throw new CheckpointFormatError(`checkpoint: order ${item.id} is another order than the one the books hold`)
      return 'duplicate'
    }
    if (!Number.isSafeInteger(item.valueCents) || item.valueCents < 0) throw new CheckpointFormatError(`checkpoint: order ${item.id} is worth ${item.valueCents} cents`)
    this.#version++
    const tx = replenishmentTransactionAt(item.id, item.store, item.day, item.valueCents)
    for (const p of tx.postings) {
      const i = accountIndex(p.account)
      this.#balances[i] = addCents(this.#balances[i] ?? 0, p.amountCents)
    }
    this.#replenishments.set(item.id, { fingerprint, tx, valueCents: item.valueCents, store: item.store })
    return 'folded'
  }

  /**
   * Write one entry to a checkpoint: its summary if the books keep it, else a reference to
   * read it from the log again (it waits for the catalogue, or sits at or after a fork).
   */
  writeCheckpointEntry (w: CheckpointWriter, tillId: TillId, seq: number, hashBytes: Uint8Array): void {
    const t = this.#tills.get(tillId)
    // Already in the last base this process wrote or restored (its till's block holds it): the
    // manifest keeps that base, so writing it again would only cost decoding the block.
    if (t !== undefined && t.table === this.#table && t.chain.inBlock(seq, hashBytes)) return
    const summary = t?.chain.summaryOf(seq, hashBytes, toHex(hashBytes) as EntryHash) ?? null
    if (t === undefined || summary === null) {
      w.logRef(tillId, seq, hashBytes)
      return
    }
    const prevHash = seq === 1 ? GENESIS_HASH : t.chain.prevHashOf(seq, hashBytes)
    if (prevHash === null) w.logRef(tillId, seq, hashBytes)
    else w.summary(tillId, t.store.id, seq, hashBytes, prevHash, summary)
  }

  /** The tills the books know, in no particular order (a snapshot: safe to hold across awaits). */
  tillIds (): TillId[] {
    return [...this.#tills.keys()]
  }

  /** The commodity the books are kept in (ISO 4217). */
  get currency (): string { return this.#currency }

  /**
   * Whether an entry with this hash was added before, whichever till: folded, pending or held
   * as fork evidence. A scan of every chain, for audits and tests; `contains` is the O(1) check.
   */
  has (hash: EntryHash): boolean {
    const bytes = fromHex(hash)
    for (const t of this.#tills.values()) {
      for (const e of t.chain.entries()) if (bytesEqual(e.hash, bytes)) return true
    }
    return false
  }

  /** The hash of every entry added (folded, pending or held), once: for audits asking `has` of many. O(entries). */
  entryHashes (): Set<EntryHash> {
    const out = new Set<EntryHash>()
    for (const t of this.#tills.values()) for (const e of t.chain.entries()) out.add(toHex(e.hash) as EntryHash)
    return out
  }

  /** Fold an HQ-signed replenishment order (verified by the caller): Dr in transit / Cr warehouse. */
  addReplenishment (order: Replenishment): 'folded' | 'duplicate' {
    this.#version++
    return this.#commitOrder(this.#replenishments, order.id, this.#prepareReplenishment(order))
  }

  /**
   * What `addReplenishment` would answer, changing nothing: 'new', 'duplicate' (the same
   * order again), or IdReusedError (its id with other content). For a caller that must
   * refuse before it writes the order anywhere.
   */
  checkReplenishment (order: Replenishment): 'new' | 'duplicate' {
    return this.#prepareReplenishment(order) === 'duplicate' ? 'duplicate' : 'new'
  }

  /**
   * Fold opening stock in the warehouse on `date`: Dr warehouse inventory / Cr equity:opening.
   * `id` (default: the date) names the opening; the same id with the same lines again is a
   * duplicate, with different lines an IdReusedError. Throws InvalidRecordError on a bad
   * id, day or lines (HQ operators' input).
   */
  addOpeningStock (lines: readonly SkuQty[], date: BusinessDay | string, id: string = date): 'folded' | 'duplicate' {
    this.#version++
    return this.#commitOrder(this.#openings, id, this.#prepareOpeningStock(lines, date, id))
  }

  /** What `addOpeningStock` would answer (or throw), changing nothing. */
  checkOpeningStock (lines: readonly SkuQty[], date: BusinessDay | string, id: string = date): 'new' | 'duplicate' {
    return this.#prepareOpeningStock(lines, date, id) === 'duplicate' ? 'duplicate' : 'new'
  }

  /**
   * Fold a settlement file (a processor's report, a bank's statement), reduced to its lines
   * and payouts (Settlement). A line (or payout) is known by the processor and its reference:
   * the same line in two files (the report and the bank's statement of one day) counts once;
   * in the journal it sits in the file with the smallest id, so the journal is the same for
   * any order of files. The same line with other amounts is a SettlementConflictError, and
   * nothing changes. A bank's statement cannot tell a chargeback from a refund: a line one
   * file calls `settled` and another `chargeback` is the chargeback.
   */
  addSettlement (s: Settlement, known?: KnownSettled): 'folded' | 'duplicate' {
    return this.commitSettlement(this.prepareSettlement(s, known))
  }

  /**
   * Everything `addSettlement` checks (or throws), done once, changing nothing: for a caller
   * that writes the file to its log between the check and the fold, without planning a file of
   * a million lines twice. Commit it before any other settlement is prepared or added.
   * `known`: with settledLines 'caller', the lines and payouts of the file's refs the caller
   * holds (every one of them it holds: a line left out would be counted twice).
   */
  prepareSettlement (s: Settlement, known?: KnownSettled): PreparedSettlement | 'duplicate' {
    const plan = this.#planSettlement(s, this.#known(known))
    return plan === 'duplicate' ? 'duplicate' : { ...plan, settlement: s, generation: this.#settlements.size }
  }

  commitSettlement (p: PreparedSettlement | 'duplicate'): 'folded' | 'duplicate' {
    this.#version++
    if (p === 'duplicate') {
      this.#duplicates++
      return 'duplicate'
    }
    invariant(p.generation === this.#settlements.size && !this.#settlements.has(p.settlement.id), 'a prepared settlement is committed before any other')
    for (const x of p.postings) this.#postOne(x, 1)
    if (this.#settledLines !== null) for (const [key, held] of p.lines) this.#settledLines.set(key, held)
    if (this.#payouts !== null) for (const [key, held] of p.payouts) this.#payouts.set(key, held)
    for (const [id, sums] of p.files) this.#settlements.set(id, sums)
    this.#settledLineCount += p.newLines
    this.#payoutCount += p.newPayouts
    return 'folded'
  }

  /** What `addSettlement` would answer (or throw), changing nothing. */
  checkSettlement (s: Settlement, known?: KnownSettled): 'new' | 'duplicate' {
    return this.#planSettlement(s, this.#known(known)) === 'duplicate' ? 'duplicate' : 'new'
  }

  /**
   * At a start (settledLines 'caller'): a settlement file folded before, as its sums were
   * written with it (the plan's `files`, the newest for each file). Every file is given back
   * once, and the balances are their sums: each distinct line and payout is in exactly one.
   */
  restoreSettlementFile (id: string, f: SettlementFileSums): void {
    invariant(this.#settledLines === null, 'restoreSettlementFile is for books whose caller keeps the settled lines')
    if (!/^[0-9a-f]{64}$/.test(id)) bug(`settlement id ${id} is not a SHA-256`)
    if (this.#settlements.has(id)) bug(`settlement ${id.slice(0, 16)} restored twice`)
    this.#version++
    for (const [account, sub, cents] of f.sums) this.#postOne(sub === '' ? { account, amountCents: cents } : { account, amountCents: cents, sub }, 1)
    this.#settlements.set(id, f)
    this.#settledLineCount += f.lines
    this.#payoutCount += f.payouts
  }

  /** Settlement files folded. */
  get settlementCount (): number { return this.#settlements.size }

  /** What the journal says of a settlement file folded (undefined: none of that id). */
  settlementFile (id: string): SettlementFileSums | undefined {
    return this.#settlements.get(id)
  }

  #known (known: KnownSettled | undefined): KnownSettled {
    if (this.#settledLines !== null && this.#payouts !== null) {
      invariant(known === undefined, 'these books keep the settled lines: pass none')
      return { lines: this.#settledLines, payouts: this.#payouts }
    }
    invariant(known !== undefined, 'these books\' caller keeps the settled lines: pass the ones the file names')
    return known
  }

  /** Balance of `account:sub` (a processor's clearing, its payouts due), debit positive. */
  subBalance (account: Account, sub: string): number {
    return this.#subBalances.get(`${account}:${sub}`) ?? 0
  }

  #planSettlement (s: Settlement, known: KnownSettled): Omit<PreparedSettlement, 'settlement' | 'generation'> | 'duplicate' {
    if (!/^[0-9a-f]{64}$/.test(s.id)) throw new InvalidRecordError('a settlement id is the file\'s SHA-256, 64 hex digits')
    if (this.#settlements.has(s.id)) return 'duplicate'
    // Sums of input: past the exact-integer range is a file refused, not a bug.
    const add = (a: number, b: number): number => {
      const r = a + b
      if (!Number.isSafeInteger(r)) throw new InvalidRecordError(`settlement ${s.id.slice(0, 16)}: its lines add up past ${Number.MAX_SAFE_INTEGER} cents`)
      return r
    }
    // Per file the journal changes for, its sums as they will be: postings are linear in the
    // lines, so a line moving to another file (or to another kind) is its postings taken out
    // of one sum and put in another; a file of a million lines is a handful of sums.
    const files = new Map<string, { f: SettlementFileSums, sums: Map<string, Posting> }>()
    const fileOf = (id: string): { f: SettlementFileSums, sums: Map<string, Posting> } => {
      let e = files.get(id)
      if (e === undefined) {
        const had = id === s.id ? { processor: s.processor, day: s.day, lines: 0, payouts: 0, sums: [] } : this.#settlements.get(id)
        if (had === undefined) bug(`settled line held for a file not folded: ${id}`)
        const sums = new Map<string, Posting>()
        for (const [account, sub, cents] of had.sums) sums.set(`${account}\u0000${sub}`, sub === '' ? { account, amountCents: cents } : { account, amountCents: cents, sub })
        e = { f: { ...had, sums: [] }, sums }
        files.set(id, e)
      }
      return e
    }
    // What changes in the balances: the same postings, summed over the whole file.
    const delta = new Map<string, Posting>()
    const post = (into: Map<string, Posting>, ps: readonly Posting[], sign: 1 | -1): void => {
      for (const p of ps) {
        const k = `${p.account}\u0000${p.sub ?? ''}`
        const cur = into.get(k)
        if (cur === undefined) into.set(k, { ...p, amountCents: sign * p.amountCents })
        else cur.amountCents = add(cur.amountCents, sign * p.amountCents)
      }
    }
    const move = (from: string | null, to: string | null, ps: readonly Posting[], what: 'lines' | 'payouts'): void => {
      if (from !== null) {
        const e = fileOf(from)
        post(e.sums, ps, -1)
        e.f[what]--
      } else {
        post(delta, ps, 1)
      }
      if (to !== null) {
        const e = fileOf(to)
        post(e.sums, ps, 1)
        e.f[what]++
      } else {
        post(delta, ps, -1)
      }
    }
    fileOf(s.id)
    // Lines new to the books (most of a file) summed per kind as they are planned, and posted
    // as three sums at the end: no posting made per line.
    const totals = { settled: { grossCents: 0, feeCents: 0, netCents: 0 }, chargeback: { grossCents: 0, feeCents: 0, netCents: 0 }, fee: { grossCents: 0, feeCents: 0, netCents: 0 } }
    const lines: Array<[string, HeldLine]> = []
    const payouts: Array<[string, HeldPayout]> = []
    let newLines = 0
    let newPayouts = 0
    const inFile = new Set<string>()
    for (const l of s.lines) {
      const key = `${s.processor}\u0000${l.ref}`
      if (inFile.has(key)) throw new SettlementConflictError(`line ${l.ref} is in the file twice`)
      inFile.add(key)
      const held = known.lines.get(key)
      if (held === undefined) {
        if (l.netCents !== subCents(l.grossCents, l.feeCents)) throw new InvalidRecordError(`line ${l.ref}: net ${l.netCents} is not gross ${l.grossCents} less fee ${l.feeCents}`)
        const t = totals[l.kind]
        t.grossCents = add(t.grossCents, l.grossCents)
        t.feeCents = add(t.feeCents, l.feeCents)
        t.netCents = add(t.netCents, l.netCents)
        lines.push([key, { file: s.id, processor: s.processor, line: l }])
        newLines++
        continue
      }
      const h = held.line
      // A fee is the same fee whichever column a file puts it in: compared by its net.
      const same = h.kind === 'fee' && l.kind === 'fee' ? h.netCents === l.netCents : h.grossCents === l.grossCents && h.feeCents === l.feeCents && h.netCents === l.netCents
      if (!same || (h.kind !== l.kind && (h.kind === 'fee' || l.kind === 'fee'))) {
        throw new SettlementConflictError(`line ${l.ref} was settled as ${h.kind} ${h.grossCents}/${h.feeCents}/${h.netCents} in ${held.file.slice(0, 16)} and is ${l.kind} ${l.grossCents}/${l.feeCents}/${l.netCents} here`)
      }
      // Known now as a chargeback (its gross leaves card losses, not the processor's clearing),
      // or carried by this file now (a smaller id): out of the file that carried it, into this.
      const kind: SettledLine['kind'] = h.kind === 'chargeback' || l.kind === 'chargeback' ? 'chargeback' : h.kind
      const file = s.id < held.file ? s.id : held.file
      if (kind === h.kind && file === held.file) continue
      const line = { ...h, kind }
      move(held.file, null, settledLinePostings(s.processor, h), 'lines')
      move(null, file, settledLinePostings(s.processor, line), 'lines')
      lines.push([key, { file, processor: s.processor, line }])
    }
    inFile.clear()
    for (const p of s.payouts) {
      const key = `${s.processor}\u0000${p.ref}`
      if (inFile.has(key)) throw new SettlementConflictError(`payout ${p.ref} is in the file twice`)
      inFile.add(key)
      const held = known.payouts.get(key)
      if (held === undefined) {
        move(null, s.id, payoutPostings(s.processor, p), 'payouts')
        payouts.push([key, { file: s.id, processor: s.processor, payout: p }])
        newPayouts++
      } else if (held.payout.amountCents !== p.amountCents) {
        throw new SettlementConflictError(`payout ${p.ref} was ${held.payout.amountCents} in ${held.file.slice(0, 16)} and is ${p.amountCents} here`)
      } else if (s.id < held.file) {
        move(held.file, s.id, payoutPostings(s.processor, held.payout), 'payouts')
        payouts.push([key, { ...held, file: s.id }])
      }
    }
    const fresh = (['settled', 'chargeback', 'fee'] as const).flatMap(kind => settledLinePostings(s.processor, { ref: kind, kind, ...totals[kind] }))
    post(delta, fresh, 1)
    const own = fileOf(s.id)
    post(own.sums, fresh, 1)
    own.f.lines += newLines
    // Balanced (each line's postings do) and within the exact-integer range, checked before anything changes.
    const postings = [...delta.values()].filter(p => p.amountCents !== 0)
    const balances = this.#balances.slice()
    for (const p of postings) {
      const i = accountIndex(p.account)
      const next = (balances[i] ?? 0) + p.amountCents
      if (!Number.isSafeInteger(next)) throw new InvalidRecordError(`settlement ${s.id.slice(0, 16)}: it would take ${p.account} past ${Number.MAX_SAFE_INTEGER} cents`)
      balances[i] = next
    }
    const out: Array<[string, SettlementFileSums]> = []
    for (const [id, e] of files) {
      const sums = [...e.sums.values()].filter(p => p.amountCents !== 0)
        .sort((a, b) => accountIndex(a.account) - accountIndex(b.account) || compareText(a.sub ?? '', b.sub ?? ''))
      out.push([id, { ...e.f, sums: sums.map(p => [p.account, p.sub ?? '', p.amountCents]) }])
    }
    return { postings, lines, payouts, files: out, newLines, newPayouts }
  }

  /** The journal transactions of settlement files: each line and payout in the file with the smallest id holding it. */
  #settlementTransactions (): Transaction[] {
    const out: Transaction[] = []
    for (const id of [...this.#settlements.keys()].sort()) {
      const f = this.#settlements.get(id) as SettlementFileSums
      // A file whose every line a smaller id carries says nothing in the journal.
      if (f.lines + f.payouts === 0) continue
      const postings: Posting[] = f.sums.map(([account, sub, amountCents]) => sub === '' ? { account, amountCents } : { account, amountCents, sub })
      out.push(makeTransaction(settlementTxId(id), f.day, `settlement ${f.processor} ${id.slice(0, 16)}`, postings))
    }
    return out
  }

  /** snapshot()'s tills alone (every till with an entry folded or held, sorted): without the accounts, stores and members. */
  tillSnapshots (): BooksSnapshot['tills'] {
    const tills: Array<[TillId, TillSnapshot]> = []
    for (const [id, t] of [...this.#tills].sort((a, b) => compareText(a[0], b[0]))) {
      if (t.chain.foldedSeq + t.chain.heldCount > 0) tills.push([id, this.#tillSnapshot(t)])
    }
    return Object.fromEntries(tills)
  }

  /** One till as snapshot() gives it; undefined when it has no entry folded or held. */
  tillSnapshotOf (tillId: TillId): TillSnapshot | undefined {
    const t = this.#tills.get(tillId)
    return t === undefined || t.chain.foldedSeq + t.chain.heldCount === 0 ? undefined : this.#tillSnapshot(t)
  }

  /** The tills whose chain a fork halted, sorted. */
  forkedTills (): TillId[] {
    const out: TillId[] = []
    for (const [id, t] of this.#tills) if (t.chain.forked) out.push(id)
    return out.sort(compareText)
  }

  /** The books as plain JSON: integers only, keys sorted. See BooksSnapshot. */
  snapshot (): BooksSnapshot {
    const trial = this.trialBalance()
    const stores: Array<[StoreId, StoreSnapshot]> = []
    for (const [id, s] of [...this.#stores].sort((a, b) => compareText(a[0], b[0]))) {
      if (s.foldedEntries > 0) stores.push([id, this.#storeSnapshot(s)])
    }
    const tills: Array<[TillId, TillSnapshot]> = []
    const forks: ForkEvidence[] = []
    let folded = 0
    let pending = 0
    for (const [id, t] of [...this.#tills].sort((a, b) => compareText(a[0], b[0]))) {
      if (t.chain.foldedSeq + t.chain.heldCount === 0) continue
      tills.push([id, this.#tillSnapshot(t)])
      folded += t.chain.foldedSeq
      pending += t.chain.heldCount
      const evidence = t.chain.evidence()
      if (evidence !== null) forks.push(evidence)
    }
    const members: Array<[string, number]> = []
    this.#memberPoints.forEach((points, id) => { if (points !== 0) members.push([this.#ctx.members.name(id), points]) })
    members.sort((a, b) => compareText(a[0], b[0]))
    return {
      accounts: Object.fromEntries(ACCOUNT_NAMES.map((a, i) => [a, this.#balances[i] ?? 0])) as Record<Account, number>,
      trialBalance: { debitsCents: trial.debitsCents, creditsCents: trial.creditsCents },
      stores: Object.fromEntries(stores),
      tills: Object.fromEntries(tills),
      members: Object.fromEntries(members),
      forks,
      counts: {
        folded, duplicates: this.#duplicates, pending, forks: forks.length, replenishments: this.#replenishments.size, openings: this.#openings.size,
        settlements: this.#settlements.size, settledLines: this.#settledLineCount, payouts: this.#payoutCount
      },
      subAccounts: Object.fromEntries([...this.#subBalances].sort((a, b) => compareText(a[0], b[0])))
    }
  }

  /** Balance of one account, debit positive. */
  balance (account: Account): number {
    return this.#balances[accountIndex(account)] ?? 0
  }

  /**
   * Every folded transaction, sorted by (date, till, seq) for till entries and (date, id)
   * for HQ's own, which come first on their day. Rebuilt from the summaries: O(n log n),
   * for exports and audits, not the hot path.
   */
  transactions (): Transaction[] {
    return this.#keyed().map(k => k.tx)
  }

  /** transactions(), each with the store whose till's record it is (null: HQ's own: orders, openings, settlements). */
  storeTransactions (): Array<{ tx: Transaction, store: string | null }> {
    return this.#keyed().map(k => ({ tx: k.tx, store: k.store }))
  }

  /** Per till, how many of its entries are folded (its folded prefix, 1..n): for a projection that follows the books. */
  foldedSeqs (): Map<TillId, number> {
    const out = new Map<TillId, number>()
    for (const [tillId, t] of this.#tills) if (t.chain.foldedSeq > 0) out.set(tillId, t.chain.foldedSeq)
    return out
  }

  /** The journal transaction of a till's folded entry `seq` (1..its folded prefix). */
  tillTransaction (tillId: TillId, seq: number): Transaction {
    const t = this.#tills.get(tillId)
    if (t === undefined || seq < 1 || seq > t.chain.foldedSeq) bug(`${tillId} seq ${seq} is not folded`)
    return summaryTransaction(t.chain.foldedSummary(seq), tillId, seq, t.chain.foldedHash(seq))
  }

  /** How many of HQ's own records are folded (openings, orders, settlement files): it changes whenever hqTransactions() does. */
  get hqRecordCount (): number {
    return this.#openings.size + this.#replenishments.size + this.#settlements.size
  }

  /** HQ's own transactions: openings, replenishment orders, settlement files (read them again only when hqRecordCount changed). */
  hqTransactions (): Transaction[] {
    const out: Transaction[] = []
    for (const orders of [this.#openings, this.#replenishments]) for (const o of orders.values()) out.push(o.tx)
    out.push(...this.#settlementTransactions())
    return out
  }

  #keyed (): Array<{ date: string, till: string, seq: number, store: string | null, tx: Transaction }> {
    const keyed: Array<{ date: string, till: string, seq: number, store: string | null, tx: Transaction }> = []
    for (const [tillId, t] of this.#tills) {
      for (let seq = 1; seq <= t.chain.foldedSeq; seq++) {
        const tx = summaryTransaction(t.chain.foldedSummary(seq), tillId, seq, t.chain.foldedHash(seq))
        keyed.push({ date: tx.date, till: tillId, seq, store: tillId.slice(0, tillId.lastIndexOf('-')), tx })
      }
    }
    for (const orders of [this.#openings, this.#replenishments]) {
      for (const o of orders.values()) keyed.push({ date: o.tx.date, till: '', seq: 0, store: null, tx: o.tx })
    }
    // Settlements after the day's till records: they settle what the Closes put in clearing.
    for (const tx of this.#settlementTransactions()) keyed.push({ date: tx.date, till: '\uffff', seq: 0, store: null, tx })
    keyed.sort((a, b) => compareText(a.date, b.date) || compareText(a.till, b.till) || a.seq - b.seq || compareText(a.tx.id, b.tx.id))
    return keyed
  }

  /** Each account's balance in the debit or the credit column; the columns must agree. */
  trialBalance (): TrialBalance {
    let debitsCents = 0
    let creditsCents = 0
    const rows = ACCOUNT_NAMES.map((account, i) => {
      const b = this.#balances[i] ?? 0
      const row = { account, debitCents: b > 0 ? b : 0, creditCents: b < 0 ? negCents(b) : 0 }
      debitsCents = addCents(debitsCents, row.debitCents)
      creditsCents = addCents(creditsCents, row.creditCents)
      return row
    })
    if (debitsCents !== creditsCents) bug(`trial balance does not balance: debits ${debitsCents} ≠ credits ${creditsCents}`)
    return { rows, debitsCents, creditsCents }
  }

  profitAndLoss (): ProfitAndLoss {
    const revenueCents = negCents(this.balance(ACCOUNTS.sales))
    const costOfGoodsSoldCents = this.balance(ACCOUNTS.costOfGoodsSold)
    const shrinkage = this.balance(ACCOUNTS.shrinkage)
    const overShort = negCents(this.balance(ACCOUNTS.cashOverShort))
    const grossProfitCents = subCents(revenueCents, costOfGoodsSoldCents)
    const cardFeesCents = this.balance(ACCOUNTS.cardFees)
    const cardLossesCents = this.balance(ACCOUNTS.cardLosses)
    const loyaltyPointsCents = this.balance(ACCOUNTS.loyaltyExpense)
    const netIncomeCents = subCents(subCents(subCents(addCents(subCents(grossProfitCents, shrinkage), overShort), cardFeesCents), cardLossesCents), loyaltyPointsCents)
    // Cross-check against the balance sheet side: income = −(Σ revenue and expense balances).
    const incomeAccounts = [ACCOUNTS.sales, ACCOUNTS.costOfGoodsSold, ACCOUNTS.shrinkage, ACCOUNTS.cashOverShort, ACCOUNTS.cardFees, ACCOUNTS.cardLosses, ACCOUNTS.loyaltyExpense]
    invariant(netIncomeCents === negCents(incomeAccounts.reduce((s, a) => addCents(s, this.balance(a)), 0)), 'P&L does not tie to the accounts')
    return { revenueCents, costOfGoodsSoldCents, grossProfitCents, shrinkageCents: shrinkage, cashOverShortCents: overShort, cardFeesCents, cardLossesCents, loyaltyPointsCents, netIncomeCents }
  }

  /** An hledger journal of transactions() that `hledger check -s` accepts. */
  toHledger (): string {
    return toHledger(this.transactions(), this.#currency)
  }

  /** One CSV row per posting of transactions(); see exports.ts. */
  toCsv (): string {
    return toCsv(this.transactions())
  }

  // -------------------------------------------------------------------------------------

  #newTill (tillId: TillId, storeId: StoreId): TillState {
    let store = this.#stores.get(storeId)
    if (store === undefined) {
      store = new StoreTotals(storeId)
      this.#stores.set(storeId, store)
    }
    const sink: ChainSink<Summary> = {
      fold: (summary, seq) => {
        this.#apply(store, summary, 1)
        // Folds happen in increasing seq order.
        if (summary.kind === 'close') {
          state.lastCloseSeq = seq
          state.lastClose = summary
        }
      },
      unfold: (summary, seq) => {
        this.#apply(store, summary, -1)
        // Un-folds happen in decreasing seq order, before the chain is truncated, so the
        // summaries below `seq` are still readable.
        if (seq === state.lastCloseSeq) {
          state.lastCloseSeq = this.#previousClose(state, seq)
          const last = state.lastCloseSeq > 0 ? state.chain.foldedSummary(state.lastCloseSeq) : null
          state.lastClose = last?.kind === 'close' ? last : null
        }
      }
    }
    const chain = new TillChain<Summary>(tillId, sink, {
      heldEntriesMax: this.#heldEntriesPerTillMax,
      decode: (bytes, count) => decodeSummaries(bytes, count, state.table, this.#names)
    })
    const state: TillState = { chain, store, lastCloseSeq: 0, lastClose: null, table: this.#table }
    this.#tills.set(tillId, state)
    return state
  }

  /** A till whose block names another table's strings: decoded, to be encoded against the books' own. */
  #ownTable (t: TillState): void {
    if (t.table === this.#table) return
    t.chain.decodeBlock()
    t.table = this.#table
  }

  #previousClose (t: TillState, seq: number): number {
    for (let s = seq - 1; s >= 1; s--) if (t.chain.foldedSummary(s).kind === 'close') return s
    return 0
  }

  /** Add (sign 1) or subtract (sign −1) one entry's effect on balances, its store and its members. */
  #apply (store: StoreTotals, s: Summary, sign: 1 | -1): void {
    const signed = (cents: number): number => sign === 1 ? cents : negCents(cents)
    this.#post(s.kind === 'close' ? closePostings(s) : stockInPostings(s), sign)
    store.foldedEntries += sign
    if (s.kind === 'close') {
      store.cashCents = addCents(store.cashCents, signed(s.cashCents))
      store.cardCents = addCents(store.cardCents, signed(s.cardCents))
      store.salesNetCents = addCents(store.salesNetCents, signed(s.netCents))
      store.taxCents = addCents(store.taxCents, signed(s.taxCents))
      store.refundsCents = addCents(store.refundsCents, signed(s.refundsCents))
      store.cogsCents = addCents(store.cogsCents, signed(s.cogsCents))
      store.cashOverShortCents = addCents(store.cashOverShortCents, signed(cashOverShortCents(s)))
      store.saleCount = addCount(store.saleCount, signed(s.saleCount))
      store.refundCount = addCount(store.refundCount, signed(s.refundCount))
      const consumedEnd = s.consumedLines * 2
      // Consumed stock leaves the shelf.
      for (let i = 0; i < consumedEnd; i += 2) adjust(store.stock, s.lines[i] ?? -1, signed(negCents(s.lines[i + 1] ?? 0)))
      for (let i = consumedEnd; i < s.lines.length; i += 2) {
        const member = s.lines[i] ?? -1
        this.#memberPoints[member] = addCount(this.#memberPoints[member] ?? 0, signed(s.lines[i + 1] ?? 0))
      }
    } else {
      store.shrinkageCents = addCents(store.shrinkageCents, signed(shrinkageCents(s)))
      for (let i = 0; i < s.lines.length; i += 2) adjust(store.stock, s.lines[i] ?? -1, signed(s.lines[i + 1] ?? 0))
    }
  }

  #post (postings: readonly Posting[], sign: 1 | -1): void {
    for (const p of postings) this.#postOne(p, sign)
  }

  #postOne (p: Posting, sign: 1 | -1): void {
    const cents = sign === 1 ? p.amountCents : negCents(p.amountCents)
    const i = accountIndex(p.account)
    this.#balances[i] = addCents(this.#balances[i] ?? 0, cents)
    if (p.sub !== undefined) {
      const key = `${p.account}:${p.sub}`
      const next = addCents(this.#subBalances.get(key) ?? 0, cents)
      if (next === 0) this.#subBalances.delete(key)
      else this.#subBalances.set(key, next)
    }
  }

  #prepareReplenishment (order: Replenishment): PreparedOrder | 'duplicate' {
    const lines = order.lines.map(l => ({ sku: l.sku, qty: l.qty }))
    const prepared = this.#prepareOrder(this.#replenishments, `order ${order.id}`, order.id, replenishmentFingerprint(order), lines, order.businessDay, valueCents =>
      replenishmentTransactionAt(order.id, order.store, order.businessDay, valueCents))
    return prepared === 'duplicate' ? prepared : { ...prepared, store: order.store }
  }

  #prepareOpeningStock (lines: readonly SkuQty[], date: BusinessDay | string, id: string): PreparedOrder | 'duplicate' {
    const { day, sorted, fingerprint } = openingStockOf(lines, date, id)
    return this.#prepareOrder(this.#openings, `opening ${id}`, id, fingerprint, sorted, day, valueCents => makeTransaction(
      openingStockTxId(id), day, openingStockDescription(id), openingStockPostings(valueCents)))
  }

  /**
   * Everything that can refuse an order, done without changing anything: the id's reuse
   * (IdReusedError), the costing (a cost function refusing a SKU), and its value or the
   * balances it would leave passing the exact-integer range (InvalidRecordError: operators'
   * input, e.g. a huge quantity of a costly SKU). So a caller that checks before writing
   * the order to its log never logs one the books then refuse, which every rebuild would
   * trip on.
   */
  #prepareOrder (orders: Map<string, FoldedOrder>, label: string, id: string, fingerprint: string, lines: readonly SkuQty[], day: BusinessDay,
    build: (valueCents: number) => Transaction): PreparedOrder | 'duplicate' {
    const existing = orders.get(id)
    if (existing !== undefined) {
      if (existing.fingerprint !== fingerprint) throw new IdReusedError(`id ${id} was already folded with different content`)
      return 'duplicate'
    }
    let valueCents = 0
    for (const l of lines) {
      const lineCents = l.qty * unitCostCents(this.#costCents, l.sku, day)
      valueCents += lineCents
      if (!Number.isSafeInteger(lineCents) || !Number.isSafeInteger(valueCents)) {
        throw new InvalidRecordError(`${label}: its value at cost passes ${Number.MAX_SAFE_INTEGER} cents`)
      }
    }
    // makeTransaction asserts the postings balance.
    const tx = build(valueCents)
    const balances = this.#balances.slice()
    for (const p of tx.postings) {
      const i = accountIndex(p.account)
      const next = (balances[i] ?? 0) + p.amountCents
      if (!Number.isSafeInteger(next)) throw new InvalidRecordError(`${label}: it would take ${p.account} past ${Number.MAX_SAFE_INTEGER} cents`)
      balances[i] = next
    }
    return { fingerprint, tx, valueCents, balances }
  }

  #commitOrder (orders: Map<string, FoldedOrder>, id: string, prepared: PreparedOrder | 'duplicate'): 'folded' | 'duplicate' {
    if (prepared === 'duplicate') {
      this.#duplicates++
      return 'duplicate'
    }
    for (let i = 0; i < prepared.balances.length; i++) this.#balances[i] = prepared.balances[i] ?? 0
    // Orders never post to a sub-account (asserted: the balances above would miss it).
    invariant(prepared.tx.postings.every(p => p.sub === undefined), 'an order posts to no sub-account')
    orders.set(id, { fingerprint: prepared.fingerprint, tx: prepared.tx, valueCents: prepared.valueCents, ...(prepared.store !== undefined ? { store: prepared.store } : {}) })
    return 'folded'
  }

  #storeSnapshot (s: StoreTotals): StoreSnapshot {
    const stock: Array<[string, number]> = []
    for (const [sku, qty] of s.stock) stock.push([this.#ctx.skus.name(sku), qty])
    stock.sort((a, b) => compareText(a[0], b[0]))
    return {
      takingsCents: addCents(s.cashCents, s.cardCents),
      cashCents: s.cashCents,
      cardCents: s.cardCents,
      salesNetCents: s.salesNetCents,
      taxCents: s.taxCents,
      refundsCents: s.refundsCents,
      cogsCents: s.cogsCents,
      grossMarginCents: subCents(s.salesNetCents, s.cogsCents),
      cashOverShortCents: s.cashOverShortCents,
      shrinkageCents: s.shrinkageCents,
      saleCount: s.saleCount,
      refundCount: s.refundCount,
      stockOnHand: Object.fromEntries(stock)
    }
  }

  #tillSnapshot (t: TillState): TillSnapshot {
    const close = t.lastClose
    invariant((close === null) === (t.lastCloseSeq === 0), 'lastClose is the Close at lastCloseSeq')
    return {
      lastSeq: t.chain.foldedSeq,
      lastClosedDay: close?.day ?? null,
      pending: t.chain.heldCount,
      forked: t.chain.forked,
      // docLast = docFirst − 1 on a day without documents: 0 until the till's first document.
      lastDocN: close !== null && close.docLast >= 1 ? close.docLast : null
    }
  }
}

/** Add `delta` to a sparse quantity map, deleting entries that reach 0 (so 0 and absent are one state). */
function adjust (map: Map<number, number>, key: number, delta: number): void {
  invariant(key >= 0, 'packed line has an id')
  const next = addCount(map.get(key) ?? 0, delta)
  if (next === 0) map.delete(key)
  else map.set(key, next)
}

/** Counts, quantities and points need the same exact-integer check as money. */
const addCount = addCents

/**
 * An order's content identity (same id, other content: IdReusedError). The values come
 * from the two builders above with their keys in a fixed order, so their JSON is one
 * unambiguous text per content; hashed, not canonically encoded: a rebuild folds one order
 * per store-day, and through cborg each cost ~30 µs.
 */
function fingerprintOf (value: object): string {
  return hash('sha256', JSON.stringify(value), 'hex')
}

function replenishmentFingerprint (order: Replenishment): string {
  const lines = order.lines.map(l => ({ sku: l.sku, qty: l.qty }))
  return fingerprintOf({ v: 1, kind: 'replenishment', id: order.id, store: order.store, businessDay: order.businessDay, lines })
}

/** An opening's checked day and sorted lines, and its fingerprint. Throws InvalidRecordError on bad input. */
function openingStockOf (lines: readonly SkuQty[], date: BusinessDay | string, id: string): { day: BusinessDay, sorted: readonly SkuQty[], fingerprint: string } {
  const { day, lines: sorted } = checkOpeningStock(id, date, lines)
  return { day, sorted, fingerprint: fingerprintOf({ kind: 'opening', id, businessDay: day, lines: sorted.map(l => ({ sku: l.sku, qty: l.qty })) }) }
}

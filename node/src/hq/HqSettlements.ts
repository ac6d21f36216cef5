/**
 * Reconciliation at HQ: the processor's settlement report or a bank's statement, imported
 * (`POST /admin/settlements`, `tillbooks reconcile`), matched against what the tills' Closes
 * say they took by card, payment by payment where it must be.
 *
 * Two small messages stay two small messages: a Close carries, per processor, the count and
 * amount of its card payments (and names each late decline and expiry); the detail stays at
 * the store. So HQ first matches each till's settled lines against its Closes' totals: when
 * the counts and amounts agree and no payment is settled twice, every line of that till is
 * matched and nothing more is asked. With a processor that settles a day late, the totals of
 * its Closes through some day on or after the last one due are tried too: the rest is not due,
 * one `timing` line for the till (`settledThrough`). Only a till whose totals do not match has its signed
 * approvals fetched (`ApprovalSource`: from the till, or a neighbour holding them) and
 * matched one by one, so each exception names its payment, document and till. Signatures
 * are checked against the keys HQ enrolled for that till: whoever serves them cannot forge one.
 *
 * The books (ledger) hold the same files: each processor's clearing balance must equal the
 * sum of `openCents` over the open exceptions, and every answer says whether it does.
 */
import { ACCOUNTS } from '@tillbooks/ledger'
import {
  compareExceptions, dueThrough, lineKeys, openCents, Reconciler, readSettlementFile, SettlementFileError,
  type ImportedFile, type ReconcileException, type SettlementLine, type TillPayment
} from '@tillbooks/payments'
import {
  addPaymentSets, openApproval, PAYMENT_SET_EMPTY, sha256, paymentHash, paymentSetHash, paymentsDigest, subtractPaymentSets, sumPaymentHashes,
  type Approval, type Close, type PaymentTotal, type TillId
} from '@tillbooks/protocol'
import type { Logger } from '../components.ts'
import type { HqNode } from './HqNode.ts'
import { FoldedCloses } from './FoldedCloses.ts'
import { TILL_SETTLED_NONE, tillOfLine, type SettledLines, type TillSettled } from './SettledLines.ts'
import { APPROVALS_OPENED_KEPT_MAX } from './constants.ts'

/** Where HQ gets a till's signed approvals when its totals do not match (the till, a neighbour's replica). */
export interface ApprovalSource {
  /** Every approval envelope the till holds; null when it could not be reached. */
  approvals (tillId: TillId): Promise<Uint8Array[] | null>
  /** The approvals of the till that its neighbours keep (one list per peer that answered): asked when the till cannot make up its Closes. */
  replicaApprovals? (tillId: TillId): Promise<Uint8Array[][]>
}

export interface ReconcileOptions {
  /** The processor the file is from (default: the one processor the Closes name, else `embedded`). */
  processor?: string
  /** Days a processor takes to settle a day's payments (default 0: the embedded processor settles a day in that day's batch). */
  lagDays?: number
  /** Name the answer gives the file (default: its id). */
  name?: string
}

export interface ReconcileAnswer {
  file: string
  fileId: string | null
  day: string
  processor: string
  /** The same file was imported before: nothing changed. */
  duplicate?: boolean
  matched: number
  exceptions: ReconcileException[]
  /** The processor's card clearing in the books, and the sum the open exceptions leave there: equal when the books explain every cent. */
  clearingCents: number
  openCents: number
  /** Tills whose totals did not match and whose approvals could not be fetched: their lines are neither matched nor listed. */
  tillsWithoutDetail: string[]
  /** Tills matched payment by payment (their approvals fetched). */
  tillsFetched: string[]
}

/** A till's card payments for one processor, as its folded Closes report them. */
export interface TillCards {
  count: number
  amountCents: number
  /** Late declines and expiries the Closes named, by payment id. */
  lost: Map<string, { kind: 'late_decline' | 'expired', amountCents: number, saleDay: string }>
  /** Each folded Close: its document range, business day and its totals for this processor. */
  closes: Array<{ docFirst: number, docLast: number, day: string, groups: PaymentTotal[] }>
  /** Σ of the Closes' set hashes for this processor; null if any total has none (a Close written before them). */
  setHash: Uint8Array | null
}

/** A folded Close's card parts, as the index keeps them. */
interface CardClose {
  docFirst: number
  docLast: number
  day: string
  payments: PaymentTotal[]
  lost: Array<{ paymentId: string, processor: string, amountCents: number, saleDay: string, kind: 'late_decline' | 'expired' }>
}

const DOC_N_RE = /-(\d+)$/
/** Times a reconciliation is made again when a file is imported while it reads (see `reconcile`). */
const RECONCILE_ATTEMPTS_MAX = 3

/** The settled lines reconciliation reads: each till's totals, its lines when they disagree, and the rest. */
interface SettledView {
  tills: ReadonlyMap<string, TillSettled>
  linesOf: (till: string) => Promise<SettlementLine[]>
  loose: () => Promise<SettlementLine[]>
}

/** A till's settled lines, in total (what SettledLines keeps for each till). */
function settledOf (lines: readonly SettlementLine[]): TillSettled {
  return { count: lines.length, amountCents: lines.reduce((n, l) => n + l.grossCents, 0), setHash: sumPaymentHashes(lines.map(l => paymentHash(l.paymentId ?? '', l.grossCents))) }
}

/** totalsAgree from a till's settled totals alone (Closes with set hashes): Σ of the Closes' hashes less the lost payments' = the lines'. */
export function settledTotalsAgree (cards: TillCards, settled: TillSettled): boolean {
  if (cards.setHash === null) return false
  const lost = paymentSetHash([...cards.lost].map(([paymentId, l]) => ({ paymentId, amountCents: l.amountCents })))
  return Buffer.from(subtractPaymentSets(cards.setHash, lost)).equals(Buffer.from(settled.setHash))
}

/**
 * Whether a till's settled lines are exactly the payments of its Closes through some day X on
 * or after `cutoff` (the last day whose payments are due), less what they reported lost: then
 * those are matched, and the payments of its later Closes (days after X: not due) are not yet
 * settled. Null when no such day is found, or a Close has no set hashes. X = its last Close's
 * day is the whole of it (every payment settled); an earlier X is what a processor that settles
 * a day's payments a day or more later leaves, for every till with card sales on its last days:
 * without it each of them is asked for its approvals at every reconciliation (10,000 tills,
 * each for all it holds). The days are tried in order, each adding its Closes to a running sum.
 */
export function settledThrough (cards: TillCards, settled: TillSettled, cutoff: string): { matched: number, notDue: { count: number, amountCents: number } } | null {
  if (cards.setHash === null) return null
  const byDay = new Map<string, PaymentTotal[]>()
  for (const c of cards.closes) byDay.set(c.day, [...(byDay.get(c.day) ?? []), ...c.groups])
  const days = [...byDay.keys()].sort()
  const lost = [...cards.lost].map(([paymentId, l]) => ({ paymentId, ...l })).sort((a, b) => a.saleDay < b.saleDay ? -1 : a.saleDay > b.saleDay ? 1 : 0)
  const lostCents = lost.reduce((n, l) => n + l.amountCents, 0)
  let hash: Uint8Array = PAYMENT_SET_EMPTY
  let count = 0
  let cents = 0
  let i = 0
  let lostIn = 0
  let lostInCents = 0
  for (const x of [cutoff, ...days.filter(d => d > cutoff)]) {
    for (; i < days.length && (days[i] as string) <= x; i++) {
      for (const g of byDay.get(days[i] as string) ?? []) {
        if (g.setHash === undefined) return null
        hash = addPaymentSets(hash, g.setHash)
        count += g.count
        cents += g.amountCents
      }
    }
    // A payment reported lost is out of the day its sale's Close counted it on.
    for (; lostIn < lost.length && (lost[lostIn]?.saleDay as string) <= x; lostIn++) {
      const l = lost[lostIn] as { paymentId: string, amountCents: number }
      hash = subtractPaymentSets(hash, paymentHash(l.paymentId, l.amountCents))
      lostInCents += l.amountCents
    }
    if (Buffer.from(hash).equals(Buffer.from(settled.setHash))) {
      const notDue = { count: cards.count - count - (lost.length - lostIn), amountCents: cards.amountCents - cents - (lostCents - lostInCents) }
      // A loss whose sale no Close here counts: the totals say nothing sure; the till is asked.
      if (notDue.count < 0) return null
      return { matched: count - lostIn, notDue }
    }
  }
  return null
}

/**
 * Whether a till's settled lines are exactly its approvals (less what its Closes reported
 * lost), each once. With the Closes' set hashes (paymentSet.ts) this is exact whatever the
 * days the lines were settled on: Σ of the Closes' hashes less the lost payments' = the hash
 * of the lines. Closes written before set hashes: count and amount, and no payment twice.
 */
export function totalsAgree (cards: TillCards, settled: readonly SettlementLine[]): boolean {
  if (cards.setHash !== null) return settledTotalsAgree(cards, settledOf(settled))
  const ids = new Set(settled.map(l => l.paymentId))
  const expectCount = cards.count - cards.lost.size
  let expectCents = cards.amountCents
  for (const l of cards.lost.values()) expectCents -= l.amountCents
  return ids.size === settled.length && settled.length === expectCount && settled.reduce((n, l) => n + l.grossCents, 0) === expectCents && settled.every(l => !cards.lost.has(l.paymentId ?? ''))
}

export class HqSettlements {
  readonly #hq: HqNode
  readonly #logger: Logger
  readonly #source: ApprovalSource | null
  readonly #nowMs: () => number

  /**
   * Approvals opened (signature checked) by their envelope's SHA-256: the same bytes are the same
   * approval signed by the same key, so a fetch that brings them again checks nothing again.
   * Whether that key is enrolled for the till is asked every time (enrolments change).
   */
  readonly #opened = new Map<string, { approval: Approval, signer: string }>()

  /** The card parts of each till's folded Closes (only Closes with card payments or losses). */
  readonly #closes: FoldedCloses<CardClose>
  /** Reconciliations answered and approvals fetched, for /counters. */
  readonly counters = { imports: 0, duplicates: 0, refused: 0, reconciliations: 0, fetches: 0, fetchFailures: 0, approvalsRefused: 0, detailIncomplete: 0, replicaFetches: 0 }

  /** The merchant account payouts go to: a bank statement of another account is refused. */
  readonly #account: string | undefined

  constructor (o: { hq: HqNode, logger: Logger, source?: ApprovalSource, nowMs: () => number, account?: string }) {
    this.#hq = o.hq
    this.#account = o.account
    this.#closes = new FoldedCloses(o.hq, r => {
      const lost = [
        ...(r.lateDeclines ?? []).map(d => ({ ...d, kind: 'late_decline' as const })),
        ...(r.expired ?? []).map(d => ({ ...d, kind: 'expired' as const }))
      ]
      if ((r.payments ?? []).length === 0 && lost.length === 0) return null
      return { docFirst: r.docFirst, docLast: r.docLast, day: r.businessDay, payments: r.payments ?? [], lost }
    })
    this.#logger = o.logger
    this.#source = o.source ?? null
    this.#nowMs = o.nowMs
  }

  /** Read, keep and book a settlement file, then reconcile through its day. Throws SettlementFileError or SettlementConflictError (nothing booked). */
  async import (bytes: Uint8Array, o: ReconcileOptions = {}): Promise<ReconcileAnswer> {
    let file: ImportedFile
    try {
      file = readSettlementFile(bytes, { currency: this.#hq.books.currency, ...(this.#account !== undefined ? { account: this.#account } : {}) })
    } catch (err) {
      this.counters.refused++
      throw err
    }
    const processor = o.processor ?? await this.#defaultProcessor()
    let outcome: 'folded' | 'duplicate'
    try {
      outcome = await this.#hq.importSettlement(bytes, file, processor)
    } catch (err) {
      this.counters.refused++
      this.#logger.warn({ fileId: file.id, processor, lines: file.lines.length, err: (err as Error).message }, 'settlement file refused')
      throw err
    }
    if (outcome === 'duplicate') this.counters.duplicates++
    else this.counters.imports++
    this.#logger.info({ fileId: file.id, kind: file.kind, day: file.day, lines: file.lines.length, payouts: file.payouts.length, processor, outcome }, 'settlement file imported')
    const answer = await this.reconcile(file.day, { ...o, processor })
    return { ...answer, file: o.name ?? file.id, fileId: file.id, ...(outcome === 'duplicate' ? { duplicate: true } : {}) }
  }

  /**
   * The reconciliation of every file of `processor` booked through `day` against the tills'
   * folded Closes, from the settled lines HQ keeps on disk: each till's totals in memory, its
   * lines read only when they disagree with its Closes. Through an earlier day than the
   * processor's last file, each till's totals less those first settled after that day; the
   * files through it are read from the log again only when two files named one line
   * differently (`from: 'files'` asks for that whatever the day: the tests' oracle).
   */
  async reconcile (day: string, o: ReconcileOptions & { from?: 'index' | 'files' } = {}): Promise<ReconcileAnswer> {
    this.counters.reconciliations++
    const processor = o.processor ?? await this.#defaultProcessor()
    // The lines are read at several awaits: a file imported meanwhile (or whose write failed,
    // which the store may replay under it) would give an answer half before and half after.
    // Made again then (files come a few a day); the last time with imports held back.
    for (let attempt = 1; attempt < RECONCILE_ATTEMPTS_MAX; attempt++) {
      const settled = await this.#hq.settledSteady()
      const generation = settled.generation
      // A file being written already (its turn came between): what is on disk is ahead of memory.
      if (settled.isWriting) continue
      let answer: ReconcileAnswer
      try {
        answer = await this.#reconcileOnce(day, processor, o, settled)
      } catch (err) {
        // Read across a file's write, the records may not add up (a till's totals in memory
        // before it, its days on disk after it): made again. Held still, they must.
        if (settled.generation !== generation) continue
        throw err
      }
      if (settled.generation === generation) return answer
    }
    return await this.#hq.whileSettled(async settled => await this.#reconcileOnce(day, processor, o, settled))
  }

  /** One reconciliation, from `settled`: the settled lines whose generation the caller checks (the same object throughout, a start in between or not). */
  async #reconcileOnce (day: string, processor: string, o: ReconcileOptions & { from?: 'index' | 'files' }, settled: SettledLines): Promise<ReconcileAnswer> {
    const lagDays = o.lagDays ?? 0
    const all = [...this.#hq.settlementFiles.values()].filter(f => f.processor === processor)
    const files = all.filter(f => f.day <= day)
    const latest = files.filter(f => f.day === day).map(f => f.id).sort()
    // Through the processor's last day, its totals and lines as HQ keeps them; through an
    // earlier day (a bank statement after the next day's report), less what was first settled
    // after it; the files themselves when two named one line differently (or when asked).
    const view = o.from === 'files' || (files.length !== all.length && settled.varies(processor))
      ? await this.#filesView(files.map(f => f.id))
      : await this.#indexView(settled, processor, files.length === all.length ? null : day)
    const tills = await this.#tillCards(processor)
    const reconciler = new Reconciler({ throughDay: day, settlementLagDays: lagDays, nowMs: this.#nowMs() })
    const cutoff = dueThrough(day, lagDays)
    const exceptions: ReconcileException[] = []
    const detailLines: SettlementLine[] = await view.loose()
    const tillsWithoutDetail: string[] = []
    const tillsFetched: string[] = []
    let matched = 0
    for (const tillId of [...new Set([...tills.keys(), ...view.tills.keys()])].sort()) {
      const cards = tills.get(tillId) ?? { count: 0, amountCents: 0, lost: new Map(), closes: [], setHash: PAYMENT_SET_EMPTY }
      const totals = view.tills.get(tillId) ?? TILL_SETTLED_NONE
      const lostExceptions = [...cards.lost].map(([paymentId, l]): ReconcileException => ({ kind: l.kind, paymentId, till: tillId, expectedCents: l.amountCents }))
      // With the Closes' set hashes, the till's totals say it; Closes from before them: its lines.
      let settled: SettlementLine[] | null = null
      const agreed = cards.setHash !== null
        ? settledThrough(cards, totals, cutoff)
        : totalsAgree(cards, settled = await view.linesOf(tillId)) ? { matched: cards.count - cards.lost.size, notDue: { count: 0, amountCents: 0 } } : null
      if (agreed !== null) {
        // Every line of this till is one of its approvals, once: nothing to fetch. What is not
        // settled yet is not due yet: one line for it (named one by one only when the till is asked).
        matched += agreed.matched
        for (const e of lostExceptions) exceptions.push(e)
        if (agreed.notDue.count > 0) exceptions.push({ kind: 'timing', till: tillId, expectedCents: agreed.notDue.amountCents, count: agreed.notDue.count })
        continue
      }
      const payments = await this.#detail(tillId as TillId, processor, cards)
      if (payments === null) {
        tillsWithoutDetail.push(tillId)
        for (const e of lostExceptions) exceptions.push(e)
        continue
      }
      tillsFetched.push(tillId)
      for (const p of payments) reconciler.addPayment(p)
      for (const l of settled ?? await view.linesOf(tillId)) detailLines.push(l)
    }
    for (const l of detailLines) reconciler.addLine(l)
    const r = reconciler.result()
    matched += r.matched
    // Not spread: a day's file missing at 10,000 tills is a million exceptions (a spread of ~125,000 overflows the stack).
    for (const e of r.exceptions) exceptions.push(e)
    exceptions.sort(compareExceptions)
    const clearingCents = this.#hq.books.subBalance(ACCOUNTS.cardClearing, processor)
    const open = exceptions.reduce((n, e) => n + openCents(e), 0)
    if (open !== clearingCents && tillsWithoutDetail.length === 0 && files.length > 0) {
      this.#logger.warn({ processor, day, clearingCents, openCents: open }, 'card clearing does not equal the open exceptions')
    }
    return { file: latest.join(',') || '', fileId: latest[0] ?? null, day, processor, matched, exceptions, clearingCents, openCents: open, tillsWithoutDetail, tillsFetched }
  }

  /** The settled lines of `processor` as HQ keeps them: of every file of it, or (`through`) of its files of days through that one. */
  async #indexView (settled: SettledLines, processor: string, through: string | null): Promise<SettledView> {
    if (through === null) return { tills: settled.tills(processor), linesOf: async till => await settled.linesOf(processor, till), loose: async () => await settled.looseLines(processor) }
    const then = await settled.through(processor, through)
    return { tills: await settled.tillsThrough(processor, through), linesOf: then.linesOf, loose: async () => then.loose }
  }

  /**
   * The settled lines of these files alone, read from the log again: each line once (by its
   * key), the smallest id's, a file that says chargeback over any other (as the books take it).
   */
  async #filesView (ids: readonly string[]): Promise<SettledView> {
    const lines = new Map<string, SettlementLine>()
    for (const id of [...ids].sort()) {
      const f = await this.#hq.settlementFile(id)
      if (f === undefined) throw new Error(`bug: settlement file ${id.slice(0, 16)} listed, and not in the log`)
      const keys = lineKeys(f.file.lines)
      for (const [i, l] of f.file.lines.entries()) {
        const key = keys[i] as string
        const had = lines.get(key)
        if (had === undefined || (l.type === 'Chargeback' && had.type !== 'Chargeback')) lines.set(key, l)
      }
    }
    const byTill = new Map<string, SettlementLine[]>()
    const loose: SettlementLine[] = []
    for (const l of lines.values()) {
      const till = tillOfLine(l)
      if (till === null) { loose.push(l); continue }
      const list = byTill.get(till)
      if (list === undefined) byTill.set(till, [l])
      else list.push(l)
    }
    const tills = new Map<string, TillSettled>()
    for (const [till, list] of byTill) {
      tills.set(till, settledOf(list))
    }
    return { tills, linesOf: async till => byTill.get(till) ?? [], loose: async () => loose }
  }

  /**
   * The processor the folded Closes name, if only one; `embedded` when none names any. Two or
   * more: the caller must say which (a file booked under the wrong one could never be taken out).
   */
  async #defaultProcessor (): Promise<string> {
    const named = new Set<string>()
    for (const ix of (await this.#closes.read()).values()) for (const c of ix.items) for (const p of c.payments) named.add(p.processor)
    if (named.size > 1) throw new SettlementFileError(`the tills' Closes name ${named.size} processors (${[...named].sort().join(', ')}): say which this file is from (processor)`)
    return [...named][0] ?? 'embedded'
  }

  /** An approval's envelope opened, its signature checked once for these bytes (throws as openApproval does). */
  #open (bytes: Uint8Array): { approval: Approval, signer: string } {
    const id = Buffer.from(sha256(bytes)).toString('base64')
    let opened = this.#opened.get(id)
    if (opened === undefined) {
      const o = openApproval(bytes)
      opened = { approval: Object.freeze(o.approval), signer: Buffer.from(o.signer).toString('hex') }
      if (this.#opened.size >= APPROVALS_OPENED_KEPT_MAX) this.#opened.clear()
      this.#opened.set(id, opened)
    }
    return opened
  }

  /**
   * The approvals among these envelopes signed by a key HQ enrolled for the till, naming it,
   * of this processor: the latest of each payment. Others are refused, counted and logged.
   */
  #verified (tillId: TillId, processor: string, envelopes: readonly Uint8Array[]): Map<string, Approval> {
    const keys = this.#hq.enrolment.keysOf(tillId).map(k => Buffer.from(k).toString('hex'))
    const latest = new Map<string, Approval>()
    for (const bytes of envelopes) {
      let a: Approval
      try {
        const opened = this.#open(bytes)
        if (!keys.includes(opened.signer)) throw new Error('not signed by a key enrolled for the till')
        a = opened.approval
        if (a.till !== tillId) throw new Error(`an approval of till ${a.till}`)
        if (a.atMs > 8.64e15) throw new Error(`an approval dated ${a.atMs}: past the last date there is`)
      } catch (err) {
        this.counters.approvalsRefused++
        this.#logger.warn({ tillId, err: (err as Error).message }, 'approval refused')
        continue
      }
      if (a.processor !== processor) continue
      const prev = latest.get(a.paymentId)
      if (prev === undefined || a.atMs > prev.atMs || (a.atMs === prev.atMs && a.status === 'approved')) latest.set(a.paymentId, a)
    }
    return latest
  }

  /**
   * Why these approvals do not make up the Closes' totals (null: they do, exactly): per folded
   * Close, the approvals of its documents must give each of its totals' count, amount and
   * digest. Anything else (a replacement till after a fire holds only its own; a till that lost
   * its disk) is not taken in part.
   */
  #unexplained (cards: TillCards, approvals: readonly Approval[]): string | null {
    for (const c of cards.closes) {
      const mine = approvals.filter(a => {
        const n = a.docNo == null ? NaN : Number(DOC_N_RE.exec(a.docNo)?.[1])
        return n >= c.docFirst && n <= c.docLast
      })
      const byGroup = new Map<string, Approval[]>()
      for (const a of mine) {
        const k = `${a.type}\u0000${a.mode}`
        byGroup.set(k, [...(byGroup.get(k) ?? []), a])
      }
      for (const g of c.groups) {
        const list = byGroup.get(`${g.type}\u0000${g.mode}`) ?? []
        byGroup.delete(`${g.type}\u0000${g.mode}`)
        const cents = list.reduce((n, a) => n + a.amountCents, 0)
        if (list.length !== g.count || cents !== g.amountCents || !Buffer.from(paymentsDigest(list)).equals(Buffer.from(g.digest))) {
          return `the Close of ${c.day} has ${g.count} ${g.type} ${g.mode} for ${g.amountCents}; the approvals give ${list.length} for ${cents}${list.length === g.count && cents === g.amountCents ? ', another set' : ''}`
        }
      }
      if (byGroup.size > 0) return `approvals of the ${c.day} documents that its Close does not count`
    }
    return null
  }

  /**
   * Every till's card payments through `processor`, from its folded Closes: from the index of
   * their card parts, brought up to each till's folded prefix first (only the entries folded
   * since the last reconciliation are read).
   */
  async #tillCards (processor: string): Promise<Map<string, TillCards>> {
    const out = new Map<string, TillCards>()
    for (const [tillId, ix] of await this.#closes.read()) {
      const cards: TillCards = { count: 0, amountCents: 0, lost: new Map(), closes: [], setHash: PAYMENT_SET_EMPTY }
      for (const c of ix.items) {
        const groups = c.payments.filter(p => p.processor === processor)
        cards.closes.push({ docFirst: c.docFirst, docLast: c.docLast, day: c.day, groups })
        for (const p of groups) {
          cards.count += p.count
          cards.amountCents += p.amountCents
          cards.setHash = p.setHash === undefined || cards.setHash === null ? null : addPaymentSets(cards.setHash, p.setHash)
        }
        for (const d of c.lost) if (d.processor === processor) cards.lost.set(d.paymentId, { kind: d.kind, amountCents: d.amountCents, saleDay: d.saleDay })
      }
      if (cards.count > 0 || cards.lost.size > 0) out.set(tillId, cards)
    }
    return out
  }

  /**
   * A till's payments, one by one, from its signed approvals: only those of documents in its
   * folded Closes (a sale not yet closed is not in the books either), the latest approval of
   * each payment (a stored one, approved when forwarded, is signed again), each checked
   * against the keys enrolled for the till. Null when no approval could be fetched.
   */
  async #detail (tillId: TillId, processor: string, cards: TillCards): Promise<TillPayment[] | null> {
    const source = this.#source
    if (source === null) return null
    this.counters.fetches++
    const fetched = async (what: string, get: () => Promise<Uint8Array[] | null>): Promise<Uint8Array[] | null> => {
      try {
        return await get()
      } catch (err) {
        this.#logger.warn({ tillId, err: (err as Error).message }, `could not fetch ${what}`)
        return null
      }
    }
    const fromTill = await fetched('the till\'s approvals', async () => await source.approvals(tillId))
    let latest = this.#verified(tillId, processor, fromTill ?? [])
    let why = fromTill === null ? 'the till did not answer' : this.#unexplained(cards, [...latest.values()])
    // The till gone, or holding only part (a replacement after a fire): the neighbours' replicas, with whatever it gave.
    if (why !== null && source.replicaApprovals !== undefined) {
      const lists = await fetched('replicas of the till\'s approvals', async () => (await source.replicaApprovals?.(tillId) ?? []).flat())
      if (lists !== null && lists.length > 0) {
        this.counters.replicaFetches++
        latest = this.#verified(tillId, processor, [...(fromTill ?? []), ...lists])
        why = this.#unexplained(cards, [...latest.values()])
      }
    }
    if (why !== null) {
      if (fromTill === null && latest.size === 0) this.counters.fetchFailures++
      else this.counters.detailIncomplete++
      this.#logger.warn({ tillId, processor, why }, 'no approvals that make up the till\'s Closes\' totals: not matched one by one')
      return null
    }
    const dayOfDoc = (docNo: string | null | undefined): string | null => {
      const n = docNo == null ? null : Number(DOC_N_RE.exec(docNo)?.[1])
      if (n === null || !Number.isSafeInteger(n)) return null
      return cards.closes.find(c => n >= c.docFirst && n <= c.docLast)?.day ?? null
    }
    const out: TillPayment[] = []
    for (const a of latest.values()) {
      const lost = cards.lost.get(a.paymentId)
      const saleDay = lost?.saleDay ?? dayOfDoc(a.docNo)
      if (saleDay === null) continue // not in a folded Close: not in the books, not due
      // Approved later than its sale (stored, then forwarded): due by the day it was approved.
      // Still stored: due by its sale's day, and `timing` until it is forwarded or expires.
      const approvedDay = new Date(a.atMs).toISOString().slice(0, 10)
      const day = a.status === 'approved' && approvedDay > saleDay ? approvedDay : saleDay
      out.push({
        paymentId: a.paymentId, till: tillId, ...(a.docNo != null ? { docNo: a.docNo } : {}), day, amountCents: a.amountCents,
        status: lost?.kind === 'late_decline' ? 'late_declined' : lost?.kind === 'expired' || a.status === 'stored' ? 'stored' : 'approved',
        ...(a.processorRef != null ? { processorRef: a.processorRef } : {}),
        ...(lost?.kind === 'expired' ? { forwardByMs: 0 } : {})
      })
    }
    return out
  }
}

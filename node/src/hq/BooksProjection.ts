/**
 * Keeps the SQL projection of the books (BooksSql) following HQ's books: at start it checks
 * the projection against the books (the live rows' digest, the reversals, the watermark's row
 * count) and rebuilds it if they disagree; then, off the intake path, it appends what the
 * books folded since, a bounded batch per SQL transaction. A database that cannot be reached
 * is reported (`status().error`) and tried again: HQ keeps booking into its log meanwhile,
 * and the projection catches up when the database is back.
 */
import type { Books, Transaction } from '@tillbooks/ledger'
import type { TillId } from '@tillbooks/protocol'
import type { Logger } from '../components.ts'
import { Periodic } from '../Periodic.ts'
import { BooksSql, expectedDigest, sqlRecord, type SqlDb, type SqlRecord } from './BooksSql.ts'
import { PROJECTION_BATCH_MAX, PROJECTION_DEFER_MAX_MS, PROJECTION_INTERVAL_MS, PROJECTION_RETRY_MS } from './constants.ts'

export interface ProjectionStatus {
  /** Where the projection is (a URL without its password, or the PGlite directory). */
  target: string
  /** Records in the projection (reversals included), and records of the books not yet in it. */
  projectedRecords: number
  lagRecords: number
  rebuilds: number
  /** Why the projection is not following the books now, if it is not. */
  error: string | null
  /** Records appended per second, over the last append that added any. */
  lastRowsPerSec: number | null
}

export interface BooksProjectionInit {
  /** Opens the database (again, after an error). */
  connect: () => Promise<{ db: SqlDb, close: () => Promise<void> }>
  books: () => Books
  logger: Logger
  target: string
  intervalMs?: number
  batchMax?: number
  /**
   * Whether HQ took records in since the last ask (its intake is busy): the projection then
   * waits, up to PROJECTION_DEFER_MAX_MS, so that a close wave is acknowledged at full speed
   * and projected right after it (SQL is for reports; the log is the record). Default: never busy.
   */
  busy?: () => boolean
  /** PROJECTION_DEFER_MAX_MS, for tests. */
  deferMaxMs?: number
}

function storeOf (tillId: string): string {
  return tillId.slice(0, tillId.lastIndexOf('-'))
}

export class BooksProjection {
  readonly #init: BooksProjectionInit
  #sql: BooksSql | null = null
  #close: (() => Promise<void>) | null = null
  /** What the projection holds that still counts: per till its folded prefix, HQ's records by id. */
  #tills = new Map<string, number>()
  #hq = new Set<string>()
  #rows = 0
  #rebuilds = 0
  #error: string | null = null
  #lastRowsPerSec: number | null = null
  readonly #periodic = new Periodic(async () => await this.#tick())
  /** The books' count of HQ records when the projection last held every one of them (see #pending). */
  #hqSeen: { books: Books | null, count: number, done: boolean } = { books: null, count: -1, done: false }
  /** HQ's records as the projection keeps them, made once per transaction (an order's never changes). */
  readonly #hqRecords = new WeakMap<Transaction, SqlRecord>()

  #hqRecord (tx: Transaction): SqlRecord {
    let r = this.#hqRecords.get(tx)
    if (r === undefined) {
      r = sqlRecord(tx, null)
      this.#hqRecords.set(tx, r)
    }
    return r
  }

  constructor (init: BooksProjectionInit) {
    this.#init = init
  }

  /** Start following; never throws (an unreachable database is reported and retried). */
  start (): void {
    this.#periodic.start()
  }

  /** Since when the projection has waited for a busy intake (null: it is not waiting). */
  #deferredSince: number | null = null

  /** Whether to leave the projection for later: intake busy, and not waiting too long already. */
  #defer (): boolean {
    if (this.#init.busy?.() !== true) {
      this.#deferredSince = null
      return false
    }
    const now = performance.now()
    this.#deferredSince ??= now
    if (now - this.#deferredSince < (this.#init.deferMaxMs ?? PROJECTION_DEFER_MAX_MS)) return true
    // Waited long enough: one batch now (the next tick may wait again).
    this.#deferredSince = now
    return false
  }

  /** One step; answers the delay before the next. */
  async #tick (): Promise<number> {
    try {
      if (this.#sql === null) await this.#connect()
      if (!this.#defer()) await this.catchUp({ yieldToIntake: true })
      if (this.#error !== null) this.#init.logger.info({ target: this.#init.target }, 'books database reachable again: the projection follows the books')
      this.#error = null
      return this.#init.intervalMs ?? PROJECTION_INTERVAL_MS
    } catch (err) {
      const message = (err as Error).message
      if (this.#error !== message) this.#init.logger.error({ target: this.#init.target, err: message }, 'books database: the SQL projection is not following the books (HQ keeps booking into its log; tried again)')
      this.#error = message
      await this.#disconnect()
      return PROJECTION_RETRY_MS
    }
  }

  async #connect (): Promise<void> {
    const { db, close } = await this.#init.connect()
    this.#close = close
    const sql = await BooksSql.open(db)
    this.#sql = sql
    await this.verify()
  }

  async #disconnect (): Promise<void> {
    const close = this.#close
    this.#sql = null
    this.#close = null
    if (close !== null) await close().catch(() => {})
  }

  /**
   * Check the projection against the books, and rebuild it from nothing if it disagrees (rows
   * altered or removed by hand, a watermark that does not count the rows). Answers whether it rebuilt.
   */
  async verify (): Promise<boolean> {
    const sql = this.#need()
    const live = await sql.live()
    const check = await sql.check()
    // The books' records as far as the projection has them: a projection behind the books is not altered.
    const books = this.#init.books()
    const folded = books.foldedSeqs()
    const expected: SqlRecord[] = []
    let behind = false
    for (const [till, seq] of live.tills) {
      if ((folded.get(till as TillId) ?? 0) < seq) { behind = true; break }
      for (let s = 1; s <= seq; s++) expected.push(sqlRecord(books.tillTransaction(till as TillId, s), { store: storeOf(till), till, seq: s }))
    }
    const hqNow = new Map(books.hqTransactions().map(tx => { const r = this.#hqRecord(tx); return [r.id, r] }))
    for (const id of live.hq) {
      const r = hqNow.get(id)
      if (r === undefined) { behind = true; break }
      expected.push(r)
    }
    const agrees = !behind && check.reversalsCancel && check.rows === check.watermarkRows && check.liveDigest === expectedDigest(expected)
    if (agrees) {
      this.#tills = live.tills
      this.#hq = live.hq
      this.#rows = live.rows
      this.#hqSeen = { books: null, count: -1, done: false }
      return false
    }
    this.#init.logger.warn({ target: this.#init.target, rows: check.rows, watermarkRows: check.watermarkRows, reversalsCancel: check.reversalsCancel, ahead: behind }, 'the SQL projection disagrees with the log: rebuilt from the log')
    await sql.wipe()
    this.#tills = new Map()
    this.#hq = new Set()
    this.#hqSeen = { books: null, count: -1, done: false }
    this.#rows = 0
    this.#rebuilds++
    return true
  }

  #need (): BooksSql {
    if (this.#sql === null) throw new Error('the books database is not connected')
    return this.#sql
  }

  /** What the books hold that the projection does not, and what it holds that they no longer fold. */
  #pending (books: Books): { add: SqlRecord[], reverseTills: Array<[string, number]>, reverseHq: string[], lag: number } {
    const add: SqlRecord[] = []
    const max = this.#init.batchMax ?? PROJECTION_BATCH_MAX
    let lag = 0
    const folded = books.foldedSeqs()
    const reverseTills: Array<[string, number]> = []
    for (const [till, seq] of folded) {
      const have = this.#tills.get(till) ?? 0
      if (seq <= have) continue
      lag += seq - have
      for (let s = have + 1; s <= seq && add.length < max; s++) add.push(sqlRecord(books.tillTransaction(till, s), { store: storeOf(till), till, seq: s }))
    }
    for (const [till, have] of this.#tills) {
      const seq = folded.get(till as TillId) ?? 0
      if (seq < have) reverseTills.push([till, seq])
    }
    // HQ's own records: read again only when the books folded another one (a year of orders is millions).
    if (this.#hqSeen.books === books && this.#hqSeen.count === books.hqRecordCount && this.#hqSeen.done) return { add, reverseTills, reverseHq: [], lag }
    const hqNow = new Map<string, SqlRecord>()
    for (const tx of books.hqTransactions()) { const r = this.#hqRecord(tx); hqNow.set(r.id, r) }
    let hqLag = 0
    for (const [id, r] of hqNow) {
      if (this.#hq.has(id)) continue
      hqLag++
      if (add.length < max) add.push(r)
    }
    const reverseHq = [...this.#hq].filter(id => !hqNow.has(id))
    this.#hqSeen = { books, count: books.hqRecordCount, done: hqLag === 0 && reverseHq.length === 0 }
    return { add, reverseTills, reverseHq, lag: lag + hqLag }
  }

  /** Records of the books not in the projection yet. */
  lag (): number {
    return this.#pending(this.#init.books()).lag
  }

  /** Append what the books folded since, in transactions of at most batchMax records, until none is left. */
  async catchUp (opts: { yieldToIntake?: boolean } = {}): Promise<{ added: number, reversed: number }> {
    const sql = this.#need()
    let added = 0
    let reversed = 0
    for (let batch = 0; ; batch++) {
      // Between batches, give way to an intake that became busy (the next tick goes on).
      if (opts.yieldToIntake === true && batch > 0 && this.#init.busy?.() === true) break
      const books = this.#init.books()
      const p = this.#pending(books)
      const reverse = [...p.reverseHq]
      for (const [till, seq] of p.reverseTills) for (const row of await sql.liveAbove(till, seq)) reverse.push(row)
      if (p.add.length === 0 && reverse.length === 0) break
      const t0 = performance.now()
      const r = await sql.append(p.add, reverse)
      const s = (performance.now() - t0) / 1000
      if (r.added > 0 && s > 0) this.#lastRowsPerSec = Math.round(r.added / s)
      // Only once committed does the projection count them.
      for (const rec of p.add) {
        if (rec.till !== null && rec.seq !== null) this.#tills.set(rec.till, Math.max(this.#tills.get(rec.till) ?? 0, rec.seq))
        else this.#hq.add(rec.id)
      }
      for (const [till, seq] of p.reverseTills) this.#tills.set(till, seq)
      for (const id of p.reverseHq) this.#hq.delete(id)
      this.#rows += r.added + r.reversed
      added += r.added
      reversed += r.reversed
    }
    return { added, reversed }
  }

  /** Wait for the tick in progress, then catch up now (tests, benchmarks). */
  async flush (): Promise<{ added: number, reversed: number }> {
    await this.#periodic.idle()
    if (this.#sql === null) await this.#connect()
    return await this.catchUp()
  }

  get sql (): BooksSql | null { return this.#sql }

  status (): ProjectionStatus {
    let lagRecords = 0
    try { lagRecords = this.lag() } catch { /* the books mid-rebuild */ }
    return { target: this.#init.target, projectedRecords: this.#rows, lagRecords, rebuilds: this.#rebuilds, error: this.#error, lastRowsPerSec: this.#lastRowsPerSec }
  }

  async stop (): Promise<void> {
    await this.#periodic.stop()
    await this.#disconnect()
  }
}

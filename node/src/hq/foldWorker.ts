/**
 * A fold thread of a whole-log rebuild (FoldThreads.ts): it takes whole tills' entries in key
 * order, checks each as HQ's thread would (its signature re-verified, or the log trusted; the
 * hash its key names; its signer enrolled for its till at its seq), and folds them into books
 * of its own — the same `Books`, so the same chains, forks, held entries and sums. Every
 * FOLD_FLUSH_ENTRIES or so, at a till's boundary, it writes those books as a base checkpoint
 * (each till's block, its held entries, the sums, the growth of its block table) and sends
 * the segments to HQ's thread, which restores them as it restores a checkpoint, and starts
 * afresh. An entry that names a sku with no cost on its day goes back to HQ's thread as it
 * is: HQ keeps it waiting for the catalogue. Costs are asked of HQ's thread (its catalogue),
 * once per (day, sku).
 */
import { parentPort } from 'node:worker_threads'
import { Enrolment, type Entry, type PublicKey } from '@tillbooks/protocol'
import { BlockTable, Books, CheckpointWriter } from '@tillbooks/ledger'
import { openBatch } from '../verify/openBatch.ts'
import { OPEN_CHECKED_BAD, OPEN_CHECKED_GOOD, type OpenReply } from '../verify/workerProtocol.ts'
import type { FoldBatch, FoldInit, FoldJob, FoldReply } from './foldProtocol.ts'
import { loggedEntry, reverifiedLoggedEntry } from './loggedEntry.ts'
import { FOLD_COST_ASKS_MAX } from './constants.ts'

/** An opened item's verdict, as `Verifier.checkLogged` words it: true, or why not. */
function verdict (check: OpenReply, i: number): true | string {
  const status = check.status[i]
  if (status === OPEN_CHECKED_GOOD) return true
  return status === OPEN_CHECKED_BAD ? 'its signature fails' : check.refused.find(r => r[0] === i)?.[2] ?? 'it does not open'
}

function post (msg: FoldReply, transfer: ArrayBuffer[] = []): void {
  parentPort?.postMessage(msg, transfer)
}

/** The lines a record is costed by (HqNode's #skusOf), with its day. */
function forSkuLines (r: Entry['record'], fn: (day: string, lines: ReadonlyArray<{ sku: string }>) => void): void {
  if (r.kind === 'close') fn(r.businessDay, r.consumed)
  else {
    fn(r.businessDay, r.received)
    fn(r.businessDay, r.shipped)
  }
}

class FoldThread {
  readonly #init: FoldInit
  readonly #enrolment: Enrolment
  /** One table for every base this thread sends: each sends only what the table grew by. */
  readonly #table = new BlockTable()
  #tableSent = 0
  #books: Books
  #booksEntries = 0
  /** The latest business day of the entries in #books (a base's meta, as HQ writes it). */
  #latestDay: string | null = null
  #till: string | null = null
  /** Tills already sent: the log's key order brings each till's entries together, once. */
  readonly #sent = new Set<string>()
  /** Costs by day, then sku (null: none that day), as HQ's thread answered. */
  readonly #costs = new Map<string, Map<string, number | null>>()
  #answer: ((costs: Array<number | null>) => void) | null = null
  #entries = 0

  constructor (init: FoldInit) {
    this.#init = init
    this.#enrolment = new Enrolment(init.rootKey as PublicKey)
    for (const c of init.certificates) this.#enrolment.add(c, { verify: false, checked: true })
    this.#books = this.#newBooks()
  }

  #newBooks (): Books {
    return new Books({
      table: this.#table,
      // As HQ's own books: whatever is durable folds; the bound is kept before an entry is logged.
      heldEntriesPerTillMax: Number.MAX_SAFE_INTEGER,
      costCents: (sku, day) => {
        const cost = this.#costs.get(day)?.get(sku)
        // Only entries every sku of which has a cost on its day are folded here.
        if (cost === undefined || cost === null) throw new Error(`bug: ${sku} has no cost on ${day}, and a record naming it was folded`)
        return cost
      }
    })
  }

  answered (costs: Array<number | null>): void {
    const answer = this.#answer
    this.#answer = null
    if (answer === null) throw new Error('bug: costs came that no fold thread asked for')
    answer(costs)
  }

  async batch (job: FoldBatch): Promise<void> {
    const n = job.keys.length
    const check = this.#init.verify
      ? openBatch({ id: job.id, buf: job.buf, ends: job.ends, check: new Uint8Array(n).fill(1) })
      : null
    const entries: Entry[] = new Array(n)
    let start = 0
    for (let i = 0; i < n; i++) {
      const key = job.keys[i] as string
      const end = job.ends[i] as number
      const bytes = new Uint8Array(job.buf, start, end - start)
      start = end
      // Re-verifying, held to the verdict and hash as HqNode's own re-verifying fold holds it.
      const e = check === null
        ? loggedEntry(key, bytes)
        : reverifiedLoggedEntry(key, bytes, verdict(check, i), check.hashes.subarray(i * 32, i * 32 + 32))
      this.#enrolment.check(e.tillId, e.seq, e.signer)
      entries[i] = e
    }
    const uncosted = await this.#uncosted(entries)
    const own: Array<[string, Uint8Array]> = []
    const segments: Uint8Array[] = []
    for (let i = 0; i < n; i++) {
      const e = entries[i] as Entry
      if (uncosted[i] !== 0) {
        // HQ's thread keeps it waiting for the catalogue (and logs it); a copy, not the batch.
        own.push([job.keys[i] as string, new Uint8Array(bytesOfEntry(job, i))])
        continue
      }
      if (e.tillId !== this.#till) {
        if (this.#sent.has(e.tillId)) throw new Error(`bug: ${e.tillId}'s entries came apart in the log's key order`)
        if (this.#till !== null) this.#sent.add(this.#till)
        if (this.#booksEntries >= this.#init.flushEntries) segments.push(...this.#flush())
        this.#till = e.tillId
      }
      this.#books.add(e)
      this.#booksEntries++
      if (this.#latestDay === null || e.record.businessDay > this.#latestDay) this.#latestDay = e.record.businessDay
    }
    this.#entries += n
    post({ type: 'done', id: job.id, segments, own, entries: n }, segments.map(s => s.buffer as ArrayBuffer))
  }

  end (): void {
    const segments = this.#booksEntries > 0 ? this.#flush() : []
    post({ type: 'done', id: 0, segments, own: [], entries: this.#entries }, segments.map(s => s.buffer as ArrayBuffer))
  }

  /**
   * Which entries name a sku with no cost on their day (HQ's thread keeps them waiting for
   * the catalogue): each (day, sku) this thread does not know yet asked of HQ's thread first.
   */
  async #uncosted (entries: readonly Entry[]): Promise<Uint8Array> {
    // 1: a sku with no cost; 2: a sku not known yet (looked at again once answered).
    const state = new Uint8Array(entries.length)
    const pairs: Array<[string, string]> = []
    const asking = new Map<string, Set<string>>()
    const look = (i: number, day: string, lines: ReadonlyArray<{ sku: string }>): void => {
      const known = this.#costs.get(day)
      for (const l of lines) {
        const cost = known?.get(l.sku)
        if (cost === null) state[i] = 1
        else if (cost === undefined) {
          if (state[i] === 0) state[i] = 2
          let set = asking.get(day)
          if (set === undefined) asking.set(day, set = new Set())
          if (set.has(l.sku)) continue
          set.add(l.sku)
          pairs.push([day, l.sku])
        }
      }
    }
    entries.forEach((e, i) => { forSkuLines(e.record, (day, lines) => { look(i, day, lines) }) })
    if (pairs.length === 0) return state
    for (let i = 0; i < pairs.length; i += FOLD_COST_ASKS_MAX) {
      const slice = pairs.slice(i, i + FOLD_COST_ASKS_MAX)
      const costs = await new Promise<Array<number | null>>(resolve => {
        this.#answer = resolve
        post({ type: 'ask', pairs: slice })
      })
      if (costs.length !== slice.length) throw new Error('bug: HQ\'s thread answered a different count of costs')
      slice.forEach(([day, sku], j) => {
        let onDay = this.#costs.get(day)
        if (onDay === undefined) this.#costs.set(day, onDay = new Map())
        onDay.set(sku, costs[j] as number | null)
      })
    }
    entries.forEach((e, i) => {
      if (state[i] !== 2) return
      state[i] = 0
      forSkuLines(e.record, (day, lines) => { look(i, day, lines) })
    })
    return state
  }

  /** The books so far as a base's segments; then fresh books (the same table). */
  #flush (): Uint8Array[] {
    const segments: Uint8Array[] = []
    let w = new CheckpointWriter(this.#books.checkpointNames)
    const names = this.#books.checkpointNames
    const next = (): CheckpointWriter => {
      if (w.items > 0 && w.size >= this.#init.segmentBytes) {
        segments.push(w.finish())
        w = new CheckpointWriter(names)
      }
      return w
    }
    this.#books.writeBase(next, JSON.stringify({ latestDay: this.#latestDay }), { tableFrom: this.#tableSent })
    if (w.items > 0) segments.push(w.finish())
    this.#tableSent = this.#table.size
    this.#books = this.#newBooks()
    this.#booksEntries = 0
    this.#latestDay = null
    return segments
  }
}

function bytesOfEntry (job: FoldBatch, i: number): Uint8Array {
  const start = i === 0 ? 0 : job.ends[i - 1] as number
  return new Uint8Array(job.buf, start, (job.ends[i] as number) - start)
}

let thread: FoldThread | null = null
let failed = false
/** Jobs are done one at a time, in order (a batch may wait for costs); cost answers go straight in. */
const queue: FoldJob[] = []
let running = false

async function drain (): Promise<void> {
  if (running) return
  running = true
  try {
    for (let job = queue.shift(); job !== undefined && !failed; job = queue.shift()) {
      if (job.type === 'init') thread = new FoldThread(job)
      else if (thread === null) throw new Error('bug: a fold thread got work before its init')
      else if (job.type === 'batch') await thread.batch(job)
      else if (job.type === 'end') thread.end()
    }
  } catch (err) {
    failed = true
    post({ type: 'failed', error: err instanceof Error ? err.message : String(err) })
  } finally {
    running = false
  }
}

parentPort?.on('message', (job: FoldJob) => {
  if (failed) return
  if (job.type === 'costs') {
    try {
      thread?.answered(job.costs)
    } catch (err) {
      failed = true
      post({ type: 'failed', error: err instanceof Error ? err.message : String(err) })
    }
    return
  }
  queue.push(job)
  void drain()
})

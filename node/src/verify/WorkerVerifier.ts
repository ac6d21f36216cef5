/**
 * Opens and verifies on a pool of worker threads, so HQ's main thread keeps only its own
 * bookkeeping (enrolment, dedup, group commit, fold).
 *
 * `open`: envelopes go to the threads in turn, each copied at once into that thread's next
 * job: a buffer of up to JOB_BYTES (below malloc's mmap threshold: no fresh zeroed pages per
 * batch) that is transferred, not cloned, both ways. A thread has at most JOBS_OUT_MAX jobs
 * out; while it is at the limit, its next job keeps filling with the envelopes of later calls
 * (see #flush), so under load fewer, fuller jobs cross between threads. The thread decodes
 * and validates (`acceptRecordEnvelope`, or `openRecordUnverified` where that is not sure),
 * hashes and verifies; it answers one status byte and one hash per envelope. The main thread
 * reads each accepted entry back from the checked bytes it got back (`checkedEntry`, lazily)
 * rather than cloning it.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { ENTRY_CHANGE_BYTES_MAX } from '@tillbooks/crdt/constants'
import { isAutomergeChunk } from '@tillbooks/crdt/entryChange'
import {
  checkedEntry, ENTRY_BYTES_MAX
} from '@tillbooks/protocol'
import { InlineVerifier, openOne, type LoggedCheck, type Opened, type Verifier, type VerifyItem } from './Verifier.ts'
import { OPEN_CHECKED_BAD, OPEN_CHECKED_GOOD, OPEN_REFUSED, VERIFY_ITEM_HEAD, type OpenJob, type OpenReply, type VerifyJob } from './workerProtocol.ts'

/** Below this many items a `verify` batch is verified inline: a worker round trip costs more. */
export const INLINE_BATCH_MAX = 4
/** Bytes of envelopes in one job to one thread (~100 records): several jobs in flight keep every thread busy. */
export const JOB_BYTES = 64 * 1024
/** Jobs out per thread at once: one being worked on, one waiting (see #flush). */
export const JOBS_OUT_MAX = 2
/**
 * Jobs out per thread at once for a rebuild's checks (`checkLogged`): HQ's thread folds a whole
 * batch at a time between two turns of its event loop (tens of ms), and a thread with only two
 * jobs (~10 ms each) sat idle meanwhile (17–19 % of a one-day rebuild's verify threads).
 */
export const JOBS_OUT_MAX_LOGGED = 8

export interface WorkerVerifierOptions {
  threads?: number
}

interface Pending { resolve: (msg: unknown) => void, reject: (err: Error) => void }

interface OpenRequest {
  out: Opened[]
  /** checkLogged's: the verdicts and hashes only, no entry built (then `out` stays empty). */
  raw?: { status: Uint8Array, hashes: Uint8Array, refused: Map<number, string> }
  /** Envelopes still to come back from a thread. */
  left: number
  resolve: (out: Opened[]) => void
  reject: (err: Error) => void
}

/** A job being filled for one thread: envelopes back to back, and whose answer each is. */
interface JobBuilder {
  bytes: Uint8Array<ArrayBuffer>
  used: number
  ends: number[]
  check: number[]
  to: Array<{ r: OpenRequest, i: number }>
}

function newJob (size: number): JobBuilder {
  return { bytes: new Uint8Array(size), used: 0, ends: [], check: [], to: [] }
}

export class WorkerVerifier implements Verifier {
  readonly threads: number
  readonly #workers: Worker[] = []
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #route = 0
  /** Per thread: the job being filled, jobs full and waiting to go, and jobs out (sent, not answered). */
  #filling: Array<JobBuilder | null> = []
  #ready: JobBuilder[][] = []
  #out: number[] = []
  #flushScheduled = false
  #jobsSent = 0
  #closed = false
  /** Set when a thread dies: every job after it fails at once rather than wait forever. */
  #failed: Error | null = null

  constructor (opts: WorkerVerifierOptions = {}) {
    this.threads = Math.max(1, opts.threads ?? availableParallelism())
    for (let i = 0; i < this.threads; i++) {
      this.#ready.push([])
      this.#out.push(0)
      const w = new Worker(new URL('./verifyWorker.ts', import.meta.url))
      w.on('message', (msg: { id: number, error?: string }) => {
        const p = this.#pending.get(msg.id)
        this.#pending.delete(msg.id)
        if (msg.error !== undefined) p?.reject(new Error(`verify worker: ${msg.error}`))
        else p?.resolve(msg)
      })
      const failAll = (err: Error): void => {
        this.#failed ??= err
        for (const p of this.#pending.values()) p.reject(err)
        this.#pending.clear()
      }
      w.on('error', failAll)
      w.on('exit', (code) => { if (!this.#closed) failAll(new Error(`verify worker exited with code ${code}`)) })
      this.#workers.push(w)
    }
  }

  /** `open` jobs sent to the threads so far (each one message there and one back). */
  get jobsSent (): number { return this.#jobsSent }

  #post (worker: Worker, job: OpenJob | VerifyJob, transfer: ArrayBuffer[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('WorkerVerifier is closed'))
    if (this.#failed !== null) return Promise.reject(this.#failed)
    return new Promise((resolve, reject) => {
      this.#pending.set(job.id, { resolve, reject })
      worker.postMessage(job, transfer)
    })
  }

  /**
   * Threads in turn, item by item: every thread gets an even share whoever signed. (Routing
   * by signer sent all of HQ's own certificates, one signer, to one thread during a rebuild.)
   */
  #nextThread (): number {
    const w = this.#route
    this.#route = (w + 1) % this.threads
    return w
  }

  async verify (items: VerifyItem[]): Promise<boolean[]> {
    if (items.length === 0) return []
    if (items.length < INLINE_BATCH_MAX) return await new InlineVerifier().verify(items)
    const out = new Array<boolean>(items.length).fill(false)
    const per: number[][] = this.#workers.map(() => [])
    items.forEach((item, i) => {
      // Not a signature and a key of their sizes: false here, as verifySignature answers (nothing to send).
      if (!(item.signature instanceof Uint8Array && item.signature.length === 64 && item.publicKey instanceof Uint8Array && item.publicKey.length === 32 && item.message instanceof Uint8Array)) return
      per[this.#nextThread()]?.push(i)
    })
    await Promise.all(per.map(async (idx, w) => {
      if (idx.length === 0) return
      // Packed (VerifyJob): copied at once, so what is verified is what the caller passed.
      let total = 0
      for (const i of idx) total += VERIFY_ITEM_HEAD + (items[i] as VerifyItem).message.length
      const bytes = new Uint8Array(total)
      const ends = new Uint32Array(idx.length)
      let at = 0
      idx.forEach((i, k) => {
        const item = items[i] as VerifyItem
        bytes.set(item.signature, at)
        bytes.set(item.publicKey, at + 64)
        bytes.set(item.message, at + VERIFY_ITEM_HEAD)
        at += VERIFY_ITEM_HEAD + item.message.length
        ends[k] = at
      })
      const job: VerifyJob = { type: 'verify', id: this.#nextId++, buf: bytes.buffer, ends }
      const reply = await this.#post(this.#workers[w] as Worker, job, [bytes.buffer, ends.buffer]) as { ok: Uint8Array }
      idx.forEach((i, k) => { out[i] = reply.ok[k] === 1 })
    }))
    return out
  }

  async open (envelopes: readonly Uint8Array[], check: readonly boolean[]): Promise<Opened[]> {
    const out = new Array<Opened>(envelopes.length)
    // Not bytes, or too large or small to be an entry: refused unread, here (openEntry's own first checks).
    await this.#dispatch(envelopes, { out }, i => check[i] === true, (b, i) => { out[i] = openOne(b, check[i] === true) })
    return out
  }

  /**
   * A re-verifying rebuild's check of what HQ's log holds: the same jobs as `open` (every
   * signature verified), answered as status bytes and hashes, with no entry built on this
   * thread (the rebuild folds the bytes as a trusting one does, once they pass).
   */
  async checkLogged (items: readonly Uint8Array[]): Promise<LoggedCheck> {
    const raw = { status: new Uint8Array(items.length).fill(OPEN_REFUSED), hashes: new Uint8Array(items.length * 32), refused: new Map<number, string>() }
    const check: LoggedCheck = {
      hashes: raw.hashes,
      ok: i => raw.status[i] === OPEN_CHECKED_GOOD ? true : raw.status[i] === OPEN_CHECKED_BAD ? 'its signature fails' : raw.refused.get(i) ?? 'it does not open'
    }
    await this.#dispatch(items, { out: [], raw }, () => true, (b, i) => { raw.refused.set(i, `${(b as Uint8Array).length} bytes: not an entry's size`) })
    return check
  }

  /**
   * Each openable item into its thread's next job, copied at once (what is verified, and then
   * logged, is what the caller passed, whatever it does with its own buffers while the threads
   * work); the rest go to `unopenable`. Settles once the threads have answered every item sent.
   */
  async #dispatch (items: readonly Uint8Array[], into: Pick<OpenRequest, 'out' | 'raw'>, check: (i: number) => boolean, unopenable: (b: Uint8Array, i: number) => void): Promise<void> {
    let resolve!: (out: Opened[]) => void
    let reject!: (err: Error) => void
    const done = new Promise<Opened[]>((res, rej) => { resolve = res; reject = rej })
    const r: OpenRequest = { ...into, left: 0, resolve, reject }
    items.forEach((b, i) => {
      if (!openable(b)) {
        unopenable(b, i)
        return
      }
      this.#append(this.#nextThread(), b, check(i), r, i)
      r.left++
    })
    if (r.left === 0) return
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => { this.#flush() })
    }
    await done
  }

  #append (w: number, b: Uint8Array, check: boolean, r: OpenRequest, i: number): void {
    let job = this.#filling[w] ?? null
    if (job !== null && job.used + b.length > job.bytes.length) {
      this.#ready[w]?.push(job)
      job = null
    }
    job ??= newJob(Math.max(JOB_BYTES, b.length))
    this.#filling[w] = job
    job.bytes.set(b, job.used)
    job.used += b.length
    job.ends.push(job.used)
    job.check.push(check ? 1 : 0)
    job.to.push({ r, i })
  }

  /**
   * Send what each thread has room for: at most JOBS_OUT_MAX jobs out per thread (one being
   * worked on, one waiting in its port). A thread at the limit keeps its job filling, with
   * the envelopes of later calls too, until an answer frees a slot (`#pump`): under load the
   * jobs grow towards JOB_BYTES by themselves, so fewer messages cross between threads; an
   * idle thread gets its job at the next turn of the event loop, as before.
   */
  #flush (): void {
    this.#flushScheduled = false
    for (let w = 0; w < this.threads; w++) this.#pump(w)
  }

  #pump (w: number): void {
    const ready = this.#ready[w] as JobBuilder[]
    for (;;) {
      const job = ready[0] ?? this.#filling[w] ?? undefined
      if (job === undefined) return
      // A rebuild's checks may have more out (a job's first item says whose it is: HQ takes in nothing else while it rebuilds).
      const max = job.to[0]?.r.raw !== undefined ? JOBS_OUT_MAX_LOGGED : JOBS_OUT_MAX
      if ((this.#out[w] as number) >= max) return
      if (ready[0] === job) ready.shift()
      else this.#filling[w] = null
      this.#sendOpen(w, job)
    }
  }
  #sendOpen (w: number, built: JobBuilder): void {
    const ends = Uint32Array.from(built.ends)
    const check = Uint8Array.from(built.check)
    const job: OpenJob = { type: 'open', id: this.#nextId++, buf: built.bytes.buffer, ends, check }
    this.#out[w] = (this.#out[w] as number) + 1
    this.#jobsSent++
    const answered = (): void => {
      this.#out[w] = (this.#out[w] as number) - 1
      this.#pump(w)
    }
    this.#post(this.#workers[w] as Worker, job, [job.buf, check.buffer]).then((msg) => {
      answered()
      const reply = msg as OpenReply
      const refused = new Map(reply.refused.map(([k, code, reason]) => [k, { code, reason }]))
      let start = 0
      built.to.forEach(({ r, i }, k) => {
        const end = ends[k] as number
        const status = reply.status[k]
        if (r.raw !== undefined) {
          r.raw.status[i] = status as number
          if (status === OPEN_REFUSED) r.raw.refused.set(i, refused.get(k)?.reason ?? 'refused')
          else r.raw.hashes.set(reply.hashes.subarray(k * 32, k * 32 + 32), i * 32)
        } else if (status === OPEN_REFUSED) {
          r.out[i] = { rejection: refused.get(k) ?? { code: 'MALFORMED', reason: 'refused' } }
        } else {
          const from = start + (reply.spans[2 * k] as number)
          const to = start + (reply.spans[2 * k + 1] as number)
          const entry = checkedEntry(new Uint8Array(reply.buf, from, to - from), reply.hashes.subarray(k * 32, k * 32 + 32))
          const signature = status === OPEN_CHECKED_GOOD ? true : status === OPEN_CHECKED_BAD ? false : null
          // A change of the till's log: the entry is the envelope inside it, the change kept whole.
          r.out[i] = to - from === end - start ? { entry, signature } : { entry, signature, change: new Uint8Array(reply.buf, start, end - start) }
        }
        start = end
        if (--r.left === 0) r.resolve(r.out)
      })
    }, (err: Error) => {
      answered()
      for (const { r } of built.to) r.reject(err)
    })
  }

  async close (): Promise<void> {
    this.#closed = true
    await Promise.all(this.#workers.map(async w => await w.terminate()))
    this.#workers.length = 0
    for (const p of this.#pending.values()) p.reject(new Error('WorkerVerifier is closed'))
    this.#pending.clear()
  }
}

/** Worth sending to a thread: bytes of a size an entry (or a change of one entry) can have (openOne refuses the rest unread). */
function openable (b: unknown): b is Uint8Array {
  return b instanceof Uint8Array && b.length >= 100 && b.length <= (isAutomergeChunk(b) ? ENTRY_CHANGE_BYTES_MAX : ENTRY_BYTES_MAX)
}

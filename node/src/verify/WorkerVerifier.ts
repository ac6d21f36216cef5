/**
 * Opens and verifies on a pool of worker threads, so HQ's main thread keeps only its own
 * bookkeeping (enrolment, dedup, group commit, fold).
 *
 * `open`: envelopes go to the threads in turn, each copied at once into that thread's next job: a buffer of up to JOB_BYTES (below
 * malloc's mmap threshold: no fresh zeroed pages per batch) that is transferred, not
 * cloned, both ways. Jobs go out once per turn of the event loop, so concurrent calls
 * share them. The thread decodes and
 * validates (`openRecordUnverified`: `openEntry`'s checks and answers, in one pass), hashes
 * and verifies; it answers
 * one status byte and one hash per envelope. The main thread rebuilds each accepted record
 * from the checked bytes it got back (`checkedRecord`, a few µs) rather than cloning it.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import {
  checkedEntry, ENTRY_BYTES_MAX
} from '@tillbooks/protocol'
import { InlineVerifier, openOne, type Opened, type Verifier, type VerifyItem } from './Verifier.ts'
import { OPEN_CHECKED_BAD, OPEN_CHECKED_GOOD, OPEN_REFUSED, type OpenJob, type OpenReply, type VerifyJob } from './workerProtocol.ts'

/** Below this many items a `verify` batch is verified inline: a worker round trip costs more. */
export const INLINE_BATCH_MAX = 4
/** Bytes of envelopes in one job to one thread (~100 records): several jobs in flight keep every thread busy. */
export const JOB_BYTES = 64 * 1024

export interface WorkerVerifierOptions {
  threads?: number
}

interface Pending { resolve: (msg: unknown) => void, reject: (err: Error) => void }

interface OpenRequest {
  out: Opened[]
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
  /** Per thread, the job being filled; and jobs full, waiting for the flush. */
  #filling: Array<JobBuilder | null> = []
  #full: Array<{ w: number, job: JobBuilder }> = []
  #flushScheduled = false
  #closed = false
  /** Set when a thread dies: every job after it fails at once rather than wait forever. */
  #failed: Error | null = null

  constructor (opts: WorkerVerifierOptions = {}) {
    this.threads = Math.max(1, opts.threads ?? availableParallelism())
    for (let i = 0; i < this.threads; i++) {
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
    const per: number[][] = this.#workers.map(() => [])
    items.forEach((_, i) => { per[this.#nextThread()]?.push(i) })
    const out = new Array<boolean>(items.length)
    await Promise.all(per.map(async (idx, w) => {
      if (idx.length === 0) return
      const job: VerifyJob = { type: 'verify', id: this.#nextId++, signatures: idx.map(i => items[i]?.signature as Uint8Array), messages: idx.map(i => items[i]?.message as Uint8Array), keys: idx.map(i => items[i]?.publicKey as Uint8Array) }
      const reply = await this.#post(this.#workers[w] as Worker, job, []) as { ok: Uint8Array }
      idx.forEach((i, k) => { out[i] = reply.ok[k] === 1 })
    }))
    return out
  }

  async open (envelopes: readonly Uint8Array[], check: readonly boolean[]): Promise<Opened[]> {
    if (envelopes.length === 0) return []
    let resolve!: (out: Opened[]) => void
    let reject!: (err: Error) => void
    const done = new Promise<Opened[]>((res, rej) => { resolve = res; reject = rej })
    const r: OpenRequest = { out: new Array<Opened>(envelopes.length), left: 0, resolve, reject }
    envelopes.forEach((b, i) => {
      if (!openable(b)) {
        // Not bytes, or too large or small to be an entry: refused unread, here (openEntry's own first checks).
        r.out[i] = openOne(b, check[i] === true)
        return
      }
      // Copied now: what is verified (and then logged) is what the caller passed, whatever
      // it does with its own buffers while the threads work.
      this.#append(this.#nextThread(), b, check[i] === true, r, i)
      r.left++
    })
    if (r.left === 0) return r.out
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => { this.#flush() })
    }
    return await done
  }

  #append (w: number, b: Uint8Array, check: boolean, r: OpenRequest, i: number): void {
    let job = this.#filling[w] ?? null
    if (job !== null && job.used + b.length > job.bytes.length) {
      this.#full.push({ w, job })
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

  /** Send every job filled since the last flush. */
  #flush (): void {
    this.#flushScheduled = false
    const jobs = this.#full
    this.#full = []
    this.#filling.forEach((job, w) => { if (job !== null) jobs.push({ w, job }) })
    this.#filling = []
    for (const { w, job } of jobs) this.#sendOpen(w, job)
  }

  #sendOpen (w: number, built: JobBuilder): void {
    const ends = Uint32Array.from(built.ends)
    const check = Uint8Array.from(built.check)
    const job: OpenJob = { type: 'open', id: this.#nextId++, buf: built.bytes.buffer, ends, check }
    this.#post(this.#workers[w] as Worker, job, [job.buf, check.buffer]).then((msg) => {
      const reply = msg as OpenReply
      const refused = new Map(reply.refused.map(([k, code, reason]) => [k, { code, reason }]))
      let start = 0
      built.to.forEach(({ r, i }, k) => {
        const end = ends[k] as number
        const status = reply.status[k]
        if (status === OPEN_REFUSED) {
          r.out[i] = { rejection: refused.get(k) ?? { code: 'MALFORMED', reason: 'refused' } }
        } else {
          const entry = checkedEntry(new Uint8Array(reply.buf, start, end - start), reply.hashes.subarray(k * 32, k * 32 + 32))
          r.out[i] = { entry, signature: status === OPEN_CHECKED_GOOD ? true : status === OPEN_CHECKED_BAD ? false : null }
        }
        start = end
        if (--r.left === 0) r.resolve(r.out)
      })
    }, (err: Error) => {
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

/** Worth sending to a thread: bytes of a size an entry can have (openEntry refuses the rest unread). */
function openable (b: unknown): b is Uint8Array {
  return b instanceof Uint8Array && b.length >= 100 && b.length <= ENTRY_BYTES_MAX
}

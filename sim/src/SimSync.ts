/**
 * Automerge's sync protocol over the simulated network: the simulator's AmSyncTransport, so
 * that the production DocSync (node/src/sync/DocSync.ts) pulls and answers in the simulator
 * exactly as it does over libp2p (TillbooksPeer.amSync). Each request and each answer is one
 * SimNetwork message, so loss, duplication, jitter (reordering), cut links and nodes that are
 * down all reach the protocol. Timeouts are events on the simulator's Scheduler: no real
 * timer, no wall clock, so a run replays from its seed.
 *
 *   client: amSync(addr, doc, msg) ── request #id ──▶ server: DocSync.answer(from, doc, msg)
 *           settled by the first answer #id from addr ◀── answer #id, or error #id (REFUSED, …)
 *           or by a timeout on the scheduler; a later or duplicated answer is counted and dropped
 *
 * Requests carry what TillbooksPeer's carry (the document and the message), nothing more:
 * when a pull fails and DocSync drops its state, the serving side sees the puller start
 * afresh in its message (crdt's servingStateFor).
 *
 * A request is executed once: a duplicate (the network's, or a client's retry) is answered
 * with the first one's answer, as over one reliable stream.
 *
 * `stop()` is a crash: every waiting request fails (STOPPED), nothing more is answered, and
 * the node's DocSync goes with it (a restarted node makes a new one, with no live state).
 */
import { NetError, RefusedError, type AmSyncTransport, type CallOptions } from '@tillbooks/node'
import type { TillId } from '@tillbooks/protocol'
import type { Scheduler } from './Scheduler.ts'

/**
 * A request waits this long (virtual) for its answer: a round trip on the worst link the
 * simulator draws (40 ms + two jitters of up to 5 s) with room, so only a lost message times out.
 */
export const SIM_SYNC_TIMEOUT_MS = 15_000
/** Requests one node may have waiting at once (a bound, as every queue has one). */
export const SIM_SYNC_PENDING_MAX = 1_024
/** Answers a server keeps for duplicated requests (the newest). */
export const SIM_SYNC_ANSWERS_KEPT_MAX = 1_024

/** The protocol's messages on the simulated network. */
export type SyncMsg =
  | { t: 'amSync', id: number, doc: string, msg: Uint8Array | null }
  | { t: 'amSyncAnswer', id: number, msg: Uint8Array | null }
  | { t: 'amSyncError', id: number, code: string, reason: string }

export function isSyncMsg (m: { t: string }): m is SyncMsg {
  return m.t === 'amSync' || m.t === 'amSyncAnswer' || m.t === 'amSyncError'
}

export interface SimSyncComponents {
  scheduler: Scheduler
  /** Send one message from this node over the simulated network. */
  send: (to: string, msg: SyncMsg) => void
}

export interface SimSyncInit {
  /** The server side (DocSync.answer); without it every request is answered NO_HANDLER. */
  answer?: (from: string, doc: TillId, msg: Uint8Array | null) => Promise<Uint8Array | null>
  timeoutMs?: number
  pendingMax?: number
  answersKeptMax?: number
}

export interface SimSyncCounters {
  requests: number
  answers: number
  /** Requests answered with an error (REFUSED, NO_HANDLER, HANDLER_FAILED). */
  errors: number
  timeouts: number
  /** Answers for a request already settled (duplicated, or after its timeout), dropped. */
  late: number
  served: number
  /** Duplicated requests, answered with the first one's answer. */
  duplicates: number
}

interface Pending { addr: string, resolve: (msg: Uint8Array | null) => void, reject: (err: Error) => void }

export class SimSync implements AmSyncTransport {
  readonly #c: SimSyncComponents
  readonly #init: SimSyncInit
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #stopped = false
  readonly counters: SimSyncCounters = { requests: 0, answers: 0, errors: 0, timeouts: 0, late: 0, served: 0, duplicates: 0 }
  /** Answers by `<from>!<request id>`, oldest first: a duplicated request gets the same answer. */
  readonly #answers = new Map<string, Promise<SyncMsg>>()

  constructor (components: SimSyncComponents, init: SimSyncInit = {}) {
    this.#c = components
    this.#init = init
  }

  get pending (): number { return this.#pending.size }

  async amSync (addr: string, doc: string, msg: Uint8Array | null, opts: CallOptions = {}): Promise<Uint8Array | null> {
    if (this.#stopped) throw new NetError('STOPPED', 'this node is down')
    if (this.#pending.size >= (this.#init.pendingMax ?? SIM_SYNC_PENDING_MAX)) throw new NetError('BUSY', `${this.#pending.size} sync requests waiting already`)
    const id = this.#nextId++
    this.counters.requests++
    return await new Promise<Uint8Array | null>((resolve, reject) => {
      this.#pending.set(id, { addr, resolve, reject })
      this.#c.send(addr, { t: 'amSync', id, doc, msg })
      const timeoutMs = opts.timeoutMs ?? this.#init.timeoutMs ?? SIM_SYNC_TIMEOUT_MS
      this.#c.scheduler.after(timeoutMs, () => {
        const p = this.#pending.get(id)
        if (p === undefined) return
        this.#pending.delete(id)
        this.counters.timeouts++
        p.reject(new NetError('TIMEOUT', `no answer from ${addr} about ${doc} in ${timeoutMs} ms`))
      })
    })
  }

  /** A sync message that arrived for this node: a request to answer, or an answer to settle a request with. */
  receive (from: string, m: SyncMsg): void {
    if (this.#stopped) return
    if (m.t === 'amSync') { this.#serve(from, m); return }
    const p = this.#pending.get(m.id)
    // Only the peer asked may answer: an answer from anyone else, or for a settled request, is dropped.
    if (p === undefined || p.addr !== from) { this.counters.late++; return }
    this.#pending.delete(m.id)
    if (m.t === 'amSyncAnswer') {
      this.counters.answers++
      p.resolve(m.msg)
    } else {
      this.counters.errors++
      p.reject(new NetError(m.code, `${from}: ${m.reason}`))
    }
  }

  #serve (from: string, m: Extract<SyncMsg, { t: 'amSync' }>): void {
    const key = `${from}!${m.id}`
    const seen = this.#answers.get(key)
    if (seen !== undefined) {
      this.counters.duplicates++
      void seen.then(a => { if (!this.#stopped) this.#c.send(from, a) })
      return
    }
    const answered = this.#answer(from, m)
    this.#answers.set(key, answered)
    if (this.#answers.size > (this.#init.answersKeptMax ?? SIM_SYNC_ANSWERS_KEPT_MAX)) this.#answers.delete(this.#answers.keys().next().value as string)
    void answered.then(a => { if (!this.#stopped) this.#c.send(from, a) })
  }

  async #answer (from: string, m: Extract<SyncMsg, { t: 'amSync' }>): Promise<SyncMsg> {
    const answer = this.#init.answer
    if (answer === undefined) return { t: 'amSyncError', id: m.id, code: 'NO_HANDLER', reason: 'this node serves no documents' }
    this.counters.served++
    try {
      const msg = await answer(from, m.doc as TillId, m.msg)
      return { t: 'amSyncAnswer', id: m.id, msg }
    } catch (err) {
      // As TillbooksPeer answers: a refusal of bad input is REFUSED, anything else the handler's failure.
      return { t: 'amSyncError', id: m.id, code: err instanceof RefusedError ? 'REFUSED' : 'HANDLER_FAILED', reason: (err as Error).message }
    }
  }

  /** A crash: every waiting request fails, and nothing more is sent or answered. */
  stop (): void {
    this.#stopped = true
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of pending) p.reject(new NetError('STOPPED', 'this node went down'))
  }
}

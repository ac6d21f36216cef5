/**
 * The card processor inside the simulator, and the tills' adapter to it: the embedded
 * processor's logic (node/src/processor/processorDaemon.ts) in process, its requests and
 * answers carried by the simulated network (`SimNetwork`), so loss, partitions and the
 * processor being down reach them. Used by the `cardPayments` fault; the production
 * `TillPayments` in each till drives it through `ProcessorAdapter`.
 *
 * The processor, as the daemon: it authorises by the documented test cards (`authorise` of
 * @tillbooks/payments), is idempotent on our payment id (the same request again gets the same
 * answer; the id used for another payment is refused as a conflict), books each approval under
 * a processor reference of its own to the first day not yet settled, and settles each day with
 * `settleDay`. `tok_no_response` is approved and booked, its answer never sent; a share of
 * answers drawn from the seed are dropped after booking (lost responses).
 *
 * The adapter: each call one request message and one answer message, matched by a request id;
 * no answer within `timeoutMs` of virtual time is `ProcessorUnreachableError` (the outcome
 * unknown: the processor may have taken the payment), as the HTTP adapter's timeout is.
 */
import {
  authorise as authoriseTestCard, DEFAULT_TEST_TOKEN, ProcessorUnreachableError, settleDay,
  type AuthoriseRequest, type Booked, type ProcessorAdapter, type ProcessorAnswer, type RefundRequest, type SettlementFile
} from '@tillbooks/payments'
import type { Scheduler } from './Scheduler.ts'

/** The processor's network address. */
export const PSP_ADDRESS = 'psp'
/** How long a till waits for the processor's answer (virtual time) before the outcome is unknown. */
export const PSP_TIMEOUT_MS = 10_000

export type PspRequest =
  | { t: 'psp', rid: string, op: 'authorise', body: AuthoriseRequest }
  | { t: 'psp', rid: string, op: 'refund', body: RefundRequest }
  | { t: 'psp', rid: string, op: 'lookup', paymentId: string }

export type PspAnswer =
  | { t: 'pspAnswer', rid: string, answer: ProcessorAnswer | null }
  | { t: 'pspAnswer', rid: string, error: string }

export type PspMsg = PspRequest | PspAnswer

/** The processor's answer to a payment, and the day it is booked to (null: declined, nothing booked). */
export interface PspRecord {
  fingerprint: string
  answer: ProcessorAnswer
  bookingDay: string | null
  /** Virtual time the processor first saw the payment id. */
  firstSeenMs: number
}

export interface SimProcessorCounters {
  requests: number
  authorisations: number
  /** The same request again (a retry, a forward of a payment taken online): the answer kept. */
  replays: number
  /** A payment id sent again for another payment (another amount, card or mode): refused. */
  conflicts: number
  lookups: number
  lookupsNotFound: number
  refunds: number
  /** `tok_no_response`: approved and booked, the answer never sent. */
  silent: number
  /** Answers dropped after booking (lost responses). */
  answersDropped: number
  forwarded: number
  lateDeclines: number
}

export class SimProcessor {
  readonly #scheduler: Scheduler
  readonly #send: (to: string, m: PspAnswer) => void
  readonly #currency: string
  readonly #feeBp: number
  readonly #dropAnswer: () => boolean
  #seq = 0
  readonly records = new Map<string, PspRecord>()
  /** What it booked, in reference order: payments (and refunds, for reversed partial approvals). */
  readonly bookings: Booked[] = []
  /** Each settled day's file, as `settleDay` made it. */
  readonly settled = new Map<string, SettlementFile>()
  /** Requests that named a payment id already used for another payment: `<paymentId> from <till>`. */
  readonly conflictsSeen: string[] = []
  readonly counters: SimProcessorCounters = { requests: 0, authorisations: 0, replays: 0, conflicts: 0, lookups: 0, lookupsNotFound: 0, refunds: 0, silent: 0, answersDropped: 0, forwarded: 0, lateDeclines: 0 }

  constructor (o: { scheduler: Scheduler, send: (to: string, m: PspAnswer) => void, currency: string, feeBp: number, dropAnswer: () => boolean }) {
    this.#scheduler = o.scheduler
    this.#send = o.send
    this.#currency = o.currency
    this.#feeBp = o.feeBp
    this.#dropAnswer = o.dropAnswer
  }

  #today (): string {
    return new Date(this.#scheduler.nowMs).toISOString().slice(0, 10)
  }

  /** Today's batch, or the first day after it not yet settled. */
  #bookingDay (): string {
    let day = this.#today()
    while (this.settled.has(day)) day = dayAfter(day)
    return day
  }

  #ref (): string {
    return `PSP${String(++this.#seq).padStart(10, '0')}`
  }

  receive (from: string, m: PspMsg): void {
    if (m.t !== 'psp') return
    this.counters.requests++
    if (m.op === 'lookup') {
      this.counters.lookups++
      const seen = this.records.get(m.paymentId)
      if (seen === undefined) this.counters.lookupsNotFound++
      this.#send(from, { t: 'pspAnswer', rid: m.rid, answer: seen?.answer ?? null })
      return
    }
    if (m.op === 'refund') {
      this.#send(from, this.#refund(m.rid, m.body))
      return
    }
    const r = this.#authorise(from, m.body)
    if ('error' in r) { this.#send(from, { t: 'pspAnswer', rid: m.rid, error: r.error }); return }
    if (r.silent) { this.counters.silent++; return }
    if (r.fresh && this.#dropAnswer()) { this.counters.answersDropped++; return }
    this.#send(from, { t: 'pspAnswer', rid: m.rid, answer: r.answer })
  }

  /** Authorise and book, once per payment id (the daemon's `pay`). */
  #authorise (from: string, b: AuthoriseRequest): { answer: ProcessorAnswer, silent: boolean, fresh: boolean } | { error: string } {
    const forwarded = b.forwarded === true
    const token = b.token ?? DEFAULT_TEST_TOKEN
    const fingerprint = JSON.stringify([b.amountCents, b.currency, token, forwarded])
    const seen = this.records.get(b.paymentId)
    if (seen !== undefined) {
      if (seen.fingerprint !== fingerprint) {
        this.counters.conflicts++
        this.conflictsSeen.push(`${b.paymentId} from ${from}`)
        return { error: `conflict: payment id ${b.paymentId} was used for another payment` }
      }
      this.counters.replays++
      return { answer: seen.answer, silent: false, fresh: false }
    }
    this.counters.authorisations++
    if (forwarded) this.counters.forwarded++
    const now = this.#scheduler.nowMs
    if (b.currency !== this.#currency) {
      const answer = declined(b.paymentId, `currency ${b.currency}: this account settles in ${this.#currency}`, forwarded)
      this.records.set(b.paymentId, { fingerprint, answer, bookingDay: null, firstSeenMs: now })
      return { answer, silent: false, fresh: true }
    }
    const a = authoriseTestCard(token, b.amountCents, forwarded)
    if (a.status !== 'approved') {
      if (forwarded) this.counters.lateDeclines++
      const answer: ProcessorAnswer = { ...declined(b.paymentId, a.reason, forwarded), brand: a.card?.brand ?? null, last4: a.card?.last4 ?? null }
      this.records.set(b.paymentId, { fingerprint, answer, bookingDay: null, firstSeenMs: now })
      return { answer, silent: false, fresh: true }
    }
    const processorRef = this.#ref()
    const day = this.#bookingDay()
    const answer: ProcessorAnswer = {
      paymentId: b.paymentId, status: 'approved', approvedCents: a.approvedCents, partial: a.partial, processorRef,
      authCode: processorRef.slice(-6), brand: a.card.brand, last4: a.card.last4, aid: a.card.aid, entryMode: a.card.entryMode, forwarded
    }
    this.bookings.push({ processorRef, paymentId: b.paymentId, kind: 'payment', grossCents: a.approvedCents, paymentMethod: a.card.brand, bookingDay: day })
    this.records.set(b.paymentId, { fingerprint, answer, bookingDay: day, firstSeenMs: now })
    return { answer, silent: a.silent, fresh: true }
  }

  /** A refund of an approved payment (TillPayments reverses a partial approval or a sale not made). */
  #refund (rid: string, b: RefundRequest): PspAnswer {
    this.counters.refunds++
    const fingerprint = JSON.stringify(['refund', b.originalPaymentId, b.amountCents, b.currency])
    const seen = this.records.get(b.paymentId)
    if (seen !== undefined) return seen.fingerprint === fingerprint ? { t: 'pspAnswer', rid, answer: seen.answer } : { t: 'pspAnswer', rid, error: `conflict: payment id ${b.paymentId} was used for another payment` }
    const original = this.records.get(b.originalPaymentId)
    if (original === undefined || original.answer.status !== 'approved') return { t: 'pspAnswer', rid, error: `no approved payment ${b.originalPaymentId} to refund` }
    if (b.amountCents > original.answer.approvedCents) return { t: 'pspAnswer', rid, error: `a refund of ${b.amountCents} is more than the ${original.answer.approvedCents} approved` }
    const processorRef = this.#ref()
    const day = this.#bookingDay()
    const answer: ProcessorAnswer = { ...original.answer, paymentId: b.paymentId, approvedCents: b.amountCents, partial: false, processorRef, authCode: null, forwarded: false }
    this.bookings.push({ processorRef, paymentId: b.paymentId, kind: 'refund', grossCents: -b.amountCents, paymentMethod: original.answer.brand ?? 'card', bookingDay: day })
    this.records.set(b.paymentId, { fingerprint, answer, bookingDay: day, firstSeenMs: this.#scheduler.nowMs })
    return { t: 'pspAnswer', rid, answer }
  }

  /** Settle `day` once (later bookings go to the next day): its batch, with fees. */
  settle (day: string): SettlementFile {
    const done = this.settled.get(day)
    if (done !== undefined) return done
    const file = settleDay(this.bookings, day, { currency: this.#currency, feeBp: this.#feeBp })
    this.settled.set(day, file)
    return file
  }

  /** Settle every day that has bookings, through `day`. */
  settleThrough (day: string): void {
    for (const d of [...new Set(this.bookings.map(b => b.bookingDay))].sort()) if (d <= day) this.settle(d)
    this.settle(day)
  }
}

/** A till's adapter to the simulated processor: one message each way per call, timed out in virtual time. */
export class SimProcessorAdapter implements ProcessorAdapter {
  readonly name = 'simpsp'
  readonly #scheduler: Scheduler
  readonly #send: (m: PspRequest) => void
  readonly #prefix: string
  readonly #timeoutMs: number
  readonly #pending = new Map<string, { resolve: (a: PspAnswer) => void, reject: (err: Error) => void }>()
  #n = 0
  readonly counters = { calls: 0, timeouts: 0, conflicts: 0 }

  /** `prefix` makes request ids unique across tills and their generations. */
  constructor (o: { scheduler: Scheduler, send: (m: PspRequest) => void, prefix: string, timeoutMs?: number }) {
    this.#scheduler = o.scheduler
    this.#send = o.send
    this.#prefix = o.prefix
    this.#timeoutMs = o.timeoutMs ?? PSP_TIMEOUT_MS
  }

  async authorise (r: AuthoriseRequest): Promise<ProcessorAnswer> {
    return checked(await this.#call(rid => ({ t: 'psp', rid, op: 'authorise', body: { ...r } })), r.paymentId, r.amountCents)
  }

  async refund (r: RefundRequest): Promise<ProcessorAnswer> {
    return checked(await this.#call(rid => ({ t: 'psp', rid, op: 'refund', body: { ...r } })), r.paymentId, r.amountCents)
  }

  async lookup (paymentId: string): Promise<ProcessorAnswer | null> {
    const a = await this.#call(rid => ({ t: 'psp', rid, op: 'lookup', paymentId }))
    return a === null ? null : checked(a, paymentId, Number.MAX_SAFE_INTEGER)
  }

  /** An answer from the network: the first for its request is taken, a duplicate or a late one ignored. */
  receive (m: PspMsg): void {
    if (m.t !== 'pspAnswer') return
    const p = this.#pending.get(m.rid)
    if (p === undefined) return
    this.#pending.delete(m.rid)
    p.resolve(m)
  }

  async #call (request: (rid: string) => PspRequest): Promise<ProcessorAnswer | null> {
    this.counters.calls++
    const rid = `${this.#prefix}#${++this.#n}`
    const answer = await new Promise<PspAnswer>((resolve, reject) => {
      this.#pending.set(rid, { resolve, reject })
      this.#scheduler.after(this.#timeoutMs, () => {
        if (!this.#pending.has(rid)) return
        this.#pending.delete(rid)
        this.counters.timeouts++
        reject(new ProcessorUnreachableError(`the processor did not answer within ${this.#timeoutMs} ms`))
      })
      this.#send(request(rid))
    })
    if ('error' in answer) {
      if (answer.error.startsWith('conflict')) this.counters.conflicts++
      throw new Error(`the processor refused the request: ${answer.error}`)
    }
    return answer.answer
  }
}

/** An answer taken only if it is about this payment and approves no more than was asked (as the HTTP adapter checks). */
function checked (a: ProcessorAnswer | null, paymentId: string, amountCents: number): ProcessorAnswer {
  if (a === null) throw new Error('the processor answered nothing')
  if (a.paymentId !== paymentId) throw new Error(`the processor answered about ${a.paymentId}, not ${paymentId}`)
  if (a.approvedCents > amountCents) throw new Error(`the processor approved ${a.approvedCents} of ${amountCents}`)
  return a
}

function declined (paymentId: string, reason: string, forwarded: boolean): ProcessorAnswer {
  return { paymentId, status: 'declined', approvedCents: 0, partial: false, processorRef: null, authCode: null, brand: null, last4: null, aid: null, entryMode: null, forwarded, reason }
}

export function dayAfter (day: string): string {
  const d = new Date(`${day}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + 1)
  return d.toISOString().slice(0, 10)
}

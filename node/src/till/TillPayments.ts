/**
 * A till's card and wallet payments, straight to the processor (HQ is never on the path).
 *
 * Each attempt is written durably (fsync'd) BEFORE its request leaves the till, so an outcome
 * the till never heard (a timeout, a dropped answer, a crash) is never lost: it is resolved by
 * looking the payment up by our id, which the processor is idempotent on. The answer becomes
 * a signed approval (protocol's approval.ts): the line on the receipt.
 *
 * With the processor out of reach, the till stores the payment and forwards it later, within
 * its processor's store-and-forward profile (@tillbooks/payments' profiles.ts), refusing beyond
 * it with the reason; `forward()` sends what is stored (the till's sync loop calls it), and a
 * payment declined when forwarded is a late decline: recorded, never a rewrite of the sale.
 *
 * Payment ids: `<till>-<key>-P<n>`, `<key>` the first 8 hex digits of the till's key and n
 * from the durable attempts (no counter of its own): a declined attempt keeps its id, and a
 * replacement till after a fire (a new key, its attempts burnt with the old disk) never names
 * a payment as the burnt one did, so an id never names two payments.
 *
 * On disk (the till's own store): `y!<n, 12 digits>` one attempt each, rewritten as it moves on.
 */
import {
  DEFAULT_TEST_TOKEN, DEFAULT_WALLET_TOKEN, ProcessorUnreachableError, storeAndForward, TEST_CARDS,
  type EntryMode, type ProcessorAdapter, type ProcessorAnswer, type StoreAndForwardProfile
} from '@tillbooks/payments'
import { signApproval, signedLineOf, toHex, type Signer, type TillId } from '@tillbooks/protocol'
import type { Clock, Logger } from '../components.ts'
import { OneAtATime } from '../OneAtATime.ts'
import { prefixEnd, type KvStore } from '../storage/KvStore.ts'

const PREFIX = 'y!'
const pad = (n: number): string => String(n).padStart(12, '0')

/**
 * `reversing`: taken by the processor (or maybe: its answer was lost) for a sale that was not
 * made; looked up, and refunded if it was taken. `reversed`: taken and refunded, the refund an
 * attempt of its own (`<id>-V`, negative): both settle, and reconcile, as what they are.
 */
/** The payment id of the refund reversing `paymentId` (a sale not made, a partial approval): an attempt of its own. */
export function reversalIdOf (paymentId: string): string {
  return `${paymentId}-V`
}

/** The payment a reversal's id reverses, or null when `paymentId` is not a reversal's. */
export function reversedBy (paymentId: string): string | null {
  return paymentId.endsWith('-V') ? paymentId.slice(0, -2) : null
}

export type PaymentState = 'pending' | 'approved' | 'declined' | 'stored' | 'late_declined' | 'expired' | 'reversing' | 'reversed'

/** One attempt, as kept. */
export interface PaymentAttempt {
  n: number
  paymentId: string
  type: 'card' | 'wallet'
  amountCents: number
  token: string
  entryMode: EntryMode
  docNo: string
  state: PaymentState
  takenAtMs: number
  forwardByMs: number | null
  answer: ProcessorAnswer | null
  /** The signed approval's envelope, base64url: the receipt's line. */
  signedLine: string | null
  /**
   * A payment stored offline and approved when forwarded: the approval signed then (approved,
   * taken offline), base64url; the receipt keeps the line printed when it was stored. What HQ
   * is served, so it knows the payment was charged, and when.
   */
  forwardedLine?: string
  reason: string | null
  /** A refund: the payment it refunds. */
  refundOf?: string
  /** A stored payment a forward was sent for: the processor may have taken it, whatever came back. */
  forwardSent?: true
  /** The business day of the sale it paid for. */
  saleDay?: string
}

/** What a sale's answer lists per card or wallet payment. */
export interface PaymentOutcome {
  paymentId: string
  /** The processor's name (`embedded`, …): the Close's totals are per processor. */
  processor: string
  type: 'card' | 'wallet'
  amountCents: number
  status: 'approved' | 'stored' | 'declined'
  processorRef?: string
  authCode?: string
  last4?: string
  signedLine?: string
  reason?: string
}

/** A card or wallet payment the processor (or the store-and-forward rules) refused: the sale is not made. */
export class PaymentDeclinedError extends Error {
  override name = 'PaymentDeclinedError'
  readonly payment: PaymentOutcome
  constructor (message: string, payment: PaymentOutcome) {
    super(message)
    this.payment = payment
  }
}

export interface TillPaymentsInit {
  /** The till's own store (open): attempts are durable beside its sales. */
  store: KvStore
  tillId: TillId
  signer: Signer
  adapter: ProcessorAdapter
  profile: StoreAndForwardProfile
  currency: string
  clock: Clock
  logger: Logger
}

export class TillPayments {
  readonly #o: TillPaymentsInit
  readonly #attempts = new Map<number, PaymentAttempt>()
  #next = 1

  /**
   * One of pay, refund, reverse, forward at a time: each reads an attempt, awaits the
   * processor, then writes what it learnt; interleaved, one would write over what the other
   * learnt meanwhile (a payment of a sale not made marked approved again).
   */
  readonly #serial = new OneAtATime()
  async #oneAtATime<T> (work: () => Promise<T>): Promise<T> {
    return await this.#serial.run(work)
  }

  /** `<till>-<key>-P`: see the file's comment. */
  readonly #prefix: string
  /** Attempts whose request is under way: `forward` leaves them to `pay`. */
  readonly #inFlight = new Set<number>()

  private constructor (o: TillPaymentsInit) {
    this.#o = o
    this.#prefix = `${o.tillId}-${toHex(o.signer.publicKey).slice(0, 8)}-P`
  }

  /** Load the attempts from the till's store; the next id follows the last one kept. */
  static async open (o: TillPaymentsInit): Promise<TillPayments> {
    const p = new TillPayments(o)
    for await (const [, bytes] of o.store.entries({ gte: PREFIX, lt: prefixEnd(PREFIX) })) {
      const a = JSON.parse(new TextDecoder().decode(bytes)) as PaymentAttempt
      p.#attempts.set(a.n, a)
      p.#next = Math.max(p.#next, a.n + 1)
    }
    return p
  }

  async #save (a: PaymentAttempt): Promise<void> {
    this.#attempts.set(a.n, a)
    await this.#o.store.batch([{ type: 'put', key: `${PREFIX}${pad(a.n)}`, value: new TextEncoder().encode(JSON.stringify(a)) }], { sync: true })
  }

  /**
   * After a restart: attempts approved or stored for a sale that was never written (a crash
   * between the payment and the sale): `written(docNo)` says whether the till's journal holds the
   * document. Approved ones are reversed (by `forward`), stored ones are never forwarded.
   */
  async orphans (written: (docNo: string) => boolean): Promise<number> {
    return await this.#oneAtATime(async () => {
      let n = 0
      for (const a of this.attempts()) {
        if ((a.state !== 'approved' && a.state !== 'stored') || a.refundOf !== undefined || reversedBy(a.paymentId) !== null || written(a.docNo)) continue
        if (a.state === 'stored') await this.#save({ ...a, state: 'declined', reason: 'the sale was never written: never forwarded' })
        else await this.#save({ ...a, state: 'reversing', reason: 'the sale was never written (the till stopped before it)' })
        n++
      }
      if (n > 0) this.#o.logger.warn({ attempts: n }, 'card payments of sales never written: reversed')
      return n
    })
  }

  /** Payments stored and not yet forwarded. */
  held (): { count: number, totalCents: number, oldestTakenAtMs: number | null } {
    let count = 0
    let totalCents = 0
    let oldest: number | null = null
    for (const a of this.#attempts.values()) {
      if (a.state !== 'stored') continue
      count++
      totalCents += a.amountCents
      oldest = oldest === null ? a.takenAtMs : Math.min(oldest, a.takenAtMs)
    }
    return { count, totalCents, oldestTakenAtMs: oldest }
  }

  /** For GET /status: what waits to be forwarded, and what went wrong after the sale. */
  status (): { stored: { count: number, amountCents: number, forwardByMs: number | null }, lateDeclines: number, expired: number, pending: number } {
    const h = this.held()
    let lateDeclines = 0
    let expired = 0
    let pending = 0
    let forwardBy: number | null = null
    for (const a of this.#attempts.values()) {
      if (a.state === 'late_declined') lateDeclines++
      if (a.state === 'expired') expired++
      if (a.state === 'pending' || a.state === 'reversing') pending++
      if (a.state === 'stored' && a.forwardByMs !== null) forwardBy = forwardBy === null ? a.forwardByMs : Math.min(forwardBy, a.forwardByMs)
    }
    return { stored: { count: h.count, amountCents: h.totalCents, forwardByMs: forwardBy }, lateDeclines, expired, pending }
  }

  /** Payments declined when forwarded: what a later Close reports (the till leaves out those an earlier Close of its log did). */
  lateDeclines (): Array<{ paymentId: string, processor: string, amountCents: number, saleDay: string }> {
    return this.#unpaid('late_declined')
  }

  /** Payments stored past their forwarding deadline, never charged: reported by a later Close too. */
  expiredPayments (): Array<{ paymentId: string, processor: string, amountCents: number, saleDay: string }> {
    return this.#unpaid('expired')
  }

  #unpaid (state: PaymentState): Array<{ paymentId: string, processor: string, amountCents: number, saleDay: string }> {
    return this.attempts().filter(a => a.state === state && a.saleDay !== undefined).map(a => ({ paymentId: a.paymentId, processor: this.#o.adapter.name, amountCents: a.amountCents, saleDay: a.saleDay as string }))
  }

  attempts (): PaymentAttempt[] {
    return [...this.#attempts.values()].sort((a, b) => a.n - b.n)
  }

  /**
   * The signed approvals of the payments a Close counts (approved, stored, and the stored ones
   * later declined or expired), as envelopes, in attempt order: what HQ fetches when this till's
   * card totals do not match a settlement. Never a reversed or declined attempt: no sale was made.
   */
  approvalEnvelopes (): Uint8Array[] {
    const counted = new Set<PaymentState>(['approved', 'stored', 'late_declined', 'expired'])
    return this.attempts().filter(a => a.signedLine !== null && counted.has(a.state)).map(a => new Uint8Array(Buffer.from(a.forwardedLine ?? a.signedLine as string, 'base64url')))
  }

  /**
   * Take one card or wallet payment for the sale that will be `docNo`. Resolves with the
   * outcome (approved, or stored offline); throws PaymentDeclinedError when it is refused.
   */
  async pay (t: { type: 'card' | 'wallet', amountCents: number, token?: string }, docNo: string, saleDay?: string): Promise<PaymentOutcome> {
    return await this.#oneAtATime(async () => await this.#pay(t, docNo, saleDay))
  }

  async #pay (t: { type: 'card' | 'wallet', amountCents: number, token?: string }, docNo: string, saleDay?: string): Promise<PaymentOutcome> {
    const token = t.token ?? (t.type === 'wallet' ? DEFAULT_WALLET_TOKEN : DEFAULT_TEST_TOKEN)
    const n = this.#next++
    const now = this.#o.clock.nowMs()
    const a: PaymentAttempt = {
      n, paymentId: `${this.#prefix}${n}`, type: t.type, amountCents: t.amountCents, token,
      entryMode: (Object.hasOwn(TEST_CARDS, token) ? TEST_CARDS[token]?.entryMode : undefined) ?? (t.type === 'wallet' ? 'wallet' : 'chip'),
      docNo, state: 'pending', takenAtMs: now, forwardByMs: null, answer: null, signedLine: null, reason: null, ...(saleDay !== undefined ? { saleDay } : {})
    }
    // Durable before the request leaves: whatever happens to the answer, the attempt is known.
    await this.#save(a)
    this.#inFlight.add(n)
    try {
      let answer: ProcessorAnswer | null = null
      let unknown = false
      try {
        answer = await this.#o.adapter.authorise({ paymentId: a.paymentId, amountCents: a.amountCents, currency: this.#o.currency, token })
      } catch (err) {
        if (!(err instanceof ProcessorUnreachableError)) {
          // An answer we cannot take (malformed, about something else): the processor may still
          // have taken money under our id. No sale; looked up and reversed if it was taken.
          const reversing = { ...a, state: 'reversing' as const, reason: (err as Error).message }
          await this.#save(reversing)
          throw new PaymentDeclinedError(`the processor's answer is refused: ${(err as Error).message}`, this.#outcome(reversing))
        }
        // No answer: the processor may have taken it. Ask by our id before anything else.
        answer = await this.#o.adapter.lookup(a.paymentId).catch(() => null)
        unknown = answer === null
      }
      if (answer !== null && !this.#about(a, answer)) {
        const reason = `the processor's answer is for another payment (${answer.approvedCents} approved of ${a.amountCents})`
        const reversing = { ...a, state: 'reversing' as const, reason }
        await this.#save(reversing)
        throw new PaymentDeclinedError(reason, this.#outcome(reversing))
      }
      if (answer === null) return await this.#storeOffline(a, now, unknown)
      return await this.#answered(a, answer, false)
    } finally {
      this.#inFlight.delete(n)
    }
  }

  /** Whether an answer can be this attempt's: never more approved than asked. */
  #about (a: PaymentAttempt, answer: ProcessorAnswer): boolean {
    return answer.paymentId === a.paymentId && answer.approvedCents <= Math.abs(a.amountCents) && (answer.status !== 'approved' || answer.partial || answer.approvedCents === Math.abs(a.amountCents))
  }

  async #storeOffline (a: PaymentAttempt, now: number, unknown: boolean): Promise<PaymentOutcome> {
    const d = storeAndForward(this.#o.profile, this.held(), { amountCents: a.amountCents, entryMode: a.entryMode, refund: false }, now)
    if (!d.store) {
      // Refused here; but with the processor's answer lost, it may have taken the money: the
      // attempt stays to be looked up (`forward`), and reversed if it was taken.
      const refused = { ...a, state: unknown ? 'reversing' as const : 'declined' as const, reason: d.reason }
      await this.#save(refused)
      throw new PaymentDeclinedError(d.reason, this.#outcome(refused))
    }
    const stored: PaymentAttempt = { ...a, state: 'stored', forwardByMs: d.forwardByMs }
    stored.signedLine = this.#sign(stored, null)
    await this.#save(stored)
    this.#o.logger.warn({ paymentId: a.paymentId, amountCents: a.amountCents, forwardByMs: d.forwardByMs }, 'processor unreachable: payment stored, to be forwarded')
    return this.#outcome(stored)
  }

  async #answered (a: PaymentAttempt, answer: ProcessorAnswer, forwarded: boolean): Promise<PaymentOutcome> {
    if (answer.status === 'approved' && answer.partial) {
      // Less than the tender: reversed at once (a refund of what was taken), and the tender refused.
      const reason = `partially approved (${answer.approvedCents} of ${a.amountCents}): reversed; take the payment another way`
      const r = await this.#reverseTaken(a, answer, reason)
      throw new PaymentDeclinedError(reason, this.#outcome(r))
    }
    if (answer.status !== 'approved') {
      const declined = { ...a, state: forwarded ? 'late_declined' as const : 'declined' as const, answer, reason: answer.reason ?? 'declined' }
      await this.#save(declined)
      if (forwarded) return this.#outcome(declined)
      throw new PaymentDeclinedError(`the card was declined: ${declined.reason}`, this.#outcome(declined))
    }
    const approved: PaymentAttempt = { ...a, state: 'approved', answer }
    // A forwarded payment keeps the line printed when it was stored; the approval it got is signed
    // beside it (what HQ is served). One whose fields cannot be signed keeps the stored line only.
    if (forwarded) {
      try {
        approved.forwardedLine = this.#sign(approved, answer, 'offline')
      } catch (err) {
        this.#o.logger.warn({ paymentId: a.paymentId, err: (err as Error).message }, 'the forwarded approval cannot be signed: the stored line stands')
      }
    }
    if (!forwarded) {
      try {
        approved.signedLine = this.#sign(approved, answer)
      } catch (err) {
        // An approval whose fields a receipt cannot carry: no sale on it; reversed.
        const reason = `the processor's approval cannot be signed: ${(err as Error).message}`
        const r = await this.#reverseTaken(a, answer, reason)
        throw new PaymentDeclinedError(reason, this.#outcome(r))
      }
    }
    await this.#save(approved)
    return this.#outcome(approved)
  }

  #sign (a: PaymentAttempt, answer: ProcessorAnswer | null, mode: 'online' | 'offline' = answer === null ? 'offline' : 'online'): string {
    return signedLineOf(signApproval(this.#o.signer, {
      paymentId: a.paymentId, till: this.#o.tillId, docNo: a.docNo, processor: this.#o.adapter.name, type: a.type, amountCents: a.amountCents,
      status: answer === null ? 'stored' : 'approved', mode,
      processorRef: answer?.processorRef ?? null, authCode: answer?.authCode ?? null, brand: answer?.brand ?? null, last4: answer?.last4 ?? null,
      aid: answer?.aid ?? null, entryMode: answer?.entryMode ?? a.entryMode, atMs: Math.max(0, this.#o.clock.nowMs())
    }))
  }

  #outcome (a: PaymentAttempt): PaymentOutcome {
    const status = a.state === 'approved' ? 'approved' : a.state === 'stored' ? 'stored' : 'declined'
    return {
      paymentId: a.paymentId, processor: this.#o.adapter.name, type: a.type, amountCents: a.amountCents, status,
      ...(a.answer?.processorRef != null ? { processorRef: a.answer.processorRef } : {}),
      ...(a.answer?.authCode != null ? { authCode: a.answer.authCode } : {}),
      ...(a.answer?.last4 != null ? { last4: a.answer.last4 } : {}),
      ...(a.signedLine !== null ? { signedLine: a.signedLine } : {}),
      ...(a.reason !== null ? { reason: a.reason } : {})
    }
  }

  /**
   * Refund (part of) an approved card or wallet payment to the same card, through the
   * processor: the refund is a payment of its own (negative), durable before its request.
   * Never stored offline unless the profile allows it (none does by default): money out on a
   * card needs the processor to say yes.
   */
  async refund (originalPaymentId: string, amountCents: number, docNo: string): Promise<PaymentOutcome> {
    return await this.#oneAtATime(async () => await this.#refund(originalPaymentId, amountCents, docNo))
  }

  async #refund (originalPaymentId: string, amountCents: number, docNo: string): Promise<PaymentOutcome> {
    const original = this.attempts().find(x => x.paymentId === originalPaymentId)
    if (original === undefined || original.state !== 'approved' || original.answer === null) {
      throw new PaymentDeclinedError(`no approved card payment ${originalPaymentId} at this till to refund`, { paymentId: originalPaymentId, processor: this.#o.adapter.name, type: 'card', amountCents: -amountCents, status: 'declined', reason: 'not refundable' })
    }
    const refunded = this.attempts().filter(x => x.refundOf === originalPaymentId && x.state === 'approved').reduce((n, x) => n + x.amountCents, 0)
    if (amountCents + -refunded > original.answer.approvedCents) {
      throw new PaymentDeclinedError(`${amountCents} is more than is left to refund of ${originalPaymentId} (${original.answer.approvedCents + refunded})`, { paymentId: originalPaymentId, processor: this.#o.adapter.name, type: original.type, amountCents: -amountCents, status: 'declined', reason: 'more than paid' })
    }
    const n = this.#next++
    const a: PaymentAttempt = {
      n, paymentId: `${this.#prefix}${n}`, type: original.type, amountCents: -amountCents, token: original.token, entryMode: original.entryMode,
      docNo, state: 'pending', takenAtMs: this.#o.clock.nowMs(), forwardByMs: null, answer: null, signedLine: null, reason: null, refundOf: originalPaymentId
    }
    await this.#save(a)
    let answer: ProcessorAnswer | null
    try {
      answer = await this.#o.adapter.refund({ paymentId: a.paymentId, originalPaymentId, amountCents, currency: this.#o.currency })
    } catch (err) {
      let looked: ProcessorAnswer | null | undefined = null
      if (err instanceof ProcessorUnreachableError) looked = await this.#o.adapter.lookup(a.paymentId).catch(() => undefined)
      if (looked === undefined) {
        // Neither the answer nor the lookup came back: the refund may have been made. It is
        // looked up later; the cashier must not pay it out in cash meanwhile.
        const unknown = { ...a, reason: 'the refund\'s outcome is unknown: do not refund in cash, it is looked up' }
        await this.#save(unknown)
        throw new PaymentDeclinedError(unknown.reason, this.#outcome({ ...unknown, state: 'declined' }))
      }
      if (looked === null) {
        const reason = err instanceof ProcessorUnreachableError ? 'a card refund needs the processor, which cannot be reached: refund later or in cash' : `the processor refused the refund: ${(err as Error).message}`
        const declined = { ...a, state: 'declined' as const, reason }
        await this.#save(declined)
        throw new PaymentDeclinedError(reason, this.#outcome(declined))
      }
      answer = looked
    }
    if (answer.status !== 'approved') {
      const declined = { ...a, state: 'declined' as const, answer, reason: answer.reason ?? 'declined' }
      await this.#save(declined)
      throw new PaymentDeclinedError(`the refund was declined: ${declined.reason}`, this.#outcome(declined))
    }
    const approved: PaymentAttempt = { ...a, state: 'approved', answer }
    approved.signedLine = this.#sign(approved, answer)
    await this.#save(approved)
    return this.#outcome(approved)
  }

  /**
   * Undo a payment of a sale that was not made (another tender of it declined): an approved
   * one is refunded at the processor, a stored one is never forwarded.
   */
  async reverse (paymentId: string): Promise<void> {
    await this.#oneAtATime(async () => { await this.#reverse(paymentId) })
  }

  async #reverse (paymentId: string): Promise<void> {
    const a = this.attempts().find(x => x.paymentId === paymentId)
    if (a === undefined) return
    if (a.state === 'stored') {
      await this.#save({ ...a, state: 'declined', reason: 'the sale was not made: never forwarded' })
      return
    }
    if (a.state !== 'approved' || a.answer === null) return
    await this.#reverseTaken(a, a.answer, 'the sale was not made')
  }

  /**
   * Refund a payment the processor took for a sale that was not made: the original `reversed`,
   * the refund an attempt of its own (`<id>-V`). If the refund cannot be made now, the original
   * stays `reversing`, and `forward` tries again.
   */
  async #reverseTaken (a: PaymentAttempt, answer: ProcessorAnswer, reason: string): Promise<PaymentAttempt> {
    // Durable before the refund leaves: a crash now leaves it `reversing`, tried again by `forward`.
    if (a.state !== 'reversing') await this.#save({ ...a, state: 'reversing', answer, reason })
    let refund: ProcessorAnswer
    try {
      refund = await this.#o.adapter.refund({ paymentId: reversalIdOf(a.paymentId), originalPaymentId: a.paymentId, amountCents: answer.approvedCents, currency: this.#o.currency })
    } catch (err) {
      this.#o.logger.warn({ paymentId: a.paymentId, err: (err as Error).message }, 'a payment of a sale not made is not refunded yet: tried again on the next cycle')
      const later = { ...a, state: 'reversing' as const, answer, reason }
      await this.#save(later)
      return later
    }
    const n = this.#next++
    const reversal: PaymentAttempt = {
      n, paymentId: reversalIdOf(a.paymentId), type: a.type, amountCents: -answer.approvedCents, token: a.token, entryMode: a.entryMode, docNo: a.docNo,
      state: 'approved', takenAtMs: this.#o.clock.nowMs(), forwardByMs: null, answer: refund, signedLine: null, reason: `reverses ${a.paymentId}`, refundOf: a.paymentId,
      ...(a.saleDay !== undefined ? { saleDay: a.saleDay } : {})
    }
    await this.#save(reversal)
    const reversed = { ...a, state: 'reversed' as const, answer, reason: `${reason}: refunded` }
    await this.#save(reversed)
    return reversed
  }

  /**
   * Forward what is stored, resolve attempts left pending by a crash (looked up by id), and
   * mark stored payments past their deadline expired. Returns what changed.
   */
  async forward (): Promise<{ forwarded: number, lateDeclines: number, expired: number, resolved: number }> {
    return await this.#oneAtATime(async () => await this.#forward())
  }

  async #forward (): Promise<{ forwarded: number, lateDeclines: number, expired: number, resolved: number }> {
    const out = { forwarded: 0, lateDeclines: 0, expired: 0, resolved: 0 }
    const now = this.#o.clock.nowMs()
    for (const a of this.attempts()) {
      if (this.#inFlight.has(a.n)) continue
      if (a.state === 'reversing') {
        const answer = await this.#o.adapter.lookup(a.paymentId).catch(() => undefined)
        if (answer === undefined) continue
        if (answer !== null && answer.status === 'approved' && this.#about(a, answer)) {
          const r = await this.#reverseTaken(a, answer, `${a.reason ?? 'refused'}; the processor had taken it`)
          if (r.state === 'reversing') continue // the refund did not go through: the next cycle tries again
        } else {
          await this.#save({ ...a, state: 'declined' })
        }
        out.resolved++
        continue
      }
      if (a.state === 'pending') {
        // A crash between the attempt and its answer (or a refund whose answer was lost): no sale
        // or refund document was written for it. The processor knows, or never saw it.
        const answer = await this.#o.adapter.lookup(a.paymentId).catch(() => undefined)
        if (answer === undefined) continue
        if (answer === null || answer.status !== 'approved') {
          await this.#save({ ...a, state: 'declined', ...(answer !== null ? { answer } : {}), reason: answer === null ? 'never reached the processor' : 'declined' })
        } else if (a.refundOf !== undefined) {
          // A refund the processor made with no refund document: money back to the card; a person must look.
          await this.#save({ ...a, state: 'approved', answer, reason: 'made at the processor, with no refund document at the till' })
          this.#o.logger.error({ paymentId: a.paymentId, refundOf: a.refundOf, amountCents: a.amountCents }, 'a card refund was made at the processor with no refund document at the till')
        } else {
          await this.#reverseTaken(a, answer, 'taken by the processor for a sale the till never recorded')
        }
        out.resolved++
        continue
      }
      if (a.state !== 'stored') continue
      if (a.forwardByMs !== null && now > a.forwardByMs) {
        // An earlier forward may have reached the processor and its answer been lost: asked first,
        // a payment it took is approved, not written off as never charged (found by the simulator's
        // thousand seeds: 290, 367, 509). One that was sent waits for the processor's word while it
        // is out of reach; one never sent expires (the processor never saw it).
        // A payment the processor already answered (its answer to the sale's own request lost,
        // the forward then refused as a reuse of the id) is what it said: approved, or a late
        // decline; never "never charged" (found by seed 5 of 3 tills: the processor had declined it).
        const taken = await this.#o.adapter.lookup(a.paymentId).catch(() => undefined)
        if (taken === undefined && a.forwardSent === true) continue
        if (taken !== undefined && taken !== null && this.#about(a, taken)) {
          const r = await this.#answered(a, taken, true)
          if (r.status === 'approved') out.forwarded++
          else out.lateDeclines++
          continue
        }
        await this.#save({ ...a, state: 'expired', reason: 'stored past its forwarding deadline: never charged' })
        out.expired++
        this.#o.logger.error({ paymentId: a.paymentId, amountCents: a.amountCents }, 'stored payment expired before it could be forwarded')
        continue
      }
      // Durable before it goes: from now on the processor may have taken it (see the deadline above).
      if (a.forwardSent !== true) await this.#save({ ...a, forwardSent: true })
      let answer: ProcessorAnswer | null
      try {
        answer = await this.#o.adapter.authorise({ paymentId: a.paymentId, amountCents: a.amountCents, currency: this.#o.currency, token: a.token, forwarded: true, storedAtMs: a.takenAtMs })
      } catch (err) {
        if (err instanceof ProcessorUnreachableError) break // still out of reach: the next cycle tries again
        answer = await this.#o.adapter.lookup(a.paymentId).catch(() => null)
        if (answer === null) continue
      }
      if (!this.#about(a, answer)) {
        await this.#save({ ...a, state: 'late_declined', answer, reason: 'the processor\'s answer is for another payment' })
        out.lateDeclines++
        continue
      }
      const r = await this.#answered(a, answer, true)
      if (r.status === 'approved') out.forwarded++
      else {
        out.lateDeclines++
        this.#o.logger.error({ paymentId: a.paymentId, amountCents: a.amountCents, reason: r.reason }, 'late decline: a payment taken offline was declined when forwarded')
      }
    }
    return out
  }
}

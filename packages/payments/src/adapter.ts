/**
 * What a till needs of a card processor, shaped after what terminal APIs do (Adyen's Terminal
 * API, Stripe Terminal): authorise (and capture: a retail sale is captured at once), void,
 * refund, and look a payment up by OUR payment id, which travels as the merchant reference and
 * is the key everywhere (a payment stored offline has no processor reference until forwarded).
 * Every call is idempotent on that id: the same request again gets the same answer, which is
 * what lets a till resolve an answer it never received by asking again or looking it up.
 *
 * The embedded processor's adapter (node/src/payments/EmbeddedProcessorAdapter.ts) speaks its
 * HTTP API; a real processor's adapter implements this interface over that processor's API
 * (an Adyen adapter: `POST /payments` with `reference` = our payment id, `GET` by reference;
 * a Stripe adapter: PaymentIntents with an `Idempotency-Key` of our payment id), and its
 * settlement report is read by a parser of its own that yields `SettlementLine`s.
 */
import type { EntryMode } from './profiles.ts'

export interface AuthoriseRequest {
  paymentId: string
  amountCents: number
  currency: string
  /** The tokenised card or wallet (a terminal's token; the embedded processor's test cards). */
  token?: string
  /** Sent after being stored offline: the processor may decline it now (a late decline). */
  forwarded?: boolean
  storedAtMs?: number
}

export interface RefundRequest { paymentId: string, originalPaymentId: string, amountCents: number, currency: string }

/** The processor's answer: what the receipt's signed line carries (never the full card number, never the expiry). */
export interface ProcessorAnswer {
  paymentId: string
  status: 'approved' | 'declined'
  approvedCents: number
  partial: boolean
  processorRef: string | null
  authCode: string | null
  brand: string | null
  last4: string | null
  aid: string | null
  entryMode: EntryMode | string | null
  forwarded: boolean
  reason?: string
}

/** The processor did not answer (down, unreachable, timed out): the outcome is unknown until looked up. */
export class ProcessorUnreachableError extends Error {
  override name = 'ProcessorUnreachableError'
}

export interface ProcessorAdapter {
  /** Its name on receipts and in the Close (`embedded`, `adyen`, …). */
  readonly name: string
  authorise (r: AuthoriseRequest): Promise<ProcessorAnswer>
  refund (r: RefundRequest): Promise<ProcessorAnswer>
  /** The answer for our payment id, or null if the processor never saw it. */
  lookup (paymentId: string): Promise<ProcessorAnswer | null>
}

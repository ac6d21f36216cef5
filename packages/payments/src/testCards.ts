/**
 * The embedded processor's test cards: tokens that stand for a card (as a real terminal's
 * tokenised card does), each with a documented behaviour, like Stripe's and Adyen's test
 * cards. What the processor answers for a token is a pure function of it and the request.
 *
 * | token | card | online | forwarded (stored offline) |
 * |---|---|---|---|
 * | `tok_visa` (default) | Visa •4242, chip | approved | approved |
 * | `tok_mastercard` | Mastercard •4444, contactless | approved | approved |
 * | `tok_applepay` | Apple Pay (Visa •1881), wallet | approved | approved |
 * | `tok_decline` | Visa •0002 | declined `card_declined` | declined |
 * | `tok_insufficient_funds` | Visa •9995 | declined `insufficient_funds` | declined |
 * | `tok_no_response` | Visa •3220 | approved, but the answer never arrives (look it up by payment id) | approved |
 * | `tok_decline_on_forward` | Visa •0069 | approved | declined `card_declined`: a late decline |
 * | `tok_partial` | Mastercard •5100 | approved for half the amount (partial) | approved for half |
 */
import type { EntryMode } from './profiles.ts'

export interface TestCard { token: string, brand: string, last4: string, aid: string, entryMode: EntryMode }

const VISA_AID = 'A0000000031010'
const MC_AID = 'A0000000041010'
export const TEST_CARDS: Readonly<Record<string, TestCard & { online: Outcome, forwarded: Outcome }>> = Object.freeze({
  tok_visa: { token: 'tok_visa', brand: 'visa', last4: '4242', aid: VISA_AID, entryMode: 'chip', online: 'approve', forwarded: 'approve' },
  tok_mastercard: { token: 'tok_mastercard', brand: 'mc', last4: '4444', aid: MC_AID, entryMode: 'contactless', online: 'approve', forwarded: 'approve' },
  tok_applepay: { token: 'tok_applepay', brand: 'applepay', last4: '1881', aid: VISA_AID, entryMode: 'wallet', online: 'approve', forwarded: 'approve' },
  tok_decline: { token: 'tok_decline', brand: 'visa', last4: '0002', aid: VISA_AID, entryMode: 'chip', online: 'card_declined', forwarded: 'card_declined' },
  tok_insufficient_funds: { token: 'tok_insufficient_funds', brand: 'visa', last4: '9995', aid: VISA_AID, entryMode: 'chip', online: 'insufficient_funds', forwarded: 'insufficient_funds' },
  tok_no_response: { token: 'tok_no_response', brand: 'visa', last4: '3220', aid: VISA_AID, entryMode: 'chip', online: 'approve_silently', forwarded: 'approve' },
  tok_decline_on_forward: { token: 'tok_decline_on_forward', brand: 'visa', last4: '0069', aid: VISA_AID, entryMode: 'chip', online: 'approve', forwarded: 'card_declined' },
  tok_partial: { token: 'tok_partial', brand: 'mc', last4: '5100', aid: MC_AID, entryMode: 'chip', online: 'partial', forwarded: 'partial' }
})
/** A card tender without a card is paid with this one: it approves online. */
export const DEFAULT_TEST_TOKEN = 'tok_visa'
/** A wallet tender without a token. */
export const DEFAULT_WALLET_TOKEN = 'tok_applepay'

type Outcome = 'approve' | 'approve_silently' | 'partial' | 'card_declined' | 'insufficient_funds'

export type Authorisation =
  | { status: 'approved', approvedCents: number, partial: boolean, silent: boolean, card: TestCard }
  | { status: 'declined', reason: 'card_declined' | 'insufficient_funds' | 'unknown_card', card: TestCard | null }

/** What the processor answers for `token`, online or forwarded, for `amountCents`. */
export function authorise (token: string, amountCents: number, forwarded: boolean): Authorisation {
  const c = Object.hasOwn(TEST_CARDS, token) ? TEST_CARDS[token] : undefined
  if (c === undefined) return { status: 'declined', reason: 'unknown_card', card: null }
  const { online, forwarded: fwd, ...card } = c
  const outcome = forwarded ? fwd : online
  switch (outcome) {
    case 'approve': return { status: 'approved', approvedCents: amountCents, partial: false, silent: false, card }
    case 'approve_silently': return { status: 'approved', approvedCents: amountCents, partial: false, silent: true, card }
    case 'partial': {
      const half = Math.floor(amountCents / 2)
      return half > 0 ? { status: 'approved', approvedCents: half, partial: true, silent: false, card } : { status: 'declined', reason: 'insufficient_funds', card }
    }
    default: return { status: 'declined', reason: outcome, card }
  }
}

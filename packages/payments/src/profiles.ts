/**
 * Store-and-forward rules as data, one profile per processor: when a till may take a card or
 * wallet payment it cannot authorise now (the processor out of reach), to keep it and forward
 * it later, and when it must refuse. The decision is a pure function of the profile, what the
 * till already holds unforwarded, and the payment: the till applies it, the simulator and the
 * tests drive the same code.
 *
 * Published figures (checked 2026-12; a processor's own terms win, and a merchant may set its
 * limits lower):
 * - Square: payments taken offline are forwarded automatically within 24 hours of going offline
 *   (no later than 72 hours, by device), or they expire and are never charged; manually keyed
 *   cards cannot be taken offline. Square publishes no per-payment figure; the merchant sets one.
 * - Clover: offline payments for up to 7 consecutive days; per-payment limit default $500.00,
 *   total default $5,000.00 (merchant-settable).
 * The conservative default: offline only when unreachable, chip and contactless only, 100.00
 * a payment, 20 payments or 1,000.00 in all, forwarded within 12 hours, no offline refunds.
 * No profile holds more than 400 payments unforwarded: a Close carries at most that many late
 * declines (protocol's LINES_MAX is 500), so a day can always be closed.
 */
import { PaymentsError } from './errors.ts'

/** How the card or wallet was presented. */
export type EntryMode = 'chip' | 'contactless' | 'swipe' | 'manual' | 'wallet'
export const ENTRY_MODES: readonly EntryMode[] = ['chip', 'contactless', 'swipe', 'manual', 'wallet']

export interface StoreAndForwardProfile {
  name: string
  /** `never`: online only (an unreachable processor refuses the payment); `when-unreachable`: online first, stored when the processor cannot be reached. */
  offline: 'never' | 'when-unreachable'
  /** Largest single payment taken offline, in minor units. */
  perPaymentMaxCents: number
  /** Payments held unforwarded at once, at most. */
  storedCountMax: number
  /** Their total, at most, in minor units. */
  storedTotalMaxCents: number
  /** A stored payment must reach the processor within this long of being taken, or it expires uncharged. */
  forwardWithinMs: number
  /** How a card may be presented to be taken offline. */
  offlineEntryModes: readonly EntryMode[]
  /** Whether a refund may be stored (never, by default: money out on an unverified card). */
  offlineRefunds: boolean
}

const HOUR_MS = 3_600_000

/** The profiles shipped; `default` is conservative. */
export const PROFILES: Readonly<Record<string, StoreAndForwardProfile>> = Object.freeze({
  default: { name: 'default', offline: 'when-unreachable', perPaymentMaxCents: 10_000, storedCountMax: 20, storedTotalMaxCents: 100_000, forwardWithinMs: 12 * HOUR_MS, offlineEntryModes: ['chip', 'contactless'], offlineRefunds: false },
  square: { name: 'square', offline: 'when-unreachable', perPaymentMaxCents: 50_000, storedCountMax: 400, storedTotalMaxCents: 1_000_000, forwardWithinMs: 24 * HOUR_MS, offlineEntryModes: ['chip', 'contactless', 'swipe'], offlineRefunds: false },
  clover: { name: 'clover', offline: 'when-unreachable', perPaymentMaxCents: 50_000, storedCountMax: 400, storedTotalMaxCents: 500_000, forwardWithinMs: 7 * 24 * HOUR_MS, offlineEntryModes: ['chip', 'contactless', 'swipe'], offlineRefunds: false },
  'online-only': { name: 'online-only', offline: 'never', perPaymentMaxCents: 0, storedCountMax: 0, storedTotalMaxCents: 0, forwardWithinMs: 0, offlineEntryModes: [], offlineRefunds: false }
})

export function profileNamed (name: string): StoreAndForwardProfile {
  const p = Object.hasOwn(PROFILES, name) ? PROFILES[name] : undefined
  if (p === undefined) throw new PaymentsError(`no store-and-forward profile ${JSON.stringify(name.slice(0, 32))}: one of ${Object.keys(PROFILES).join(', ')}`)
  return p
}

/** What a till holds unforwarded when it decides. */
export interface StoredState { count: number, totalCents: number, oldestTakenAtMs: number | null }

/** A payment the processor could not be asked about now. */
export interface OfflineAttempt { amountCents: number, entryMode: EntryMode, refund: boolean }

export type StoreDecision = { store: true, forwardByMs: number } | { store: false, reason: string }

/**
 * May this payment be stored and forwarded under `profile`? Refused with the reason a cashier
 * reads: the profile allows no offline payments, the way the card was presented, a refund, a
 * cap on the payment, the count or the total, or stored payments already past their deadline.
 */
export function storeAndForward (profile: StoreAndForwardProfile, held: StoredState, attempt: OfflineAttempt, nowMs: number): StoreDecision {
  if (profile.offline === 'never') return { store: false, reason: `the processor cannot be reached and ${profile.name} takes no payment offline: take another tender` }
  if (attempt.refund && !profile.offlineRefunds) return { store: false, reason: 'a card refund needs the processor, which cannot be reached: refund later or in cash' }
  if (!profile.offlineEntryModes.includes(attempt.entryMode)) return { store: false, reason: `a ${attempt.entryMode} payment cannot be taken offline under ${profile.name} (${profile.offlineEntryModes.join(', ') || 'none'} only)` }
  if (!(Number.isSafeInteger(attempt.amountCents) && attempt.amountCents > 0)) return { store: false, reason: 'an offline payment is a positive amount' }
  if (attempt.amountCents > profile.perPaymentMaxCents) return { store: false, reason: `${attempt.amountCents} is over the offline limit of ${profile.perPaymentMaxCents} a payment` }
  if (held.count + 1 > profile.storedCountMax) return { store: false, reason: `${held.count} payments are already waiting to be forwarded, at most ${profile.storedCountMax}` }
  if (held.totalCents + attempt.amountCents > profile.storedTotalMaxCents) return { store: false, reason: `${held.totalCents} is already waiting to be forwarded: this one would pass the ${profile.storedTotalMaxCents} limit` }
  if (held.oldestTakenAtMs !== null && nowMs - held.oldestTakenAtMs >= profile.forwardWithinMs) return { store: false, reason: 'payments stored earlier are past their forwarding deadline: no more are taken offline until they are forwarded' }
  return { store: true, forwardByMs: nowMs + profile.forwardWithinMs }
}

/**
 * An additive hash of a set of card payments (a multiset hash, Bellare–Micciancio's AdHash):
 * each payment `{ paymentId, amountCents }` hashed with SHA-256 and the hashes summed modulo
 * 2^256. Sums add: the hash of a union is the sum of the hashes, and a payment is taken out
 * by subtracting its hash. So HQ can check any number of Closes against any number of
 * settlement lines (settled days later, or in another file) without knowing which day each
 * line belongs to: Σ over the Closes (less the payments they report lost) = Σ over the lines.
 *
 * It detects accidents (a line dropped, changed by a cent, settled twice, another payment in
 * its place) with overwhelming probability; it is not a signature: the Close that carries it
 * is signed, and a processor forging a settlement file is not the threat it is built for.
 */
import { hash } from 'node:crypto'

export const PAYMENT_SET_EMPTY: Uint8Array = new Uint8Array(32)

/**
 * One payment's hash: SHA-256 of `tillbooks/payment/v1`, NUL, the payment id, NUL, the amount
 * in decimal (a payment id never holds a NUL: ids are `[A-Za-z0-9._-]`).
 */
export function paymentHash (paymentId: string, amountCents: number): Uint8Array {
  if (!Number.isSafeInteger(amountCents)) throw new TypeError(`amountCents must be a safe integer, is ${amountCents}`)
  // crypto.hash: one call, no Hash object (~3× faster per payment than createHash).
  return hash('sha256', `tillbooks/payment/v1\u0000${paymentId}\u0000${amountCents}`, 'buffer')
}

/** acc += h (mod 2^256), big-endian, in place. */
function addInto (acc: Uint8Array, h: Uint8Array): void {
  let carry = 0
  for (let i = 31; i >= 0; i--) {
    const v = (acc[i] as number) + (h[i] as number) + carry
    acc[i] = v & 0xff
    carry = v >> 8
  }
}

/** The two's complement of h (mod 2^256): −h. */
function negate (h: Uint8Array): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = ~(h[i] as number) & 0xff
  addInto(out, ONE)
  return out
}

const ONE = (() => { const b = new Uint8Array(32); b[31] = 1; return b })()

/** The set hash of these payments (any order; a payment twice counts twice). */
export function paymentSetHash (payments: Iterable<{ paymentId: string, amountCents: number }>): Uint8Array {
  const acc = new Uint8Array(32)
  for (const p of payments) addInto(acc, paymentHash(p.paymentId, p.amountCents))
  return acc
}

/** The set hash of payments whose own hashes (paymentHash) are at hand. */
export function sumPaymentHashes (hashes: Iterable<Uint8Array>): Uint8Array {
  const acc = new Uint8Array(32)
  for (const h of hashes) addInto(acc, h)
  return acc
}

/** The hash of the union of two sets. */
export function addPaymentSets (a: Uint8Array, b: Uint8Array): Uint8Array {
  const acc = new Uint8Array(a)
  addInto(acc, b)
  return acc
}

/** The hash of `a` without the payments of `b` (b a subset of a). */
export function subtractPaymentSets (a: Uint8Array, b: Uint8Array): Uint8Array {
  const acc = new Uint8Array(a)
  addInto(acc, negate(b))
  return acc
}

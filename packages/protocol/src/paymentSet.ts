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
import { createHash } from 'node:crypto'
import { canonicalEncode } from './canonical.ts'

const MOD = 1n << 256n
export const PAYMENT_SET_EMPTY: Uint8Array = new Uint8Array(32)

function toBig (h: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(h).toString('hex') || '0'}`)
}

function toBytes (n: bigint): Uint8Array {
  return new Uint8Array(Buffer.from(((n % MOD + MOD) % MOD).toString(16).padStart(64, '0'), 'hex'))
}

/** One payment's hash. */
export function paymentHash (paymentId: string, amountCents: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update('tillbooks/payment/v1\u0000').update(canonicalEncode({ paymentId, amountCents })).digest())
}

/** The set hash of these payments (any order; a payment twice counts twice). */
export function paymentSetHash (payments: Iterable<{ paymentId: string, amountCents: number }>): Uint8Array {
  let sum = 0n
  for (const p of payments) sum += toBig(paymentHash(p.paymentId, p.amountCents))
  return toBytes(sum)
}

/** The hash of the union of two sets. */
export function addPaymentSets (a: Uint8Array, b: Uint8Array): Uint8Array {
  return toBytes(toBig(a) + toBig(b))
}

/** The hash of `a` without the payments of `b` (b a subset of a). */
export function subtractPaymentSets (a: Uint8Array, b: Uint8Array): Uint8Array {
  return toBytes(toBig(a) - toBig(b))
}

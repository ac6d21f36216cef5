/**
 * Money is integer cents, always.
 *
 * Every amount is a JavaScript number that must be a safe integer (|n| ≤ 2^53 − 1), and
 * every sum and product is checked to stay one. Within that range integer arithmetic on
 * doubles is exact and commutative, which is what makes the books the same to the cent
 * whatever order the records arrive in. Beyond it, doubles silently round: so leaving the
 * range is a bug of ours (no till's day comes near 90 trillion currency units) and we
 * crash loudly rather than publish rounded books.
 *
 * Formatting goes through the decimal digits of the integer (string slicing), never
 * through division, floats or `toFixed` (which rounds binary fractions).
 */
import { bug } from './bug.ts'

/** Assert `value` is a whole number of cents we can add exactly. Returns it, for chaining. */
export function assertCents (value: number, what = 'amount'): number {
  if (!Number.isSafeInteger(value)) bug(`${what} must be a safe integer number of cents, is ${String(value)}`)
  return value
}

/**
 * a + b, asserting no overflow. The `+ 0` turns −0 into 0 so that no negative zero
 * ever reaches a snapshot or a comparison with Object.is.
 *
 * Why the check is sufficient: if the exact sum of two safe integers leaves the safe
 * range, the correctly rounded double is ≥ 2^53 in magnitude, which isSafeInteger refuses.
 */
export function addCents (a: number, b: number): number {
  assertCents(a, 'addend')
  assertCents(b, 'addend')
  const sum = a + b + 0
  if (!Number.isSafeInteger(sum)) bug(`overflow adding ${a} + ${b}`)
  return sum
}

/** a − b, asserting no overflow. */
export function subCents (a: number, b: number): number {
  return addCents(a, negCents(b))
}

/** −a, without producing −0. */
export function negCents (a: number): number {
  assertCents(a, 'amount')
  return 0 - a
}

/** qty × unit price (or cost), asserting the product is exact. Same argument as addCents. */
export function mulCents (qty: number, unitCents: number): number {
  assertCents(qty, 'quantity')
  assertCents(unitCents, 'unit amount')
  const product = qty * unitCents + 0
  if (!Number.isSafeInteger(product)) bug(`overflow multiplying ${qty} × ${unitCents}`)
  return product
}

/** Σ values, each addition checked. */
export function sumCents (values: Iterable<number>): number {
  let total = 0
  for (const v of values) total = addCents(total, v)
  return total
}

/**
 * Cents as a plain decimal string with exactly two places: 123456 → "1234.56",
 * −5 → "-0.05", 0 → "0.00". No thousands separators, no currency: this is the form
 * hledger, CSV readers and spreadsheets all parse the same way.
 */
export function formatCents (cents: number): string {
  assertCents(cents, 'amount to format')
  const negative = cents < 0
  // String() of a safe integer is its exact decimal digits (no exponent below 1e21).
  const digits = String(negative ? 0 - cents : cents).padStart(3, '0')
  return `${negative ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)}`
}

const DECIMAL_RE = /^(-?)(\d{1,14})\.(\d{2})$/

/**
 * The inverse of formatCents: "1234.56" → 123456. Strict (exactly two decimals, no
 * grouping), so that a string that parses has one meaning. Throws RangeError on bad
 * text: parsing is used on input (exports read back, hledger's output), not on our state.
 */
export function parseCents (text: string): number {
  const m = DECIMAL_RE.exec(text)
  if (m === null) throw new RangeError(`not a decimal amount with two places: ${JSON.stringify(text.slice(0, 40))}`)
  // Whole digits and cents concatenated are the amount in cents, read as one integer.
  // Number() of a digit string is exact when the value is a safe integer, and rounds to
  // a value ≥ 2^53 (refused below) when it is not.
  const magnitude = Number(`${m[2] ?? ''}${m[3] ?? ''}`)
  if (!Number.isSafeInteger(magnitude)) throw new RangeError(`amount out of range: ${text.slice(0, 40)}`)
  return m[1] === '-' ? negCents(magnitude) : magnitude
}

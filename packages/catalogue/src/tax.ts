/**
 * Tax included in a tax-inclusive price, to the cent.
 *
 * A shelf price of G cents at rate r basis points includes G × r / (10_000 + r) of tax.
 * That is rarely a whole number of cents, so it is rounded half away from zero: half up
 * for a sale, and a refund rounds to exactly the negative of the same sale, so a sale
 * refunded in full leaves no stray cent in the books.
 *
 * Integer arithmetic only, in BigInt: G × r passes 2^53 from G ≈ 9 × 10^11 cents at 100 %,
 * where a double would start losing cents. Exact for every safe integer G.
 */
import { TAX_RATE_BP_MAX } from './constants.ts'
import { InvalidAmountError } from './errors.ts'
import { int } from './validate.ts'

const BP_PER_WHOLE = 10_000n

/** Gross, net and tax of one amount at one rate: net + tax = gross, exactly. */
export interface InclusiveSplit {
  readonly grossCents: number
  readonly netCents: number
  readonly taxCents: number
}

/**
 * The tax included in `grossCents` at `taxRateBp`, rounded half away from zero.
 *
 * @example taxOfInclusiveCents(120, 2000) === 20; taxOfInclusiveCents(3, 2000) === 1 (0.5 rounds up); taxOfInclusiveCents(-3, 2000) === -1
 */
export function taxOfInclusiveCents (grossCents: number, taxRateBp: number): number {
  int(grossCents, 'grossCents', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, InvalidAmountError)
  int(taxRateBp, 'taxRateBp', 0, TAX_RATE_BP_MAX, InvalidAmountError)
  const rate = BigInt(taxRateBp)
  const divisor = BP_PER_WHOLE + rate
  const magnitude = BigInt(Math.abs(grossCents)) * rate
  // floor(x / d + 1/2) = floor((2x + d) / (2d)): round half up on the magnitude, then put the sign back.
  const rounded = (2n * magnitude + divisor) / (2n * divisor)
  // Negating in BigInt, not in Number, so a refund too small to carry tax gives 0, never -0.
  return Number(grossCents < 0 ? -rounded : rounded)
}

/** `grossCents` split into net and tax at `taxRateBp`; the tax as taxOfInclusiveCents, the net whatever is left. */
export function splitInclusiveCents (grossCents: number, taxRateBp: number): InclusiveSplit {
  const taxCents = taxOfInclusiveCents(grossCents, taxRateBp)
  return { grossCents, netCents: grossCents - taxCents, taxCents }
}

import assert from 'node:assert/strict'
import fc from 'fast-check'
import { InvalidAmountError, SALE_CENTS_MAX, splitInclusiveCents, taxOfInclusiveCents, TAX_RATE_BP_MAX } from '../src/index.ts'
import { throwsNamed } from './helpers/assert.ts'
import { fcParams } from './helpers/fc.ts'

/**
 * The reference, written differently on purpose: truncating division, then the remainder
 * decides, rounding half away from zero. The code under test rounds floor((2x + d) / 2d) on
 * the magnitude instead.
 */
function taxByHand (grossCents: number, rateBp: number): number {
  const numerator = BigInt(grossCents) * BigInt(rateBp)
  const divisor = 10_000n + BigInt(rateBp)
  let quotient = numerator / divisor
  const remainder = numerator % divisor
  const twiceRemainder = 2n * (remainder < 0n ? -remainder : remainder)
  if (twiceRemainder >= divisor) quotient += numerator < 0n ? -1n : 1n
  return Number(quotient)
}

describe('taxOfInclusiveCents', () => {
  it('takes the tax out of a tax-inclusive price', () => {
    assert.equal(taxOfInclusiveCents(120, 2000), 20)
    assert.equal(taxOfInclusiveCents(50000, 2000), 8333) // 8333.33
    assert.equal(taxOfInclusiveCents(110, 1000), 10)
    assert.equal(taxOfInclusiveCents(1290, 550), 67) // 67.25
    assert.equal(taxOfInclusiveCents(200, 10_000), 100)
  })

  it('at rate 0 is 0', () => {
    for (const g of [0, 1, -1, 123_456, SALE_CENTS_MAX]) assert.equal(taxOfInclusiveCents(g, 0), 0)
  })

  it('rounds exact half cents away from zero, a refund to the negative of its sale', () => {
    assert.equal(taxOfInclusiveCents(3, 2000), 1) // 0.5
    assert.equal(taxOfInclusiveCents(-3, 2000), -1)
    assert.equal(taxOfInclusiveCents(9, 2000), 2) // 1.5
    assert.equal(taxOfInclusiveCents(-9, 2000), -2)
    assert.equal(taxOfInclusiveCents(1, 10_000), 1) // 0.5
    assert.equal(taxOfInclusiveCents(-1, 10_000), -1)
  })

  it('rounds to the nearest cent either side of a half', () => {
    assert.equal(taxOfInclusiveCents(2, 2000), 0) // 0.33
    assert.equal(taxOfInclusiveCents(4, 2000), 1) // 0.67
    assert.equal(taxOfInclusiveCents(-4, 2000), -1)
    assert.equal(taxOfInclusiveCents(5, 1000), 0) // 0.45
    assert.equal(taxOfInclusiveCents(6, 1000), 1) // 0.55
  })

  it('never answers -0 (a refund too small to carry tax)', () => {
    assert.ok(Object.is(taxOfInclusiveCents(-1, 1), 0))
    assert.ok(Object.is(taxOfInclusiveCents(-0, 2000), 0))
    assert.ok(Object.is(splitInclusiveCents(-1, 1).taxCents, 0))
  })

  it('is exact for large amounts, where gross × rate passes 2^53', () => {
    assert.equal(taxOfInclusiveCents(1e13, 2000), 1_666_666_666_667) // …666.67
    assert.equal(taxOfInclusiveCents(-1e13, 2000), -1_666_666_666_667)
    assert.equal(taxOfInclusiveCents(1e13, 10_000), 5e12)
    assert.equal(taxOfInclusiveCents(Number.MAX_SAFE_INTEGER, 10_000), 4_503_599_627_370_496) // (2^53 - 1) / 2, half up
    assert.equal(taxOfInclusiveCents(-Number.MAX_SAFE_INTEGER, 10_000), -4_503_599_627_370_496)
    // Here the double sees …054.5 and rounds up; the exact value is just below the half.
    const g = 7_195_508_964_868
    assert.equal(Math.round(g * 4874 / (10_000 + 4874)), 2_357_866_794_055)
    assert.equal(taxOfInclusiveCents(g, 4874), 2_357_866_794_054)
  })

  it('refuses amounts and rates that are not integers in range', () => {
    for (const g of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '100', null]) {
      throwsNamed(() => taxOfInclusiveCents(g as number, 2000), InvalidAmountError, /grossCents must be an integer/)
    }
    for (const r of [-1, TAX_RATE_BP_MAX + 1]) throwsNamed(() => taxOfInclusiveCents(100, r), InvalidAmountError, /taxRateBp must be in 0\.\.10000/)
    throwsNamed(() => taxOfInclusiveCents(100, 20.5), InvalidAmountError, /taxRateBp must be an integer/)
  })

  describe('properties', () => {
    const gross = fc.oneof(fc.integer({ min: -SALE_CENTS_MAX, max: SALE_CENTS_MAX }), fc.maxSafeInteger(), fc.integer({ min: -1000, max: 1000 }))
    const rate = fc.integer({ min: 0, max: TAX_RATE_BP_MAX })

    it('net + tax = gross, with the tax of the reference formula', () => {
      fc.assert(fc.property(gross, rate, (grossCents, rateBp) => {
        const split = splitInclusiveCents(grossCents, rateBp)
        assert.equal(split.netCents + split.taxCents, grossCents)
        assert.equal(split.grossCents, grossCents)
        assert.equal(split.taxCents, taxByHand(grossCents, rateBp))
      }), fcParams())
    })

    it('is the nearest cent to gross × rate / (10000 + rate)', () => {
      fc.assert(fc.property(gross, rate, (grossCents, rateBp) => {
        const d = 10_000n + BigInt(rateBp)
        const error = BigInt(taxOfInclusiveCents(grossCents, rateBp)) * d - BigInt(grossCents) * BigInt(rateBp)
        assert.ok(2n * (error < 0n ? -error : error) <= d, `off by more than half a cent: ${error}/${d}`)
      }), fcParams())
    })

    it('a refund is the exact negative of its sale, and tax never exceeds the gross', () => {
      fc.assert(fc.property(gross, rate, (grossCents, rateBp) => {
        const tax = taxOfInclusiveCents(grossCents, rateBp)
        assert.equal(taxOfInclusiveCents(-grossCents, rateBp), -tax || 0)
        assert.ok(Math.abs(tax) <= Math.abs(grossCents))
      }), fcParams())
    })

    it('never falls when the gross rises', () => {
      fc.assert(fc.property(gross, fc.integer({ min: 0, max: 1000 }), rate, (grossCents, more, rateBp) => {
        fc.pre(grossCents + more <= Number.MAX_SAFE_INTEGER)
        assert.ok(taxOfInclusiveCents(grossCents + more, rateBp) >= taxOfInclusiveCents(grossCents, rateBp))
      }), fcParams())
    })
  })
})

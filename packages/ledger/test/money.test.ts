import assert from 'node:assert/strict'
import fc from 'fast-check'
import { addCents, formatCents, mulCents, negCents, parseCents, subCents, sumCents } from '../src/money.ts'
import { checkProperty } from './helpers/seed.ts'

describe('money: integer cents', () => {
  it('formats cents as a two-place decimal without floats', () => {
    assert.equal(formatCents(0), '0.00')
    assert.equal(formatCents(5), '0.05')
    assert.equal(formatCents(-5), '-0.05')
    assert.equal(formatCents(99), '0.99')
    assert.equal(formatCents(100), '1.00')
    assert.equal(formatCents(-100), '-1.00')
    assert.equal(formatCents(123456), '1234.56')
    assert.equal(formatCents(-123456), '-1234.56')
    assert.equal(formatCents(-0), '0.00')
    assert.equal(formatCents(Number.MAX_SAFE_INTEGER), '90071992547409.91')
    assert.equal(formatCents(-Number.MAX_SAFE_INTEGER), '-90071992547409.91')
  })

  it('refuses amounts that are not safe integers', () => {
    assert.throws(() => formatCents(0.1), /safe integer/)
    assert.throws(() => formatCents(Number.NaN), /safe integer/)
    assert.throws(() => formatCents(2 ** 53), /safe integer/)
    assert.throws(() => addCents(1.5, 1), /safe integer/)
  })

  it('checks sums and products for overflow instead of rounding', () => {
    assert.equal(addCents(Number.MAX_SAFE_INTEGER - 1, 1), Number.MAX_SAFE_INTEGER)
    assert.throws(() => addCents(Number.MAX_SAFE_INTEGER, 1), /overflow/)
    assert.throws(() => addCents(-Number.MAX_SAFE_INTEGER, -1), /overflow/)
    assert.throws(() => mulCents(2 ** 30, 2 ** 23), /overflow/)
    assert.equal(mulCents(-3, 120), -360)
    assert.throws(() => sumCents([Number.MAX_SAFE_INTEGER, 1, -1]), /overflow/)
    assert.equal(sumCents([1, -2, 3]), 2)
    assert.equal(subCents(5, 7), -2)
  })

  it('never produces negative zero', () => {
    assert.ok(Object.is(negCents(0), 0))
    assert.ok(Object.is(mulCents(-3, 0), 0))
    assert.ok(Object.is(addCents(-0, -0), 0))
  })

  it('parses exactly what it formats, and nothing looser', () => {
    assert.equal(parseCents('1234.56'), 123456)
    assert.equal(parseCents('-0.05'), -5)
    assert.ok(Object.is(parseCents('-0.00'), 0))
    for (const bad of ['1234.5', '1,234.56', '1234', '.50', '12.345', '1e3.00', ' 1.00', '+1.00', '90071992547409.92']) {
      assert.throws(() => parseCents(bad), RangeError, bad)
    }
  })

  it('round-trips every safe integer (property)', () => {
    checkProperty(fc.property(fc.maxSafeInteger().chain(n => fc.constantFrom(n, 0 - n, n % 1000)), n => {
      // Numeric equality: -0 (e.g. -1000 % 1000) is the amount 0, and comes back as 0.
      assert.ok(parseCents(formatCents(n)) === n, `${n} → ${formatCents(n)} → ${parseCents(formatCents(n))}`)
      // The formatted digits are the integer's own digits (checked in BigInt, not doubles).
      assert.equal(BigInt(formatCents(n).replace('.', '')), BigInt(n))
    }), 500)
  })
})

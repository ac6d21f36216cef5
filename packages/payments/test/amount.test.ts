/** Amounts parsed exactly into minor units of their currency; never rounded; written back the same. */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { formatMinorUnits, parseMinorUnits } from '../src/index.ts'
import { fcParams } from './helpers/fc.ts'

describe('amounts in minor units', () => {
  it('reads decimal strings by the currency\'s exponent', () => {
    assert.equal(parseMinorUnits('12.34', 'EUR'), 1234)
    assert.equal(parseMinorUnits('12.3', 'EUR'), 1230)
    assert.equal(parseMinorUnits('12', 'EUR'), 1200)
    assert.equal(parseMinorUnits('0.01', 'EUR'), 1)
    assert.equal(parseMinorUnits('1000', 'JPY'), 1000)
    assert.equal(parseMinorUnits('1.234', 'KWD'), 1234)
    assert.equal(parseMinorUnits('-0.05', 'EUR', { signed: true }), -5)
    assert.equal(parseMinorUnits('-0', 'EUR', { signed: true }), 0)
  })

  it('refuses more decimals than the currency has, and anything not a plain decimal, with a reason', () => {
    assert.throws(() => parseMinorUnits('12.345', 'EUR'), /3 decimals: EUR has 2/)
    assert.throws(() => parseMinorUnits('1.5', 'JPY'), /JPY has 0/)
    assert.throws(() => parseMinorUnits('-1.00', 'EUR'), /negative/)
    for (const bad of ['1e3', '1,000.00', '+1.00', ' 1.00', '01.00', '.50', '1.', '', 'NaN', '12345678901234.00']) assert.throws(() => parseMinorUnits(bad, 'EUR'), /not a decimal amount/, bad)
    assert.throws(() => parseMinorUnits('1.00', 'XYZ'), /unknown currency/)
  })

  it('writes what it reads (property)', () => {
    fc.assert(fc.property(fc.integer({ min: -1e12, max: 1e12 }), fc.constantFrom('EUR', 'JPY', 'KWD'), (minor, currency) => {
      assert.equal(parseMinorUnits(formatMinorUnits(minor, currency), currency, { signed: true }), minor)
    }), fcParams())
    assert.equal(formatMinorUnits(5, 'EUR'), '0.05')
    assert.equal(formatMinorUnits(-1234, 'EUR'), '-12.34')
    assert.equal(formatMinorUnits(7, 'KWD'), '0.007')
  })
})

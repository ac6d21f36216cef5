import assert from 'node:assert/strict'
import { signedKb } from '../src/bench/fleet/report.ts'

describe('tillbooks bench report', () => {
  it('prints a change of RSS with its sign: it can fall between two readings (it printed "+-0 KB")', () => {
    assert.equal(signedKb(180_000), '+176 KB')
    assert.equal(signedKb(0), '+0 KB')
    assert.equal(signedKb(-300), '+0 KB') // rounds to zero: no "−0"
    assert.equal(signedKb(-3_000), '−3 KB')
    assert.equal(signedKb(-2_048_000), '−2,000 KB')
  })
})

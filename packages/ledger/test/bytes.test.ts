/**
 * The checkpoint's varints (bytes.ts): every safe integer, either sign, reads back as written —
 * money may reach 2^53 − 1 cents, where the zig-zag value itself (2|n|) is past 2^53 — and for
 * every value the plain zig-zag LEB128 could hold, the bytes are that encoding's (checkpoints
 * written before read the same).
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ByteFormatError, ByteReader, ByteWriter } from '../src/bytes.ts'
import { checkProperty } from './helpers/seed.ts'

/** The textbook zig-zag LEB128, by BigInt: the reference the writer must match where it fits. */
function zigzagLeb128 (n: number): number[] {
  let z = n >= 0 ? BigInt(n) * 2n : -BigInt(n) * 2n - 1n
  const out: number[] = []
  while (z >= 0x80n) {
    out.push(Number(z % 0x80n) + 0x80)
    z /= 0x80n
  }
  out.push(Number(z))
  return out
}

const written = (ints: number[]): Uint8Array => {
  const w = new ByteWriter(4)
  for (const n of ints) w.int(n)
  return w.finish()
}

describe('checkpoint varints (bytes.ts)', () => {
  it('every safe integer reads back as written, the extremes and their neighbours included', () => {
    const edges = [0, 1, -1, 63, 64, -64, -65, 127, 128, 2 ** 31, -(2 ** 31), 2 ** 52, -(2 ** 52), 2 ** 52 + 1, -(2 ** 52) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1, Number.MIN_SAFE_INTEGER + 1]
    const r = new ByteReader(written(edges), 'test')
    assert.deepEqual(edges.map(() => r.int()), edges)
    assert.equal(r.done, true)
    checkProperty(fc.property(fc.array(fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.maxSafeNat(), fc.integer({ min: -128, max: 128 }))), ints => {
      const rr = new ByteReader(written(ints), 'test')
      assert.deepEqual(ints.map(() => rr.int()), ints)
      assert.equal(rr.done, true)
    }), 500)
  })

  it('writes the zig-zag LEB128 bytes wherever that encoding is exact (|n| ≤ 2^52), and past it the bytes the same rule gives', () => {
    for (const n of [0, -1, 1, 63, -64, 64, 8191, -8192, 2 ** 52, -(2 ** 52), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      assert.deepEqual([...written([n])], zigzagLeb128(n), String(n))
    }
    checkProperty(fc.property(fc.maxSafeInteger(), n => {
      assert.deepEqual([...written([n])], zigzagLeb128(n))
    }), 500)
  })

  it('refuses a varint past the safe integers, and one cut short, with a ByteFormatError', () => {
    // The zig-zag LEB128 of 2^53 + 1 (not a safe integer): no number is made of it.
    const tooBig = Uint8Array.from(zigzagLeb128(Number.MAX_SAFE_INTEGER).map((b, i, a) => i === a.length - 1 ? b + 1 : b))
    assert.throws(() => new ByteReader(tooBig, 'test').int(), ByteFormatError)
    assert.throws(() => new ByteReader(Uint8Array.from([0x80, 0x80]), 'test').int(), ByteFormatError)
  })
})

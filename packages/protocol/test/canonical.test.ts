import assert from 'node:assert/strict'
import fc from 'fast-check'
import { bytesEqual, canonicalDecode, canonicalEncode, fromHex, isHexOf, toHex, type Canonical } from '../src/canonical.ts'
import { MalformedError } from '../src/errors.ts'
import { bytesOfHex, hexOf } from './helpers/fixtures.ts'
import { check } from './helpers/seed.ts'

/** Any value of the `Canonical` type: nested maps, arrays, strings, safe integers, bytes, booleans, null. */
const canonicalArb: fc.Arbitrary<Canonical> = fc.letrec<{ value: Canonical, list: Canonical[], map: { [key: string]: Canonical } }>(tie => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.integer({ min: -30, max: 30 }), // around the 1-byte / 2-byte integer boundary (23/24)
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.uint8Array({ maxLength: 40 }),
    tie('list'),
    tie('map')
  ),
  list: fc.array(tie('value'), { maxLength: 5 }),
  map: fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), tie('value'), { maxKeys: 6, noNullPrototype: true })
})).value

/** The same value with every map's keys inserted in a shuffled order. */
function reorderKeys (value: Canonical, order: (keys: string[]) => string[]): Canonical {
  if (Array.isArray(value)) return value.map(v => reorderKeys(v, order))
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value
  const out: { [key: string]: Canonical } = {}
  for (const k of order(Object.keys(value))) out[k] = reorderKeys(value[k] as Canonical, order)
  return out
}

function assertMalformed (hex: string, why: string): void {
  assert.throws(() => canonicalDecode(bytesOfHex(hex)), MalformedError, `${why}: ${hex} was accepted`)
}

describe('canonical: deterministic CBOR', () => {
  it('round trips any Canonical value, and re-encoding the decoded value gives the same bytes', () => {
    check(fc.property(canonicalArb, value => {
      const bytes = canonicalEncode(value)
      const decoded = canonicalDecode(bytes)
      assert.deepStrictEqual(decoded, value)
      assert.equal(hexOf(canonicalEncode(decoded)), hexOf(bytes))
    }), 400)
  })

  it('the order keys were inserted in does not change the bytes', () => {
    check(fc.property(canonicalArb, fc.integer(), (value, salt) => {
      const reversed = reorderKeys(value, keys => [...keys].reverse())
      const rotated = reorderKeys(value, keys => keys.length === 0 ? keys : [...keys.slice(Math.abs(salt) % keys.length), ...keys.slice(0, Math.abs(salt) % keys.length)])
      const bytes = hexOf(canonicalEncode(value))
      assert.equal(hexOf(canonicalEncode(reversed)), bytes)
      assert.equal(hexOf(canonicalEncode(rotated)), bytes)
    }), 300)
  })

  it('encodes known values to their RFC 8949 deterministic bytes', () => {
    const cases: Array<[Canonical, string]> = [
      [0, '00'],
      [23, '17'],
      [24, '1818'],
      [255, '18ff'],
      [256, '190100'],
      [65_536, '1a00010000'],
      [2 ** 32, '1b0000000100000000'],
      [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
      [-1, '20'],
      [-25, '3818'],
      [Number.MIN_SAFE_INTEGER, '3b001ffffffffffffe'],
      [true, 'f5'],
      [false, 'f4'],
      [null, 'f6'],
      ['', '60'],
      ['a', '6161'],
      ['ü', '62c3bc'],
      [Uint8Array.of(1, 2), '420102'],
      [[], '80'],
      [[1, [2]], '82018102'],
      // map keys sorted by their encoded bytes: "b" (61 62) before "aa" (62 61 61)
      [{ aa: 2, b: 1 }, 'a261620162616102'],
      [{ b: { d: 1, c: 2 } }, 'a16162a2616302616401']
    ]
    for (const [value, hex] of cases) {
      assert.equal(hexOf(canonicalEncode(value)), hex, JSON.stringify(value, (_, v) => v instanceof Uint8Array ? hexOf(v) : v))
      assert.deepStrictEqual(canonicalDecode(bytesOfHex(hex)), value)
    }
  })

  describe('the encoder refuses what has no canonical form here', () => {
    for (const [name, value] of [
      ['a float', 1.5],
      ['a float in a nested map', { a: [{ priceCents: 10.25 }] }],
      ['NaN', NaN],
      ['Infinity', -Infinity],
      ['an unsafe integer', 2 ** 53],
      ['undefined', undefined],
      ['undefined in a map', { a: undefined }]
    ] as const) {
      it(`${name} → MalformedError`, () => {
        assert.throws(() => canonicalEncode(value as unknown as Canonical), MalformedError)
      })
    }
  })

  describe('the decoder refuses every non-canonical or unsupported encoding with MalformedError', () => {
    const cases: Array<[string, string]> = [
      ['1801', '1 in two bytes (non-minimal integer)'],
      ['190001', '1 in three bytes'],
      ['1a00000001', '1 in five bytes'],
      ['1b0000000000000001', '1 in nine bytes'],
      ['3800', '-1 in two bytes'],
      ['5801ff', 'a 1-byte byte string with a non-minimal length'],
      ['780161', 'a 1-char text string with a non-minimal length'],
      ['980101', 'a 1-item array with a non-minimal length'],
      ['b8016161' + '01', 'a 1-entry map with a non-minimal length'],
      ['a2616201616102', 'map keys out of order (b before a)'],
      ['a2626161016162' + '02', 'map keys out of order by length ("aa" before "b")'],
      ['a2616101616102', 'a duplicate map key'],
      ['a10102', 'a non-string map key'],
      ['f93c00', 'a half float (1.0)'],
      ['fa3f800000', 'a single float (1.0)'],
      ['fb3ff8000000000000', 'a double float (1.5)'],
      ['f97e00', 'NaN'],
      ['f97c00', 'Infinity'],
      ['f7', 'undefined'],
      ['f0', 'a simple value'],
      ['c11a514b67b0', 'a tag (epoch time)'],
      ['d82a420001', 'a tag (42)'],
      ['c249010000000000000000', 'a bignum tag'],
      ['1b0020000000000000', 'an integer above 2^53 - 1'],
      ['3b0020000000000000', 'an integer below -(2^53 - 1)'],
      ['9f01ff', 'an indefinite-length array'],
      ['bf616101ff', 'an indefinite-length map'],
      ['5f410041ffff', 'an indefinite-length byte string'],
      ['7f6161ff', 'an indefinite-length text string'],
      ['61ff', 'a text string that is not UTF-8'],
      ['0100', 'a trailing byte'],
      ['a1616101' + 'f6', 'a trailing value after a map'],
      ['', 'no bytes at all'],
      ['8201', 'a truncated array'],
      ['6261', 'a truncated string'],
      ['1901', 'a truncated integer'],
      ['a1616101'.slice(0, 6), 'a map missing its value'],
      ['ff', 'a lone break']
    ]
    for (const [hex, why] of cases) it(why, () => assertMalformed(hex, why))
  })

  it('any strict prefix or any one-byte extension of an encoding is refused', () => {
    check(fc.property(canonicalArb, fc.integer({ min: 0, max: 255 }), (value, extra) => {
      const bytes = canonicalEncode(value)
      for (let n = 0; n < bytes.length; n++) assert.throws(() => canonicalDecode(bytes.subarray(0, n)), MalformedError, `prefix of ${n} bytes`)
      assert.throws(() => canonicalDecode(Uint8Array.of(...bytes, extra)), MalformedError, 'extended by one byte')
    }), 150)
  })

  it('decodes from a view into a larger buffer (offset and length respected)', () => {
    const inner = canonicalEncode({ a: [1, 2, Uint8Array.of(9)] })
    const buffer = new Uint8Array(inner.length + 10).fill(0xff)
    buffer.set(inner, 5)
    assert.deepStrictEqual(canonicalDecode(buffer.subarray(5, 5 + inner.length)), { a: [1, 2, Uint8Array.of(9)] })
  })

  describe('hex and bytes helpers', () => {
    it('toHex / fromHex round trip, including views', () => {
      check(fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 8 }), (bytes, offset) => {
        const padded = new Uint8Array(bytes.length + offset)
        padded.set(bytes, offset)
        const view = padded.subarray(offset)
        assert.equal(toHex(view), Buffer.from(bytes).toString('hex'))
        assert.deepStrictEqual(fromHex(toHex(view)), bytes)
      }), 200)
    })

    it('isHexOf says whether a string is exactly toHex of the bytes', () => {
      check(fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(), fc.integer({ min: 0, max: 127 }), (bytes, at, code) => {
        const hex = toHex(bytes)
        assert.equal(isHexOf(bytes, hex), true)
        assert.equal(isHexOf(bytes, hex.toUpperCase()), hex === hex.toUpperCase())
        assert.equal(isHexOf(bytes, hex + '0'), false)
        if (hex.length > 0) {
          const i = at % hex.length
          const other = hex.slice(0, i) + String.fromCharCode(code) + hex.slice(i + 1)
          assert.equal(isHexOf(bytes, other), other === hex)
        }
      }), 300)
    })

    it('fromHex refuses odd lengths, upper case and non-hex', () => {
      for (const bad of ['0', 'abc', 'AB', '0g', ' 00', '00 ']) assert.throws(() => fromHex(bad), MalformedError, bad)
    })

    it('bytesEqual compares length and every byte', () => {
      assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2)), true)
      assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3)), false)
      assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0)), false)
      assert.equal(bytesEqual(new Uint8Array(0), new Uint8Array(0)), true)
    })
  })
})

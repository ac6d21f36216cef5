/**
 * Canonical encoding: deterministic CBOR (RFC 8949 §4.2.1, bytewise-sorted map keys).
 *
 * Decoding is strict and then re-encodes to check the bytes were canonical, so two
 * different byte strings never decode to the same value: a signature over the bytes
 * is a signature over the value. Floats, undefined, tags and duplicate keys are refused.
 */
import { isUtf8 } from 'node:buffer'
import { decode, encode, rfc8949EncodeOptions } from 'cborg'
import { MalformedError } from './errors.ts'

export type Canonical = null | boolean | number | string | Uint8Array | Canonical[] | { [key: string]: Canonical }

const encodeOptions = {
  ...rfc8949EncodeOptions,
  typeEncoders: {
    // Money and counts are integers: a float anywhere is a bug or an attack.
    number: (n: number) => {
      if (!Number.isSafeInteger(n)) throw new MalformedError(`not a safe integer: ${n}`)
      return null
    },
    undefined: () => { throw new MalformedError('undefined is not encodable') }
  }
}

const decodeOptions = {
  strict: true,
  rejectDuplicateMapKeys: true,
  allowUndefined: false,
  allowIndefinite: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  useMaps: false,
  tags: []
}

export function canonicalEncode (value: Canonical): Uint8Array {
  return encode(value, encodeOptions)
}

export function canonicalDecode (bytes: Uint8Array): Canonical {
  // Checking the bytes in place costs ~5 µs; re-encoding with cborg to compare cost ~65 µs
  // per record, more than HQ's whole budget besides the signature (measured, bench:core).
  assertCanonical(bytes)
  try {
    return decode(bytes, decodeOptions) as Canonical
  } catch (err) {
    throw new MalformedError(`not well-formed CBOR: ${(err as Error).message}`)
  }
}

/** Nesting deeper than this is refused (records are three levels deep). */
const CANONICAL_DEPTH_MAX = 16

/**
 * Throws MalformedError unless `bytes` is exactly one data item in the deterministic
 * encoding of RFC 8949 §4.2.1 over our value space: shortest-form integers and lengths,
 * definite lengths, text-keyed maps with bytewise-ascending keys (so no duplicates),
 * valid UTF-8, only false/true/null as simple values, no floats, no tags.
 */
export function assertCanonical (bytes: Uint8Array): void {
  const end = item(bytes, 0, 0)
  if (end !== bytes.length) throw new MalformedError(`not canonical CBOR: ${bytes.length - end} trailing bytes`)
}

function head (b: Uint8Array, at: number): { major: number, value: number, next: number } {
  if (at >= b.length) throw new MalformedError('not canonical CBOR: truncated')
  const first = b[at] as number
  const major = first >> 5
  const info = first & 0x1f
  if (info < 24) return { major, value: info, next: at + 1 }
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
  if (size === 0) throw new MalformedError(`not canonical CBOR: indefinite length or reserved info ${info}`)
  if (at + 1 + size > b.length) throw new MalformedError('not canonical CBOR: truncated')
  let value = 0
  for (let i = 1; i <= size; i++) value = value * 256 + (b[at + i] as number)
  const min = size === 1 ? 24 : size === 2 ? 0x100 : size === 4 ? 0x10000 : 0x100000000
  if (major !== 7 && value < min) throw new MalformedError('not canonical CBOR: integer or length not in shortest form')
  if (value > Number.MAX_SAFE_INTEGER) throw new MalformedError('not canonical CBOR: integer beyond 2^53')
  return { major, value, next: at + 1 + size }
}

function item (b: Uint8Array, at: number, depth: number): number {
  if (depth > CANONICAL_DEPTH_MAX) throw new MalformedError('not canonical CBOR: nested too deep')
  const h = head(b, at)
  switch (h.major) {
    case 0: case 1: return h.next
    case 2: case 3: {
      const end = h.next + h.value
      if (end > b.length) throw new MalformedError('not canonical CBOR: truncated string')
      if (h.major === 3 && !isUtf8(b.subarray(h.next, end))) throw new MalformedError('not canonical CBOR: text is not UTF-8')
      return end
    }
    case 4: {
      let p = h.next
      for (let i = 0; i < h.value; i++) p = item(b, p, depth + 1)
      return p
    }
    case 5: {
      let p = h.next
      let prevStart = -1
      let prevEnd = -1
      for (let i = 0; i < h.value; i++) {
        if (p >= b.length || (b[p] as number) >> 5 !== 3) throw new MalformedError('not canonical CBOR: map keys must be text')
        const keyEnd = item(b, p, depth + 1)
        if (prevStart >= 0 && compareBytes(b, prevStart, prevEnd, p, keyEnd) >= 0) throw new MalformedError('not canonical CBOR: map keys not in ascending order (or repeated)')
        prevStart = p
        prevEnd = keyEnd
        p = item(b, keyEnd, depth + 1)
      }
      return p
    }
    case 6: throw new MalformedError('not canonical CBOR: tags are not allowed')
    default: {
      const info = (b[at] as number) & 0x1f
      if (info === 20 || info === 21 || info === 22) return at + 1
      throw new MalformedError(`not canonical CBOR: simple value or float (info ${info}) not allowed`)
    }
  }
}

/** Byte-wise order of two ranges of one buffer (canonical map keys sort this way). */
export function compareBytes (b: Uint8Array, aStart: number, aEnd: number, cStart: number, cEnd: number): number {
  const n = Math.min(aEnd - aStart, cEnd - cStart)
  for (let i = 0; i < n; i++) {
    const d = (b[aStart + i] as number) - (b[cStart + i] as number)
    if (d !== 0) return d
  }
  return (aEnd - aStart) - (cEnd - cStart)
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

const HEX_DIGITS = '0123456789abcdef'

/** Whether `hex` is `toHex(bytes)`, compared in place: no string built (an invariant on HQ's hot path). */
export function isHexOf (bytes: Uint8Array, hex: string): boolean {
  if (hex.length !== bytes.length * 2) return false
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number
    if (hex.charCodeAt(2 * i) !== HEX_DIGITS.charCodeAt(b >> 4) || hex.charCodeAt(2 * i + 1) !== HEX_DIGITS.charCodeAt(b & 15)) return false
  }
  return true
}

export function fromHex (hex: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(hex)) throw new MalformedError('not lower-case hex')
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

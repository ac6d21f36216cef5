/**
 * Canonical encoding: deterministic CBOR (RFC 8949 §4.2.1, bytewise-sorted map keys).
 *
 * Decoding is strict and then re-encodes to check the bytes were canonical, so two
 * different byte strings never decode to the same value: a signature over the bytes
 * is a signature over the value. Floats, undefined, tags and duplicate keys are refused.
 */
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
  let value: Canonical
  try {
    value = decode(bytes, decodeOptions) as Canonical
  } catch (err) {
    throw new MalformedError(`not well-formed CBOR: ${(err as Error).message}`)
  }
  let again: Uint8Array
  try {
    again = canonicalEncode(value)
  } catch (err) {
    throw new MalformedError(`not canonical: ${(err as Error).message}`)
  }
  if (!bytesEqual(again, bytes)) throw new MalformedError('not canonical CBOR (re-encoding differs)')
  return value
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function fromHex (hex: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(hex)) throw new MalformedError('not lower-case hex')
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

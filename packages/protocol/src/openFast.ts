/**
 * The same checks as `canonicalDecode` and `openEntry(bytes, { verify: false })`, in one pass.
 *
 * `canonicalDecode` walks the bytes twice (the in-place canonical check, then cborg's strict
 * decode), and `isUtf8` is called on every text string: ~35 µs of `openEntry` per record on
 * HQ's hot path. Here one walk checks and builds the value at once, and pure-ASCII text (every
 * valid record's) skips the UTF-8 check. What is accepted, the value built and, for what is
 * refused, the error class and message are those of `canonicalDecode` (the walk mirrors
 * `assertCanonical` item by item, and the one thing cborg refuses after it, -2^53, is
 * reported as cborg reports it, after the whole walk). The tests hold the two to that on
 * mutated and random input. One difference, by design: byte strings are views into the input
 * (cborg copies them), so keep the input unchanged while using the value.
 */
import { isUtf8 } from 'node:buffer'
import { asciiString } from './asciiCache.ts'
import type { Canonical } from './canonical.ts'
import { ENTRY_BYTES_MAX } from './constants.ts'
import { MalformedError, OversizedError } from './errors.ts'
import { entryHashOf, type Entry } from './entry.ts'
import { envelopeFields } from './envelope.ts'
import { tillIdOf, type EntryHash } from './ids.ts'
import { validateRecord, type TillRecord } from './records.ts'
import type { PublicKey } from './keys.ts'
import { compareBytes, toHex } from './canonical.ts'

/** Nesting deeper than this is refused (as assertCanonical). */
const CANONICAL_DEPTH_MAX = 16
const textDecoder = new TextDecoder()

/** The value of the item just walked (a register, not a return value: no allocation per item). */
let V: Canonical = null
/** cborg's own refusal, reported only if the whole walk passed (as canonicalDecode would). */
let deferred: string | null = null

function walk (b: Uint8Array, at: number, depth: number): number {
  if (depth > CANONICAL_DEPTH_MAX) throw new MalformedError('not canonical CBOR: nested too deep')
  if (at >= b.length) throw new MalformedError('not canonical CBOR: truncated')
  const first = b[at] as number
  const major = first >> 5
  const info = first & 0x1f
  let value: number
  let next: number
  if (info < 24) {
    value = info
    next = at + 1
  } else {
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
    if (size === 0) throw new MalformedError(`not canonical CBOR: indefinite length or reserved info ${info}`)
    if (at + 1 + size > b.length) throw new MalformedError('not canonical CBOR: truncated')
    value = 0
    for (let i = 1; i <= size; i++) value = value * 256 + (b[at + i] as number)
    const min = size === 1 ? 24 : size === 2 ? 0x100 : size === 4 ? 0x10000 : 0x100000000
    if (major !== 7 && value < min) throw new MalformedError('not canonical CBOR: integer or length not in shortest form')
    if (value > Number.MAX_SAFE_INTEGER) throw new MalformedError('not canonical CBOR: integer beyond 2^53')
    next = at + 1 + size
  }
  switch (major) {
    case 0:
      V = value
      return next
    case 1:
      V = -1 - value
      if (V < Number.MIN_SAFE_INTEGER) deferred ??= 'CBOR decode error: integers outside of the safe integer range are not supported'
      return next
    case 2: {
      const end = next + value
      if (end > b.length) throw new MalformedError('not canonical CBOR: truncated string')
      V = b.subarray(next, end)
      return end
    }
    case 3: {
      const end = next + value
      if (end > b.length) throw new MalformedError('not canonical CBOR: truncated string')
      const ascii = asciiString(b, next, end)
      if (ascii !== null) {
        V = ascii
        return end
      }
      const sub = b.subarray(next, end)
      if (!isUtf8(sub)) throw new MalformedError('not canonical CBOR: text is not UTF-8')
      V = textDecoder.decode(sub)
      return end
    }
    case 4: {
      const a: Canonical[] = []
      let p = next
      for (let i = 0; i < value; i++) {
        p = walk(b, p, depth + 1)
        a.push(V)
      }
      V = a
      return p
    }
    case 5: {
      const o: { [key: string]: Canonical } = {}
      let p = next
      let prevStart = -1
      let prevEnd = -1
      for (let i = 0; i < value; i++) {
        if (p >= b.length || (b[p] as number) >> 5 !== 3) throw new MalformedError('not canonical CBOR: map keys must be text')
        const keyEnd = walk(b, p, depth + 1)
        const key = V as string
        if (prevStart >= 0 && compareBytes(b, prevStart, prevEnd, p, keyEnd) >= 0) throw new MalformedError('not canonical CBOR: map keys not in ascending order (or repeated)')
        prevStart = p
        prevEnd = keyEnd
        p = walk(b, keyEnd, depth + 1)
        // As cborg: an own property, never the prototype setter.
        if (key === '__proto__') Object.defineProperty(o, key, { value: V, configurable: true, enumerable: true, writable: true })
        else o[key] = V
      }
      V = o
      return p
    }
    case 6: throw new MalformedError('not canonical CBOR: tags are not allowed')
    default:
      if (info === 20) { V = false; return at + 1 }
      if (info === 21) { V = true; return at + 1 }
      if (info === 22) { V = null; return at + 1 }
      throw new MalformedError(`not canonical CBOR: simple value or float (info ${info}) not allowed`)
  }
}

/** `canonicalDecode` in one pass: the same value or the same MalformedError (byte strings are views into `bytes`). */
export function canonicalDecodeFast (input: Uint8Array): Canonical {
  // Views of a plain Uint8Array even if given a Buffer (cborg's copies are plain too).
  const bytes = Object.getPrototypeOf(input) === Uint8Array.prototype ? input : new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
  deferred = null
  try {
    const end = walk(bytes, 0, 0)
    if (end !== bytes.length) throw new MalformedError(`not canonical CBOR: ${bytes.length - end} trailing bytes`)
    if (deferred !== null) throw new MalformedError(`not well-formed CBOR: ${deferred}`)
    return V
  } finally {
    V = null
    deferred = null
  }
}

/** An entry opened without its hash: what a verifier needs (see openRecordUnverified). */
export interface OpenedRecord {
  kind: 'stockIn' | 'close'
  body: Uint8Array
  signer: PublicKey
  sig: Uint8Array
  record: TillRecord
}

/**
 * The checks of `openEntry(bytes, { verify: false })` on `canonicalDecodeFast` (the same
 * errors, in the same order), stopping short of the entry hash and till id: byte fields
 * are views into `bytes`.
 */
export function openRecordUnverified (bytes: Uint8Array): OpenedRecord {
  if (!(bytes instanceof Uint8Array)) throw new MalformedError('an envelope is bytes')
  if (bytes.length > ENTRY_BYTES_MAX) throw new OversizedError(`envelope is ${bytes.length} bytes, at most ${ENTRY_BYTES_MAX}`)
  const { kind, body, signer, sig } = envelopeFields(canonicalDecodeFast(bytes))
  const value = canonicalDecodeFast(body)
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array || value.kind !== kind) {
    throw new MalformedError('envelope kind does not match its body')
  }
  if (kind !== 'stockIn' && kind !== 'close') throw new MalformedError(`not a till record: ${kind}`)
  return { kind, body, signer, sig, record: validateRecord(value) }
}

/**
 * `openEntry(bytes, { verify: false })` on `canonicalDecodeFast`: the same entry, or the same
 * error, with `body`, `sig`, `signer` and byte fields of the record as views into `bytes`.
 */
export function openEntryUnverified (bytes: Uint8Array): Entry {
  const { body, signer, sig, record } = openRecordUnverified(bytes)
  const hashBytes = entryHashOf(body)
  return { bytes, hash: toHex(hashBytes) as EntryHash, hashBytes, record, tillId: tillIdOf(record.store, record.till), seq: record.seq, signer, body, sig }
}

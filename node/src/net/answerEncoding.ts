/**
 * The submit answer, HQ's most frequent frame (one outcome per entry, hundreds per frame),
 * written straight to canonical CBOR. Through cborg, building each outcome's map and
 * sorting its keys cost ~23 µs per entry of HQ's main thread in the 10,000-till wave,
 * more than anything else HQ does per entry there; here it is ~1 µs. The bytes are exactly
 * `canonicalEncode({ id, outcomes: outcomes.map(outcomeWireFields) })` (the tests hold it
 * to that on random outcomes), so peers cannot tell which wrote them.
 */
import { SEQ_MAX } from '@tillbooks/protocol'
import { CODE_RE, REASON_CHARS_MAX } from './limits.ts'
import type { SubmitAnswer } from './messages.ts'

const STATUSES = new Set(['accepted', 'duplicate', 'rejected'])
const HASH_RE = /^[0-9a-f]{64}$/

/** A reason fit for the wire: text, cut to REASON_CHARS_MAX. */
export function clipReason (reason: unknown): string {
  const s = typeof reason === 'string' ? reason : String(reason)
  return s.length > REASON_CHARS_MAX ? s.slice(0, REASON_CHARS_MAX - 1) + '…' : s
}

/**
 * A handler's outcome, checked and stripped to the wire fields, in canonical key order
 * (seq, code, hash, folded, reason, status, tillId: shorter keys first, then bytewise).
 * A bad status or seq is the handler's bug: it throws.
 */
export function outcomeWireFields (a: SubmitAnswer, i: number): { [key: string]: string | number | boolean } {
  if (a === null || typeof a !== 'object' || !STATUSES.has(a.status)) throw new Error(`handler outcome [${i}] has no valid status`)
  const o: { [key: string]: string | number | boolean } = {}
  if (a.seq !== undefined && a.seq !== null) {
    if (!Number.isSafeInteger(a.seq) || a.seq < 0 || a.seq > SEQ_MAX) throw new Error(`handler outcome [${i}].seq must be in 0..${SEQ_MAX}`)
    o.seq = a.seq
  }
  if (a.code !== undefined && a.code !== null) o.code = CODE_RE.test(a.code) ? a.code : 'ERROR'
  if (typeof a.hash === 'string' && HASH_RE.test(a.hash)) o.hash = a.hash
  if (typeof a.folded === 'boolean') o.folded = a.folded
  if (a.reason !== undefined && a.reason !== null) o.reason = clipReason(a.reason)
  o.status = a.status
  if (typeof a.tillId === 'string' && a.tillId.length <= 24) o.tillId = a.tillId
  return o
}

/** Key heads and names, encoded once. */
const key = (name: string): Uint8Array => Uint8Array.from([0x60 + name.length, ...Array.from(name, c => c.charCodeAt(0))])
const K_ID = key('id'); const K_OUTCOMES = key('outcomes')
const FIELD_KEYS: Record<string, Uint8Array> = Object.fromEntries(['seq', 'code', 'hash', 'folded', 'reason', 'status', 'tillId'].map(k => [k, key(k)]))
const TRUE = 0xf5
const FALSE = 0xf4

/** A growable byte buffer with the few canonical CBOR items an answer needs. */
class Writer {
  bytes: Uint8Array
  at = 0

  constructor (size: number) {
    this.bytes = new Uint8Array(size)
  }

  room (n: number): void {
    if (this.at + n <= this.bytes.length) return
    const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.at + n))
    bigger.set(this.bytes.subarray(0, this.at))
    this.bytes = bigger
  }

  raw (b: Uint8Array): void {
    this.room(b.length)
    this.bytes.set(b, this.at)
    this.at += b.length
  }

  byte (b: number): void {
    this.room(1)
    this.bytes[this.at++] = b
  }

  /** A head in shortest form (RFC 8949 §4.2.1). `n` ≤ 2^53 − 1. */
  head (major: number, n: number): void {
    this.room(9)
    const m = major << 5
    const b = this.bytes
    if (n < 24) {
      b[this.at++] = m | n
    } else if (n < 0x100) {
      b[this.at++] = m | 24
      b[this.at++] = n
    } else if (n < 0x10000) {
      b[this.at++] = m | 25
      b[this.at++] = n >>> 8
      b[this.at++] = n & 0xff
    } else if (n < 0x100000000) {
      b[this.at++] = m | 26
      b[this.at++] = n >>> 24
      b[this.at++] = (n >>> 16) & 0xff
      b[this.at++] = (n >>> 8) & 0xff
      b[this.at++] = n & 0xff
    } else {
      b[this.at++] = m | 27
      const hi = Math.floor(n / 0x100000000)
      const lo = n >>> 0
      for (const w of [hi, lo]) {
        b[this.at++] = w >>> 24
        b[this.at++] = (w >>> 16) & 0xff
        b[this.at++] = (w >>> 8) & 0xff
        b[this.at++] = w & 0xff
      }
    }
  }

  text (s: string): void {
    let ascii = true
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) >= 0x80) { ascii = false; break }
    }
    if (ascii) {
      this.head(3, s.length)
      this.room(s.length)
      for (let i = 0; i < s.length; i++) this.bytes[this.at++] = s.charCodeAt(i)
      return
    }
    const utf8 = Buffer.from(s, 'utf8')
    this.head(3, utf8.length)
    this.raw(utf8)
  }
}

/** `{ id, outcomes }` in canonical CBOR, outcome by outcome, with no intermediate objects. */
export function encodeSubmitAnswer (id: number, outcomes: SubmitAnswer[]): Uint8Array {
  const w = new Writer(16 + outcomes.length * 128)
  w.byte(0xa2)
  w.raw(K_ID)
  w.head(0, id)
  w.raw(K_OUTCOMES)
  w.head(4, outcomes.length)
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomeWireFields(outcomes[i] as SubmitAnswer, i)
    const keys = Object.keys(o)
    w.head(5, keys.length)
    for (const k of keys) {
      w.raw(FIELD_KEYS[k] as Uint8Array)
      const v = o[k] as string | number | boolean
      if (typeof v === 'number') w.head(0, v)
      else if (typeof v === 'boolean') w.byte(v ? TRUE : FALSE)
      else w.text(v)
    }
  }
  return w.bytes.slice(0, w.at)
}

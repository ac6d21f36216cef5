/**
 * A verify thread's fast yes: is this envelope, byte for byte, a well-formed StockIn or Close
 * that `openRecordUnverified` would accept? It walks the bytes once against the record
 * schema itself (fixed key sets, shortest-form heads, field ranges, sorted lists, the
 * Close's arithmetic) and builds nothing: no decoded value, no record, no error.
 *
 * It answers only "yes" (the field layout) or "not sure" (null). On null the caller asks
 * `openRecordUnverified`, which stays the one definition of what is valid and gives the
 * reason for a refusal; a valid record in a form this walk does not know (non-ASCII text,
 * say) is then accepted there all the same. So the one property that matters: this never
 * says yes where `openRecordUnverified` says no (the tests hold it to that on mutated and
 * random records), and it says yes to every record a till signs (so the fast path is the path).
 */
import { asciiString } from './asciiCache.ts'
import { compareBytes } from './canonical.ts'
import { DOC_N_MAX, ENTRY_BYTES_MAX, HASH_BYTES, LINES_MAX, MEMBERS_MAX, SEQ_MAX, TAX_RATES_MAX } from './constants.ts'
import { isBusinessDay, STORE_RE, TILL_NO_MAX } from './ids.ts'
import { isPointsMember, MONEY_MAX, QTY_MAX } from './records.ts'
import type { EnvelopeLayout } from './trusted.ts'
import { ID_RE, SKU_RE } from './validate.ts'

/** Where an accepted envelope's fields are, as offsets into its bytes, and its kind. */
export interface RecordLayout extends EnvelopeLayout {
  kind: 'stockIn' | 'close'
}

const EMPTY = new Uint8Array(0)
/** The bytes being walked and the position in them (registers: nothing allocated per item). */
let B: Uint8Array = EMPTY
let P = 0

/**
 * The argument of the next item's head if it has major type `major`, in shortest form and
 * at most 2^53 - 1; else -1 (and P is left wherever: the caller gives up).
 */
function head (major: number): number {
  if (P >= B.length) return -1
  const first = B[P] as number
  if (first >> 5 !== major) return -1
  const info = first & 0x1f
  if (info < 24) {
    P++
    return info
  }
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
  if (size === 0 || P + 1 + size > B.length) return -1
  let v = 0
  for (let i = 1; i <= size; i++) v = v * 256 + (B[P + i] as number)
  const min = size === 1 ? 24 : size === 2 ? 0x100 : size === 4 ? 0x10000 : 0x100000000
  if (v < min || v > Number.MAX_SAFE_INTEGER) return -1
  P += 1 + size
  return v
}

/** The next item as an integer in [min, max], else NaN. */
function int (min: number, max: number): number {
  if (P >= B.length) return NaN
  const major = (B[P] as number) >> 5
  let v: number
  if (major === 0) {
    v = head(0)
    if (v < 0) return NaN
  } else if (major === 1) {
    const a = head(1)
    if (a < 0) return NaN
    v = -1 - a
  } else {
    return NaN
  }
  return v >= min && v <= max ? v : NaN
}

/** The next item as pure-ASCII text, else null. */
function text (): string | null {
  const n = head(3)
  if (n < 0 || P + n > B.length) return null
  const s = asciiString(B, P, P + n)
  P += n
  return s
}

/** Skips a byte string of exactly `length` bytes; its start, or -1. */
function bytesOf (length: number): number {
  if (head(2) !== length || P + length > B.length) return -1
  P += length
  return P - length
}

/** A key as it is encoded: head and ASCII name (every key is shorter than 24 bytes). */
function encodedKey (name: string): Uint8Array {
  return Uint8Array.from([0x60 + name.length, ...Array.from(name, c => c.charCodeAt(0))])
}

/** Skips the next key, which must be exactly `key` (encoded): compared as bytes, no string built. */
function keyIs (key: Uint8Array): boolean {
  if (P + key.length > B.length) return false
  for (let i = 0; i < key.length; i++) if (B[P + i] !== key[i]) return false
  P += key.length
  return true
}

const K_QTY = encodedKey('qty'); const K_SKU = encodedKey('sku'); const K_CARD = encodedKey('card'); const K_CASH = encodedKey('cash')
const K_RATE = encodedKey('rateBp'); const K_NET = encodedKey('netCents'); const K_TAX_CENTS = encodedKey('taxCents')
const K_MEMBER = encodedKey('member'); const K_POINTS = encodedKey('points')
const K_V = encodedKey('v'); const K_SIG = encodedKey('sig'); const K_BODY = encodedKey('body'); const K_KIND = encodedKey('kind'); const K_SIGNER = encodedKey('signer')

const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)

/** Skips a text that matches SKU_RE (`[A-Za-z0-9][A-Za-z0-9._-]{0,39}`), checked byte by byte; its start, or -1. */
function sku (): number {
  const n = head(3)
  if (n < 1 || n > 40 || P + n > B.length) return -1
  if (!isAlnum(B[P] as number)) return -1
  for (let i = 1; i < n; i++) {
    const c = B[P + i] as number
    if (!isAlnum(c) && c !== 0x2e && c !== 0x5f && c !== 0x2d) return -1
  }
  P += n
  return P - n
}

/** A list of { sku, qty } sorted by sku with no repeats, no qty 0 (as validateRecord's skuQtys). */
function skuLines (allowNegative: boolean): boolean {
  const n = head(4)
  if (n < 0 || n > LINES_MAX) return false
  let prevStart = -1
  let prevEnd = -1
  for (let i = 0; i < n; i++) {
    if (head(5) !== 2 || !keyIs(K_QTY)) return false
    const qty = int(allowNegative ? -QTY_MAX : 0, QTY_MAX)
    if (Number.isNaN(qty) || qty === 0 || !keyIs(K_SKU)) return false
    const start = sku()
    // ASCII, so the string order validateRecord checks is the bytes' order.
    if (start < 0 || (prevStart >= 0 && compareBytes(B, prevStart, prevEnd, start, P) >= 0)) return false
    prevStart = start
    prevEnd = P
  }
  return true
}

// The record's fields, one bit each; a record must have every field of its kind, once.
const F_V = 1 << 0; const F_KIND = 1 << 1; const F_STORE = 1 << 2; const F_TILL = 1 << 3; const F_DAY = 1 << 4
const F_SEQ = 1 << 5; const F_PREV = 1 << 6; const F_AT = 1 << 7; const F_REPL = 1 << 8; const F_SHIPPED = 1 << 9
const F_RECEIVED = 1 << 10; const F_DOC_FIRST = 1 << 11; const F_DOC_LAST = 1 << 12; const F_SALES = 1 << 13
const F_REFUND_COUNT = 1 << 14; const F_TAKINGS = 1 << 15; const F_TAX = 1 << 16; const F_REFUNDS = 1 << 17
const F_COUNTED = 1 << 18; const F_CONSUMED = 1 << 19; const F_POINTS = 1 << 20
const HEADER = F_V | F_KIND | F_STORE | F_TILL | F_DAY | F_SEQ | F_PREV | F_AT
const STOCK_IN = HEADER | F_REPL | F_SHIPPED | F_RECEIVED
const CLOSE = HEADER | F_DOC_FIRST | F_DOC_LAST | F_SALES | F_REFUND_COUNT | F_TAKINGS | F_TAX | F_REFUNDS | F_COUNTED | F_CONSUMED | F_POINTS
const FIELDS_STOCK_IN = 11
const FIELDS_CLOSE = 18

const FIELD_NAMES = ['v', 'kind', 'store', 'till', 'businessDay', 'seq', 'prevHash', 'atMs', 'replenishmentId', 'shipped', 'received',
  'docFirst', 'docLast', 'saleCount', 'refundCount', 'takingsCents', 'tax', 'refundsCents', 'cashCountedCents', 'consumed', 'points']
/** Field names by (length, first letter), each with the names that share them (at most a few). */
const fieldsByCode = new Map<number, Array<{ name: string, key: Uint8Array }>>()
for (const name of FIELD_NAMES) {
  const code = name.length * 256 + name.charCodeAt(0)
  fieldsByCode.set(code, [...(fieldsByCode.get(code) ?? []), { name, key: encodedKey(name) }])
}

/** Skips the next key if it is one of a record's field names, and returns that name (the constant: no string built); else null. */
function fieldName (): string | null {
  if (P + 1 >= B.length) return null
  const first = B[P] as number
  if (first >> 5 !== 3 || (first & 0x1f) >= 24) return null
  const candidates = fieldsByCode.get((first & 0x1f) * 256 + (B[P + 1] as number))
  if (candidates === undefined) return null
  for (const c of candidates) if (keyIs(c.key)) return c.name
  return null
}

/** The record in B (all of it), of the envelope's kind. */
function record (kind: 'stockIn' | 'close'): boolean {
  const fields = head(5)
  if (fields !== (kind === 'close' ? FIELDS_CLOSE : FIELDS_STOCK_IN)) return false
  let seen = 0
  let prevKeyStart = -1
  let prevKeyEnd = -1
  let seq = 0; let prevHashAt = -1
  let docFirst = 0; let docLast = 0; let sales = 0; let refunds = 0
  let takings = 0; let taxed = 0
  for (let f = 0; f < fields; f++) {
    const keyStart = P
    const key = fieldName()
    if (key === null) return false
    // Canonical order: encoded keys strictly ascending, bytewise.
    if (prevKeyStart >= 0 && compareBytes(B, prevKeyStart, prevKeyEnd, keyStart, P) >= 0) return false
    prevKeyStart = keyStart
    prevKeyEnd = P
    let bit: number
    let ok: boolean
    switch (key) {
      case 'v': bit = F_V; ok = int(1, 1) === 1; break
      case 'kind': bit = F_KIND; ok = text() === kind; break
      case 'store': { bit = F_STORE; const s = text(); ok = s !== null && STORE_RE.test(s); break }
      case 'till': bit = F_TILL; ok = !Number.isNaN(int(1, TILL_NO_MAX)); break
      case 'businessDay': { bit = F_DAY; const s = text(); ok = s !== null && isBusinessDay(s); break }
      case 'seq': bit = F_SEQ; seq = int(1, SEQ_MAX); ok = !Number.isNaN(seq); break
      case 'prevHash': bit = F_PREV; prevHashAt = bytesOf(HASH_BYTES); ok = prevHashAt >= 0; break
      case 'atMs': bit = F_AT; ok = !Number.isNaN(int(0, Number.MAX_SAFE_INTEGER)); break
      case 'replenishmentId': { bit = F_REPL; const s = text(); ok = s !== null && s.length <= 64 && ID_RE.test(s); break }
      case 'shipped': bit = F_SHIPPED; ok = skuLines(false); break
      case 'received': bit = F_RECEIVED; ok = skuLines(false); break
      case 'docFirst': bit = F_DOC_FIRST; docFirst = int(1, DOC_N_MAX); ok = !Number.isNaN(docFirst); break
      // Its lower bound (docFirst - 1) is checked once every field is in.
      case 'docLast': bit = F_DOC_LAST; docLast = int(0, DOC_N_MAX); ok = !Number.isNaN(docLast); break
      case 'saleCount': bit = F_SALES; sales = int(0, DOC_N_MAX); ok = !Number.isNaN(sales); break
      case 'refundCount': bit = F_REFUND_COUNT; refunds = int(0, DOC_N_MAX); ok = !Number.isNaN(refunds); break
      case 'takingsCents': {
        bit = F_TAKINGS
        ok = false
        if (head(5) !== 2 || !keyIs(K_CARD)) break
        const card = int(-MONEY_MAX, MONEY_MAX)
        if (Number.isNaN(card) || !keyIs(K_CASH)) break
        const cash = int(-MONEY_MAX, MONEY_MAX)
        if (Number.isNaN(cash)) break
        takings = cash + card
        ok = true
        break
      }
      case 'tax': {
        bit = F_TAX
        ok = false
        const n = head(4)
        if (n < 0 || n > TAX_RATES_MAX) break
        let prevRate = -1
        let i = 0
        for (; i < n; i++) {
          if (head(5) !== 3 || !keyIs(K_RATE)) break
          const rateBp = int(0, 10_000)
          if (Number.isNaN(rateBp) || rateBp <= prevRate || !keyIs(K_NET)) break
          prevRate = rateBp
          const net = int(-MONEY_MAX, MONEY_MAX)
          if (Number.isNaN(net) || !keyIs(K_TAX_CENTS)) break
          const tax = int(-MONEY_MAX, MONEY_MAX)
          if (Number.isNaN(tax)) break
          taxed += net + tax
        }
        ok = i === n
        break
      }
      case 'refundsCents': bit = F_REFUNDS; ok = !Number.isNaN(int(0, MONEY_MAX)); break
      case 'cashCountedCents': bit = F_COUNTED; ok = !Number.isNaN(int(-MONEY_MAX, MONEY_MAX)); break
      case 'consumed': bit = F_CONSUMED; ok = skuLines(true); break
      case 'points': {
        bit = F_POINTS
        ok = false
        const n = head(4)
        if (n < 0 || n > MEMBERS_MAX) break
        let prev = ''
        let i = 0
        for (; i < n; i++) {
          if (head(5) !== 2 || !keyIs(K_MEMBER)) break
          const member = text()
          if (member === null || member.length > 24 || !isPointsMember(member) || (i > 0 && !(prev < member)) || !keyIs(K_POINTS)) break
          prev = member
          if (Number.isNaN(int(1, QTY_MAX))) break
        }
        ok = i === n
        break
      }
      default: return false
    }
    if (!ok || (seen & bit) !== 0) return false
    seen |= bit
  }
  if (P !== B.length || seen !== (kind === 'close' ? CLOSE : STOCK_IN)) return false
  if (seq === 1) {
    for (let i = 0; i < HASH_BYTES; i++) if (B[prevHashAt + i] !== 0) return false
  }
  if (kind === 'close') {
    if (docLast < docFirst - 1 || sales + refunds !== docLast - docFirst + 1 || takings !== taxed) return false
  }
  return true
}

/**
 * The layout of `bytes` if it is an envelope `openRecordUnverified` accepts (its signature
 * not checked), else null: not sure, ask `openRecordUnverified`.
 */
export function acceptRecordEnvelope (bytes: Uint8Array): RecordLayout | null {
  if (!(bytes instanceof Uint8Array) || bytes.length > ENTRY_BYTES_MAX) return null
  B = bytes
  P = 0
  try {
    // { v, sig, body, kind, signer }: the envelope's only keys, in canonical order.
    if (head(5) !== 5 || !keyIs(K_V) || int(1, 1) !== 1 || !keyIs(K_SIG)) return null
    const sigStart = bytesOf(64)
    if (sigStart < 0 || !keyIs(K_BODY)) return null
    const bodyLength = head(2)
    if (bodyLength < 0 || P + bodyLength > B.length) return null
    const bodyStart = P
    const bodyEnd = P + bodyLength
    P = bodyEnd
    if (!keyIs(K_KIND)) return null
    const kind = text()
    if ((kind !== 'close' && kind !== 'stockIn') || !keyIs(K_SIGNER)) return null
    const signerStart = bytesOf(32)
    if (signerStart < 0 || P !== B.length) return null
    B = bytes.subarray(bodyStart, bodyEnd)
    P = 0
    if (!record(kind)) return null
    return { kind, bodyStart, bodyEnd, signerStart, sigStart }
  } finally {
    B = EMPTY
  }
}

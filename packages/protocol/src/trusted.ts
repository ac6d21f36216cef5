/**
 * Reading bytes that were checked before, elsewhere: an entry envelope that already passed
 * `openEntry` (canonical CBOR, every field validated) on one of HQ's verify workers. The
 * main thread then needs the record back, and rebuilding it from the checked bytes costs a
 * few µs instead of the ~35 µs of checking them again, or the ~15 µs of a structured clone.
 *
 * Nothing here checks anything beyond what it needs not to read out of bounds: never
 * call these on bytes that did not pass `openEntry` (or `unseal` for the layout).
 */
import { asciiString } from './asciiCache.ts'
import { MalformedError } from './errors.ts'
import { canonicalDecode, toHex, type Canonical } from './canonical.ts'
import { unseal } from './envelope.ts'
import type { Entry } from './entry.ts'
import { validateRecord, type Close, type StockIn, type TillRecord } from './records.ts'
import type { BusinessDay, EntryHash, StoreId, TillId } from './ids.ts'
import type { PublicKey } from './keys.ts'

/**
 * An HQ-signed envelope's kind, signer and decoded body, to be checked by the caller
 * (certificates, orders). Unsealed, verifying the signature if asked; or, for bytes that
 * passed before (`checked` and not verifying: HQ's own fsync'd log), read without
 * re-checking that the CBOR is canonical.
 */
export function openSealed (bytes: Uint8Array, opts: { verify: boolean, checked?: boolean }): { kind: string, signer: Uint8Array, value: Canonical } {
  if (opts.checked === true && !opts.verify) {
    const l = envelopeLayout(bytes)
    const value = decodeChecked(bytes.subarray(l.bodyStart, l.bodyEnd))
    const kind = value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array) ? String(value.kind) : ''
    return { kind, signer: bytes.subarray(l.signerStart, l.signerStart + 32), value }
  }
  const opened = unseal(bytes, { verify: opts.verify })
  return { kind: opened.kind, signer: opened.signer, value: opened.value }
}

/** Where an envelope's fields lie in its bytes (half-open ranges). */
export interface EnvelopeLayout {
  bodyStart: number
  bodyEnd: number
  signerStart: number
  sigStart: number
}

const EMPTY = new Uint8Array(0)
let B: Uint8Array = EMPTY
let P = 0

function untrusted (): never {
  throw new MalformedError('bytes given as checked are not a checked entry')
}

function arg (info: number): number {
  if (info < 24) return info
  const b = B
  const p = P
  if (info === 24) { P = p + 1; return b[p] as number }
  if (info === 25) { P = p + 2; return ((b[p] as number) << 8) | (b[p + 1] as number) }
  if (info === 26) { P = p + 4; return (b[p] as number) * 0x1000000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number)) }
  if (info === 27) {
    P = p + 8
    const hi = (b[p] as number) * 0x1000000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number))
    const lo = (b[p + 4] as number) * 0x1000000 + (((b[p + 5] as number) << 16) | ((b[p + 6] as number) << 8) | (b[p + 7] as number))
    return hi * 0x100000000 + lo
  }
  return untrusted()
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function text (n: number): string {
  const start = P
  const end = start + n
  if (end > B.length) untrusted()
  P = end
  // Every string a valid record holds is ASCII (ids, skus, days, phone numbers).
  return asciiString(B, start, end) ?? utf8.decode(B.subarray(start, end))
}

function item (): Canonical {
  if (P >= B.length) untrusted()
  const first = B[P++] as number
  const major = first >> 5
  const info = first & 0x1f
  switch (major) {
    case 0: return arg(info)
    case 1: return -1 - arg(info)
    case 2: {
      const n = arg(info)
      if (P + n > B.length) untrusted()
      const v = B.subarray(P, P + n)
      P += n
      return v
    }
    case 3: return text(arg(info))
    case 4: {
      const n = arg(info)
      const a: Canonical[] = []
      for (let i = 0; i < n; i++) a.push(item())
      return a
    }
    case 5: {
      const n = arg(info)
      const o: { [key: string]: Canonical } = {}
      for (let i = 0; i < n; i++) {
        const k = item()
        if (typeof k !== 'string' || k === '__proto__') untrusted()
        o[k] = item()
      }
      return o
    }
    case 7:
      if (info === 20) return false
      if (info === 21) return true
      if (info === 22) return null
  }
  return untrusted()
}

/** Decode canonical CBOR that was checked before (byte strings are views into `bytes`). */
export function decodeChecked (bytes: Uint8Array): Canonical {
  B = bytes
  P = 0
  try {
    const v = item()
    if (P !== bytes.length) untrusted()
    return v
  } finally {
    B = EMPTY
  }
}

/** The field ranges of an envelope that `unseal` accepted. */
export function envelopeLayout (bytes: Uint8Array): EnvelopeLayout {
  B = bytes
  P = 0
  try {
    const first = B[P++] as number
    if (first >> 5 !== 5) untrusted()
    const n = arg(first & 0x1f)
    let bodyStart = -1
    let bodyEnd = -1
    let signerStart = -1
    let sigStart = -1
    // Positions only: no key string, no view made (a rebuild reads millions of envelopes).
    for (let i = 0; i < n; i++) {
      const keyFirst = B[P] as number
      if (keyFirst >> 5 !== 3) untrusted()
      P++
      const keyLength = arg(keyFirst & 0x1f)
      const keyAt = P
      P += keyLength
      const valueFirst = B[P] as number
      if (valueFirst >> 5 !== 2) {
        skip()
        continue
      }
      P++
      const length = arg(valueFirst & 0x1f)
      const begin = P
      P += length
      if (P > B.length) untrusted()
      if (isKey(keyAt, keyLength, BODY)) {
        bodyStart = begin
        bodyEnd = P
      } else if (length === 32 && isKey(keyAt, keyLength, SIGNER)) signerStart = begin
      else if (length === 64 && isKey(keyAt, keyLength, SIG)) sigStart = begin
    }
    if (bodyStart < 0 || signerStart < 0 || sigStart < 0 || P !== bytes.length) untrusted()
    return { bodyStart, bodyEnd, signerStart, sigStart }
  } finally {
    B = EMPTY
  }
}

const BODY = new TextEncoder().encode('body')
const SIGNER = new TextEncoder().encode('signer')
const SIG = new TextEncoder().encode('sig')

/** Whether the key of `length` bytes at `at` is `name`. */
function isKey (at: number, length: number, name: Uint8Array): boolean {
  if (length !== name.length) return false
  for (let i = 0; i < length; i++) if (B[at + i] !== name[i]) return false
  return true
}

/**
 * Field names by (length, first byte): unique within each map of a valid record, which is
 * all this reader ever sees. Reading keys this way builds no key strings.
 */
const k = (name: string): number => name.length * 256 + name.charCodeAt(0)
const K_V = k('v'); const K_KIND = k('kind'); const K_STORE = k('store'); const K_TILL = k('till'); const K_DAY = k('businessDay')
const K_SEQ = k('seq'); const K_PREV = k('prevHash'); const K_AT = k('atMs'); const K_REPL = k('replenishmentId'); const K_SHIPPED = k('shipped')
const K_RECEIVED = k('received'); const K_DOC_FIRST = k('docFirst'); const K_DOC_LAST = k('docLast'); const K_SALES = k('saleCount')
const K_REFUND_COUNT = k('refundCount'); const K_TAKINGS = k('takingsCents'); const K_TAX = k('tax'); const K_REFUNDS = k('refundsCents')
const K_COUNTED = k('cashCountedCents'); const K_CONSUMED = k('consumed'); const K_POINTS = k('points')
const K_SKU = k('sku'); const K_QTY = k('qty'); const K_RATE = k('rateBp'); const K_NET = k('netCents'); const K_TAX_CENTS = k('taxCents')
const K_MEMBER = k('member')

/** The code of the next key (a text string), skipping over it. */
function key (): number {
  const first = B[P++] as number
  if (first >> 5 !== 3) untrusted()
  const n = arg(first & 0x1f)
  const code = n * 256 + (B[P] as number)
  P += n
  return code
}

function count (major: number): number {
  const first = B[P++] as number
  if (first >> 5 !== major) untrusted()
  return arg(first & 0x1f)
}

function int (): number {
  const first = B[P++] as number
  const major = first >> 5
  if (major === 0) return arg(first & 0x1f)
  if (major === 1) return -1 - arg(first & 0x1f)
  return untrusted()
}

function txt (): string {
  return text(count(3))
}

function view (): Uint8Array {
  const n = count(2)
  if (P + n > B.length) untrusted()
  P += n
  return B.subarray(P - n, P)
}

function skuLines (): Array<{ sku: string, qty: number }> {
  const out: Array<{ sku: string, qty: number }> = []
  for (let n = count(4); n > 0; n--) {
    let sku = ''
    let qty = 0
    for (let f = count(5); f > 0; f--) {
      const c = key()
      if (c === K_SKU) sku = txt()
      else if (c === K_QTY) qty = int()
      else untrusted()
    }
    out.push({ sku, qty })
  }
  return out
}

function readRecord (): TillRecord {
  let kind = ''; let store = ''; let till = 0; let businessDay = ''; let seq = 0; let atMs = 0
  let prevHash: Uint8Array = new Uint8Array(0)
  let replenishmentId = ''; let shipped: SkuLines = []; let received: SkuLines = []
  let docFirst = 0; let docLast = 0; let saleCount = 0; let refundCount = 0; let refundsCents = 0; let cashCountedCents = 0
  let cash = 0; let card = 0
  const tax: Close['tax'] = []; let consumed: SkuLines = []; const points: Close['points'] = []
  for (let f = count(5); f > 0; f--) {
    switch (key()) {
      case K_V: if (int() !== 1) untrusted(); break
      case K_KIND: kind = txt(); break
      case K_STORE: store = txt(); break
      case K_TILL: till = int(); break
      case K_DAY: businessDay = txt(); break
      case K_SEQ: seq = int(); break
      case K_PREV: prevHash = view(); break
      case K_AT: atMs = int(); break
      case K_REPL: replenishmentId = txt(); break
      case K_SHIPPED: shipped = skuLines(); break
      case K_RECEIVED: received = skuLines(); break
      case K_DOC_FIRST: docFirst = int(); break
      case K_DOC_LAST: docLast = int(); break
      case K_SALES: saleCount = int(); break
      case K_REFUND_COUNT: refundCount = int(); break
      case K_REFUNDS: refundsCents = int(); break
      case K_COUNTED: cashCountedCents = int(); break
      case K_CONSUMED: consumed = skuLines(); break
      case K_TAKINGS:
        for (let g = count(5); g > 0; g--) {
          // 'cash' and 'card' share length and first letter: the third tells them apart.
          const third = B[P + 3] as number
          key()
          if (third === 0x73) cash = int()
          else card = int()
        }
        break
      case K_TAX:
        for (let n = count(4); n > 0; n--) {
          let rateBp = 0; let netCents = 0; let taxCents = 0
          for (let g = count(5); g > 0; g--) {
            const c = key()
            if (c === K_RATE) rateBp = int()
            else if (c === K_NET) netCents = int()
            else if (c === K_TAX_CENTS) taxCents = int()
            else untrusted()
          }
          tax.push({ rateBp, netCents, taxCents })
        }
        break
      case K_POINTS:
        for (let n = count(4); n > 0; n--) {
          let member = ''; let pts = 0
          for (let g = count(5); g > 0; g--) {
            const c = key()
            if (c === K_MEMBER) member = txt()
            else if (c === K_POINTS) pts = int()
            else untrusted()
          }
          points.push({ member, points: pts })
        }
        break
      default: untrusted()
    }
  }
  if (P !== B.length) untrusted()
  // The shape and key order of validateRecord's result.
  if (kind === 'stockIn') {
    const r: StockIn = { v: 1, store: store as StoreId, till, businessDay: businessDay as BusinessDay, seq, prevHash, atMs, kind, replenishmentId, shipped, received }
    return r
  }
  if (kind !== 'close') untrusted()
  const r: Close = {
    v: 1, store: store as StoreId, till, businessDay: businessDay as BusinessDay, seq, prevHash, atMs, kind,
    docFirst, docLast, saleCount, refundCount, takingsCents: { cash, card }, tax, refundsCents, cashCountedCents, consumed, points
  }
  return r
}

type SkuLines = Array<{ sku: string, qty: number }>

/**
 * The record of a body that `validateRecord` accepted: the same value, in the same shape
 * and key order as `validateRecord` returns (prevHash is a view into `body`).
 */
export function checkedRecord (body: Uint8Array): TillRecord {
  B = body
  P = 0
  try {
    return readRecord()
  } catch (err) {
    if (!(err instanceof MalformedError)) throw err
  } finally {
    B = EMPTY
  }
  // A field the fast reader does not know (a Close's card totals, late declines, expiries):
  // read the general way, every field checked again (a few tens of µs, for those Closes only).
  return validateRecord(canonicalDecode(body))
}

/** Skips one item (checked bytes: bounds only). */
function skip (): void {
  if (P >= B.length) untrusted()
  const first = B[P++] as number
  const major = first >> 5
  const n = arg(first & 0x1f)
  if (major === 2 || major === 3) P += n
  else if (major === 4) for (let i = 0; i < n; i++) skip()
  else if (major === 5) for (let i = 0; i < 2 * n; i++) skip()
  if (P > B.length) untrusted()
}

/** The store, till and seq of a checked record body (registers, read by CheckedEntry's constructor). */
let H_STORE = ''
let H_TILL = 0
let H_SEQ = 0

/** Reads only the header fields that name the entry; the rest of the body is skipped, not decoded. */
function readIdentity (): void {
  let found = 0
  for (let f = count(5); f > 0 && found < 3; f--) {
    switch (key()) {
      case K_STORE: H_STORE = txt(); found++; break
      case K_TILL: H_TILL = int(); found++; break
      case K_SEQ: H_SEQ = int(); found++; break
      default: skip()
    }
  }
  if (found < 3) untrusted()
}

/**
 * The Entry of an envelope accepted before (by a verify thread, or when it was logged),
 * from its checked bytes and its entry hash: no validation, no hashing. Only what names
 * the entry (till, seq) is read at once; the record is decoded when first asked for, and
 * body, signer and sig are views made on demand. HQ holds thousands of entries in flight
 * between their check and their fold (the fsync between): kept this small, they no
 * longer fill the young generation that every scavenge copies.
 */
export class CheckedEntry implements Entry {
  readonly bytes: Uint8Array
  readonly hash: EntryHash
  readonly hashBytes: Uint8Array
  readonly tillId: TillId
  readonly seq: number
  readonly #bodyStart: number
  readonly #bodyEnd: number
  readonly #signerStart: number
  readonly #sigStart: number
  #record: TillRecord | null = null

  constructor (bytes: Uint8Array, hashBytes: Uint8Array, hashHex: string) {
    const l = envelopeLayout(bytes)
    B = bytes.subarray(l.bodyStart, l.bodyEnd)
    P = 0
    try {
      readIdentity()
    } finally {
      B = EMPTY
    }
    this.bytes = bytes
    this.hash = hashHex as EntryHash
    this.hashBytes = hashBytes
    this.tillId = `${H_STORE}-${H_TILL}` as TillId
    this.seq = H_SEQ
    this.#bodyStart = l.bodyStart
    this.#bodyEnd = l.bodyEnd
    this.#signerStart = l.signerStart
    this.#sigStart = l.sigStart
  }

  get record (): TillRecord {
    this.#record ??= checkedRecord(this.body)
    return this.#record
  }

  get body (): Uint8Array { return this.bytes.subarray(this.#bodyStart, this.#bodyEnd) }
  get signer (): PublicKey { return this.bytes.subarray(this.#signerStart, this.#signerStart + 32) as PublicKey }
  get sig (): Uint8Array { return this.bytes.subarray(this.#sigStart, this.#sigStart + 64) }
}

/** `new CheckedEntry`: see there. */
export function checkedEntry (bytes: Uint8Array, hashBytes: Uint8Array, hashHex: string = toHex(hashBytes)): Entry {
  return new CheckedEntry(bytes, hashBytes, hashHex)
}

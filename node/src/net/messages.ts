/**
 * The tillbooks protocols and their messages. Each frame's payload is one canonical CBOR
 * map (protocol's canonicalEncode / canonicalDecode: no floats, no tags, sorted keys). Every
 * frame carries `id`: a request's id (1 and up, chosen by the client, unique per stream) is
 * echoed in its answer, so many requests can be in flight on one stream and be answered in
 * any order. An answer is the protocol's own map or, for any protocol, `{ id, error }`.
 * `id` 0 in an error means "about the stream, not one request" (an undecodable frame).
 *
 * Decoders check every field's presence, type and bound and refuse unknown fields; they
 * throw ProtocolError with a code and a reason that names the field.
 */
import {
  canonicalDecode, canonicalEncode, ENTRY_BYTES_MAX, GRANT_BYTES_MAX, GRANT_ID_RE, ID_RE, MEMBER_ID_RE, parseTillId, QTY_MAX, SEQ_MAX, TILL_INSTANCE_RE,
  type Canonical
} from '@tillbooks/protocol'
import { clipReason, encodeSubmitAnswer } from './answerEncoding.ts'
import { AM_SYNC_MESSAGE_BYTES_MAX, CODE_RE, HEADS_MAX, LOG_ANSWER_ENTRIES_MAX, REASON_CHARS_MAX, REPLENISHMENT_PAGE_MAX, SUBMIT_ENTRIES_MAX } from './limits.ts'

export const PROTOCOLS = {
  submit: '/tillbooks/submit/1.0.0',
  log: '/tillbooks/log/1.0.0',
  heads: '/tillbooks/heads/1.0.0',
  replenishment: '/tillbooks/replenishment/1.0.0',
  /** Automerge's sync protocol for till logs: one sync message each way per request (../sync/DocSync.ts). */
  amSync: '/tillbooks/am-sync/1.0.0',
  /** A till asks HQ to grant it rights over a member's points (its peer id is its key: HQ knows who asks). */
  rights: '/tillbooks/rights/1.0.0',
  /** A till asks the till that issued a receipt to consent to a return of its lines (or tells it of one made without). */
  returns: '/tillbooks/returns/1.0.0',
  /** HQ replicas: a signed hello, summaries, and HQ's own records (../hq/HqReplication.ts reads the bodies). */
  replica: '/tillbooks/hq-replica/1.0.0'
} as const
export type ProtocolName = keyof typeof PROTOCOLS

/**
 * Codes of error answers: MALFORMED, OVERSIZED (bad request), NO_HANDLER, HANDLER_FAILED,
 * TIMEOUT (the handler's deadline), BUSY (load shed; retry later). Client-side failures add
 * TIMEOUT (the call's deadline), CLOSED, STOPPED and DIAL.
 */

/** Bad input on the wire: a frame or field that breaks the protocol. */
export class ProtocolError extends Error {
  override name = 'ProtocolError'
  readonly code: 'MALFORMED' | 'OVERSIZED'
  constructor (code: 'MALFORMED' | 'OVERSIZED', message: string) {
    super(message)
    this.code = code
  }
}

export type SubmitStatus = 'accepted' | 'duplicate' | 'rejected'
/** One entry's fate, as the server's submit handler gave it (HqNode's SubmitOutcome fits). */
export interface SubmitAnswer {
  status: SubmitStatus
  seq?: number
  code?: string
  reason?: string
  /** Additions carried when the handler gives them (HqNode does). */
  tillId?: string
  hash?: string
  folded?: boolean
}
export interface LogHead { tillId: string, seq: number, hash: string }

export interface SubmitRequest { id: number, entries: Uint8Array[] }
/**
 * `stream` (absent: the till's log entries) `approvals`: the till's signed card approvals,
 * paged by position (afterSeq = how many the client has), which HQ asks only when a till's
 * card totals do not match a settlement (../hq/HqSettlements.ts).
 */
export interface LogRequest { id: number, tillId: string, afterSeq: number, stream?: 'approvals' }
export interface HeadsRequest { id: number, heads: LogHead[] }
export interface ReplenishmentRequest { id: number, store: string, afterId: string | null }
/** Rights over `points` of `member` for till instance `till`, as grant `grantId` (the same id again: the same grant). */
export interface RightsRequest { id: number, grantId: string, member: string, till: string, points: number }
/** Rights a till gives back (its return number `returnId`), told straight away. */
export interface RightsReturnRequest { id: number, returnId: string, member: string, till: string, points: number }
/** The member id of a phone number a customer gave at the till (HQ enrols them if new): the number goes no further. */
export interface MemberLookupRequest { id: number, phone: string }
/** What a phone number may look like before HQ normalises it (E.164 with spaces, dashes, brackets). */
export const PHONE_INPUT_RE = /^\+?[0-9 ()-]{6,40}$/
/**
 * A return of `lines` of a receipt (its COSE bytes) as refund `refund` (the asking till's document
 * number): asked before it is made (`made` false: the issuer consents or refuses), or told after
 * it was made without consent (`made` true: the issuer records it, flagging lines refunded twice).
 * `cert`: the asking till's certificate (HQ-signed): only an enrolled till, whose key its peer id is, is heard.
 */
export interface ReturnRequest { id: number, refund: string, receipt: Uint8Array, lines: Array<{ sku: string, qty: number }>, made: boolean, cert: Uint8Array }
/** The receipt's lines are in this return's limits, and a receipt's COSE bytes in this. */
export const RETURN_LINES_MAX = 200
export const RECEIPT_BYTES_MAX = 6_144
export const CERT_BYTES_MAX = 1_024
/** One Automerge sync message about one till's document; null: the sender has nothing to say. */
export interface AmSyncRequest { id: number, doc: string, msg: Uint8Array | null }

export interface LogPage { entries: Uint8Array[], lastSeq: number, more: boolean }
export interface ReplenishmentPage { orders: Uint8Array[], lastId: string | null, more: boolean }
export interface ErrorAnswer { code: string, reason: string }

type Obj = { [key: string]: Canonical }

// ---------------------------------------------------------------- field checks

function bad (message: string): never {
  throw new ProtocolError('MALFORMED', message)
}

function fields (v: Canonical | undefined, path: string, required: readonly string[], optional: readonly string[] = []): Obj {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) bad(`${path} must be a map`)
  const o = v as Obj
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) bad(`${path}.${k.slice(0, 40)} is not a known field`)
  for (const k of required) if (!(k in o)) bad(`${path}.${k} is missing`)
  return o
}

function int (v: Canonical | undefined, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) bad(`${path} must be an integer in ${min}..${max}`)
  return v
}

function text (v: Canonical | undefined, path: string, max: number, re?: RegExp): string {
  if (typeof v !== 'string' || v.length > max || (re !== undefined && !re.test(v))) bad(`${path} must be text of at most ${max} characters${re !== undefined ? ` matching ${re}` : ''}`)
  return v
}

function bool (v: Canonical | undefined, path: string): boolean {
  if (typeof v !== 'boolean') bad(`${path} must be true or false`)
  return v
}

function list (v: Canonical | undefined, path: string, max: number): Canonical[] {
  if (!Array.isArray(v)) bad(`${path} must be a list`)
  if (v.length > max) throw new ProtocolError('OVERSIZED', `${path} has ${v.length} items, at most ${max}`)
  return v
}

function byteStrings (v: Canonical | undefined, path: string, max: number): Uint8Array[] {
  return list(v, path, max).map((b, i) => {
    if (!(b instanceof Uint8Array)) bad(`${path}[${i}] must be bytes`)
    return b
  })
}

function tillIdField (v: Canonical | undefined, path: string): string {
  const s = text(v, path, 24)
  try {
    parseTillId(s)
  } catch (err) {
    bad(`${path}: ${(err as Error).message}`)
  }
  return s
}

const HASH_RE = /^[0-9a-f]{64}$/
const STORE_RE = /^[A-Z][A-Z0-9]{0,15}$/
const STATUSES: readonly SubmitStatus[] = ['accepted', 'duplicate', 'rejected']

export { clipReason }

// ---------------------------------------------------------------- frames

/** Decode a frame's payload to a map with a request id. Throws ProtocolError; `idOf` then tells which request it was, if any. */
export function decodeFrame (payload: Uint8Array): Obj {
  let value: Canonical
  try {
    value = canonicalDecode(payload)
  } catch (err) {
    bad(`not canonical CBOR: ${(err as Error).message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) bad('a frame must be a map')
  return value
}

/** The request id in a decoded frame, or null when there is none usable. */
export function idOf (o: Obj): number | null {
  const id = o.id
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : null
}

export function encodeFrame (o: Obj): Uint8Array {
  return canonicalEncode(o)
}

export function encodeError (id: number, e: ErrorAnswer): Uint8Array {
  return canonicalEncode({ id, error: { code: CODE_RE.test(e.code) ? e.code : 'ERROR', reason: clipReason(e.reason) } })
}

/** An answer frame: `{ id, error }` or the protocol's own fields. */
export function decodeErrorIfAny (o: Obj): ErrorAnswer | null {
  if (!('error' in o)) return null
  fields(o, 'answer', ['id', 'error'])
  const e = fields(o.error, 'error', ['code', 'reason'])
  return { code: text(e.code, 'error.code', 32, CODE_RE), reason: text(e.reason, 'error.reason', REASON_CHARS_MAX) }
}

function requestId (o: Obj): number {
  return int(o.id, 'id', 1, Number.MAX_SAFE_INTEGER)
}

// ---------------------------------------------------------------- submit

export function encodeSubmitRequest (r: SubmitRequest): Uint8Array {
  return canonicalEncode({ id: r.id, entries: r.entries })
}

export function decodeSubmitRequest (o: Obj): SubmitRequest {
  fields(o, 'submit', ['id', 'entries'])
  // Entries larger than ENTRY_BYTES_MAX pass: the handler rejects them one by one, with a reason.
  return { id: requestId(o), entries: byteStrings(o.entries, 'entries', SUBMIT_ENTRIES_MAX) }
}

// Written by hand, byte for byte what canonicalEncode would write: see answerEncoding.ts.
export { encodeSubmitAnswer }

export function decodeSubmitAnswer (o: Obj, expected: number): SubmitAnswer[] {
  fields(o, 'answer', ['id', 'outcomes'])
  const outcomes = list(o.outcomes, 'outcomes', SUBMIT_ENTRIES_MAX)
  if (outcomes.length !== expected) bad(`${outcomes.length} outcomes for ${expected} entries`)
  return outcomes.map((v, i) => {
    const p = `outcomes[${i}]`
    const x = fields(v, p, ['status'], ['seq', 'code', 'reason', 'tillId', 'hash', 'folded'])
    const status = text(x.status, `${p}.status`, 16) as SubmitStatus
    if (!STATUSES.includes(status)) bad(`${p}.status is not one of ${STATUSES.join(', ')}`)
    const out: SubmitAnswer = { status }
    if ('seq' in x) out.seq = int(x.seq, `${p}.seq`, 0, SEQ_MAX)
    if ('code' in x) out.code = text(x.code, `${p}.code`, 32, CODE_RE)
    if ('reason' in x) out.reason = text(x.reason, `${p}.reason`, REASON_CHARS_MAX)
    if ('tillId' in x) out.tillId = tillIdField(x.tillId, `${p}.tillId`)
    if ('hash' in x) out.hash = text(x.hash, `${p}.hash`, 64, HASH_RE)
    if ('folded' in x) out.folded = bool(x.folded, `${p}.folded`)
    return out
  })
}

// ---------------------------------------------------------------- log

export function encodeLogRequest (r: LogRequest): Uint8Array {
  return canonicalEncode({ id: r.id, tillId: r.tillId, afterSeq: r.afterSeq, ...(r.stream !== undefined ? { stream: r.stream } : {}) })
}

export function decodeLogRequest (o: Obj): LogRequest {
  fields(o, 'log', ['id', 'tillId', 'afterSeq'], ['stream'])
  if ('stream' in o && o.stream !== 'approvals') bad('stream must be approvals (or absent: the log)')
  return { id: requestId(o), tillId: tillIdField(o.tillId, 'tillId'), afterSeq: int(o.afterSeq, 'afterSeq', 0, SEQ_MAX), ...('stream' in o ? { stream: 'approvals' as const } : {}) }
}

export function encodeLogAnswer (id: number, page: LogPage): Uint8Array {
  return canonicalEncode({ id, entries: page.entries, lastSeq: page.lastSeq, more: page.more })
}

export function decodeLogAnswer (o: Obj, afterSeq: number): LogPage {
  fields(o, 'answer', ['id', 'entries', 'lastSeq', 'more'])
  const entries = byteStrings(o.entries, 'entries', LOG_ANSWER_ENTRIES_MAX)
  for (const [i, e] of entries.entries()) if (e.length > ENTRY_BYTES_MAX) throw new ProtocolError('OVERSIZED', `entries[${i}] is ${e.length} bytes, at most ${ENTRY_BYTES_MAX}`)
  const lastSeq = int(o.lastSeq, 'lastSeq', 0, SEQ_MAX)
  const more = bool(o.more, 'more')
  // A page that does not advance would loop forever.
  if (more && lastSeq <= afterSeq) bad(`lastSeq ${lastSeq} does not advance past ${afterSeq}`)
  return { entries, lastSeq, more }
}

// ---------------------------------------------------------------- heads

export function encodeHeadsRequest (r: HeadsRequest): Uint8Array {
  return canonicalEncode({ id: r.id, heads: r.heads.map(h => ({ tillId: h.tillId, seq: h.seq, hash: h.hash })) })
}

export function decodeHeadsRequest (o: Obj): HeadsRequest {
  fields(o, 'heads', ['id', 'heads'])
  const heads = list(o.heads, 'heads', HEADS_MAX).map((v, i) => {
    const h = fields(v, `heads[${i}]`, ['tillId', 'seq', 'hash'])
    return { tillId: tillIdField(h.tillId, `heads[${i}].tillId`), seq: int(h.seq, `heads[${i}].seq`, 0, SEQ_MAX), hash: text(h.hash, `heads[${i}].hash`, 64, HASH_RE) }
  })
  return { id: requestId(o), heads }
}

export function encodeHeadsAnswer (id: number): Uint8Array {
  return canonicalEncode({ id, ok: true })
}

export function decodeHeadsAnswer (o: Obj): void {
  fields(o, 'answer', ['id', 'ok'])
  if (o.ok !== true) bad('ok must be true')
}

/** Checks a head the caller wants to announce (same rules as the server's). */
export function checkHeads (heads: LogHead[]): void {
  if (!Array.isArray(heads)) bad('heads must be a list')
  if (heads.length > HEADS_MAX) throw new ProtocolError('OVERSIZED', `${heads.length} heads, at most ${HEADS_MAX} per announcement`)
  heads.forEach((h, i) => {
    tillIdField(h?.tillId, `heads[${i}].tillId`)
    int(h.seq, `heads[${i}].seq`, 0, SEQ_MAX)
    text(h.hash, `heads[${i}].hash`, 64, HASH_RE)
  })
}

// ---------------------------------------------------------------- replenishment

export function encodeReplenishmentRequest (r: ReplenishmentRequest): Uint8Array {
  return canonicalEncode({ id: r.id, store: r.store, afterId: r.afterId })
}

export function decodeReplenishmentRequest (o: Obj): ReplenishmentRequest {
  fields(o, 'replenishment', ['id', 'store', 'afterId'])
  const afterId = o.afterId === null ? null : text(o.afterId, 'afterId', 64, ID_RE)
  return { id: requestId(o), store: text(o.store, 'store', 16, STORE_RE), afterId }
}

export function checkStore (store: string): void {
  text(store, 'store', 16, STORE_RE)
}

export function checkOrderId (afterId: string | null): void {
  if (afterId !== null) text(afterId, 'afterId', 64, ID_RE)
}

export function encodeReplenishmentAnswer (id: number, page: ReplenishmentPage): Uint8Array {
  return canonicalEncode({ id, orders: page.orders, lastId: page.lastId, more: page.more })
}

export function decodeReplenishmentAnswer (o: Obj, afterId: string | null): ReplenishmentPage {
  fields(o, 'answer', ['id', 'orders', 'lastId', 'more'])
  const orders = byteStrings(o.orders, 'orders', REPLENISHMENT_PAGE_MAX)
  for (const [i, e] of orders.entries()) if (e.length > ENTRY_BYTES_MAX) throw new ProtocolError('OVERSIZED', `orders[${i}] is ${e.length} bytes, at most ${ENTRY_BYTES_MAX}`)
  const lastId = o.lastId === null ? null : text(o.lastId, 'lastId', 64, ID_RE)
  const more = bool(o.more, 'more')
  if (more && (lastId === null || lastId === afterId)) bad('a page with more to come must advance lastId')
  return { orders, lastId, more }
}

// ---------------------------------------------------------------- rights

export function encodeRightsRequest (r: RightsRequest): Uint8Array {
  return canonicalEncode({ id: r.id, grantId: r.grantId, member: r.member, till: r.till, points: r.points })
}

export function encodeMemberLookupRequest (r: MemberLookupRequest): Uint8Array {
  return canonicalEncode({ id: r.id, phone: r.phone })
}

export function encodeMemberLookupAnswer (id: number, member: string): Uint8Array {
  return canonicalEncode({ id, member })
}

export function decodeMemberLookupAnswer (o: Obj): string {
  fields(o, 'answer', ['id', 'member'])
  return text(o.member, 'member', 24, MEMBER_ID_RE)
}

export function encodeRightsReturnRequest (r: RightsReturnRequest): Uint8Array {
  return canonicalEncode({ id: r.id, returnId: r.returnId, member: r.member, till: r.till, points: r.points })
}

export function encodeOkAnswer (id: number): Uint8Array {
  return canonicalEncode({ id, ok: true })
}

export function decodeOkAnswer (o: Obj): void {
  fields(o, 'answer', ['id', 'ok'])
  if (o.ok !== true) bad('ok must be true')
}

/** A rights request: a grant, rights given back, or a member looked up by phone. */
export function decodeRightsRequest (o: Obj): RightsRequest | RightsReturnRequest | MemberLookupRequest {
  if ('returnId' in o) {
    fields(o, 'rights return', ['id', 'returnId', 'member', 'till', 'points'])
    return { id: requestId(o), returnId: text(o.returnId, 'returnId', 16, /^q[1-9][0-9]{0,14}$/), member: text(o.member, 'member', 24, MEMBER_ID_RE), till: text(o.till, 'till', 105, TILL_INSTANCE_RE), points: int(o.points, 'points', 1, QTY_MAX) }
  }
  if ('phone' in o) {
    fields(o, 'lookup', ['id', 'phone'])
    return { id: requestId(o), phone: text(o.phone, 'phone', 40, PHONE_INPUT_RE) }
  }
  fields(o, 'rights', ['id', 'grantId', 'member', 'till', 'points'])
  return {
    id: requestId(o),
    grantId: text(o.grantId, 'grantId', 96, GRANT_ID_RE),
    member: text(o.member, 'member', 24, MEMBER_ID_RE),
    till: text(o.till, 'till', 105, TILL_INSTANCE_RE),
    points: int(o.points, 'points', 1, QTY_MAX)
  }
}

export function encodeRightsAnswer (id: number, grant: Uint8Array): Uint8Array {
  return canonicalEncode({ id, grant })
}

/** The signed grant's bytes (checked against HQ's key by the caller). */
export function decodeRightsAnswer (o: Obj): Uint8Array {
  fields(o, 'answer', ['id', 'grant'])
  const g = o.grant
  if (!(g instanceof Uint8Array)) bad('grant must be bytes')
  if (g.length > GRANT_BYTES_MAX) throw new ProtocolError('OVERSIZED', `grant is ${g.length} bytes, at most ${GRANT_BYTES_MAX}`)
  return g
}

// ---------------------------------------------------------------- returns

const DOC_NO_RE = /^[A-Z][A-Z0-9]{0,15}-[0-9]{1,3}-[0-9]{1,15}$/
const SKU_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/

export function encodeReturnRequest (r: ReturnRequest): Uint8Array {
  return canonicalEncode({ id: r.id, refund: r.refund, receipt: r.receipt, lines: r.lines.map(l => ({ sku: l.sku, qty: l.qty })), made: r.made, cert: r.cert })
}

export function decodeReturnRequest (o: Obj): ReturnRequest {
  fields(o, 'returns', ['id', 'refund', 'receipt', 'lines', 'made', 'cert'])
  const cert = o.cert
  if (!(cert instanceof Uint8Array)) bad('cert must be bytes')
  if (cert.length > CERT_BYTES_MAX) throw new ProtocolError('OVERSIZED', `cert is ${cert.length} bytes, at most ${CERT_BYTES_MAX}`)
  const receipt = o.receipt
  if (!(receipt instanceof Uint8Array)) bad('receipt must be bytes')
  if (receipt.length > RECEIPT_BYTES_MAX) throw new ProtocolError('OVERSIZED', `receipt is ${receipt.length} bytes, at most ${RECEIPT_BYTES_MAX}`)
  if (!Array.isArray(o.lines) || o.lines.length === 0) bad('lines must be a non-empty array')
  if (o.lines.length > RETURN_LINES_MAX) throw new ProtocolError('OVERSIZED', `lines has ${o.lines.length} items, at most ${RETURN_LINES_MAX}`)
  const lines = o.lines.map((l, i) => {
    const x = fields(l, `lines[${i}]`, ['sku', 'qty'])
    return { sku: text(x.sku, `lines[${i}].sku`, 40, SKU_RE), qty: int(x.qty, `lines[${i}].qty`, 1, QTY_MAX) }
  })
  return { id: requestId(o), refund: text(o.refund, 'refund', 40, DOC_NO_RE), receipt, lines, made: bool(o.made, 'made'), cert }
}

export function encodeReturnAnswer (id: number): Uint8Array {
  return canonicalEncode({ id, ok: true })
}

export function decodeReturnAnswer (o: Obj): void {
  fields(o, 'answer', ['id', 'ok'])
  if (o.ok !== true) bad('ok must be true')
}

// ---------------------------------------------------------------- am-sync

function syncMessage (v: Canonical | undefined, path: string): Uint8Array | null {
  if (v === null) return null
  if (!(v instanceof Uint8Array)) bad(`${path} must be bytes or null`)
  if (v.length > AM_SYNC_MESSAGE_BYTES_MAX) throw new ProtocolError('OVERSIZED', `${path} is ${v.length} bytes, at most ${AM_SYNC_MESSAGE_BYTES_MAX}`)
  if (v.length === 0) bad(`${path} is empty`)
  return v
}

export function encodeAmSyncRequest (r: AmSyncRequest): Uint8Array {
  return canonicalEncode({ id: r.id, doc: r.doc, msg: r.msg })
}

export function decodeAmSyncRequest (o: Obj): AmSyncRequest {
  fields(o, 'am-sync', ['id', 'doc', 'msg'])
  // A till's log by its id, or the catalogue (../sync/constants.ts: CATALOGUE_DOC).
  return { id: requestId(o), doc: o.doc === 'catalogue' ? 'catalogue' : tillIdField(o.doc, 'doc'), msg: syncMessage(o.msg, 'msg') }
}

export function encodeAmSyncAnswer (id: number, msg: Uint8Array | null): Uint8Array {
  return canonicalEncode({ id, msg })
}

export function decodeAmSyncAnswer (o: Obj): Uint8Array | null {
  fields(o, 'answer', ['id', 'msg'])
  return syncMessage(o.msg, 'msg')
}

// ---------------------------------------------------------------- replica

/** What one HQ replica asks another; the body is canonical CBOR read by HqReplication (checked there). */
export const REPLICA_OPS = ['hello', 'summary', 'tills', 'keys', 'records', 'logged'] as const
export type ReplicaOp = typeof REPLICA_OPS[number]
export interface ReplicaRequest { id: number, op: ReplicaOp, body: Uint8Array }

export function encodeReplicaRequest (r: ReplicaRequest): Uint8Array {
  return canonicalEncode({ id: r.id, op: r.op, body: r.body })
}

export function decodeReplicaRequest (o: Obj): ReplicaRequest {
  fields(o, 'replica', ['id', 'op', 'body'])
  const op = text(o.op, 'op', 16)
  if (!(REPLICA_OPS as readonly string[]).includes(op)) bad(`op must be one of ${REPLICA_OPS.join(', ')}`)
  if (!(o.body instanceof Uint8Array)) bad('body must be bytes')
  return { id: requestId(o), op: op as ReplicaOp, body: o.body }
}

export function encodeReplicaAnswer (id: number, body: Uint8Array): Uint8Array {
  return canonicalEncode({ id, body })
}

export function decodeReplicaAnswer (o: Obj): Uint8Array {
  fields(o, 'answer', ['id', 'body'])
  if (!(o.body instanceof Uint8Array)) bad('body must be bytes')
  return o.body
}

/**
 * The two daily records a till sends HQ.
 *
 * StockIn (SODA, morning): the replenishment received into the store.
 * Close (EODA, night): the day's takings to the cent and the stock consumed.
 *
 * A record is validated field by field from untrusted decoded CBOR; the Close's own
 * arithmetic (takings = net sales + tax) must balance, or the record is refused.
 */
import { createHash } from 'node:crypto'
import { canonicalEncode, type Canonical } from './canonical.ts'
import { DOC_N_MAX, GENESIS_HASH, HASH_BYTES, LINES_MAX, MEMBERS_MAX, SEQ_MAX, TAX_RATES_MAX } from './constants.ts'
import { InvalidRecordError } from './errors.ts'
import { asBusinessDay, asStoreId, asTillNo, type BusinessDay, type StoreId } from './ids.ts'
import { arr, bytes, ID_RE, int, obj, SKU_RE, sortedUnique, str, type Obj } from './validate.ts'

export const TENDERS = ['cash', 'card'] as const
export type Tender = typeof TENDERS[number]

export interface SkuQty { sku: string, qty: number }

interface RecordHeader {
  v: 1
  store: StoreId
  till: number
  businessDay: BusinessDay
  /** 1, 2, 3, ... per till, contiguous. */
  seq: number
  /** Hash of the entry at seq - 1 (GENESIS_HASH for seq 1). */
  prevHash: Uint8Array
  /** The till's clock when it signed; informational only (clocks skew). */
  atMs: number
}

export interface StockIn extends RecordHeader {
  kind: 'stockIn'
  replenishmentId: string
  /** What HQ's signed replenishment order said was shipped. */
  shipped: SkuQty[]
  /** What the store counted in; may differ from shipped (damage, short delivery). */
  received: SkuQty[]
}

export interface TaxLine { rateBp: number, netCents: number, taxCents: number }
export interface PointsLine { member: string, points: number }

export interface Close extends RecordHeader {
  kind: 'close'
  /** n of the first and last document (sale or refund) of the day; docLast = docFirst - 1 on a day without any. */
  docFirst: number
  docLast: number
  saleCount: number
  refundCount: number
  /** Money received net of refunds, per tender. */
  takingsCents: Record<Tender, number>
  /** Net sales and tax per tax rate (basis points), net of refunds. */
  tax: TaxLine[]
  /** Gross amount refunded (already netted out of takings and tax). */
  refundsCents: number
  /** Cash counted in the drawer at close less the opening float: negative when cash refunds dipped into the float. */
  cashCountedCents: number
  /** Stock used up, exploded through bill-of-materials recipes to stocked components. */
  consumed: SkuQty[]
  /** Loyalty points earned per member (a member id; a phone number in Closes written before member ids), summed offline. */
  points: PointsLine[]
  /**
   * Card and wallet payments taken through a processor, per processor, type and mode (online,
   * or stored offline): their count, amount and a digest of the day's approvals (the detail
   * stays at the store). Absent on a day without any (and on every Close before it existed).
   */
  payments?: PaymentTotal[]
  /**
   * Card payments taken offline on an earlier day and declined when forwarded since the last
   * Close: each linked to the day of its sale, which is never rewritten. Absent when none.
   */
  lateDeclines?: LateDecline[]
  /**
   * Card payments stored offline that passed their forwarding deadline since the last Close:
   * never charged (the sale stood, the money never came), each linked to its sale's day.
   */
  expired?: LateDecline[]
  /**
   * Points redeemed as a tender, per member (net of redemptions a refund gave back: negative
   * then), each worth POINT_VALUE_CENTS: with cash and card, they pay for the day's sales.
   * Absent on a day without any (and on every Close before redemptions existed).
   */
  redeemed?: RedeemLine[]
  /**
   * Points earned on an earlier sale of this till and taken back by a refund within the return
   * window (before they vested), per member and the day of that sale. Absent when none.
   */
  pointsCancelled?: CancelLine[]
  /**
   * Refunds this till made of another till's receipts without that till's consent (it was out of
   * reach): within the till's allowance, each to be confirmed by the issuing till. Absent when none.
   */
  flaggedRefunds?: FlaggedRefund[]
  /**
   * Lines of this till's receipts refunded beyond what was sold (a refund made elsewhere without
   * consent, heard of since the last Close), each naming every refund of that line. Absent when none.
   */
  refundConflicts?: RefundConflict[]
  /**
   * Rights over members' points this till gave back to HQ since the last Close (unused escrow):
   * HQ may grant them again elsewhere. Absent when none.
   */
  rightsReturned?: RightsReturn[]
}

/** Rights a till gave back, numbered by the till (`q<n>`): HQ may have heard of it already, straight from the till. */
export interface RightsReturn { id: string, member: string, points: number }

/** A refund of another till's receipt made without its consent. */
export interface FlaggedRefund { receipt: string, refund: string, amountCents: number }
/** A line of a receipt refunded beyond what was sold, and the refunds that did it. */
export interface RefundConflict { receipt: string, sku: string, soldQty: number, refundedQty: number, refunds: string[] }
/** A document number: `<store>-<till>-<n>`. */
export const DOC_NO_RE = /^[A-Z][A-Z0-9]{0,15}-[0-9]{1,3}-[0-9]{1,15}$/

/** A member's points redeemed in one Close (negative: a refund gave more back than was redeemed). */
export interface RedeemLine { member: string, points: number, amountCents: number }
/** A member's points earned on `saleDay` and cancelled by a refund. */
export interface CancelLine { member: string, saleDay: BusinessDay, points: number }

/** What one point is worth when redeemed, in cents: the value the books keep the points liability at. */
export const POINT_VALUE_CENTS = 1

/** A payment taken offline, declined when forwarded: the sale stood, the money never came. */
export interface LateDecline { paymentId: string, processor: string, amountCents: number, saleDay: BusinessDay }

/** One processor's card (or wallet) payments of a day, online or stored offline. */
export interface PaymentTotal {
  processor: string
  type: 'card' | 'wallet'
  mode: 'online' | 'offline'
  count: number
  amountCents: number
  /** SHA-256 of the canonical list of these approvals ({ paymentId, amountCents }, by payment id): `paymentsDigest`. */
  digest: Uint8Array
  /**
   * The additive hash of the same approvals (paymentSet.ts): HQ sums it over any Closes and
   * checks it against settled lines of any days, asking the store for detail only when they
   * differ. Absent on Closes written before it existed.
   */
  setHash?: Uint8Array
}

/** The digest a PaymentTotal carries of its approvals. */
export function paymentsDigest (approvals: ReadonlyArray<{ paymentId: string, amountCents: number }>): Uint8Array {
  const sorted = [...approvals].sort((a, b) => a.paymentId < b.paymentId ? -1 : a.paymentId > b.paymentId ? 1 : 0).map(a => ({ paymentId: a.paymentId, amountCents: a.amountCents }))
  return new Uint8Array(createHash('sha256').update(canonicalEncode(sorted as unknown as Canonical)).digest())
}

export type TillRecord = StockIn | Close
export type RecordKind = TillRecord['kind']

export const MONEY_MAX = 1e13 // ten billion currency units: far beyond a till's day
export const QTY_MAX = 1e9
export const PHONE_RE = /^\+[1-9]\d{6,14}$/
/** A member id (`m-` and 22 base64url characters: 128 random bits): what new Closes carry instead of a phone number. */
export const MEMBER_ID_RE = /^m-[A-Za-z0-9_-]{22}$/
/** Who earned points in a Close: a member id, or (Closes written before member ids) a phone number. */
export function isPointsMember (s: string): boolean {
  return PHONE_RE.test(s) || MEMBER_ID_RE.test(s)
}

function header (o: Obj): RecordHeader {
  const seq = int(o.seq, 'seq', 1, SEQ_MAX)
  const prevHash = bytes(o.prevHash, 'prevHash', HASH_BYTES)
  if (seq === 1 && !prevHash.every((b, i) => b === GENESIS_HASH[i])) throw new InvalidRecordError('seq 1 must have the genesis prevHash')
  if (int(o.v, 'v', 1, 1) !== 1) throw new InvalidRecordError('unsupported version')
  return {
    v: 1,
    store: asStoreId(o.store),
    till: asTillNo(o.till),
    businessDay: asBusinessDay(o.businessDay),
    seq,
    prevHash,
    atMs: int(o.atMs, 'atMs', 0)
  }
}

function skuQtys (v: Canonical | undefined, path: string, allowNegative: boolean): SkuQty[] {
  const lines = arr(v, path, LINES_MAX).map((l, i) => {
    const o = obj(l, `${path}[${i}]`, ['sku', 'qty'])
    const qty = int(o.qty, `${path}[${i}].qty`, allowNegative ? -QTY_MAX : 0, QTY_MAX)
    if (qty === 0) throw new InvalidRecordError(`${path}[${i}].qty must not be 0 (leave the line out)`)
    return { sku: str(o.sku, `${path}[${i}].sku`, SKU_RE), qty }
  })
  return sortedUnique(lines, l => l.sku, path)
}

const HEADER_KEYS = ['v', 'kind', 'store', 'till', 'businessDay', 'seq', 'prevHash', 'atMs'] as const
const STOCK_IN_KEYS = [...HEADER_KEYS, 'replenishmentId', 'shipped', 'received'] as const
const CLOSE_KEYS = [...HEADER_KEYS, 'docFirst', 'docLast', 'saleCount', 'refundCount', 'takingsCents', 'tax', 'refundsCents', 'cashCountedCents', 'consumed', 'points'] as const

/** Parse and check a decoded record. Throws InvalidRecordError with the offending field. */
export function validateRecord (value: Canonical): TillRecord {
  const kind = (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)) ? value.kind : undefined
  if (kind === 'stockIn') {
    const o = obj(value, 'stockIn', STOCK_IN_KEYS)
    return {
      ...header(o),
      kind,
      replenishmentId: str(o.replenishmentId, 'replenishmentId', ID_RE),
      shipped: skuQtys(o.shipped, 'shipped', false),
      received: skuQtys(o.received, 'received', false)
    }
  }
  if (kind === 'close') {
    // `payments` is there only on a day with card or wallet payments through a processor.
    const isMap = value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)
    const withPayments = isMap && 'payments' in value
    const withLate = isMap && 'lateDeclines' in value
    const withExpired = isMap && 'expired' in value
    const withRedeemed = isMap && 'redeemed' in value
    const withCancelled = isMap && 'pointsCancelled' in value
    const withFlagged = isMap && 'flaggedRefunds' in value
    const withConflicts = isMap && 'refundConflicts' in value
    const withReturned = isMap && 'rightsReturned' in value
    const o = obj(value, 'close', [...CLOSE_KEYS, ...(withPayments ? ['payments'] : []), ...(withLate ? ['lateDeclines'] : []), ...(withExpired ? ['expired'] : []),
      ...(withRedeemed ? ['redeemed'] : []), ...(withCancelled ? ['pointsCancelled'] : []), ...(withFlagged ? ['flaggedRefunds'] : []), ...(withConflicts ? ['refundConflicts'] : []),
      ...(withReturned ? ['rightsReturned'] : [])])
    const docFirst = int(o.docFirst, 'docFirst', 1, DOC_N_MAX)
    const docLast = int(o.docLast, 'docLast', docFirst - 1, DOC_N_MAX)
    const saleCount = int(o.saleCount, 'saleCount', 0, DOC_N_MAX)
    const refundCount = int(o.refundCount, 'refundCount', 0, DOC_N_MAX)
    if (saleCount + refundCount !== docLast - docFirst + 1) throw new InvalidRecordError('saleCount + refundCount must equal the documents docFirst..docLast')
    const t = obj(o.takingsCents, 'takingsCents', TENDERS)
    const takingsCents = { cash: int(t.cash, 'takingsCents.cash', -MONEY_MAX, MONEY_MAX), card: int(t.card, 'takingsCents.card', -MONEY_MAX, MONEY_MAX) }
    const tax = sortedUnique(arr(o.tax, 'tax', TAX_RATES_MAX).map((l, i) => {
      const x = obj(l, `tax[${i}]`, ['rateBp', 'netCents', 'taxCents'])
      return { rateBp: int(x.rateBp, `tax[${i}].rateBp`, 0, 10_000), netCents: int(x.netCents, `tax[${i}].netCents`, -MONEY_MAX, MONEY_MAX), taxCents: int(x.taxCents, `tax[${i}].taxCents`, -MONEY_MAX, MONEY_MAX) }
    }), l => l.rateBp, 'tax')
    const redeemed = withRedeemed ? redeemLines(o.redeemed) : []
    const takings = takingsCents.cash + takingsCents.card + redeemed.reduce((s, l) => s + l.amountCents, 0)
    const taxed = tax.reduce((s, l) => s + l.netCents + l.taxCents, 0)
    if (takings !== taxed) throw new InvalidRecordError(`takings ${takings} ${redeemed.length > 0 ? '(points redeemed included) ' : ''}do not equal net sales + tax ${taxed}`)
    const points = sortedUnique(arr(o.points, 'points', MEMBERS_MAX).map((l, i) => {
      const x = obj(l, `points[${i}]`, ['member', 'points'])
      const member = str(x.member, `points[${i}].member`, /^(\+[1-9]\d{6,14}|m-[A-Za-z0-9_-]{22})$/, 24)
      return { member, points: int(x.points, `points[${i}].points`, 1, QTY_MAX) }
    }), l => l.member, 'points')
    return {
      ...header(o),
      kind,
      docFirst,
      docLast,
      saleCount,
      refundCount,
      takingsCents,
      tax,
      refundsCents: int(o.refundsCents, 'refundsCents', 0, MONEY_MAX),
      cashCountedCents: int(o.cashCountedCents, 'cashCountedCents', -MONEY_MAX, MONEY_MAX),
      consumed: skuQtys(o.consumed, 'consumed', true),
      points,
      ...(withPayments ? { payments: paymentTotals(o.payments) } : {}),
      ...(withLate ? { lateDeclines: lateDeclines(o.lateDeclines, 'lateDeclines') } : {}),
      ...(withExpired ? { expired: lateDeclines(o.expired, 'expired') } : {}),
      ...(withRedeemed ? { redeemed } : {}),
      ...(withCancelled ? { pointsCancelled: cancelLines(o.pointsCancelled) } : {}),
      ...(withFlagged ? { flaggedRefunds: flaggedRefunds(o.flaggedRefunds) } : {}),
      ...(withConflicts ? { refundConflicts: refundConflicts(o.refundConflicts) } : {}),
      ...(withReturned ? { rightsReturned: rightsReturned(o.rightsReturned) } : {})
    }
  }
  throw new InvalidRecordError(`unknown record kind: ${String(kind).slice(0, 20)}`)
}

/** Points redeemed in a Close: member ids only (redemption came with them), at least one line. */
function redeemLines (v: Canonical | undefined): RedeemLine[] {
  const list = arr(v, 'redeemed', MEMBERS_MAX).map((l, i): RedeemLine => {
    const x = obj(l, `redeemed[${i}]`, ['member', 'points', 'amountCents'])
    const points = int(x.points, `redeemed[${i}].points`, -QTY_MAX, QTY_MAX)
    if (points === 0) throw new InvalidRecordError(`redeemed[${i}].points must not be 0 (leave the line out)`)
    const amountCents = int(x.amountCents, `redeemed[${i}].amountCents`, -MONEY_MAX, MONEY_MAX)
    if (amountCents !== points * POINT_VALUE_CENTS) throw new InvalidRecordError(`redeemed[${i}].amountCents must be points × ${POINT_VALUE_CENTS}`)
    return { member: str(x.member, `redeemed[${i}].member`, MEMBER_ID_RE, 24), points, amountCents }
  })
  if (list.length === 0) throw new InvalidRecordError('redeemed, when present, lists at least one member')
  return sortedUnique(list, l => l.member, 'redeemed')
}

/** Points cancelled by refunds in a Close, by member and sale day, at least one line. */
function cancelLines (v: Canonical | undefined): CancelLine[] {
  const list = arr(v, 'pointsCancelled', MEMBERS_MAX).map((l, i): CancelLine => {
    const x = obj(l, `pointsCancelled[${i}]`, ['member', 'saleDay', 'points'])
    return {
      member: str(x.member, `pointsCancelled[${i}].member`, /^(\+[1-9]\d{6,14}|m-[A-Za-z0-9_-]{22})$/, 24),
      saleDay: asBusinessDay(x.saleDay),
      points: int(x.points, `pointsCancelled[${i}].points`, 1, QTY_MAX)
    }
  })
  if (list.length === 0) throw new InvalidRecordError('pointsCancelled, when present, lists at least one line')
  return sortedUnique(list, l => `${l.member}\u0000${l.saleDay}`, 'pointsCancelled')
}

function rightsReturned (v: Canonical | undefined): RightsReturn[] {
  const list = arr(v, 'rightsReturned', MEMBERS_MAX).map((l, i): RightsReturn => {
    const x = obj(l, `rightsReturned[${i}]`, ['id', 'member', 'points'])
    return { id: str(x.id, `rightsReturned[${i}].id`, /^q[1-9][0-9]{0,14}$/, 16), member: str(x.member, `rightsReturned[${i}].member`, MEMBER_ID_RE, 24), points: int(x.points, `rightsReturned[${i}].points`, 1, QTY_MAX) }
  })
  if (list.length === 0) throw new InvalidRecordError('rightsReturned, when present, lists at least one return')
  return sortedUnique(list, l => l.id, 'rightsReturned')
}

function flaggedRefunds (v: Canonical | undefined): FlaggedRefund[] {
  const list = arr(v, 'flaggedRefunds', LINES_MAX).map((l, i): FlaggedRefund => {
    const x = obj(l, `flaggedRefunds[${i}]`, ['receipt', 'refund', 'amountCents'])
    return { receipt: str(x.receipt, `flaggedRefunds[${i}].receipt`, DOC_NO_RE, 40), refund: str(x.refund, `flaggedRefunds[${i}].refund`, DOC_NO_RE, 40), amountCents: int(x.amountCents, `flaggedRefunds[${i}].amountCents`, 1, MONEY_MAX) }
  })
  if (list.length === 0) throw new InvalidRecordError('flaggedRefunds, when present, lists at least one refund')
  return sortedUnique(list, l => l.refund, 'flaggedRefunds')
}

function refundConflicts (v: Canonical | undefined): RefundConflict[] {
  const list = arr(v, 'refundConflicts', LINES_MAX).map((l, i): RefundConflict => {
    const x = obj(l, `refundConflicts[${i}]`, ['receipt', 'sku', 'soldQty', 'refundedQty', 'refunds'])
    const soldQty = int(x.soldQty, `refundConflicts[${i}].soldQty`, 0, QTY_MAX)
    const refundedQty = int(x.refundedQty, `refundConflicts[${i}].refundedQty`, 1, QTY_MAX)
    if (refundedQty <= soldQty) throw new InvalidRecordError(`refundConflicts[${i}]: ${refundedQty} refunded of ${soldQty} sold is no conflict`)
    const refunds = sortedUnique(arr(x.refunds, `refundConflicts[${i}].refunds`, 64).map((r, k) => str(r, `refundConflicts[${i}].refunds[${k}]`, DOC_NO_RE, 40)), r => r, `refundConflicts[${i}].refunds`)
    if (refunds.length < 1) throw new InvalidRecordError(`refundConflicts[${i}] names the refunds`)
    return { receipt: str(x.receipt, `refundConflicts[${i}].receipt`, DOC_NO_RE, 40), sku: str(x.sku, `refundConflicts[${i}].sku`, SKU_RE), soldQty, refundedQty, refunds }
  })
  if (list.length === 0) throw new InvalidRecordError('refundConflicts, when present, lists at least one line')
  return sortedUnique(list, l => `${l.receipt}\u0000${l.sku}`, 'refundConflicts')
}

const PROCESSOR_RE = /^[a-z][a-z0-9_-]{0,31}$/
/** Payment totals in a Close, at most (processors × types × modes). */
export const PAYMENT_TOTALS_MAX = 64

function paymentTotals (v: Canonical | undefined): PaymentTotal[] {
  const list = arr(v, 'payments', PAYMENT_TOTALS_MAX).map((l, i): PaymentTotal => {
    const x = obj(l, `payments[${i}]`, ['processor', 'type', 'mode', 'count', 'amountCents', 'digest'], ['setHash'])
    if (x.type !== 'card' && x.type !== 'wallet') throw new InvalidRecordError(`payments[${i}].type must be card or wallet`)
    if (x.mode !== 'online' && x.mode !== 'offline') throw new InvalidRecordError(`payments[${i}].mode must be online or offline`)
    return {
      processor: str(x.processor, `payments[${i}].processor`, PROCESSOR_RE, 32),
      type: x.type,
      mode: x.mode,
      count: int(x.count, `payments[${i}].count`, 1, DOC_N_MAX),
      amountCents: int(x.amountCents, `payments[${i}].amountCents`, -MONEY_MAX, MONEY_MAX),
      digest: bytes(x.digest, `payments[${i}].digest`, 32),
      ...(x.setHash !== undefined ? { setHash: bytes(x.setHash, `payments[${i}].setHash`, 32) } : {})
    }
  })
  if (list.length === 0) throw new InvalidRecordError('payments, when present, lists at least one total')
  return sortedUnique(list, p => `${p.processor}\u0000${p.type}\u0000${p.mode}`, 'payments')
}

/** A Close's list of payments that never came (late declines, expiries): sorted by payment id, at least one. */
function lateDeclines (v: Canonical | undefined, path: string): LateDecline[] {
  const list = arr(v, path, LINES_MAX).map((l, i): LateDecline => {
    const x = obj(l, `${path}[${i}]`, ['paymentId', 'processor', 'amountCents', 'saleDay'])
    return {
      paymentId: str(x.paymentId, `${path}[${i}].paymentId`, ID_RE),
      processor: str(x.processor, `${path}[${i}].processor`, PROCESSOR_RE, 32),
      amountCents: int(x.amountCents, `${path}[${i}].amountCents`, 1, MONEY_MAX),
      saleDay: asBusinessDay(x.saleDay)
    }
  })
  if (list.length === 0) throw new InvalidRecordError(`${path}, when present, lists at least one`)
  return sortedUnique(list, d => d.paymentId, path)
}

/** The canonical bytes of a record (what its till signs). Validates first: we never sign what we would reject. */
export function encodeRecord (record: TillRecord): Uint8Array {
  const bytes = canonicalEncode(record as unknown as Canonical)
  validateRecord(record as unknown as Canonical)
  return bytes
}

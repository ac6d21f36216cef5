/**
 * The processor's settlement report: one CSV line per transaction it settled (or charged back,
 * or charged a fee for), modelled on Adyen's Settlement details report, with one control line
 * per batch. The embedded processor writes it; reconciliation reads it. Columns, in order:
 *
 *   psp_reference      the processor's reference (for a batch's control line: the payout id)
 *   merchant_reference our payment id (empty on a fee or control line)
 *   payment_method     card brand or wallet (visa, mc, amex, applepay, …)
 *   booking_date       YYYY-MM-DD, the day the processor booked it
 *   type               Settled | Refunded | Chargeback | Fee | MerchantPayout (a batch's control line)
 *   currency           ISO 4217
 *   gross              signed decimal: what the customer paid (+) or got back (−)
 *   fee                the processor's fee, ≥ 0
 *   net                gross − fee: what the merchant is paid
 *   batch_number       the settlement batch
 *   payout_id          the payout (bank transfer) the batch is paid in
 *
 * A batch's MerchantPayout line carries the batch's totals (gross, fee, net). A file whose batch
 * lines do not add up to their control line is refused whole (`batch_control_mismatch`): a
 * file that does not add up is not a record of anything.
 * So is one with a wrong header, a missing or extra column, a bad amount (more decimals than
 * the currency has), a currency other than the books', or net ≠ gross − fee.
 */
import { csvRecords, csvRecordsOfText } from './csvRecords.ts'
import { exponentOf, formatMinorUnits, parseMinorUnits } from './amount.ts'
import { FILE_ERRORS_MAX, REF_CHARS_MAX, SETTLEMENT_CSV_BYTES_MAX } from './constants.ts'
import { PaymentsError, SettlementFileError, type FileProblem } from './errors.ts'

export const SETTLEMENT_COLUMNS = ['psp_reference', 'merchant_reference', 'payment_method', 'booking_date', 'type', 'currency', 'gross', 'fee', 'net', 'batch_number', 'payout_id'] as const
export type SettlementType = 'Settled' | 'Refunded' | 'Chargeback' | 'Fee' | 'MerchantPayout'
const TYPES: readonly SettlementType[] = ['Settled', 'Refunded', 'Chargeback', 'Fee', 'MerchantPayout']

export interface SettlementLine {
  /** Its line in the file (1 is the header). */
  line: number
  type: Exclude<SettlementType, 'MerchantPayout'>
  processorRef: string
  /** Our payment id (null on a fee line). */
  paymentId: string | null
  paymentMethod: string
  bookingDay: string
  grossCents: number
  feeCents: number
  netCents: number
  batch: string
  payoutId: string
}

export interface SettlementBatch { batch: string, payoutId: string, bookingDay: string, lines: number, grossCents: number, feeCents: number, netCents: number }

export interface SettlementFile { currency: string, lines: SettlementLine[], batches: SettlementBatch[] }

const DAY_RE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/
const REF_RE = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,${REF_CHARS_MAX - 1}}$`)

/**
 * The rows of a settlement report checked one at a time (the whole file in memory, or a stream
 * of any size): each row's problems with their line and column, each batch's sums; `finish`
 * checks every batch against its control line and throws if anything was wrong. Until it has,
 * nothing read may be booked: the file is taken whole or not at all.
 */
export class SettlementReader {
  readonly currency: string
  readonly problems: FileProblem[] = []
  #count = 0
  #header = false
  readonly #sums = new Map<string, SettlementBatch>()
  readonly #controls = new Map<string, { line: number, payoutId: string, bookingDay: string, grossCents: number, feeCents: number, netCents: number }>()

  constructor (currency: string) {
    exponentOf(currency)
    this.currency = currency
  }

  #fail (line: number, column: string | null, reason: string): void {
    this.#count++
    if (this.problems.length < FILE_ERRORS_MAX) this.problems.push({ line, column, reason })
  }

  /** One row at `line` (1: the header): the settlement line it is, or null (the header, a control line, a bad row). */
  row (row: string[], line: number): SettlementLine | null {
    if (!this.#header) {
      if (row.join(',') !== SETTLEMENT_COLUMNS.join(',')) throw new SettlementFileError('not a settlement report', [{ line, column: null, reason: `the header must be ${SETTLEMENT_COLUMNS.join(',')}` }])
      this.#header = true
      return null
    }
    const currency = this.currency
    if (row.length !== SETTLEMENT_COLUMNS.length) { this.#fail(line, null, `${row.length} columns, ${SETTLEMENT_COLUMNS.length} expected`); return null }
    const v = {
      psp_reference: row[0] as string, merchant_reference: row[1] as string, payment_method: row[2] as string, booking_date: row[3] as string, type: row[4] as string,
      currency: row[5] as string, gross: row[6] as string, fee: row[7] as string, net: row[8] as string, batch_number: row[9] as string, payout_id: row[10] as string
    }
    const before = this.#count
    const type = v.type as SettlementType
    if (!TYPES.includes(type)) this.#fail(line, 'type', `${JSON.stringify(v.type.slice(0, 24))} is not one of ${TYPES.join(', ')}`)
    if (v.currency !== currency) this.#fail(line, 'currency', `${JSON.stringify(v.currency.slice(0, 8))}: the books are in ${currency}`)
    if (!DAY_RE.test(v.booking_date)) this.#fail(line, 'booking_date', 'a day, YYYY-MM-DD')
    for (const c of ['psp_reference', 'batch_number', 'payout_id'] as const) if (!REF_RE.test(v[c])) this.#fail(line, c, 'a reference of letters, digits and ._:/-')
    const needsPayment = type === 'Settled' || type === 'Refunded' || type === 'Chargeback'
    if (needsPayment && !REF_RE.test(v.merchant_reference)) this.#fail(line, 'merchant_reference', 'our payment id')
    if (!needsPayment && v.merchant_reference !== '' && !REF_RE.test(v.merchant_reference)) this.#fail(line, 'merchant_reference', 'empty, or a reference')
    const amounts: Record<'gross' | 'fee' | 'net', number> = { gross: 0, fee: 0, net: 0 }
    for (const c of ['gross', 'fee', 'net'] as const) {
      try {
        amounts[c] = parseMinorUnits(v[c], currency, { signed: c !== 'fee' })
      } catch (err) {
        this.#fail(line, c, (err as PaymentsError).message)
      }
    }
    if (this.#count > before) return null
    if (amounts.net !== amounts.gross - amounts.fee) { this.#fail(line, 'net', `${v.net} is not gross ${v.gross} less fee ${v.fee}`); return null }
    if (type === 'Settled' && amounts.gross <= 0) { this.#fail(line, 'gross', 'a settled payment is paid to the merchant: positive'); return null }
    if ((type === 'Refunded' || type === 'Chargeback') && amounts.gross >= 0) { this.#fail(line, 'gross', `a ${type.toLowerCase()} line takes money back: negative`); return null }
    if (type === 'MerchantPayout') {
      if (this.#controls.has(v.batch_number)) { this.#fail(line, 'batch_number', `batch ${v.batch_number} has a control line already`); return null }
      this.#controls.set(v.batch_number, { line, payoutId: v.payout_id, bookingDay: v.booking_date, grossCents: amounts.gross, feeCents: amounts.fee, netCents: amounts.net })
      return null
    }
    const l: SettlementLine = { line, type: type as SettlementLine['type'], processorRef: v.psp_reference, paymentId: v.merchant_reference === '' ? null : v.merchant_reference, paymentMethod: v.payment_method, bookingDay: v.booking_date, grossCents: amounts.gross, feeCents: amounts.fee, netCents: amounts.net, batch: v.batch_number, payoutId: v.payout_id }
    const b = this.#sums.get(l.batch) ?? { batch: l.batch, payoutId: l.payoutId, bookingDay: l.bookingDay, lines: 0, grossCents: 0, feeCents: 0, netCents: 0 }
    if (l.payoutId !== b.payoutId) this.#fail(l.line, 'payout_id', `batch ${l.batch} is paid in ${b.payoutId}, not ${l.payoutId}`)
    b.lines++
    b.grossCents += l.grossCents
    b.feeCents += l.feeCents
    b.netCents += l.netCents
    // Sums past 2^53 would no longer be exact: a file that large is not a batch of payments.
    if (!Number.isSafeInteger(b.grossCents) || !Number.isSafeInteger(b.feeCents) || !Number.isSafeInteger(b.netCents)) this.#fail(l.line, 'gross', `batch ${l.batch}'s total passes ${Number.MAX_SAFE_INTEGER} minor units`)
    this.#sums.set(l.batch, b)
    return l
  }

  /** The batches, each checked against its control line; throws SettlementFileError for anything wrong in the file. */
  finish (): SettlementBatch[] {
    if (!this.#header) throw new SettlementFileError('an empty file: not a settlement report')
    if (this.#count > 0) throw new SettlementFileError(`the file is refused: ${this.#count} problem(s)`, this.problems)
    const currency = this.currency
    for (const [batch, b] of this.#sums) {
      const c = this.#controls.get(batch)
      if (c === undefined) { this.#fail(0, 'batch_number', `batch ${batch} has no MerchantPayout control line`); continue }
      if (c.payoutId !== b.payoutId) this.#fail(c.line, 'payout_id', `batch ${batch}'s lines are paid in ${b.payoutId}, its control line says ${c.payoutId}`)
      for (const k of ['grossCents', 'feeCents', 'netCents'] as const) {
        if (c[k] !== b[k]) this.#fail(c.line, k.replace('Cents', ''), `batch ${batch}'s lines add up to ${formatMinorUnits(b[k], currency)}, its control line says ${formatMinorUnits(c[k], currency)}`)
      }
    }
    for (const [batch, c] of this.#controls) if (!this.#sums.has(batch)) this.#fail(c.line, 'batch_number', `control line of batch ${batch}, which has no lines`)
    if (this.#count > 0) throw new SettlementFileError(`batch_control_mismatch: the file is refused whole, ${this.#count} problem(s)`, this.problems, 'batch_control_mismatch')
    return [...this.#sums.values()].sort((a, b) => a.batch < b.batch ? -1 : a.batch > b.batch ? 1 : 0)
  }
}

/**
 * Read a settlement report in `currency` (the books'). Returns its lines and batches, or throws
 * SettlementFileError with every problem's line and column: the file is taken whole or not at all.
 */
export function parseSettlementCsv (text: string, currency: string): SettlementFile {
  const reader = new SettlementReader(currency)
  if (typeof text !== 'string') throw new SettlementFileError('a settlement report is text')
  if (text.length > SETTLEMENT_CSV_BYTES_MAX) throw new SettlementFileError(`the file is over ${SETTLEMENT_CSV_BYTES_MAX} bytes: stream it (readSettlementCsv)`)
  // The streaming reader's splitter over the whole text (the library for quoted records): one
  // reading of CSV for both paths, ~3× faster than parsing it all with the library.
  const lines: SettlementLine[] = []
  try {
    for (const rec of csvRecordsOfText(text)) { const l = reader.row(rec.fields, rec.line); if (l !== null) lines.push(l) }
  } catch (err) {
    if (err instanceof SettlementFileError) throw err
    throw new SettlementFileError(`not a CSV file: ${(err as Error).message}`)
  }
  return { currency, lines, batches: reader.finish() }
}

/**
 * Stream a settlement report of any size: each line to `onLine` as it is read (a reconciler
 * taking them in: nothing of it booked until this resolves), then the batches, checked. Throws
 * SettlementFileError if anything in the file is wrong (after `onLine` has seen lines: a caller
 * books only once this has resolved).
 */
export async function readSettlementCsv (source: AsyncIterable<string | Uint8Array>, currency: string, onLine: (l: SettlementLine) => void): Promise<{ lines: number, batches: SettlementBatch[] }> {
  const reader = new SettlementReader(currency)
  let lines = 0
  try {
    for await (const rec of csvRecords(source)) {
      const l = reader.row(rec.fields, rec.line)
      if (l !== null) { lines++; onLine(l) }
    }
  } catch (err) {
    if (err instanceof SettlementFileError) throw err
    throw new SettlementFileError(`not a CSV file: ${(err as Error).message}`)
  }
  return { lines, batches: reader.finish() }
}

/** The control totals of each batch of these lines (one per batch number, in order of first line): what a report's MerchantPayout lines say. */
export function batchesOf (lines: readonly SettlementLine[]): SettlementBatch[] {
  const out = new Map<string, SettlementBatch>()
  for (const l of lines) {
    const b = out.get(l.batch) ?? { batch: l.batch, payoutId: l.payoutId, bookingDay: l.bookingDay, lines: 0, grossCents: 0, feeCents: 0, netCents: 0 }
    b.lines++
    b.grossCents += l.grossCents
    b.feeCents += l.feeCents
    b.netCents += l.netCents
    out.set(l.batch, b)
  }
  return [...out.values()]
}

/** A settlement report as the embedded processor writes it (lines, then each batch's control line). */
export function toSettlementCsv (file: SettlementFile): string {
  const f = (n: number): string => formatMinorUnits(n, file.currency)
  const out = [SETTLEMENT_COLUMNS.join(',')]
  for (const l of file.lines) out.push([l.processorRef, l.paymentId ?? '', l.paymentMethod, l.bookingDay, l.type, file.currency, f(l.grossCents), f(l.feeCents), f(l.netCents), l.batch, l.payoutId].join(','))
  for (const b of file.batches) out.push([b.payoutId, '', '', b.bookingDay, 'MerchantPayout', file.currency, f(b.grossCents), f(b.feeCents), f(b.netCents), b.batch, b.payoutId].join(','))
  return out.join('\n') + '\n'
}

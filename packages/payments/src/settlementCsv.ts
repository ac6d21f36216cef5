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
import { parse } from 'csv-parse/sync'
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
 * Read a settlement report in `currency` (the books'). Returns its lines and batches, or throws
 * SettlementFileError with every problem's line and column: the file is taken whole or not at all.
 */
export function parseSettlementCsv (text: string, currency: string): SettlementFile {
  exponentOf(currency)
  if (typeof text !== 'string') throw new SettlementFileError('a settlement report is text')
  if (text.length > SETTLEMENT_CSV_BYTES_MAX) throw new SettlementFileError(`the file is over ${SETTLEMENT_CSV_BYTES_MAX} bytes`)
  let rows: string[][]
  try {
    rows = parse(text, { relax_column_count: true, skip_empty_lines: true, bom: true }) as string[][]
  } catch (err) {
    throw new SettlementFileError(`not a CSV file: ${(err as Error).message}`)
  }
  const problems: FileProblem[] = []
  let count = 0
  const fail = (line: number, column: string | null, reason: string): void => {
    count++
    if (problems.length < FILE_ERRORS_MAX) problems.push({ line, column, reason })
  }
  const header = rows[0]
  if (header === undefined || header.join(',') !== SETTLEMENT_COLUMNS.join(',')) {
    throw new SettlementFileError('not a settlement report', [{ line: 1, column: null, reason: `the header must be ${SETTLEMENT_COLUMNS.join(',')}` }])
  }
  const lines: SettlementLine[] = []
  const controls = new Map<string, { line: number, payoutId: string, bookingDay: string, grossCents: number, feeCents: number, netCents: number }>()
  rows.slice(1).forEach((row, i) => {
    const line = i + 2
    if (row.length !== SETTLEMENT_COLUMNS.length) { fail(line, null, `${row.length} columns, ${SETTLEMENT_COLUMNS.length} expected`); return }
    const v = Object.fromEntries(SETTLEMENT_COLUMNS.map((c, k) => [c, row[k] as string])) as Record<typeof SETTLEMENT_COLUMNS[number], string>
    const before = count
    const type = v.type as SettlementType
    if (!TYPES.includes(type)) fail(line, 'type', `${JSON.stringify(v.type.slice(0, 24))} is not one of ${TYPES.join(', ')}`)
    if (v.currency !== currency) fail(line, 'currency', `${JSON.stringify(v.currency.slice(0, 8))}: the books are in ${currency}`)
    if (!DAY_RE.test(v.booking_date)) fail(line, 'booking_date', 'a day, YYYY-MM-DD')
    for (const c of ['psp_reference', 'batch_number', 'payout_id'] as const) if (!REF_RE.test(v[c])) fail(line, c, 'a reference of letters, digits and ._:/-')
    const needsPayment = type === 'Settled' || type === 'Refunded' || type === 'Chargeback'
    if (needsPayment && !REF_RE.test(v.merchant_reference)) fail(line, 'merchant_reference', 'our payment id')
    if (!needsPayment && v.merchant_reference !== '' && !REF_RE.test(v.merchant_reference)) fail(line, 'merchant_reference', 'empty, or a reference')
    const amounts: Record<'gross' | 'fee' | 'net', number> = { gross: 0, fee: 0, net: 0 }
    for (const c of ['gross', 'fee', 'net'] as const) {
      try {
        amounts[c] = parseMinorUnits(v[c], currency, { signed: c !== 'fee' })
      } catch (err) {
        fail(line, c, (err as PaymentsError).message)
      }
    }
    if (count > before) return
    if (amounts.net !== amounts.gross - amounts.fee) { fail(line, 'net', `${v.net} is not gross ${v.gross} less fee ${v.fee}`); return }
    if (type === 'Settled' && amounts.gross <= 0) { fail(line, 'gross', 'a settled payment is paid to the merchant: positive'); return }
    if ((type === 'Refunded' || type === 'Chargeback') && amounts.gross >= 0) { fail(line, 'gross', `a ${type.toLowerCase()} line takes money back: negative`); return }
    if (type === 'MerchantPayout') {
      if (controls.has(v.batch_number)) { fail(line, 'batch_number', `batch ${v.batch_number} has a control line already`); return }
      controls.set(v.batch_number, { line, payoutId: v.payout_id, bookingDay: v.booking_date, grossCents: amounts.gross, feeCents: amounts.fee, netCents: amounts.net })
      return
    }
    lines.push({ line, type: type as SettlementLine['type'], processorRef: v.psp_reference, paymentId: v.merchant_reference === '' ? null : v.merchant_reference, paymentMethod: v.payment_method, bookingDay: v.booking_date, grossCents: amounts.gross, feeCents: amounts.fee, netCents: amounts.net, batch: v.batch_number, payoutId: v.payout_id })
  })
  if (count > 0) throw new SettlementFileError(`the file is refused: ${count} problem(s)`, problems)
  // Batch control: each batch's lines add up to its control line, exactly, and are paid in its payout.
  const sums = new Map<string, SettlementBatch>()
  for (const l of lines) {
    const b = sums.get(l.batch) ?? { batch: l.batch, payoutId: l.payoutId, bookingDay: l.bookingDay, lines: 0, grossCents: 0, feeCents: 0, netCents: 0 }
    b.lines++
    b.grossCents += l.grossCents
    b.feeCents += l.feeCents
    b.netCents += l.netCents
    if (l.payoutId !== b.payoutId) fail(l.line, 'payout_id', `batch ${l.batch} is paid in ${b.payoutId}, not ${l.payoutId}`)
    sums.set(l.batch, b)
  }
  for (const [batch, b] of sums) {
    const c = controls.get(batch)
    if (c === undefined) { fail(0, 'batch_number', `batch ${batch} has no MerchantPayout control line`); continue }
    if (c.payoutId !== b.payoutId) fail(c.line, 'payout_id', `batch ${batch}'s lines are paid in ${b.payoutId}, its control line says ${c.payoutId}`)
    for (const k of ['grossCents', 'feeCents', 'netCents'] as const) {
      if (c[k] !== b[k]) fail(c.line, k.replace('Cents', ''), `batch ${batch}'s lines add up to ${formatMinorUnits(b[k], currency)}, its control line says ${formatMinorUnits(c[k], currency)}`)
    }
  }
  for (const [batch, c] of controls) if (!sums.has(batch)) fail(c.line, 'batch_number', `control line of batch ${batch}, which has no lines`)
  if (count > 0) throw new SettlementFileError(`batch_control_mismatch: the file is refused whole, ${count} problem(s)`, problems, 'batch_control_mismatch')
  const batches = [...sums.values()].sort((a, b) => a.batch < b.batch ? -1 : a.batch > b.batch ? 1 : 0)
  return { currency, lines, batches }
}

/** A settlement report as the embedded processor writes it (lines, then each batch's control line). */
export function toSettlementCsv (file: SettlementFile): string {
  const f = (n: number): string => formatMinorUnits(n, file.currency)
  const out = [SETTLEMENT_COLUMNS.join(',')]
  for (const l of file.lines) out.push([l.processorRef, l.paymentId ?? '', l.paymentMethod, l.bookingDay, l.type, file.currency, f(l.grossCents), f(l.feeCents), f(l.netCents), l.batch, l.payoutId].join(','))
  for (const b of file.batches) out.push([b.payoutId, '', '', b.bookingDay, 'MerchantPayout', file.currency, f(b.grossCents), f(b.feeCents), f(b.netCents), b.batch, b.payoutId].join(','))
  return out.join('\n') + '\n'
}

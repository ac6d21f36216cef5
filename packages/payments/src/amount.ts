/**
 * Amounts as files and processors write them (decimal strings) read into integer minor units
 * of their currency, exactly: `12.34` EUR is 1234, `1000` JPY is 1000, `1.234` KWD is 1234. An
 * amount with more decimals than its currency has is refused, never rounded; so is anything
 * that is not a plain decimal (exponents, thousands separators, a leading `+`).
 */
import { AMOUNT_WHOLE_DIGITS_MAX } from './constants.ts'
import { PaymentsError } from './errors.ts'

/** ISO 4217 minor-unit exponents of the currencies the adapters settle in. */
export const CURRENCY_EXPONENTS: Readonly<Record<string, number>> = Object.freeze({
  AUD: 2, BGN: 2, CAD: 2, CHF: 2, CZK: 2, DKK: 2, EUR: 2, GBP: 2, HKD: 2, HUF: 2, NOK: 2, NZD: 2, PLN: 2, RON: 2, SEK: 2, SGD: 2, USD: 2, ZAR: 2,
  ISK: 0, JPY: 0, KRW: 0,
  BHD: 3, JOD: 3, KWD: 3, OMR: 3, TND: 3
})

export function exponentOf (currency: string): number {
  const e = Object.hasOwn(CURRENCY_EXPONENTS, currency) ? CURRENCY_EXPONENTS[currency] : undefined
  if (e === undefined) throw new PaymentsError(`unknown currency ${JSON.stringify(String(currency).slice(0, 8))}`)
  return e
}

const AMOUNT_RE = new RegExp(`^(-?)(0|[1-9][0-9]{0,${AMOUNT_WHOLE_DIGITS_MAX - 1}})(?:\\.([0-9]+))?$`)

/** `text` in minor units of `currency`; negative only if `signed`. Throws PaymentsError with the reason. */
export function parseMinorUnits (text: string, currency: string, opts: { signed?: boolean } = {}): number {
  const exponent = exponentOf(currency)
  const m = typeof text === 'string' ? AMOUNT_RE.exec(text) : null
  if (m === null) throw new PaymentsError(`${JSON.stringify(String(text).slice(0, 24))} is not a decimal amount like 12.34`)
  const [, sign, whole, fraction = ''] = m
  if (sign === '-' && opts.signed !== true) throw new PaymentsError(`${text} is negative`)
  if (fraction.length > exponent) throw new PaymentsError(`${text} has ${fraction.length} decimals: ${currency} has ${exponent}, and amounts are never rounded`)
  // Whole units and the fraction as digit strings, joined: one exact integer.
  const minor = Number(`${whole as string}${fraction.padEnd(exponent, '0')}`)
  if (!Number.isSafeInteger(minor)) throw new PaymentsError(`${text} is out of range`)
  return sign === '-' && minor !== 0 ? -minor : minor
}

/** Minor units as a file writes them: 1234 EUR → "12.34", -5 → "-0.05", 1000 JPY → "1000". */
export function formatMinorUnits (minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`not an amount in minor units: ${minor}`)
  const exponent = exponentOf(currency)
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0')
  const body = exponent === 0 ? digits : `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`
  return minor < 0 ? `-${body}` : body
}

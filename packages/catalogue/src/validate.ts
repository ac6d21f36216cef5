/**
 * Small validators for untrusted values (a catalogue read from JSON, a sale posted to a till).
 * Each names the offending field by its path, so a bad catalogue is fixed at the first try.
 */
import { SKU_RE } from './constants.ts'
import { InvalidProductError, InvalidSkuError, LimitExceededError, quote, type CatalogueError } from './errors.ts'

type Fields = { readonly [key: string]: unknown }
type ErrorClass = new (message: string) => CatalogueError

/** A plain object with exactly the required keys and some of the optional ones: a typo (`price`) is an error, not a silent default. */
export function fields (v: unknown, path: string, required: readonly string[], optional: readonly string[] = [], Err: ErrorClass = InvalidProductError): Fields {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Err(`${path} must be an object`)
  const o = v as Fields
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) throw new Err(`${path}.${k} is not a known field (known: ${[...required, ...optional].join(', ')})`)
  for (const k of required) if (o[k] === undefined) throw new Err(`${path}.${k} is missing`)
  return o
}

/** A safe integer in min..max. */
export function int (v: unknown, path: string, min: number, max: number, Err: ErrorClass = InvalidProductError): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Err(`${path} must be an integer, is ${quote(v)}`)
  if (v < min || v > max) throw new Err(`${path} must be in ${min}..${max}, is ${v}`)
  return v
}

export function bool (v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new InvalidProductError(`${path} must be true or false`)
  return v
}

/** A list of at most lengthMax items (more is a LimitExceededError: well-formed, but too much). */
export function list (v: unknown, path: string, lengthMax: number, Err: ErrorClass = InvalidProductError): readonly unknown[] {
  if (!Array.isArray(v)) throw new Err(`${path} must be a list`)
  if (v.length > lengthMax) throw new LimitExceededError(`${path} has ${v.length} items, at most ${lengthMax}`)
  return v
}

export function sku (v: unknown, path: string): string {
  if (typeof v !== 'string' || !SKU_RE.test(v)) throw new InvalidSkuError(`${path} must be a sku matching ${SKU_RE}, is ${quote(v)}`)
  return v
}

/** Printable text of 1..charsMax characters with no surrounding spaces: it goes on receipts and till buttons. */
export function text (v: unknown, path: string, charsMax: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > charsMax || v.trim() !== v || /[\u0000-\u001f\u007f]/.test(v)) {
    throw new InvalidProductError(`${path} must be 1..${charsMax} printable characters without surrounding spaces, is ${quote(v)}`)
  }
  return v
}

/** Small validators for decoded, untrusted values. Each throws InvalidRecordError with the field's path. */
import { InvalidRecordError } from './errors.ts'
import type { Canonical } from './canonical.ts'

export type Obj = { [key: string]: Canonical }

export function obj (v: Canonical | undefined, path: string, keys: readonly string[], optional: readonly string[] = []): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) throw new InvalidRecordError(`${path} must be a map`)
  for (const k of Object.keys(v)) if (!keys.includes(k) && !optional.includes(k)) throw new InvalidRecordError(`${path}.${k} is not a known field`)
  for (const k of keys) if (!(k in v)) throw new InvalidRecordError(`${path}.${k} is missing`)
  return v
}

export function int (v: Canonical | undefined, path: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new InvalidRecordError(`${path} must be an integer`)
  if (v < min || v > max) throw new InvalidRecordError(`${path} must be in ${min}..${max}, is ${v}`)
  return v
}

export function str (v: Canonical | undefined, path: string, re: RegExp, lengthMax = 64): string {
  if (typeof v !== 'string' || v.length > lengthMax || !re.test(v)) throw new InvalidRecordError(`${path} must match ${re} (at most ${lengthMax} chars)`)
  return v
}

export function bytes (v: Canonical | undefined, path: string, length: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== length) throw new InvalidRecordError(`${path} must be ${length} bytes`)
  return v
}

export function arr (v: Canonical | undefined, path: string, lengthMax: number): Canonical[] {
  if (!Array.isArray(v)) throw new InvalidRecordError(`${path} must be a list`)
  if (v.length > lengthMax) throw new InvalidRecordError(`${path} has ${v.length} items, at most ${lengthMax}`)
  return v
}

/** Lists are kept sorted by a key with no repeats, so one value has one encoding. */
export function sortedUnique<T> (items: T[], key: (t: T) => string | number, path: string): T[] {
  for (let i = 1; i < items.length; i++) {
    const a = key(items[i - 1] as T)
    const b = key(items[i] as T)
    if (!(a < b)) throw new InvalidRecordError(`${path} must be sorted by key with no repeats (at ${i})`)
  }
  return items
}

export const SKU_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/
export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/

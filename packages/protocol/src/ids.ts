/** Identifiers, branded so a store id cannot be passed where a till id is wanted. */
import { DOC_N_MAX } from './constants.ts'
import { InvalidRecordError } from './errors.ts'

export type StoreId = string & { readonly __brand: 'StoreId' }
/** A till slot: `<store>-<till number>`. The key that signs for it may change (a replacement till). */
export type TillId = string & { readonly __brand: 'TillId' }
/** `<store>-<till>-<n>`, n contiguous per till, never reused. */
export type DocNo = string & { readonly __brand: 'DocNo' }
/** Hex SHA-256 of an entry. */
export type EntryHash = string & { readonly __brand: 'EntryHash' }
/** `YYYY-MM-DD`, the till's trading day (not the wall clock's). */
export type BusinessDay = string & { readonly __brand: 'BusinessDay' }

export const STORE_RE = /^[A-Z][A-Z0-9]{0,15}$/
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/
export const TILL_NO_MAX = 999

export function asStoreId (s: unknown): StoreId {
  if (typeof s !== 'string' || !STORE_RE.test(s)) throw new InvalidRecordError(`store id must match ${STORE_RE}: ${String(s).slice(0, 40)}`)
  return s as StoreId
}

export function asTillNo (n: unknown): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > TILL_NO_MAX) throw new InvalidRecordError(`till number must be 1..${TILL_NO_MAX}`)
  return n
}

export function tillIdOf (store: StoreId, till: number): TillId {
  return `${asStoreId(store)}-${asTillNo(till)}` as TillId
}

export function parseTillId (id: string): { store: StoreId, till: number } {
  const i = id.lastIndexOf('-')
  if (i < 0) throw new InvalidRecordError(`not a till id: ${id.slice(0, 40)}`)
  const store = asStoreId(id.slice(0, i))
  const tillText = id.slice(i + 1)
  if (!/^[1-9]\d{0,2}$/.test(tillText)) throw new InvalidRecordError(`not a till id: ${id.slice(0, 40)}`)
  return { store, till: asTillNo(Number(tillText)) }
}

export function docNoOf (store: StoreId, till: number, n: number): DocNo {
  if (!Number.isSafeInteger(n) || n < 1 || n > DOC_N_MAX) throw new InvalidRecordError(`document number out of range: ${n}`)
  return `${tillIdOf(store, till)}-${n}` as DocNo
}

export function parseDocNo (docNo: string): { store: StoreId, till: number, n: number } {
  const i = docNo.lastIndexOf('-')
  const { store, till } = parseTillId(docNo.slice(0, i))
  const nText = docNo.slice(i + 1)
  if (!/^[1-9]\d*$/.test(nText)) throw new InvalidRecordError(`not a document number: ${docNo.slice(0, 40)}`)
  const n = Number(nText)
  if (n > DOC_N_MAX) throw new InvalidRecordError(`document number out of range: ${n}`)
  return { store, till, n }
}

/** Days already checked: a fleet's records carry a handful of distinct days, and Date parsing is HQ's hot path. */
const knownDays = new Set<string>()
const KNOWN_DAYS_MAX = 10_000

export function asBusinessDay (s: unknown): BusinessDay {
  if (typeof s === 'string' && knownDays.has(s)) return s as BusinessDay
  const day = checkDay(s)
  if (knownDays.size >= KNOWN_DAYS_MAX) knownDays.clear()
  knownDays.add(day)
  return day
}

/** `asBusinessDay` without the throw: whether `s` is a real day written YYYY-MM-DD. */
export function isBusinessDay (s: string): boolean {
  if (knownDays.has(s)) return true
  try {
    asBusinessDay(s)
    return true
  } catch {
    return false
  }
}

function checkDay (s: unknown): BusinessDay {
  const m = typeof s === 'string' ? DAY_RE.exec(s) : null
  if (m === null) throw new InvalidRecordError('business day must be YYYY-MM-DD')
  const d = new Date(`${s as string}T00:00:00Z`)
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s) throw new InvalidRecordError(`no such day: ${s as string}`)
  return s as BusinessDay
}

/** The day after `day`, in the proleptic Gregorian calendar. */
export function nextBusinessDay (day: BusinessDay): BusinessDay {
  const d = new Date(`${day}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + 1)
  return d.toISOString().slice(0, 10) as BusinessDay
}

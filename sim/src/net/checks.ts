/** Pure checks over what the launcher saw: HQ's books (as JSON over HTTP) against the oracle, document numbers, snapshots. */
import { isDeepStrictEqual } from 'node:util'
import type { OracleBooks } from '../Oracle.ts'

export interface BooksJson {
  accounts: Record<string, number>
  stores: Record<string, { takingsCents: number, [k: string]: unknown }>
  trialBalance?: { debitsCents: number, creditsCents: number }
  members?: Record<string, number>
  counts?: unknown
  tills?: Record<string, { lastSeq: number, lastClosedDay?: string | null, pending?: number, forked?: boolean, lastDocN?: number | null }>
  [k: string]: unknown
}

export function nonZero (o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0).sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

export function sum (xs: readonly number[]): number {
  let s = 0
  for (const x of xs) s += x
  return s
}

export function diff (a: Record<string, number>, b: Record<string, number>): Record<string, { books: number, oracle: number }> {
  const out: Record<string, { books: number, oracle: number }> = {}
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) if ((a[k] ?? 0) !== (b[k] ?? 0)) out[k] = { books: a[k] ?? 0, oracle: b[k] ?? 0 }
  return out
}

export function storeTakings (stores: Record<string, { takingsCents: number }>): Record<string, number> {
  return nonZero(Object.fromEntries(Object.entries(stores).map(([k, v]) => [k, v.takingsCents])))
}

export interface BooksVsOracle {
  accountsEqual: boolean
  storesEqual: boolean
  pointsEqual: boolean | null
  debitsEqualCredits: boolean
  booksCents: number
  oracleCents: number
  accountDiff: Record<string, { books: number, oracle: number }>
  storeDiff: Record<string, { books: number, oracle: number }>
}

/** B4: account by account, store by store, to the cent; and the trial balance balances. */
export function compareBooks (books: BooksJson, oracle: OracleBooks): BooksVsOracle {
  const a = nonZero(books.accounts)
  const o = nonZero(oracle.accounts)
  const bs = storeTakings(books.stores)
  const os = storeTakings(oracle.stores)
  const tb = books.trialBalance
  return {
    accountsEqual: isDeepStrictEqual(a, o),
    storesEqual: isDeepStrictEqual(bs, os),
    pointsEqual: books.members === undefined ? null : isDeepStrictEqual(nonZero(books.members), nonZero(oracle.members)),
    debitsEqualCredits: sum(Object.values(books.accounts)) === 0 && (tb === undefined || tb.debitsCents === tb.creditsCents),
    booksCents: sum(Object.values(books.stores).map(s => s.takingsCents)),
    oracleCents: oracle.takingsCents,
    accountDiff: diff(a, o),
    storeDiff: diff(bs, os)
  }
}

/** Books as compared across a restart or a resend: the running duplicate counters are not books. */
export function booksCore (b: BooksJson): Omit<BooksJson, 'counts'> {
  const { counts: _, ...rest } = b
  return rest
}

export function sameBooks (a: BooksJson, b: BooksJson): boolean {
  return isDeepStrictEqual(booksCore(a), booksCore(b))
}

export interface DocNoReport {
  documents: number
  clashes: number
  gaps: number
  /** Document numbers that did not name the till that issued them. */
  foreign: number
}

/**
 * G1: across every till, no document number was issued twice, and per till slot the numbers
 * run 1, 2, 3, … without a gap (also across a replacement till after a fire).
 */
export function checkDocNos (byTill: ReadonlyMap<string, readonly string[]>): DocNoReport {
  const seen = new Set<string>()
  let clashes = 0
  let gaps = 0
  let foreign = 0
  let documents = 0
  for (const [tillId, list] of byTill) {
    const ns: number[] = []
    for (const d of list) {
      documents++
      if (seen.has(d)) clashes++
      seen.add(d)
      const i = d.lastIndexOf('-')
      if (d.slice(0, i) !== tillId) foreign++
      ns.push(Number(d.slice(i + 1)))
    }
    ns.sort((x, y) => x - y)
    ns.forEach((n, k) => { if (n !== k + 1) gaps++ })
  }
  return { documents, clashes, gaps, foreign }
}

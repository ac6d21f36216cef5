/**
 * Exports of a journal: an hledger journal (accountants check our books with a tool we did
 * not write) and CSV (one row per posting, for spreadsheets and auditors).
 *
 * Both are pure functions of the transactions, with no timestamps or host details, so the
 * same books export to the same bytes on every HQ replica.
 */
import { CHART } from './accounts.ts'
import type { Posting, Transaction } from './journal.ts'
import { formatCents } from './money.ts'
import { bug } from './bug.ts'

const CURRENCY_RE = /^[A-Z]{3}$/

export function assertCurrency (currency: string): string {
  // Three capital letters (ISO 4217) need no quoting in hledger and cannot be mistaken for a number.
  if (!CURRENCY_RE.test(currency)) bug(`currency must be an ISO 4217 code like EUR, is ${JSON.stringify(currency)}`)
  return currency
}

/**
 * An hledger journal `hledger check -s` accepts (checked in this package's tests against
 * hledger 1.25): the commodity and every account declared (with hledger account types, so
 * `hledger bs` and `hledger is` work), transactions in date order, amounts as plain
 * decimals with two places. The transaction id is the hledger code: `(…)`.
 */
export function toHledger (transactions: readonly Transaction[], currency: string): string {
  assertCurrency(currency)
  const out: string[] = [
    '; tillbooks: double-entry books rebuilt from the signed till records.',
    `; Generated, do not edit. Amounts in ${currency}; debit positive, credit negative.`,
    '',
    // The sample amount fixes the display style: '.' decimal mark, two places, no grouping.
    `commodity 1000.00 ${currency}`,
    ''
  ]
  // Two spaces before the comment: account names may contain single spaces.
  // Sub-accounts (per processor) are declared too: `check -s` refuses an undeclared account.
  const subs = new Set<string>()
  for (const tx of transactions) for (const p of tx.postings) if (p.sub !== undefined) subs.add(accountName(p))
  for (const c of CHART) {
    out.push(`account ${c.account}  ; type: ${c.type}`)
    for (const s of [...subs].filter(s => s.startsWith(`${c.account}:`)).sort()) out.push(`account ${s}  ; type: ${c.type}`)
  }
  let previousDate = ''
  for (const tx of transactions) {
    if (tx.date < previousDate) bug(`transactions out of date order at ${tx.id}`)
    previousDate = tx.date
    out.push('', `${tx.date} (${tx.id}) ${tx.description}`)
    // Two spaces end the account name; one would make the amount part of it.
    for (const p of tx.postings) out.push(`    ${accountName(p)}  ${formatCents(p.amountCents)} ${currency}`)
  }
  out.push('')
  return out.join('\n')
}

/** The account a posting names in exports: the account, or its sub-account under it. */
export function accountName (p: Posting): string {
  return p.sub === undefined ? p.account : `${p.account}:${p.sub}`
}

export const CSV_HEADER = 'date,txid,description,account,amount,amountCents'

/**
 * One row per posting: `date,txid,description,account,amount,amountCents`, where `amount`
 * is the decimal string ("-12.30") and `amountCents` the same amount as an integer, so a
 * spreadsheet and a program each get a column they read without rounding. Debit positive.
 * RFC 4180 quoting, `\n` line ends.
 */
export function toCsv (transactions: readonly Transaction[]): string {
  const rows: string[] = [CSV_HEADER]
  for (const tx of transactions) {
    for (const p of tx.postings) {
      rows.push([tx.date, tx.id, tx.description, accountName(p), formatCents(p.amountCents), String(p.amountCents)].map(csvField).join(','))
    }
  }
  rows.push('')
  return rows.join('\n')
}

function csvField (value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replaceAll('"', '""')}"` : value
}

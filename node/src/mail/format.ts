/**
 * The human-readable side of a backup: money from integer cents (string arithmetic on the
 * integer's digits, never a float), and the plain-text body a person reads in the mailbox.
 */
import { docNoOf, type Close, type Entry, type StockIn } from '@tillbooks/protocol'

/** Integer cents as `1,234.56` (or `-0.05`), grouped by thousands. */
export function moneyText (cents: number, currency?: string): string {
  if (!Number.isSafeInteger(cents)) throw new RangeError(`not integer cents: ${cents}`)
  const negative = cents < 0
  const digits = String(negative ? -cents : cents).padStart(3, '0')
  const units = digits.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `${negative ? '-' : ''}${units}.${digits.slice(-2)}${currency === undefined ? '' : ` ${currency}`}`
}

/** A Close's takings: every tender, net of refunds. */
export function takingsOf (close: Close): number {
  return close.takingsCents.cash + close.takingsCents.card
}

export function lastCloseOf (entries: readonly Entry[]): Close | undefined {
  for (let i = entries.length - 1; i >= 0; i--) {
    const r = entries[i]?.record
    if (r?.kind === 'close') return r
  }
  return undefined
}

function describe (e: Entry): string {
  const r = e.record
  if (r.kind === 'close') return `seq ${r.seq}  Close    ${r.businessDay}  takings ${moneyText(takingsOf(r))}, documents ${r.docFirst}..${r.docLast}`
  const s: StockIn = r
  return `seq ${s.seq}  StockIn  ${s.businessDay}  ${s.replenishmentId.slice(0, 24)}, ${s.received.length} line(s)`
}

export interface BodyFacts {
  tillId: string
  entries: readonly Entry[]
  currency?: string
  attachment: string
}

export function subjectOf (entries: readonly Entry[], tillId: string, currency?: string): string {
  const head = entries[entries.length - 1]
  const close = lastCloseOf(entries)
  if (head === undefined) return `tillbooks backup ${tillId}: no entries`
  if (close !== undefined && close.seq === head.record.seq) {
    return `tillbooks backup ${tillId}: close ${close.businessDay}, seq ${close.seq}, takings ${moneyText(takingsOf(close), currency)}`
  }
  return `tillbooks backup ${tillId}: seq ${head.record.seq} (${head.record.kind} ${head.record.businessDay})`
}

/**
 * The plain-text body. No line starts with "From " (mbox), every line is short ASCII, and
 * nothing in it is trusted by recovery: it is for the person reading the mailbox.
 */
export function bodyOf (f: BodyFacts): string {
  const { entries, currency } = f
  const head = entries[entries.length - 1]
  const close = lastCloseOf(entries)
  const first = entries[0]
  const lines: string[] = []
  lines.push(`Signed backup of till ${f.tillId}.`, '')
  if (close !== undefined) {
    const docs = close.docLast >= close.docFirst
      ? `${docNoOf(close.store, close.till, close.docFirst)} .. ${docNoOf(close.store, close.till, close.docLast)}`
      : 'none (no sales)'
    lines.push(
      `Store:          ${close.store}`,
      `Till:           ${close.till}`,
      `Business day:   ${close.businessDay}`,
      `Close seq:      ${close.seq}`,
      `Takings:        ${moneyText(takingsOf(close), currency)}`,
      `  cash:         ${moneyText(close.takingsCents.cash, currency)}`,
      `  card:         ${moneyText(close.takingsCents.card, currency)}`,
      `Refunds:        ${moneyText(close.refundsCents, currency)}`,
      `Sales:          ${close.saleCount}, refunds: ${close.refundCount}`,
      `Documents:      ${docs}`,
      ''
    )
  }
  if (head !== undefined && first !== undefined) {
    lines.push(`Attached: ${f.attachment}`, `${entries.length} signed entr${entries.length === 1 ? 'y' : 'ies'}, seq ${first.record.seq} .. ${head.record.seq}, head ${head.hash.slice(0, 16)}:`)
    for (const e of entries) lines.push(`  ${describe(e)}`)
    lines.push('')
  }
  lines.push(
    'The attachment holds the till\'s signed log entries (canonical CBOR,',
    'see node/src/mail/README.md). Recovery trusts only their signatures,',
    'checked against head office\'s enrolment, never this text or the',
    'headers. To restore after a fire:',
    `  npx tillbooks recover --from-mail <mailbox> --store ${f.tillId.slice(0, f.tillId.lastIndexOf('-'))} \\`,
    `    --till ${f.tillId.slice(f.tillId.lastIndexOf('-') + 1)} --hq <url> --to-dir <new till dir>`,
    ''
  )
  return lines.join('\n')
}

/** Human-readable tables for a simulated run. Amounts print from integer cents, never floats. */
import type { SimResult } from './Simulation.ts'
import { replayCommand, worldOf } from './replay.ts'

export function centsText (cents: number): string {
  const neg = cents < 0
  const a = Math.abs(cents)
  const units = Math.floor(a / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `${neg ? '-' : ''}${units}.${String(a % 100).padStart(2, '0')}`
}

function table (rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map(r => (r[i] ?? '').length))) ?? []
  return rows.map((r, ri) => {
    const line = r.map((c, i) => i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join('   ')
    return ri === 0 ? `${line}\n${widths.map(w => '-'.repeat(w)).join('   ')}` : line
  }).join('\n')
}

export function formatSimResult (r: SimResult, opts: { storesShown?: number } = {}): string {
  const out: string[] = []
  out.push(`tillbooks simulation: seed ${r.seed}, ${r.tills} tills in ${r.stores} stores, ${r.days} day(s), faults: ${r.faults.length > 0 ? r.faults.join(', ') : 'none'}`)
  out.push(`${r.sales} sales rung up; HQ accepted ${r.recordsAccepted} records, ignored ${r.duplicatesIgnored} duplicates, rejected ${r.forgedRejected} forged/malformed and ${r.forksDetected} forks`)
  out.push('')
  out.push('Books at HQ (debit positive)')
  out.push(table([['account', 'balance'], ...Object.entries(r.books.accounts).map(([k, v]) => [k, centsText(v)])]))
  out.push('')
  const stores = Object.entries(r.books.stores)
  const shown = stores.slice(0, opts.storesShown ?? 8)
  out.push(`Takings per store (${shown.length} of ${stores.length})`)
  out.push(table([['store', 'takings'], ...shown.map(([k, v]) => [k, centsText(v.takingsCents)]), ['all stores', centsText(r.booksCents)], ['oracle', centsText(r.oracleCents)]]))
  out.push('')
  const sync = r.details.sync as { pulls: number, roundTrips: number, refused: number, gossip: { accepted: number, ignored: number, rejected: number }, forgedAnnouncements: { rejected: number } } | undefined
  if (sync !== undefined) {
    out.push(`Replicas by Automerge sync: ${sync.pulls} pulls in ${sync.roundTrips} round trips, ${sync.refused} messages refused; announcements ${sync.gossip.accepted} accepted, ${sync.gossip.ignored} ignored, ${sync.gossip.rejected} rejected, ${sync.forgedAnnouncements.rejected} forged ones rejected`)
    out.push('')
  }
  const clash = r.details.catalogueClash as { gtin?: string, stores?: string[], invented: Array<{ sku: string }>, resolution: { from: string, canonical: string } | null, sales: { inventedLines: number, throughAlias: number }, skipped?: string } | undefined
  if (clash !== undefined) {
    out.push(clash.skipped !== undefined
      ? `Catalogue clash: not staged (${clash.skipped})`
      : `Catalogue clash: GTIN ${clash.gtin ?? ''} made up offline at ${(clash.stores ?? []).join(' and ')} as ${clash.invented.map(x => x.sku).join(' and ')}; ${clash.resolution === null ? 'not resolved' : `resolved same as ${clash.resolution.canonical} from ${clash.resolution.from}`}; ${clash.sales.inventedLines} sale lines of them, ${clash.sales.throughAlias} through the alias`)
    out.push('')
  }
  const cards = r.details.cardPayments as { outage: { from: string, until: string } | null, sales: { cardSales: number, declinedSales: number, stored: number, forwarded: number, lateDeclines: number, expired: number }, reconciliation: { matched: number, exceptions: Record<string, number> } } | undefined
  if (cards !== undefined) {
    const x = Object.entries(cards.reconciliation.exceptions).map(([k, n]) => `${n} ${k}`).join(', ')
    out.push(`Card payments: ${cards.sales.cardSales} card sales, ${cards.sales.declinedSales} declined (no sale), ${cards.sales.stored} stored offline${cards.outage !== null ? ` (processor down ${cards.outage.from} to ${cards.outage.until})` : ''}, ${cards.sales.forwarded} forwarded, ${cards.sales.lateDeclines} late declines, ${cards.sales.expired} expired; reconciled: ${cards.reconciliation.matched} matched${x !== '' ? `, ${x}` : ''}`)
    out.push('')
  }
  out.push('Invariants')
  out.push(table([['check', 'result'], ...Object.entries(r.invariants).map(([k, v]) => [k, v ? 'PASS' : 'FAIL'])]))
  const failed = Object.entries(r.invariants).filter(([, v]) => !v).map(([k]) => k)
  out.push('')
  out.push(failed.length === 0 ? 'All invariants hold.' : `FAILED: ${failed.join(', ')} — replay with: ${replayCommand(worldOf(r))}`)
  return out.join('\n')
}

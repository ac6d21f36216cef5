/**
 * The auditor: the books a set of till entries should give, computed straight from the
 * definitions and the records, in one pass over the whole set, without TillChain, Books or
 * the journal's posting rules. Property tests compare Books with it, as TigerBeetle's
 * auditor checks every reply of the cluster it audits.
 */
import { bytesEqual, GENESIS_HASH, POINT_VALUE_CENTS, toHex, type Entry, type SkuQty } from '@tillbooks/protocol'
import type { BooksSnapshot, ForkEvidence, StoreSnapshot, TillSnapshot } from '../../src/index.ts'

export interface Audit {
  /** Per till: the halt (first fork or break) or null, and how many entries fold. */
  halts: Map<string, number | null>
  folded: Entry[]
  expected: Omit<BooksSnapshot, 'counts'> & { counts: Omit<BooksSnapshot['counts'], 'duplicates'> }
}

const value = (lines: readonly SkuQty[], cost: (sku: string) => number): number => lines.reduce((s, l) => s + l.qty * cost(l.sku), 0)
const sortKeys = <T>(o: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))

export function audit (entries: readonly Entry[], cost: (sku: string) => number): Audit {
  // The set: distinct by hash.
  const distinct = new Map<string, Entry>()
  for (const e of entries) distinct.set(e.hash, e)
  const byTill = new Map<string, Map<number, Entry[]>>()
  for (const e of distinct.values()) {
    const till = byTill.get(e.tillId) ?? new Map<number, Entry[]>()
    byTill.set(e.tillId, till)
    till.set(e.record.seq, [...(till.get(e.record.seq) ?? []), e])
  }

  const halts = new Map<string, number | null>()
  const folded: Entry[] = []
  const tills: Record<string, TillSnapshot> = {}
  const forks: ForkEvidence[] = []
  for (const [tillId, seqs] of [...byTill].sort(([a], [b]) => a < b ? -1 : 1)) {
    const unique = (s: number): Entry | undefined => { const l = seqs.get(s); return l?.length === 1 ? l[0] : undefined }
    let halt: number | null = null
    for (const s of [...seqs.keys()].sort((a, b) => a - b)) {
      const here = seqs.get(s) ?? []
      const one = unique(s)
      const before = s === 1 ? GENESIS_HASH : unique(s - 1)?.hashBytes
      const broken = one !== undefined && before !== undefined && !bytesEqual(one.record.prevHash, before)
      if (here.length >= 2 || broken) { halt = s; break }
    }
    halts.set(tillId, halt)
    let k = 0
    while (seqs.has(k + 1) && (halt === null || k + 1 < halt)) k++
    const mine: Entry[] = []
    for (let s = 1; s <= k; s++) mine.push(unique(s) as Entry)
    folded.push(...mine)
    const closes = mine.filter(e => e.record.kind === 'close')
    const lastClose = closes.at(-1)?.record
    const total = [...seqs.values()].reduce((n, l) => n + l.length, 0)
    tills[tillId] = {
      lastSeq: k,
      lastClosedDay: lastClose?.businessDay ?? null,
      pending: total - k,
      forked: halt !== null,
      lastDocN: lastClose?.kind === 'close' && lastClose.docLast >= 1 ? lastClose.docLast : null
    }
    if (halt !== null) {
      const at = (seqs.get(halt) ?? []).map(e => e.hash).sort()
      const prev = halt === 1 ? toHex(GENESIS_HASH) : unique(halt - 1)?.hash
      forks.push(at.length >= 2
        ? { tillId: tillId as never, seq: halt, reason: 'fork', hashes: at as never, predecessorHash: null }
        : { tillId: tillId as never, seq: halt, reason: 'chain', hashes: at as never, predecessorHash: (prev ?? null) as never })
    }
  }

  // Accounts, from the records' own fields (identities, not the posting rules):
  // the drawer holds what was counted; stock moves at cost; transit clears at shipped.
  const acc = {
    'assets:cash:drawer': 0, 'assets:card clearing': 0, 'assets:inventory:in transit': 0, 'assets:inventory:store': 0,
    'assets:inventory:warehouse': 0, 'equity:opening': 0, 'expenses:cash over short': 0, 'expenses:cost of goods sold': 0,
    'expenses:stock shrinkage': 0, 'liabilities:vat payable': 0, 'revenue:sales': 0,
    'assets:bank': 0, 'assets:card payouts due': 0, 'expenses:card fees': 0, 'expenses:card losses': 0,
    'liabilities:loyalty points': 0, 'expenses:loyalty points': 0
  }
  // Per processor: what its payments put in clearing, less what the Closes report lost.
  const subAccounts: Record<string, number> = {}
  const stores: Record<string, StoreSnapshot> = {}
  const members: Record<string, number> = {}
  for (const e of folded) {
    const r = e.record
    const s = stores[r.store] ??= {
      takingsCents: 0, cashCents: 0, cardCents: 0, salesNetCents: 0, taxCents: 0, refundsCents: 0, cogsCents: 0,
      grossMarginCents: 0, cashOverShortCents: 0, shrinkageCents: 0, saleCount: 0, refundCount: 0, stockOnHand: {}
    }
    if (r.kind === 'close') {
      const net = r.tax.reduce((n, t) => n + t.netCents, 0)
      const tax = r.tax.reduce((n, t) => n + t.taxCents, 0)
      const cogs = value(r.consumed, cost)
      const over = r.cashCountedCents - r.takingsCents.cash
      acc['assets:cash:drawer'] += r.cashCountedCents
      acc['assets:card clearing'] += r.takingsCents.card
      // Points are owed at their value from earning to redemption: the liability is what was
      // earned, less cancelled, less redeemed; the expense what was earned less cancelled.
      const earned = r.points.reduce((n, p) => n + p.points, 0) - (r.pointsCancelled ?? []).reduce((n, p) => n + p.points, 0)
      const redeemedCents = (r.redeemed ?? []).reduce((n, p) => n + p.points, 0) * POINT_VALUE_CENTS
      acc['expenses:loyalty points'] += earned * POINT_VALUE_CENTS
      acc['liabilities:loyalty points'] += redeemedCents - earned * POINT_VALUE_CENTS
      for (const p of r.payments ?? []) subAccounts[`assets:card clearing:${p.processor}`] = (subAccounts[`assets:card clearing:${p.processor}`] ?? 0) + p.amountCents
      for (const d of [...(r.lateDeclines ?? []), ...(r.expired ?? [])]) {
        acc['assets:card clearing'] -= d.amountCents
        acc['expenses:card losses'] += d.amountCents
        subAccounts[`assets:card clearing:${d.processor}`] = (subAccounts[`assets:card clearing:${d.processor}`] ?? 0) - d.amountCents
      }
      acc['revenue:sales'] -= net
      acc['liabilities:vat payable'] -= tax
      acc['expenses:cash over short'] -= over
      acc['expenses:cost of goods sold'] += cogs
      acc['assets:inventory:store'] -= cogs
      s.takingsCents += r.takingsCents.cash + r.takingsCents.card
      s.cashCents += r.takingsCents.cash
      s.cardCents += r.takingsCents.card
      s.salesNetCents += net
      s.taxCents += tax
      s.refundsCents += r.refundsCents
      s.cogsCents += cogs
      s.grossMarginCents += net - cogs
      s.cashOverShortCents += over
      s.saleCount += r.saleCount
      s.refundCount += r.refundCount
      for (const l of r.consumed) s.stockOnHand[l.sku] = (s.stockOnHand[l.sku] ?? 0) - l.qty
      for (const p of r.points) members[p.member] = (members[p.member] ?? 0) + p.points
    } else {
      const received = value(r.received, cost)
      const shipped = value(r.shipped, cost)
      acc['assets:inventory:store'] += received
      acc['assets:inventory:in transit'] -= shipped
      acc['expenses:stock shrinkage'] += shipped - received
      s.shrinkageCents += shipped - received
      for (const l of r.received) s.stockOnHand[l.sku] = (s.stockOnHand[l.sku] ?? 0) + l.qty
    }
  }
  for (const s of Object.values(stores)) {
    s.stockOnHand = sortKeys(Object.fromEntries(Object.entries(s.stockOnHand).filter(([, q]) => q !== 0)))
  }
  const balances = Object.values(acc)
  const debitsCents = balances.filter(b => b > 0).reduce((a, b) => a + b, 0)
  const creditsCents = 0 - balances.filter(b => b < 0).reduce((a, b) => a + b, 0)
  return {
    halts,
    folded,
    expected: {
      accounts: acc,
      trialBalance: { debitsCents, creditsCents },
      stores: sortKeys(stores),
      tills,
      members: sortKeys(members),
      forks,
      counts: {
        folded: folded.length,
        pending: distinct.size - folded.length,
        forks: forks.length,
        replenishments: 0,
        openings: 0,
        settlements: 0,
        settledLines: 0,
        payouts: 0
      },
      subAccounts: sortKeys(Object.fromEntries(Object.entries(subAccounts).filter(([, v]) => v !== 0)))
    }
  }
}

/** A snapshot without its one order-of-calls field, for comparing sets added differently. */
export function withoutDuplicates (s: BooksSnapshot): unknown {
  const { duplicates: _, ...counts } = s.counts
  return { ...s, counts }
}

/**
 * Card money in the books: a Close puts card takings in its processor's clearing, a
 * settlement file takes them out (fees, payouts due), a bank's statement moves payouts due
 * to the bank; late declines and chargebacks are losses. The same line in two files counts
 * once, whatever the order; a file that contradicts one folded is refused whole.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { paymentsDigest, type BusinessDay } from '@tillbooks/protocol'
import { ACCOUNTS, Books, CheckpointWriter, readCheckpointItems, SettlementConflictError, type HeldLine, type HeldPayout, type Settlement, type SettledLine, type SettlementFileSums } from '../src/index.ts'
import { costCents, shuffled, TillWriter } from './helpers/fixtures.ts'
import { checkProperty } from './helpers/seed.ts'
import { hledger, hledgerBalances, requireHledger } from './helpers/hledger.ts'

const idOf = (s: string): string => createHash('sha256').update(s).digest('hex')
const day = (d: string): BusinessDay => d as BusinessDay
const line = (ref: string, grossCents: number, feeCents: number, kind: SettledLine['kind'] = 'settled'): SettledLine => ({ ref, kind, grossCents, feeCents, netCents: grossCents - feeCents })

/** Till S1-1: day 1, 1000 + 500 by card through `embedded` (and 200 card without a processor); day 2 reports the 500 declined late. */
function closes (): TillWriter {
  const t = new TillWriter('S1', 1)
  const approvals = [{ paymentId: 'S1-1-aaaaaaaa-P1', amountCents: 1000 }, { paymentId: 'S1-1-aaaaaaaa-P2', amountCents: 500 }]
  t.close({
    day: '2026-12-01', tax: [{ rateBp: 0, netCents: 2000, taxCents: 0 }], cardCents: 1700, saleCount: 3,
    payments: [{ processor: 'embedded', type: 'card', mode: 'offline', count: 1, amountCents: 500, digest: paymentsDigest(approvals.slice(1)) },
      { processor: 'embedded', type: 'card', mode: 'online', count: 1, amountCents: 1000, digest: paymentsDigest(approvals.slice(0, 1)) }]
  })
  t.close({ day: '2026-12-02', tax: [], lateDeclines: [{ paymentId: 'S1-1-aaaaaaaa-P2', processor: 'embedded', amountCents: 500, saleDay: day('2026-12-01') }] })
  return t
}

const report: Settlement = { id: idOf('report'), processor: 'embedded', day: day('2026-12-02'), lines: [line('PSP1', 1000, 20), line('FEE1', 0, 5, 'fee')], payouts: [] }
const statement: Settlement = { id: idOf('statement'), processor: 'embedded', day: day('2026-12-03'), lines: [line('PSP1', 1000, 20)], payouts: [{ ref: 'PAYOUT1', amountCents: 975 }] }

function books (settlements: readonly Settlement[]): Books {
  const b = new Books({ costCents })
  for (const e of closes().entries) b.add(e)
  for (const s of settlements) b.addSettlement(s)
  return b
}

describe('ledger: card settlement', () => {
  it('a checkpoint base keeps the till entries\' share of a processor\'s clearing that settlements brought to 0', () => {
    const b = books([report, statement])
    assert.equal(b.subBalance(ACCOUNTS.cardClearing, 'embedded'), 0)
    const w = new CheckpointWriter(b.checkpointNames)
    b.writeBase(() => w, '{}')
    // A start: HQ's own records (the files) from the log, then the base.
    const restored = new Books({ costCents })
    for (const s of [report, statement]) restored.addSettlement(s)
    for (const item of readCheckpointItems(w.finish(), restored.checkpointNames)) {
      if (item.kind === 'block' || item.kind === 'aggregates' || item.kind === 'table') restored.restoreBase(item)
    }
    assert.deepEqual(restored.snapshot().subAccounts, b.snapshot().subAccounts)
    assert.equal(restored.subBalance(ACCOUNTS.cardClearing, 'embedded'), 0)
    assert.equal(restored.toHledger(), b.toHledger())
  })

  it('posts card takings per processor and a late decline to card losses', () => {
    const b = books([])
    assert.equal(b.balance(ACCOUNTS.cardClearing), 1200, '1700 taken by card, 500 of it declined late')
    assert.equal(b.subBalance(ACCOUNTS.cardClearing, 'embedded'), 1000)
    assert.equal(b.balance(ACCOUNTS.cardLosses), 500)
    assert.deepEqual(b.snapshot().subAccounts, { 'assets:card clearing:embedded': 1000 })
  })

  it('settles clearing into payouts due and fees, and the bank statement moves payouts due to the bank', () => {
    const b = books([report, statement])
    assert.equal(b.subBalance(ACCOUNTS.cardClearing, 'embedded'), 0, 'the one approval left is settled')
    assert.equal(b.balance(ACCOUNTS.cardClearing), 200, 'card takings without a processor stay on the parent account')
    assert.equal(b.balance(ACCOUNTS.cardFees), 25)
    assert.equal(b.balance(ACCOUNTS.cardPayoutsDue), 0, '980 − 5 due, 975 paid')
    assert.equal(b.balance(ACCOUNTS.bank), 975)
    const s = b.snapshot()
    assert.deepEqual(s.counts.settlements, 2)
    assert.deepEqual(s.counts.settledLines, 2, 'PSP1 is in both files and counts once')
    assert.equal(s.trialBalance.debitsCents, s.trialBalance.creditsCents)
    assert.equal(b.profitAndLoss().cardFeesCents, 25)
    assert.equal(b.profitAndLoss().cardLossesCents, 500)
  })

  it('gives the same books, journal and exports for any order of files and of adds, and a file again changes nothing', () => {
    const a = books([report, statement])
    const z = books([statement, report, statement])
    assert.deepEqual({ ...z.snapshot(), counts: { ...z.snapshot().counts, duplicates: 0 } }, { ...a.snapshot(), counts: { ...a.snapshot().counts, duplicates: 0 } })
    assert.equal(z.toHledger(), a.toHledger())
    assert.equal(z.toCsv(), a.toCsv())
    assert.equal(a.addSettlement(report), 'duplicate')
  })

  it('refuses a file that says another amount for a line already settled, changing nothing', () => {
    const b = books([report])
    const before = JSON.stringify(b.snapshot())
    const other: Settlement = { ...statement, id: idOf('other'), lines: [line('PSP1', 1001, 20)] }
    assert.throws(() => b.checkSettlement(other), SettlementConflictError)
    assert.throws(() => b.addSettlement(other), (err: Error) => err instanceof SettlementConflictError && /PSP1/.test(err.message))
    assert.equal(JSON.stringify(b.snapshot()), before)
  })

  it('takes a line one file settled and another calls a chargeback as the chargeback, in either order', () => {
    const refund: Settlement = { id: idOf('bank'), processor: 'embedded', day: day('2026-12-04'), lines: [line('CB1', -1000, 0)], payouts: [] }
    const chargeback: Settlement = { id: idOf('psp'), processor: 'embedded', day: day('2026-12-04'), lines: [line('CB1', -1000, 0, 'chargeback')], payouts: [] }
    const x = books([report, refund, chargeback])
    const y = books([chargeback, report, refund])
    for (const b of [x, y]) {
      assert.equal(b.balance(ACCOUNTS.cardLosses), 1500, 'the late decline and the chargeback')
      assert.equal(b.subBalance(ACCOUNTS.cardClearing, 'embedded'), 0)
    }
    assert.equal(x.toHledger(), y.toHledger())
  })

  it('takes a fee as a fee whichever column a file puts it in (report: fee; bank: a negative gross), once, never through clearing', () => {
    const bankFee: Settlement = { id: idOf('bank-fee'), processor: 'embedded', day: day('2026-12-03'), lines: [{ ref: 'FEE1', kind: 'fee', grossCents: -5, feeCents: 0, netCents: -5 }], payouts: [] }
    const b = books([report, bankFee])
    assert.equal(b.balance(ACCOUNTS.cardFees), 25, '20 on the payment, 5 the fee line, counted once')
    assert.equal(b.subBalance(ACCOUNTS.cardClearing, 'embedded'), 0)
    assert.equal(b.subBalance(ACCOUNTS.cardPayoutsDue, 'embedded'), 975)
    assert.equal(books([bankFee, report]).toHledger(), b.toHledger())
  })

  it('exports sub-accounts hledger accepts, with balances equal to the books', function () {
    requireHledger(this)
    const b = books([report, statement])
    const journal = b.toHledger()
    assert.match(journal, /^account assets:card clearing:embedded {2}; type: A$/m)
    const strict = hledger(journal, ['check', '-s', 'ordereddates'])
    assert.equal(strict.status, 0, strict.stderr)
    const theirs = hledgerBalances(journal, 'EUR')
    const snap = b.snapshot()
    // hledger's flat balances exclude sub-accounts: a parent is its own postings plus its subs.
    for (const [account, cents] of Object.entries(snap.accounts)) {
      let sum = 0
      for (const [name, c] of theirs) if (name === account || name.startsWith(`${account}:`)) sum += c
      assert.equal(sum, cents, account)
    }
    for (const [sub, cents] of Object.entries(snap.subAccounts)) assert.equal(theirs.get(sub) ?? 0, cents, sub)
  })
})

describe('ledger: settlement files summed per file (property)', () => {
  /** The accounts and sub-accounts a line posts to, by the same rule the books' chart gives (journal.ts). */
  const PROCESSORS = ['embedded', 'other'] as const
  const refs = fc.constantFrom('R1', 'R2', 'R3', 'R4', 'R5', 'R6', 'F1', 'F2')
  const plan = fc.record({
    // Each ref's one truth: its amounts, and whether it is a fee.
    amounts: fc.array(fc.tuple(fc.integer({ min: -5_000, max: 20_000 }), fc.integer({ min: 0, max: 300 })), { minLength: 8, maxLength: 8 }),
    files: fc.array(fc.record({
      processor: fc.constantFrom(...PROCESSORS),
      day: fc.constantFrom('2026-12-01', '2026-12-02', '2026-12-03'),
      lines: fc.uniqueArray(fc.tuple(refs, fc.boolean()), { selector: t => t[0], maxLength: 6 }),
      payouts: fc.uniqueArray(fc.tuple(fc.constantFrom('P1', 'P2', 'P3'), fc.constant(0)), { selector: t => t[0], maxLength: 2 })
    }), { minLength: 1, maxLength: 6 }),
    order: fc.integer()
  })
  const REF_INDEX: Record<string, number> = { R1: 0, R2: 1, R3: 2, R4: 3, R5: 4, R6: 5, F1: 6, F2: 7 }
  const PAYOUT_CENTS: Record<string, number> = { P1: 975, P2: 12_345, P3: 1 }

  /** The files as Settlements: a ref says the same amounts in every file; `true` calls a non-fee line a chargeback there. */
  function settlements (p: typeof plan extends fc.Arbitrary<infer T> ? T : never): Settlement[] {
    return p.files.map((f, i) => ({
      id: idOf(`file ${i} ${JSON.stringify(f)}`),
      processor: f.processor,
      day: day(f.day),
      lines: f.lines.map(([ref, chargeback]) => {
        const [gross, fee] = p.amounts[REF_INDEX[ref] as number] as [number, number]
        return ref.startsWith('F') ? line(ref, 0, fee + 1, 'fee') : line(ref, gross, fee, chargeback ? 'chargeback' : 'settled')
      }),
      payouts: f.payouts.map(([ref]) => ({ ref, amountCents: PAYOUT_CENTS[ref] as number }))
    }))
  }

  /**
   * The oracle, from the set of files alone (no order, no plan): each distinct line (by
   * processor and ref) once, a chargeback if any file calls it one, carried by the smallest id
   * holding it; each file's transaction the sum of what it carries.
   */
  function expected (files: readonly Settlement[]): { txs: Array<{ id: string, date: string, postings: Array<{ account: string, sub?: string, amountCents: number }> }>, lines: number, payouts: number } {
    const held = new Map<string, { file: string, processor: string, l: SettledLine }>()
    const paid = new Map<string, { file: string, processor: string, amountCents: number }>()
    for (const s of files) {
      for (const l of s.lines) {
        const k = `${s.processor}\u0000${l.ref}`
        const h = held.get(k)
        const kind = h?.l.kind === 'chargeback' || l.kind === 'chargeback' ? 'chargeback' : l.kind
        held.set(k, { file: h === undefined || s.id < h.file ? s.id : h.file, processor: s.processor, l: { ...l, kind } })
      }
      for (const p of s.payouts) {
        const k = `${s.processor}\u0000${p.ref}`
        const h = paid.get(k)
        paid.set(k, { file: h === undefined || s.id < h.file ? s.id : h.file, processor: s.processor, amountCents: p.amountCents })
      }
    }
    const byFile = new Map<string, Map<string, { account: string, sub?: string, amountCents: number }>>()
    const add = (file: string, account: string, sub: string | undefined, cents: number): void => {
      const m = byFile.get(file) ?? new Map()
      byFile.set(file, m)
      const k = `${account}\u0000${sub ?? ''}`
      const cur = m.get(k) ?? (sub === undefined ? { account, amountCents: 0 } : { account, sub, amountCents: 0 })
      cur.amountCents += cents
      m.set(k, cur)
    }
    for (const { file, processor, l } of held.values()) {
      if (l.kind === 'fee') {
        add(file, ACCOUNTS.cardFees, undefined, -l.netCents)
        add(file, ACCOUNTS.cardPayoutsDue, processor, l.netCents)
      } else {
        if (l.kind === 'chargeback') add(file, ACCOUNTS.cardLosses, undefined, -l.grossCents)
        else add(file, ACCOUNTS.cardClearing, processor, -l.grossCents)
        add(file, ACCOUNTS.cardFees, undefined, l.feeCents)
        add(file, ACCOUNTS.cardPayoutsDue, processor, l.netCents)
      }
    }
    for (const { file, processor, amountCents } of paid.values()) {
      add(file, ACCOUNTS.bank, undefined, amountCents)
      add(file, ACCOUNTS.cardPayoutsDue, processor, -amountCents)
    }
    // The chart's order: accounts by name (accounts.ts).
    const chart = (Object.values(ACCOUNTS) as string[]).sort()
    const txs = [...byFile.keys()].sort().map(id => ({
      id: `settlement:${id.slice(0, 16)}`,
      date: files.find(f => f.id === id)?.day as string,
      postings: [...(byFile.get(id) as Map<string, { account: string, sub?: string, amountCents: number }>).values()]
        .filter(p => p.amountCents !== 0)
        .sort((a, b) => chart.indexOf(a.account) - chart.indexOf(b.account) || ((a.sub ?? '') < (b.sub ?? '') ? -1 : (a.sub ?? '') > (b.sub ?? '') ? 1 : 0))
    }))
    return { txs, lines: held.size, payouts: paid.size }
  }

  const journalOf = (b: Books): unknown => b.hqTransactions().map(t => ({ id: t.id, date: t.date, postings: t.postings }))

  it('the books carry each file\'s sums (kept in memory, or the lines kept by the caller and the sums given back at a start) equal to summing its lines, for any files and any order', () => {
    checkProperty(fc.property(plan, p => {
      const files = settlements(p)
      const order = shuffled(files, p.order)
      const want = expected(files)
      // In memory.
      const inMemory = new Books({ costCents })
      for (const s of order) inMemory.addSettlement(s)
      // The caller keeps the lines (a map standing in for HQ's disk) and each file's newest sums.
      const lines = new Map<string, HeldLine>()
      const payouts = new Map<string, HeldPayout>()
      const sums = new Map<string, SettlementFileSums>()
      const byCaller = new Books({ costCents, settledLines: 'caller' })
      for (const s of order) {
        const known = {
          lines: new Map(s.lines.flatMap(l => { const k = `${s.processor}\u0000${l.ref}`; const h = lines.get(k); return h === undefined ? [] : [[k, h] as const] })),
          payouts: new Map(s.payouts.flatMap(x => { const k = `${s.processor}\u0000${x.ref}`; const h = payouts.get(k); return h === undefined ? [] : [[k, h] as const] }))
        }
        const prepared = byCaller.prepareSettlement(s, known)
        assert.notEqual(prepared, 'duplicate')
        if (prepared === 'duplicate') return
        for (const [k, h] of prepared.lines) lines.set(k, h)
        for (const [k, h] of prepared.payouts) payouts.set(k, h)
        for (const [id, f] of prepared.files) sums.set(id, f)
        byCaller.commitSettlement(prepared)
      }
      // A start: every file's sums given back, in any order.
      const restarted = new Books({ costCents, settledLines: 'caller' })
      for (const [id, f] of shuffled([...sums], p.order + 1)) restarted.restoreSettlementFile(id, f)
      for (const b of [inMemory, byCaller, restarted]) {
        assert.deepEqual(journalOf(b), want.txs)
        const counts = b.snapshot().counts
        assert.deepEqual([counts.settlements, counts.settledLines, counts.payouts], [files.length, want.lines, want.payouts])
        assert.equal(b.toHledger(), inMemory.toHledger())
        assert.deepEqual(b.snapshot().subAccounts, inMemory.snapshot().subAccounts)
      }
      // Every file again: a duplicate, nothing moves.
      for (const s of files) assert.equal(inMemory.addSettlement(s), 'duplicate')
      assert.deepEqual(journalOf(inMemory), want.txs)
    }), 300)
  })

  it('books whose caller keeps the lines refuse to be called without them, and the others with them', () => {
    const s: Settlement = { id: idOf('x'), processor: 'embedded', day: day('2026-12-01'), lines: [line('R1', 100, 1)], payouts: [] }
    assert.throws(() => new Books({ costCents, settledLines: 'caller' }).addSettlement(s), /pass the ones the file names/)
    assert.throws(() => new Books({ costCents }).addSettlement(s, { lines: new Map(), payouts: new Map() }), /pass none/)
    assert.throws(() => new Books({ costCents }).restoreSettlementFile(s.id, { processor: 'embedded', day: s.day, lines: 1, payouts: 0, sums: [] }), /whose caller keeps the settled lines/)
  })
})

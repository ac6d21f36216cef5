/**
 * Card money in the books: a Close puts card takings in its processor's clearing, a
 * settlement file takes them out (fees, payouts due), a bank's statement moves payouts due
 * to the bank; late declines and chargebacks are losses. The same line in two files counts
 * once, whatever the order; a file that contradicts one folded is refused whole.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { paymentsDigest, type BusinessDay } from '@tillbooks/protocol'
import { ACCOUNTS, Books, CheckpointWriter, readCheckpointItems, SettlementConflictError, type Settlement, type SettledLine } from '../src/index.ts'
import { costCents, TillWriter } from './helpers/fixtures.ts'
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

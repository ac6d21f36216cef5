/** The CSV and hledger exports: exact text, and the real hledger (1.25) accepting and agreeing with them. */
import assert from 'node:assert/strict'
import type { BusinessDay } from '@tillbooks/protocol'
import { Books, CSV_HEADER, makeTransaction, parseCents, toCsv, toHledger, type BooksSnapshot } from '../src/index.ts'
import fc from 'fast-check'
import { shuffled } from './helpers/fixtures.ts'
import { hledger, hledgerBalances, requireHledger } from './helpers/hledger.ts'
import { buildRandomFleet, fleetPlan, foldItems } from './helpers/randomFleet.ts'
import { fold, scenario } from './helpers/scenario.ts'
import { checkProperty } from './helpers/seed.ts'

/** hledger's balances must equal the snapshot's, account by account, to the cent. */
function assertHledgerAgrees (journal: string, snap: BooksSnapshot): void {
  const check = hledger(journal, ['check'])
  assert.equal(check.status, 0, `hledger check refused the journal:\n${check.stderr}`)
  // Strict: every account and commodity declared; dates in order.
  const strict = hledger(journal, ['check', '-s', 'ordereddates'])
  assert.equal(strict.status, 0, `hledger check -s ordereddates refused the journal:\n${strict.stderr}`)
  const theirs = hledgerBalances(journal, 'EUR')
  for (const [account, cents] of Object.entries(snap.accounts)) {
    assert.equal(theirs.get(account) ?? 0, cents, `hledger balance of ${account}`)
  }
  for (const account of theirs.keys()) assert.ok(account in snap.accounts, `hledger has an account the books do not: ${account}`)
}

describe('exports', () => {
  it('writes the hledger journal exactly', () => {
    const { s1, s2, entries } = scenario()
    const [stockIn, close1, close2] = [s1.entry(1).hash, s1.entry(2).hash, s2.entry(1).hash]
    assert.equal(fold(entries).toHledger(), `; tillbooks: double-entry books rebuilt from the signed till records.
; Generated, do not edit. Amounts in EUR; debit positive, credit negative.

commodity 1000.00 EUR

account assets:cash:drawer  ; type: A
account assets:card clearing  ; type: A
account assets:card payouts due  ; type: A
account assets:bank  ; type: A
account assets:inventory:store  ; type: A
account assets:inventory:warehouse  ; type: A
account assets:inventory:in transit  ; type: A
account liabilities:vat payable  ; type: L
account liabilities:loyalty points  ; type: L
account equity:opening  ; type: E
account revenue:sales  ; type: R
account expenses:cost of goods sold  ; type: X
account expenses:stock shrinkage  ; type: X
account expenses:cash over short  ; type: X
account expenses:card fees  ; type: X
account expenses:card losses  ; type: X
account expenses:loyalty points  ; type: X

2026-11-01 (opening:2026-11-01) opening stock 2026-11-01
    assets:inventory:warehouse  6150.00 EUR
    equity:opening  -6150.00 EUR

2026-11-24 (repl:R1) replenishment R1 to S1
    assets:inventory:in transit  19.50 EUR
    assets:inventory:warehouse  -19.50 EUR

2026-11-25 (${stockIn}) stock in S1-1 #1 order R1
    assets:inventory:store  18.60 EUR
    expenses:stock shrinkage  0.90 EUR
    assets:inventory:in transit  -19.50 EUR

2026-11-25 (${close1}) close S1-1 #2 docs S1-1-1..S1-1-4
    assets:cash:drawer  10.00 EUR
    assets:card clearing  25.50 EUR
    revenue:sales  -30.41 EUR
    liabilities:vat payable  -5.09 EUR
    assets:cash:drawer  0.20 EUR
    expenses:cash over short  -0.20 EUR
    expenses:cost of goods sold  3.45 EUR
    assets:inventory:store  -3.45 EUR
    expenses:loyalty points  0.35 EUR
    liabilities:loyalty points  -0.35 EUR

2026-11-25 (${close2}) close S2-1 #1 docs S2-1-1..S2-1-1
    assets:cash:drawer  10.00 EUR
    revenue:sales  -8.34 EUR
    liabilities:vat payable  -1.66 EUR
    assets:cash:drawer  -0.10 EUR
    expenses:cash over short  0.10 EUR
    expenses:loyalty points  0.15 EUR
    liabilities:loyalty points  -0.15 EUR
`)
  })

  it('writes one CSV row per posting, amounts as decimals and as integer cents', () => {
    const { s2 } = scenario()
    const books = new Books({ costCents: () => 0 })
    books.add(s2.entry(1))
    const id = s2.entry(1).hash
    const d = 'close S2-1 #1 docs S2-1-1..S2-1-1'
    assert.equal(books.toCsv(), [
      CSV_HEADER,
      `2026-11-25,${id},${d},assets:cash:drawer,10.00,1000`,
      `2026-11-25,${id},${d},revenue:sales,-8.34,-834`,
      `2026-11-25,${id},${d},liabilities:vat payable,-1.66,-166`,
      `2026-11-25,${id},${d},assets:cash:drawer,-0.10,-10`,
      `2026-11-25,${id},${d},expenses:cash over short,0.10,10`,
      `2026-11-25,${id},${d},expenses:loyalty points,0.15,15`,
      `2026-11-25,${id},${d},liabilities:loyalty points,-0.15,-15`,
      ''
    ].join('\n'))
    // The two amount columns agree on every row.
    for (const row of books.toCsv().trim().split('\n').slice(1)) {
      const cells = row.split(',')
      assert.equal(parseCents(cells.at(-2) ?? ''), Number(cells.at(-1)))
    }
  })

  it('quotes CSV fields per RFC 4180', () => {
    const tx = makeTransaction('t1', '2026-11-25' as BusinessDay, 'a, "quoted" b', [{ account: 'assets:cash:drawer', amountCents: 1 }, { account: 'revenue:sales', amountCents: -1 }])
    assert.equal(toCsv([tx]).split('\n')[1], '2026-11-25,t1,"a, ""quoted"" b",assets:cash:drawer,0.01,1')
  })

  it('refuses to write transactions out of date order (hledger ordereddates)', () => {
    const t = (id: string, day: string) => makeTransaction(id, day as BusinessDay, id, [])
    assert.throws(() => toHledger([t('b', '2026-11-26'), t('a', '2026-11-25')], 'EUR'), /out of date order/)
  })

  describe('with the real hledger', function () {
    this.timeout(60_000)
    beforeEach(function () { requireHledger(this) })

    it('accepts the scenario journal and computes the same balances', () => {
      const books = fold(scenario().entries)
      assertHledgerAgrees(books.toHledger(), books.snapshot())
    })

    it('accepts random fleets with forks, gaps and refunds, and agrees with the books (property)', () => {
      checkProperty(fc.property(fleetPlan, p => {
        const books = foldItems(shuffled(buildRandomFleet(p).items, p.orderSeeds[0]))
        assertHledgerAgrees(books.toHledger(), books.snapshot())
      }), 8)
    })

    it('accepts empty books', () => {
      const books = new Books({ costCents: () => 0 })
      assertHledgerAgrees(books.toHledger(), books.snapshot())
    })

    it('accepts large and negative amounts, and a transaction with no postings', () => {
      const day = '2026-11-25' as BusinessDay
      const big = 900_719_925_474_099 // ~9 trillion units, 1% of the safe range
      const txs = [
        makeTransaction('big', day, 'big', [{ account: 'assets:card clearing', amountCents: big }, { account: 'revenue:sales', amountCents: -big }]),
        makeTransaction('neg', day, 'refunds', [{ account: 'assets:card clearing', amountCents: -5 }, { account: 'revenue:sales', amountCents: 5 }]),
        makeTransaction('none', day, 'a day with no documents', [])
      ]
      const journal = toHledger(txs, 'EUR')
      assert.equal(hledger(journal, ['check', '-s', 'ordereddates']).status, 0)
      const theirs = hledgerBalances(journal, 'EUR')
      assert.equal(theirs.get('assets:card clearing'), big - 5)
      assert.equal(theirs.get('revenue:sales'), -(big - 5))
    })

    it('rejects what it should: our check is not vacuous', () => {
      const unbalanced = toHledger([], 'EUR') + '\n2026-11-25 broken\n    assets:cash:drawer  1.00 EUR\n    revenue:sales  -0.99 EUR\n'
      assert.notEqual(hledger(unbalanced, ['check']).status, 0)
      const undeclared = toHledger([], 'EUR') + '\n2026-11-25 stray\n    assets:stray  1.00 EUR\n    revenue:sales  -1.00 EUR\n'
      assert.notEqual(hledger(undeclared, ['check', '-s']).status, 0)
    })
  })
})

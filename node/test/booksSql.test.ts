/**
 * The books in SQL as a projection of the log (PGlite, the embedded default; the same SQL runs
 * on PostgreSQL): the trial balance and P&L per store equal the books to the cent; projecting
 * again adds nothing; an unbalanced record inserted by hand is refused at commit; a record the
 * books stop folding (a fork found later) is reversed, never deleted.
 */
import assert from 'node:assert/strict'
import { PGlite } from '@electric-sql/pglite'
import type { Books } from '@tillbooks/ledger'
import { BooksSql, recordsDigest } from '../src/hq/BooksSql.ts'
import { fold, scenario } from '../../packages/ledger/test/helpers/scenario.ts'

/** The books' accounts, sub-accounts folded in as SQL keeps them apart: non-zero only. */
function accountsOf (books: Books): Record<string, number> {
  return Object.fromEntries(Object.entries(books.snapshot().accounts).filter(([, v]) => v !== 0))
}

describe('books in SQL (PGlite)', function () {
  this.timeout(60_000)
  let db: PGlite
  before(async () => { db = await PGlite.create() })
  after(async () => { await db?.close() })

  it('projects the books: the trial balance and P&L per store to the cent; again, nothing is added', async () => {
    const books = fold(scenario().entries)
    const sql = await BooksSql.open(db)
    const first = await sql.project(books.storeTransactions())
    assert.equal(first.added, books.transactions().length)
    const tb = await sql.trialBalance()
    assert.deepEqual(Object.fromEntries(tb.filter(r => r.balanceCents !== 0).map(r => [r.account, r.balanceCents])), accountsOf(books))
    const sums = (await db.query<{ d: string, c: string }>('select sum(debit_cents) as d, sum(credit_cents) as c from trial_balance')).rows[0]
    assert.equal(Number(sums?.d), Number(sums?.c), 'debits = credits')
    const pnl = (await db.query<{ store: string, revenue: string }>('select store, sum(revenue_cents) as revenue from pnl_by_store group by store order by store')).rows
    assert.deepEqual(Object.fromEntries(pnl.map(r => [r.store, Number(r.revenue)])), Object.fromEntries(Object.entries(books.snapshot().stores).map(([s, v]) => [s, v.salesNetCents])))
    // Replayed (a crash after the commit, a restart): nothing added, the watermark as it was.
    const wm = await sql.watermark()
    assert.deepEqual(await sql.project(books.storeTransactions()), { added: 0, reversed: 0 })
    assert.deepEqual(await sql.watermark(), wm)
    assert.deepEqual(wm, { records: books.transactions().length, digest: recordsDigest(books.transactions().map(t => t.id)) })
    // Opened again on the same database: the schema is kept, nothing doubles.
    const again = await BooksSql.open(db)
    assert.deepEqual(await again.project(books.storeTransactions()), { added: 0, reversed: 0 })
  })

  it('refuses, at commit, a record whose lines do not balance (inserted by hand): nothing of it stays', async () => {
    await db.exec('begin')
    await db.query("insert into records (id, business_day, description, store) values ('hand', '2026-11-25', 'by hand', 'S1')")
    await db.query("insert into journal_lines (record_id, line, account, amount_cents) values ('hand', 1, 'assets:cash:drawer', 100)")
    await assert.rejects(db.exec('commit'), /record hand does not balance/)
    await db.exec('rollback').catch(() => {})
    assert.equal((await db.query('select * from records where id = $1', ['hand'])).rows.length, 0)
  })

  it('a record the books no longer fold (a fork found later) is reversed, never deleted', async () => {
    const db2 = await PGlite.create()
    try {
      const { entries, s1 } = scenario()
      const all = fold(entries)
      const sql = await BooksSql.open(db2)
      await sql.project(all.storeTransactions())
      // The same books without S1's close: what a fork found below it would un-fold.
      const close = s1.entry(2).hash
      const without = all.storeTransactions().filter(t => t.tx.id !== close)
      assert.deepEqual(await sql.project(without), { added: 0, reversed: 1 })
      const tb = await sql.trialBalance()
      const balances = Object.fromEntries(tb.filter(r => r.balanceCents !== 0).map(r => [r.account, r.balanceCents]))
      const expected: Record<string, number> = {}
      for (const t of without) for (const p of t.tx.postings) expected[p.account] = (expected[p.account] ?? 0) + p.amountCents
      assert.deepEqual(balances, Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== 0)))
      assert.equal((await db2.query('select * from records where id = $1', [close])).rows.length, 1, 'the reversed record stays')
      assert.deepEqual(await sql.project(without), { added: 0, reversed: 0 }, 'reversed once')
    } finally {
      await db2.close()
    }
  })
})

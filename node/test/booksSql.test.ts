/**
 * The books in SQL as a projection of the log (PGlite, the embedded default; the same SQL runs
 * on PostgreSQL, test/booksPostgres.test.ts): the trial balance and P&L per store equal the
 * books to the cent; following again adds nothing; an unbalanced record inserted by hand is
 * refused at commit; a record the books stop folding is reversed, never deleted; rows altered
 * by hand are found by the digest and the projection is rebuilt.
 */
import assert from 'node:assert/strict'
import { PGlite } from '@electric-sql/pglite'
import pino from 'pino'
import type { Books } from '@tillbooks/ledger'
import type { TillId } from '@tillbooks/protocol'
import { BooksProjection } from '../src/hq/BooksProjection.ts'
import { fold, scenario } from '../../packages/ledger/test/helpers/scenario.ts'

/** The books' accounts, sub-accounts folded in as SQL keeps them apart: non-zero only. */
function accountsOf (books: Books): Record<string, number> {
  return Object.fromEntries(Object.entries(books.snapshot().accounts).filter(([, v]) => v !== 0))
}

/** The SQL trial balance summed per account of the books (SQL keeps sub-accounts apart, `<account>:<sub>`), non-zero only. */
async function sqlAccounts (db: PGlite, books: Books): Promise<Record<string, number>> {
  const names = Object.keys(books.snapshot().accounts)
  const rows = (await db.query<{ account: string, balance_cents: string }>('select account, balance_cents from trial_balance')).rows
  const out: Record<string, number> = {}
  for (const r of rows) {
    const top = names.find(a => r.account === a || r.account.startsWith(`${a}:`))
    assert.ok(top !== undefined, `${r.account} is no account of the books`)
    out[top] = (out[top] ?? 0) + Number(r.balance_cents)
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== 0).sort((a, b) => a[0] < b[0] ? -1 : 1))
}

function following (db: PGlite, books: () => Books): BooksProjection {
  return new BooksProjection({ connect: async () => ({ db, close: async () => {} }), books, logger: pino({ level: 'silent' }), target: 'memory' })
}

const sorted = (o: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(o).sort((a, b) => a[0] < b[0] ? -1 : 1))

describe('books in SQL (PGlite)', function () {
  this.timeout(60_000)
  let db: PGlite
  beforeEach(async () => { db = await PGlite.create() })
  afterEach(async () => { await db?.close() })

  it('follows the books: the trial balance and P&L per store to the cent; again, nothing is added', async () => {
    const books = fold(scenario().entries)
    const p = following(db, () => books)
    const first = await p.flush()
    assert.equal(first.added, books.transactions().length)
    assert.deepEqual(await sqlAccounts(db, books), sorted(accountsOf(books)))
    const sums = (await db.query<{ d: string, c: string }>('select sum(debit_cents) as d, sum(credit_cents) as c from trial_balance')).rows[0]
    assert.equal(Number(sums?.d), Number(sums?.c), 'debits = credits')
    // P&L per store, every column against the books' own per-store figures.
    const pnl = (await db.query<{ store: string, revenue: string, cogs: string, margin: string, overshort: string }>('select store, sum(revenue_cents) as revenue, sum(cost_of_goods_cents) as cogs, sum(gross_margin_cents) as margin, sum(cash_over_short_cents) as overshort from pnl_by_store group by store order by store')).rows
    assert.deepEqual(Object.fromEntries(pnl.map(r => [r.store, [Number(r.revenue), Number(r.cogs), Number(r.margin), Number(r.overshort)]])),
      Object.fromEntries(Object.entries(books.snapshot().stores).map(([s, v]) => [s, [v.salesNetCents, v.cogsCents, v.grossMarginCents, v.cashOverShortCents]])))
    // Replayed (a crash after the commit, a restart): nothing added, the watermark as it was.
    const wm = await p.sql?.watermark()
    assert.deepEqual(await p.flush(), { added: 0, reversed: 0 })
    assert.deepEqual(await p.sql?.watermark(), wm)
    assert.equal(wm?.records, books.transactions().length)
    // Another follower on the same database (HQ restarted): it agrees, nothing is rebuilt or doubled.
    const again = following(db, () => books)
    assert.deepEqual(await again.flush(), { added: 0, reversed: 0 })
    assert.equal(again.status().rebuilds, 0)
    assert.equal(again.status().lagRecords, 0)
    await p.stop()
    await again.stop()
  })

  it('refuses, at commit, a record whose lines do not balance (inserted by hand): nothing of it stays', async () => {
    const p = following(db, () => fold(scenario().entries))
    await p.flush()
    await db.exec('begin')
    await db.query("insert into records (id, business_day, description, store) values ('hand', '2026-11-25', 'by hand', 'S1')")
    await db.query("insert into journal_lines (record_id, line, account, amount_cents) values ('hand', 1, 'assets:cash:drawer', 100)")
    await assert.rejects(db.exec('commit'), /record hand does not balance/)
    await db.exec('rollback').catch(() => {})
    assert.equal((await db.query('select * from records where id = $1', ['hand'])).rows.length, 0)
    // An update that unbalances a record is refused at commit as well.
    await db.exec('begin')
    await db.query('update journal_lines set amount_cents = amount_cents + 1 where line = 1 and record_id = (select min(record_id) from journal_lines)')
    await assert.rejects(db.exec('commit'), /does not balance/)
    await db.exec('rollback').catch(() => {})
    await p.stop()
  })

  it('a record the books no longer fold is reversed, never deleted', async () => {
    const { entries, s1 } = scenario()
    const all = fold(entries)
    let books = all
    const p = following(db, () => books)
    await p.flush()
    // The same books without S1's entry 2 (a log that lost it): S1 folds only its first entry.
    const gone = s1.entry(2).hash
    books = fold(entries.filter(e => e.hash !== gone))
    const folded = books.foldedSeqs().get(s1.tillId as TillId) ?? 0
    const before = all.foldedSeqs().get(s1.tillId as TillId) ?? 0
    assert.ok(folded < before)
    const r = await p.flush()
    assert.deepEqual(r, { added: 0, reversed: before - folded })
    assert.deepEqual(await sqlAccounts(db, books), sorted(accountsOf(books)))
    assert.equal((await db.query('select * from records where id = $1', [gone])).rows.length, 1, 'the reversed record stays')
    assert.deepEqual(await p.flush(), { added: 0, reversed: 0 }, 'reversed once')
    // The entry back (found again): its records again, as new rows (the reversals stay); a new follower agrees.
    books = all
    assert.deepEqual(await p.flush(), { added: before - folded, reversed: 0 })
    assert.deepEqual(await sqlAccounts(db, books), sorted(accountsOf(books)))
    await p.stop()
    const q = following(db, () => books)
    await q.flush()
    assert.equal(q.status().rebuilds, 0)
    await q.stop()
  })

  it('waits while HQ takes records in (a close wave), a batch at a time when it waited too long, and catches up once intake is quiet', async () => {
    const books = fold(scenario().entries)
    const total = books.transactions().length
    let busy = true
    const p = new BooksProjection({ connect: async () => ({ db, close: async () => {} }), books: () => books, logger: pino({ level: 'silent' }), target: 'memory', busy: () => busy, intervalMs: 20, deferMaxMs: 400, batchMax: 2 })
    p.start()
    await new Promise(resolve => setTimeout(resolve, 250))
    // Checked against the books, then it waits: nothing yet while busy.
    assert.equal(p.status().projectedRecords, 0)
    // Busy for longer than deferMaxMs: one batch (2 records) per deferMaxMs, never the whole lag at once.
    await new Promise(resolve => setTimeout(resolve, 700))
    const forced = p.status().projectedRecords
    assert.ok(forced >= 2 && forced < total, `${forced} of ${total}`)
    busy = false
    const t0 = Date.now()
    while (p.status().lagRecords > 0 && Date.now() - t0 < 10_000) await new Promise(resolve => setTimeout(resolve, 50))
    assert.equal(p.status().lagRecords, 0)
    assert.deepEqual(await sqlAccounts(db, books), sorted(accountsOf(books)))
    await p.stop()
  })

  for (const [what, alter] of [
    ['amounts swapped between two lines of a record (still balanced)', "update journal_lines set amount_cents = -amount_cents where record_id = (select min(record_id) from journal_lines where record_id not like 'reverse:%')"],
    ['a record removed with its lines', "delete from journal_lines where record_id = (select max(id) from records); delete from records where id = (select max(id) from records)"],
    ['a record added by hand (balanced)', "insert into records (id, business_day, description, store) values ('hand', '2026-11-25', 'by hand', 'S1'); insert into journal_lines values ('hand', 1, 'assets:cash:drawer', 100), ('hand', 2, 'revenue:sales', -100)"]
  ] as const) {
    it(`finds ${what} by its digest, and rebuilds the projection from the books`, async () => {
      const books = fold(scenario().entries)
      const p = following(db, () => books)
      await p.flush()
      await p.stop()
      await db.exec(alter)
      const q = following(db, () => books)
      await q.flush()
      assert.equal(q.status().rebuilds, 1)
      assert.deepEqual(await sqlAccounts(db, books), sorted(accountsOf(books)))
      assert.equal((await db.query('select * from records where id = $1', ['hand'])).rows.length, 0)
      await q.stop()
    })
  }
})

/**
 * The books in SQL, as a projection of the log (issue 20, first part): the log stays the
 * record; this is what a retailer's BI tools read. Integer cents throughout.
 *
 *   records        one row per journal transaction, keyed by the record it comes from (its
 *                  entry hash, `repl:<id>`, `opening:<id>`, a settlement's id), with its day,
 *                  description and store (null for HQ's own)
 *   journal_lines  its postings, debit positive; a deferred constraint trigger refuses, at
 *                  commit, any record whose lines do not sum to zero
 *   projection     one row: how many records were projected and a digest of their ids
 *   trial_balance(account, debit_cents, credit_cents, balance_cents)
 *   pnl_by_store(store, business_day, revenue_cents, cost_of_goods_cents, gross_margin_cents,
 *                cash_over_short_cents, other_expenses_cents)
 *
 * Exactly once: `project` adds, in one SQL transaction, the records not there yet and moves
 * the watermark with them, so a crash and a replay add nothing. Rows are only ever added: a
 * record the books no longer fold (a fork found later) gets a reversing record
 * (`reverse:<id>`), never a delete. The same SQL runs on PGlite (embedded) and PostgreSQL (`pg`).
 */
import { createHash } from 'node:crypto'
import type { Transaction } from '@tillbooks/ledger'

/** What the projection needs of a SQL database: PGlite and a `pg` client both fit. */
export interface SqlDb {
  query<T = Record<string, unknown>> (sql: string, params?: unknown[]): Promise<{ rows: T[] }>
  exec (sql: string): Promise<unknown>
}

const SCHEMA = `
create table if not exists records (
  id text primary key,
  business_day date not null,
  description text not null,
  store text,
  projected_at bigserial
);
create table if not exists journal_lines (
  record_id text not null references records(id),
  line integer not null,
  account text not null,
  amount_cents bigint not null check (amount_cents <> 0),
  primary key (record_id, line)
);
create table if not exists projection (
  k integer primary key check (k = 1),
  records bigint not null,
  digest text not null
);
insert into projection (k, records, digest) values (1, 0, '') on conflict (k) do nothing;
create or replace function journal_balanced() returns trigger language plpgsql as $$
begin
  if (select coalesce(sum(amount_cents), 0) from journal_lines where record_id = new.record_id) <> 0 then
    raise exception 'record % does not balance: its debits and credits differ', new.record_id;
  end if;
  return null;
end $$;
drop trigger if exists journal_lines_balanced on journal_lines;
create constraint trigger journal_lines_balanced after insert on journal_lines
  deferrable initially deferred for each row execute function journal_balanced();
create or replace view trial_balance as
  select account,
         sum(case when amount_cents > 0 then amount_cents else 0 end)::bigint as debit_cents,
         sum(case when amount_cents < 0 then -amount_cents else 0 end)::bigint as credit_cents,
         sum(amount_cents)::bigint as balance_cents
  from journal_lines group by account;
create or replace view pnl_by_store as
  select r.store, r.business_day,
         (-sum(case when l.account = 'revenue:sales' then l.amount_cents else 0 end))::bigint as revenue_cents,
         sum(case when l.account = 'expenses:cost of goods sold' then l.amount_cents else 0 end)::bigint as cost_of_goods_cents,
         (-sum(case when l.account in ('revenue:sales', 'expenses:cost of goods sold') then l.amount_cents else 0 end))::bigint as gross_margin_cents,
         (-sum(case when l.account = 'expenses:cash over short' then l.amount_cents else 0 end))::bigint as cash_over_short_cents,
         sum(case when l.account like 'expenses:%' and l.account not in ('expenses:cost of goods sold', 'expenses:cash over short') then l.amount_cents else 0 end)::bigint as other_expenses_cents
  from records r join journal_lines l on l.record_id = r.id
  where r.store is not null
  group by r.store, r.business_day;
`

/** A digest of a set of record ids (sorted): what the watermark checks the projection against. */
export function recordsDigest (ids: Iterable<string>): string {
  const h = createHash('sha256')
  for (const id of [...ids].sort()) h.update(id).update('\n')
  return h.digest('hex')
}

export class BooksSql {
  readonly #db: SqlDb

  private constructor (db: SqlDb) {
    this.#db = db
  }

  /** The projection in `db`, its schema made if absent (idempotent). */
  static async open (db: SqlDb): Promise<BooksSql> {
    await db.exec(SCHEMA)
    return new BooksSql(db)
  }

  /** The watermark: records projected and the digest of their ids. */
  async watermark (): Promise<{ records: number, digest: string }> {
    const { rows } = await this.#db.query<{ records: string | number, digest: string }>('select records, digest from projection where k = 1')
    return { records: Number(rows[0]?.records ?? 0), digest: rows[0]?.digest ?? '' }
  }

  /**
   * Bring the projection up to `books` (the books' transactions, each with its store): the
   * records not projected yet are added, a projected one the books no longer hold is reversed,
   * and the watermark moves, all in one transaction. Answers what it added.
   */
  async project (books: ReadonlyArray<{ tx: Transaction, store: string | null }>): Promise<{ added: number, reversed: number }> {
    const have = new Set((await this.#db.query<{ id: string }>('select id from records')).rows.map(r => r.id))
    const want = new Map(books.map(b => [b.tx.id, b]))
    const add = books.filter(b => !have.has(b.tx.id))
    // A record projected once and no longer in the books: reversed (once), never deleted.
    const reverse = [...have].filter(id => !id.startsWith('reverse:') && !want.has(id) && !have.has(`reverse:${id}`))
    if (add.length === 0 && reverse.length === 0) return { added: 0, reversed: 0 }
    await this.#db.exec('begin')
    try {
      for (const b of add) await this.#insert(b.tx.id, b.tx.date, b.tx.description, b.store, b.tx.postings.map(p => ({ account: p.sub !== undefined ? `${p.account}:${p.sub}` : p.account, amountCents: p.amountCents })))
      for (const id of reverse) {
        const r = (await this.#db.query<{ business_day: string, description: string, store: string | null }>("select to_char(business_day, 'YYYY-MM-DD') as business_day, description, store from records where id = $1", [id])).rows[0]
        const lines = (await this.#db.query<{ account: string, amount_cents: string | number }>('select account, amount_cents from journal_lines where record_id = $1 order by line', [id])).rows
        if (r === undefined) continue
        await this.#insert(`reverse:${id}`, r.business_day, `reversal of ${r.description}`, r.store, lines.map(l => ({ account: l.account, amountCents: -Number(l.amount_cents) })))
      }
      const ids = (await this.#db.query<{ id: string }>('select id from records')).rows.map(r => r.id)
      await this.#db.query('update projection set records = $1, digest = $2 where k = 1', [ids.length, recordsDigest(ids)])
      await this.#db.exec('commit')
    } catch (err) {
      await this.#db.exec('rollback')
      throw err
    }
    return { added: add.length, reversed: reverse.length }
  }

  async #insert (id: string, day: string, description: string, store: string | null, lines: Array<{ account: string, amountCents: number }>): Promise<void> {
    await this.#db.query('insert into records (id, business_day, description, store) values ($1, $2, $3, $4)', [id, day, description, store])
    let n = 0
    for (const l of lines) {
      if (!Number.isSafeInteger(l.amountCents)) throw new Error(`record ${id}: ${l.account} is not whole cents`)
      await this.#db.query('insert into journal_lines (record_id, line, account, amount_cents) values ($1, $2, $3, $4)', [id, ++n, l.account, l.amountCents])
    }
  }

  /** The trial balance as SQL computes it: per account (sub-accounts apart), in cents. */
  async trialBalance (): Promise<Array<{ account: string, debitCents: number, creditCents: number, balanceCents: number }>> {
    const { rows } = await this.#db.query<{ account: string, debit_cents: string | number, credit_cents: string | number, balance_cents: string | number }>('select account, debit_cents, credit_cents, balance_cents from trial_balance order by account')
    return rows.map(r => ({ account: r.account, debitCents: Number(r.debit_cents), creditCents: Number(r.credit_cents), balanceCents: Number(r.balance_cents) }))
  }
}

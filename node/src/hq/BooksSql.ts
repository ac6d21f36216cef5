/**
 * The books in SQL, as a projection of the log: the log stays the record; this is what a
 * retailer's BI tools read. Integer cents throughout. The same SQL runs on PGlite (embedded)
 * and PostgreSQL (`pg`).
 *
 *   records        one row per journal transaction, keyed by the record it comes from: a till
 *                  entry's hash (with its till and seq), or HQ's own (an opening, an order, a
 *                  settlement file: `<id>#<digest of its lines>`, since a settlement's lines can
 *                  move to a file imported later), with its day, description and store (null for HQ's)
 *   journal_lines  its postings, debit positive; a deferred constraint trigger refuses, at
 *                  commit, any record whose lines do not sum to zero
 *   projection     one row: how many records were projected and a digest chained over them
 *   trial_balance(account, debit_cents, credit_cents, balance_cents)
 *   pnl_by_store(store, business_day, revenue_cents, cost_of_goods_cents, gross_margin_cents,
 *                cash_over_short_cents, other_expenses_cents)
 *
 * Exactly once: `append` adds records in one SQL transaction that also moves the watermark,
 * so a crash and a replay add nothing. Rows are only ever added: a record the books no longer
 * fold gets a reversing record (`reverse:<id>`), never a delete. `liveDigest` (SQL) against
 * `expectedDigest` (the books) finds a projection altered by hand; the caller rebuilds it.
 */
import { createHash } from 'node:crypto'
import type { Transaction } from '@tillbooks/ledger'

/** What the projection needs of a SQL database: PGlite and a `pg` client both fit. */
export interface SqlDb {
  query<T = Record<string, unknown>> (sql: string, params?: unknown[]): Promise<{ rows: T[] }>
  exec (sql: string): Promise<unknown>
}

/** One record as the projection holds it. */
export interface SqlRecord {
  id: string
  day: string
  description: string
  store: string | null
  till: string | null
  seq: number | null
  lines: Array<{ account: string, amountCents: number }>
}

const SCHEMA = `
create table if not exists records (
  id text primary key,
  business_day date not null,
  description text not null,
  store text,
  till text,
  seq integer,
  projected_at bigserial
);
create index if not exists records_till_seq on records (till, seq);
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
create constraint trigger journal_lines_balanced after insert or update on journal_lines
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

/** The rows of one record, one text line each, as `liveDigest` hashes them in SQL. */
function digestLine (id: string, line: number, account: string, amountCents: number): string {
  return `${id}|${line}|${account}|${amountCents}\n`
}

/** A record of the books as the projection keeps it. */
export function sqlRecord (tx: Transaction, source: { store: string, till: string, seq: number } | null): SqlRecord {
  const lines = tx.postings.map(p => ({ account: p.sub !== undefined ? `${p.account}:${p.sub}` : p.account, amountCents: p.amountCents }))
  if (source !== null) return { id: tx.id, day: tx.date, description: tx.description, store: source.store, till: source.till, seq: source.seq, lines }
  // HQ's own: keyed by what it says too, so a record that comes to say something else is a new one.
  const h = createHash('sha256')
  for (const l of lines) h.update(`${l.account}|${l.amountCents}\n`)
  return { id: `${tx.id}#${h.digest('hex').slice(0, 16)}`, day: tx.date, description: tx.description, store: null, till: null, seq: null, lines }
}

/**
 * The digest `check().liveDigest` must equal for the projection of these records (the books'):
 * each line of each record, records by id in byte order (a record folded again after its
 * reversal, `<id>~<n>`, counts under its id).
 */
export function expectedDigest (records: Iterable<SqlRecord>): string {
  const sorted = [...records].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  const h = createHash('sha256')
  for (const r of sorted) r.lines.forEach((l, i) => h.update(digestLine(r.id, i + 1, l.account, l.amountCents)))
  return h.digest('hex')
}

/** Records per SQL statement: arrays of this many rows bind as one parameter each. */
const INSERT_BATCH = 2000

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

  get db (): SqlDb { return this.#db }

  /** The watermark: records projected (reversals included) and a digest chained over every append. */
  async watermark (): Promise<{ records: number, digest: string }> {
    const { rows } = await this.#db.query<{ records: string | number, digest: string }>('select records, digest from projection where k = 1')
    return { records: Number(rows[0]?.records ?? 0), digest: rows[0]?.digest ?? '' }
  }

  /** What is projected and still counts: per till its highest seq, and HQ's own records by id. */
  async live (): Promise<{ tills: Map<string, number>, hq: Set<string>, rows: number }> {
    const tills = new Map<string, number>()
    const hq = new Set<string>()
    const live = `select id, till, seq from records r where id not like 'reverse:%' and not exists (select 1 from records v where v.id = 'reverse:' || r.id)`
    for (const r of (await this.#db.query<{ id: string, till: string | null, seq: number | null }>(live)).rows) {
      // A record folded again after its reversal (`<id>~<n>`) counts under its id, as check() counts it.
      if (r.till === null) hq.add(r.id.replace(/~[0-9]+$/, ''))
      else tills.set(r.till, Math.max(tills.get(r.till) ?? 0, Number(r.seq)))
    }
    const rows = Number((await this.#db.query<{ n: string | number }>('select count(*) as n from records')).rows[0]?.n ?? 0)
    return { tills, hq, rows }
  }

  /** The ids of a till's live records above `seq` (for reversing what the books stopped folding). */
  async liveAbove (till: string, seq: number): Promise<string[]> {
    const q = `select id from records r where till = $1 and seq > $2 and not exists (select 1 from records v where v.id = 'reverse:' || r.id)`
    return (await this.#db.query<{ id: string }>(q, [till, seq])).rows.map(r => r.id)
  }

  /**
   * Add `add` and reverse the records named in `reverse`, and move the watermark, in one
   * transaction: all of it or nothing. Answers what it added.
   */
  async append (add: readonly SqlRecord[], reverse: readonly string[] = []): Promise<{ added: number, reversed: number }> {
    if (add.length === 0 && reverse.length === 0) return { added: 0, reversed: 0 }
    const reversals: SqlRecord[] = []
    for (const asked of reverse) {
      // The row of `asked` that still counts: itself, or the row it was folded again under (`<id>~<n>`).
      const id = (await this.#db.query<{ id: string }>("select id from records r where (id = $1 or left(id, length($1) + 1) = $1 || '~') and not exists (select 1 from records v where v.id = 'reverse:' || r.id)", [asked])).rows[0]?.id
      if (id === undefined) throw new Error(`bug: reversing ${asked}, which is not projected`)
      const r = (await this.#db.query<{ business_day: string, description: string, store: string | null, till: string | null, seq: number | null }>("select to_char(business_day, 'YYYY-MM-DD') as business_day, description, store, till, seq from records where id = $1", [id])).rows[0]
      if (r === undefined) throw new Error(`bug: reversing ${id}, which is not projected`)
      const lines = (await this.#db.query<{ account: string, amount_cents: string | number }>('select account, amount_cents from journal_lines where record_id = $1 order by line', [id])).rows
      reversals.push({ id: `reverse:${id}`, day: r.business_day, description: `reversal of ${r.description}`, store: r.store, till: r.till, seq: r.seq, lines: lines.map(l => ({ account: l.account, amountCents: -Number(l.amount_cents) })) })
    }
    // A record reversed once and folded again (its entry back in the log) comes back under a new row: `<id>~<n>`.
    const again = new Set((await this.#db.query<{ id: string }>('select id from records where id = any($1)', [add.map(r => r.id)])).rows.map(r => r.id))
    const readded: SqlRecord[] = []
    for (const r of add) {
      if (!again.has(r.id)) { readded.push(r); continue }
      const taken = new Set((await this.#db.query<{ id: string }>("select id from records where left(id, length($1) + 1) = $1 || '~'", [r.id])).rows.map(x => x.id))
      let n = 2
      while (taken.has(`${r.id}~${n}`)) n++
      readded.push({ ...r, id: `${r.id}~${n}` })
    }
    const all = [...readded, ...reversals]
    const wm = await this.watermark()
    const chained = createHash('sha256').update(wm.digest)
    for (const r of all) chained.update(r.id).update('\n')
    await this.#db.exec('begin')
    try {
      for (let i = 0; i < all.length; i += INSERT_BATCH) await this.#insert(all.slice(i, i + INSERT_BATCH))
      await this.#db.query('update projection set records = records + $1, digest = $2 where k = 1', [all.length, chained.digest('hex')])
      await this.#db.exec('commit')
    } catch (err) {
      await this.#db.exec('rollback').catch(() => {})
      throw err
    }
    return { added: add.length, reversed: reversals.length }
  }

  async #insert (records: readonly SqlRecord[]): Promise<void> {
    const lineCols: [string[], number[], string[], number[]] = [[], [], [], []]
    for (const r of records) {
      r.lines.forEach((l, i) => {
        if (!Number.isSafeInteger(l.amountCents)) throw new Error(`record ${r.id}: ${l.account} is not whole cents`)
        lineCols[0].push(r.id); lineCols[1].push(i + 1); lineCols[2].push(l.account); lineCols[3].push(l.amountCents)
      })
    }
    await this.#db.query('insert into records (id, business_day, description, store, till, seq) select * from unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::integer[])',
      [records.map(r => r.id), records.map(r => r.day), records.map(r => r.description), records.map(r => r.store), records.map(r => r.till), records.map(r => r.seq)])
    await this.#db.query('insert into journal_lines (record_id, line, account, amount_cents) select * from unnest($1::text[], $2::integer[], $3::text[], $4::bigint[])', lineCols)
  }

  /**
   * The digest of what is projected and still counts (every line of every record neither a
   * reversal nor reversed), as `expectedDigest` computes it from the books; and whether every
   * reversed record and its reversal still cancel out. Both hold unless someone altered the rows.
   */
  async check (): Promise<{ liveDigest: string, reversalsCancel: boolean, rows: number, watermarkRows: number }> {
    const live = await this.#db.query<{ d: string | null }>(`
      select encode(sha256(convert_to(coalesce(string_agg(regexp_replace(l.record_id, '~[0-9]+$', '') || '|' || l.line || '|' || l.account || '|' || l.amount_cents || chr(10), '' order by regexp_replace(l.record_id, '~[0-9]+$', '') collate "C", l.line), ''), 'UTF8')), 'hex') as d
      from journal_lines l join records r on r.id = l.record_id
      where r.id not like 'reverse:%' and not exists (select 1 from records v where v.id = 'reverse:' || r.id)`)
    const unbalanced = await this.#db.query<{ n: string | number }>(`
      select count(*) as n from (
        select l.account from journal_lines l join records r on r.id = l.record_id
        where r.id like 'reverse:%' or exists (select 1 from records v where v.id = 'reverse:' || r.id)
        group by l.account having sum(l.amount_cents) <> 0) x`)
    const rows = Number((await this.#db.query<{ n: string | number }>('select count(*) as n from records')).rows[0]?.n ?? 0)
    const wm = await this.watermark()
    return { liveDigest: live.rows[0]?.d ?? '', reversalsCancel: Number(unbalanced.rows[0]?.n ?? 0) === 0, rows, watermarkRows: wm.records }
  }

  /** Start again from nothing: the projection is rebuilt from the log by the caller. */
  async wipe (): Promise<void> {
    await this.#db.exec('begin')
    try {
      await this.#db.exec('delete from journal_lines; delete from records; update projection set records = 0, digest = \'\' where k = 1;')
      await this.#db.exec('commit')
    } catch (err) {
      await this.#db.exec('rollback').catch(() => {})
      throw err
    }
  }

  /** The trial balance as SQL computes it: per account (sub-accounts apart), in cents. */
  async trialBalance (): Promise<Array<{ account: string, debitCents: number, creditCents: number, balanceCents: number }>> {
    const { rows } = await this.#db.query<{ account: string, debit_cents: string | number, credit_cents: string | number, balance_cents: string | number }>('select account, debit_cents, credit_cents, balance_cents from trial_balance order by account')
    return rows.map(r => ({ account: r.account, debitCents: Number(r.debit_cents), creditCents: Number(r.credit_cents), balanceCents: Number(r.balance_cents) }))
  }
}

/**
 * HQ's books in a real PostgreSQL server (`--books-db postgres://…`), as a projection of its
 * log: a server not there at start is a clear error and HQ books into its log meanwhile; once
 * the server is up the projection catches up; SQL's trial balance and P&L per store equal
 * `/books` to the cent; an unbalanced record inserted by hand fails at commit; HQ SIGKILLed
 * mid-stream and restarted leaves every count and sum as the books have them; rows altered
 * by hand are found and rebuilt. Every process started here is ended here, by its pid.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type pg from 'pg'
import { freePort, until } from '../node/test/helpers/daemons.ts'
import { call, kill, killAll, run, startDaemon, type Daemon } from './helpers/processes.ts'
import { startPostgres, type Postgres } from './helpers/postgres.ts'

interface BooksJson { accounts: Record<string, number>, stores: Record<string, { salesNetCents: number, cogsCents: number, grossMarginCents: number, cashOverShortCents: number }> }

/** SQL against the books: every account (sub-accounts summed into it), revenue per store, and the record count. */
async function assertSqlEqualsBooks (db: pg.Client, hqUrl: string): Promise<void> {
  const books = await call<BooksJson>(hqUrl, 'GET', '/books')
  const digest = await call<{ records: number }>(hqUrl, 'GET', '/books/digest')
  const names = Object.keys(books.accounts)
  const sql: Record<string, number> = {}
  for (const r of (await db.query<{ account: string, balance_cents: string }>('select account, balance_cents from trial_balance')).rows) {
    const top = names.find(a => r.account === a || r.account.startsWith(`${a}:`))
    assert.ok(top !== undefined, `${r.account} is no account of the books`)
    sql[top] = (sql[top] ?? 0) + Number(r.balance_cents)
  }
  for (const a of names) assert.equal(sql[a] ?? 0, books.accounts[a], `${a}: SQL ${sql[a] ?? 0}, books ${books.accounts[a]}`)
  const tb = (await db.query<{ d: string, c: string }>('select sum(debit_cents) as d, sum(credit_cents) as c from trial_balance')).rows[0]
  assert.equal(tb?.d, tb?.c, 'debits = credits')
  const pnl = (await db.query<{ store: string, r: string, c: string, m: string, o: string }>('select store, sum(revenue_cents) as r, sum(cost_of_goods_cents) as c, sum(gross_margin_cents) as m, sum(cash_over_short_cents) as o from pnl_by_store group by store order by store')).rows
  assert.deepEqual(Object.fromEntries(pnl.map(x => [x.store, [Number(x.r), Number(x.c), Number(x.m), Number(x.o)]])),
    Object.fromEntries(Object.entries(books.stores).map(([s, v]) => [s, [v.salesNetCents, v.cogsCents, v.grossMarginCents, v.cashOverShortCents]])))
  // Each record once: the live rows (neither reversed nor reversals) are the books' records.
  const live = (await db.query<{ n: string }>("select count(*) as n from records r where id not like 'reverse:%' and not exists (select 1 from records v where v.id = 'reverse:' || r.id)")).rows[0]
  assert.equal(Number(live?.n), digest.records)
}

async function caughtUp (hqUrl: string): Promise<void> {
  await until('the projection caught up', async () => {
    const p = await call<{ error: string | null, lagRecords: number }>(hqUrl, 'GET', '/books/projection')
    return p.error === null && p.lagRecords === 0
  }, 60_000)
}

describe('the books in a real PostgreSQL server', function () {
  this.timeout(240_000)
  let dir: string
  let server: Postgres | null = null
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'tillbooks-pg-test-')) })
  after(async () => {
    await killAll()
    await server?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('unreachable at start, then up: SQL equals the books to the cent; unbalanced by hand fails at commit; SIGKILL mid-stream changes no count or sum; altered rows are rebuilt', async () => {
    const pgPort = await freePort()
    // A password in the URL is never shown: not in the ready line, not in the status, not in a log line.
    const url = `postgres://tillbooks:s3cret-pw@127.0.0.1:${pgPort}/books`
    const hqPort = await freePort()
    const hqArgs = ['hq', '--data', join(dir, 'hq'), '--listen', `/ip4/127.0.0.1/tcp/${hqPort}`, '--http', '0', '--books-db', url]
    let stderr = ''
    let hq: Daemon = await startDaemon(hqArgs)
    hq.child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    assert.equal((hq.ready as unknown as { booksDb: string }).booksDb, `postgres://tillbooks:***@127.0.0.1:${pgPort}/books`)
    await until('the unreachable server reported', async () => /cannot be reached/.test((await call<{ error: string | null }>(hq.ready.http, 'GET', '/books/projection')).error ?? ''))

    // HQ books into its log meanwhile: two stores' tills sell and close.
    const tills: Array<{ id: string, http: string }> = []
    for (const s of ['A', 'B']) {
      for (const n of [1, 2]) {
        const tillDir = join(dir, `${s}-${n}`)
        await run(['enrol', '--hq', hq.ready.http, '--data', tillDir, '--store', s, '--till', String(n), '--token-file', join(dir, 'hq', 'admin.token'), '--json'])
        const t = await startDaemon(['till', '--data', tillDir, '--store', s, '--till', String(n), '--hq', hq.ready.multiaddrs[0] as string, '--http', '0', '--retry-max-ms', '300'])
        tills.push({ id: `${s}-${n}`, http: t.ready.http })
      }
    }
    const day = async (businessDay: string, during?: () => Promise<void>): Promise<void> => {
      for (const [i, t] of tills.entries()) {
        await call(t.http, 'POST', '/day/open', { businessDay })
        for (let k = 0; k < 3; k++) await call(t.http, 'POST', '/sales', { lines: [{ sku: k % 2 === 0 ? 'latte' : 'patio-set', qty: 1 + ((i + k) % 3) }] })
      }
      const closing = tills.map(async t => await call(t.http, 'POST', '/day/close', {}))
      await during?.()
      await Promise.all(closing)
    }
    await day('2026-04-01')
    for (const t of tills) await until(`${t.id} drained`, async () => (await call<{ outbox: number }>(t.http, 'GET', '/status')).outbox === 0)
    assert.ok((await call<{ records: number }>(hq.ready.http, 'GET', '/books/digest')).records > 0)

    // The server comes up: the projection connects by itself and catches up.
    server = await startPostgres(pgPort)
    await caughtUp(hq.ready.http)
    const db = await server.client()
    await assertSqlEqualsBooks(db, hq.ready.http)

    // An unbalanced record inserted by hand: refused at commit, nothing of it stays.
    await db.query('begin')
    await db.query("insert into records (id, business_day, description, store) values ('by-hand', '2026-04-01', 'by hand', 'A')")
    await db.query("insert into journal_lines (record_id, line, account, amount_cents) values ('by-hand', 1, 'assets:cash:drawer', 100)")
    await assert.rejects(db.query('commit'), /does not balance/)
    assert.equal((await db.query("select * from records where id = 'by-hand'")).rows.length, 0)

    // Day two: HQ is SIGKILLed in the middle of the close wave, and started again.
    await day('2026-04-02', async () => {
      await new Promise(resolve => setTimeout(resolve, 20))
      await kill(hq.child, 'SIGKILL')
    })
    hq = await startDaemon(hqArgs)
    hq.child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    for (const t of tills) await until(`${t.id} drained`, async () => (await call<{ outbox: number }>(t.http, 'GET', '/status')).outbox === 0)
    await caughtUp(hq.ready.http)
    await assertSqlEqualsBooks(db, hq.ready.http)
    assert.equal((await call<{ rebuilds: number }>(hq.ready.http, 'GET', '/books/projection')).rebuilds, 0, 'the projection agreed with the log after the kill')

    // Altered by hand (balanced, so the trigger lets it through): found at the next start, rebuilt.
    await db.query("update journal_lines set amount_cents = -amount_cents where record_id = (select min(record_id) from journal_lines where record_id not like 'reverse:%')")
    await kill(hq.child, 'SIGTERM')
    hq = await startDaemon(hqArgs)
    hq.child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    await caughtUp(hq.ready.http)
    assert.equal((await call<{ rebuilds: number }>(hq.ready.http, 'GET', '/books/projection')).rebuilds, 1)
    await assertSqlEqualsBooks(db, hq.ready.http)
    assert.doesNotMatch(JSON.stringify(await call(hq.ready.http, 'GET', '/books/projection')) + stderr, /s3cret-pw/)
  })
})

/**
 * Where HQ's books are projected in SQL (`--books-db`): PGlite in `DIR/books-db` by default,
 * or a PostgreSQL server (`postgres://USER@HOST:PORT/DB`, through `pg`). Either is a
 * projection of the log, rebuilt from it whenever it disagrees: PGlite does not fsync, and a
 * directory it cannot open again (a crash mid-write) is set aside and rebuilt.
 */
import { rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../components.ts'
import type { SqlDb } from './BooksSql.ts'
import { BOOKS_DB_CONNECT_TIMEOUT_MS } from './constants.ts'

export interface BooksDbTarget {
  /** For logs and status: a URL without its password, or the directory. */
  target: string
  connect: () => Promise<{ db: SqlDb, close: () => Promise<void> }>
}

export class BooksDbSpecError extends Error {
  override name = 'BooksDbSpecError'
}

/**
 * A URL as it may be shown: its password replaced, and its query dropped (`?password=`,
 * `?sslpassword=` and the like are read by pg too). Better still: no password in the URL at
 * all, but PGPASSWORD or ~/.pgpass, which pg reads (a URL's password shows in `ps`).
 */
export function redactedUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    if (u.search !== '') u.search = '?…'
    return u.toString()
  } catch {
    return '(an unreadable URL)'
  }
}

/** The books database `spec` names (undefined: PGlite in DIR/books-db); a bad spec throws BooksDbSpecError. */
export function booksDbTarget (spec: string | undefined, dataDir: string, logger: Logger): BooksDbTarget {
  if (spec === undefined || spec === '') return pgliteTarget(join(dataDir, 'books-db'), logger)
  let url: URL
  try {
    url = new URL(spec)
  } catch {
    throw new BooksDbSpecError('--books-db is a URL: postgres://USER@HOST:PORT/DB')
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new BooksDbSpecError(`--books-db: ${url.protocol} is not postgres: (postgres://USER@HOST:PORT/DB)`)
  if (url.pathname.length < 2) throw new BooksDbSpecError('--books-db names no database: postgres://USER@HOST:PORT/DB')
  return postgresTarget(spec, logger)
}

function pgliteTarget (dir: string, logger: Logger): BooksDbTarget {
  let setAside = false
  return {
    target: dir,
    connect: async () => {
      const { PGlite } = await import('@electric-sql/pglite')
      let db
      try {
        db = await PGlite.create(dir)
      } catch (first) {
        // Tried again once (a passing failure); then, once per process, set aside what cannot be
        // opened (a crash mid-write: PGlite does not fsync) and started again from the log.
        await new Promise(resolve => setTimeout(resolve, 1_000))
        try {
          db = await PGlite.create(dir)
        } catch (err) {
          if (setAside) throw err
          setAside = true
          const aside = `${dir}.unreadable-${Date.now()}`
          logger.warn({ dir, aside, err: (err as Error).message, first: (first as Error).message }, 'the books database cannot be opened: set aside, rebuilt from the log')
          await rename(dir, aside)
          db = await PGlite.create(dir)
        }
      }
      return { db, close: async () => { await db.close() } }
    }
  }
}

function postgresTarget (url: string, logger: Logger): BooksDbTarget {
  const target = redactedUrl(url)
  return {
    target,
    connect: async () => {
      const pg = (await import('pg')).default
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: BOOKS_DB_CONNECT_TIMEOUT_MS })
      let broken: Error | null = null
      // A connection lost later is an 'error' event: never a crash; the next query fails and the projection reconnects.
      client.on('error', err => { broken = err; logger.warn({ target, err: err.message }, 'books database connection lost') })
      try {
        await client.connect()
      } catch (err) {
        await client.end().catch(() => {})
        throw new Error(`the books database ${target} cannot be reached: ${(err as Error).message}`)
      }
      // One HQ per database: a second (another replica given the same URL) would see the first's
      // rows as a disagreement and rebuild them, forever. Held for the connection's life.
      const locked = await client.query<{ ok: boolean }>("select pg_try_advisory_lock(hashtext('tillbooks books projection')) as ok")
      if (locked.rows[0]?.ok !== true) {
        await client.end().catch(() => {})
        throw new Error(`the books database ${target} is projected into by another HQ already: give each HQ (each replica) a database of its own`)
      }
      const db: SqlDb = {
        query: async <T>(sql: string, params?: unknown[]) => {
          if (broken !== null) throw broken
          const r = await client.query(sql, params)
          return { rows: r.rows as T[] }
        },
        exec: async (sql: string) => {
          if (broken !== null) throw broken
          return await client.query(sql)
        }
      }
      return { db, close: async () => { await client.end() } }
    }
  }
}

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

/** A URL as it may be shown: its password replaced. */
export function redactedUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
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
  return {
    target: dir,
    connect: async () => {
      const { PGlite } = await import('@electric-sql/pglite')
      let db
      try {
        db = await PGlite.create(dir)
      } catch (err) {
        // A projection: set aside what cannot be opened, start again from the log.
        const aside = `${dir}.unreadable-${Date.now()}`
        logger.warn({ dir, aside, err: (err as Error).message }, 'the books database cannot be opened: set aside, rebuilt from the log')
        await rename(dir, aside).catch(() => {})
        db = await PGlite.create(dir)
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

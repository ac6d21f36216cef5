/**
 * A real PostgreSQL server for tests and the benchmark (Debian's `postgresql`, installed by .ci/run): a cluster
 * made by `initdb` in a temporary directory, started by `pg_ctl` on a loopback port, stopped
 * and removed after. Run as root (CI), the server runs as the `postgres` user, as PostgreSQL requires.
 */
import { execFile } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const exec = promisify(execFile)

export interface Postgres {
  /** postgres://tillbooks@127.0.0.1:PORT/books */
  url: string
  port: number
  /** A client on the books database (ended by stop). */
  client: () => Promise<pg.Client>
  stop: () => Promise<void>
}

async function binDir (): Promise<string> {
  try {
    return (await exec('pg_config', ['--bindir'])).stdout.trim()
  } catch {
    const versions = (await readdir('/usr/lib/postgresql')).sort((a, b) => Number(b) - Number(a))
    if (versions[0] === undefined) throw new Error('PostgreSQL is not installed (Debian: apt-get install postgresql)')
    return `/usr/lib/postgresql/${versions[0]}/bin`
  }
}

/** A loopback port free now (the server binds it a moment later). */
export async function freeLoopbackPort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as AddressInfo).port
  await new Promise<void>(resolve => srv.close(() => { resolve() }))
  return port
}

/** Start a server on `port` (a free loopback port; default: one found now). */
export async function startPostgres (port?: number): Promise<Postgres> {
  port ??= await freeLoopbackPort()
  const bin = await binDir()
  const dir = await mkdtemp(join(tmpdir(), 'tillbooks-pg-'))
  const root = process.getuid?.() === 0
  const as = async (cmd: string, args: string[]): Promise<void> => {
    if (root) await exec('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args])
    else await exec(join(bin, cmd), args)
  }
  if (root) {
    const { stdout } = await exec('id', ['-u', 'postgres'])
    const uid = Number(stdout.trim())
    const gid = Number((await exec('id', ['-g', 'postgres'])).stdout.trim())
    await chown(dir, uid, gid)
  }
  const data = join(dir, 'data')
  await as('initdb', ['-D', data, '-U', 'tillbooks', '--auth=trust', '-E', 'UTF8', '--no-sync'])
  await as('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start'])
  const clients: pg.Client[] = []
  const client = async (database = 'books'): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'tillbooks', database })
    c.on('error', () => {})
    await c.connect()
    clients.push(c)
    return c
  }
  const admin = await client('postgres')
  await admin.query('create database books')
  return {
    url: `postgres://tillbooks@127.0.0.1:${port}/books`,
    port,
    client: async () => await client('books'),
    stop: async () => {
      for (const c of clients) await c.end().catch(() => {})
      await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => {})
      await rm(dir, { recursive: true, force: true })
    }
  }
}

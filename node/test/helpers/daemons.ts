/** Small helpers for tests that talk to real daemons over HTTP. */
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { fromHex, keyPairFromSeed } from '@tillbooks/protocol'

/** A port free right now on 127.0.0.1 (for daemons that must keep their address across restarts). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => { resolve(port) })
    })
  })
}

/** Poll until `ok` holds, or fail naming what never happened. */
export async function until (what: string, ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now()
  while (!(await ok())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** One JSON request, with a bearer token if given; the status and the parsed answer (text when it is not JSON). */
export async function request<T> (base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number, json: T }> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  return { status: res.status, json: (text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text) as T }
}

/** A daemon's admin (or viewer) token, read from its data directory as an operator would. */
export async function tokenOf (dataDir: string, role: 'admin' | 'viewer' = 'admin'): Promise<string> {
  return (await readFile(join(dataDir, `${role}.token`), 'utf8')).trim()
}

/** A fresh one-time enrolment code for a slot, issued with HQ's admin token. */
export async function codeFor (hqUrl: string, hqDir: string, store: string, till: number): Promise<string> {
  const r = await request<{ code: string, error?: string }>(hqUrl, 'POST', '/admin/enrolment-codes', { store, till }, await tokenOf(hqDir))
  if (r.status !== 200) throw new Error(`no code for ${store}-${till}: ${r.status} ${JSON.stringify(r.json)}`)
  return r.json.code
}

/** A till's libp2p address is known before it starts: its key (in its directory) gives the peer id. */
export async function addressOf (tillDir: string, port: number): Promise<string> {
  const seed = fromHex((await readFile(join(tillDir, 'key'), 'utf8')).trim())
  return `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdFromPublicKey(publicKeyFromRaw(keyPairFromSeed(seed).publicKey)).toString()}`
}

/** Enrol one till (number 1) per store in `dir/<store>`, each with a fresh code, as an operator would. */
export async function enrolStores (hq: { ready: { http: string } }, hqDir: string, dir: string, stores: string[]): Promise<void> {
  const { enrolTill } = await import('../../src/daemon/enrol.ts')
  const { asStoreId } = await import('@tillbooks/protocol')
  const { silentLogger } = await import('../../src/components.ts')
  for (const s of stores) await enrolTill({ hqUrl: hq.ready.http, dataDir: join(dir, s), store: asStoreId(s), till: 1, auth: { bearer: await codeFor(hq.ready.http, hqDir, s, 1) }, logger: silentLogger })
}

/** Until HQ has folded everything the till at `tillUrl` has logged (its head seq): the till syncs meanwhile. */
export async function untilFolded (hqUrl: string, tillUrl: string, tillId: string, timeoutMs = 30_000): Promise<void> {
  const seq = (await request<{ headSeq: number }>(tillUrl, 'GET', '/status')).json.headSeq
  await until(`HQ folds ${tillId} through seq ${seq}`, async () => {
    await request(tillUrl, 'POST', '/sync', {})
    return (await request<{ tills: Record<string, { lastSeq: number }> }>(hqUrl, 'GET', '/fleet')).json.tills[tillId]?.lastSeq === seq
  }, timeoutMs)
}

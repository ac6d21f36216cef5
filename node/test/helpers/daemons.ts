/** Small helpers for tests that talk to real daemons over HTTP. */
import { createServer } from 'node:net'

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

/** One JSON request; the status and the parsed answer (text when it is not JSON). */
export async function request<T> (base: string, method: string, path: string, body?: unknown): Promise<{ status: number, json: T }> {
  const res = await fetch(`${base}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}), signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  return { status: res.status, json: (text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text) as T }
}

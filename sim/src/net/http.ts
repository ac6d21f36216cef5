/** JSON over HTTP to the daemons (fetch, keep-alive), and a bounded-concurrency map. */

export class HttpError extends Error {
  override name = 'HttpError'
  readonly status: number
  readonly body: unknown
  constructor (message: string, status: number, body: unknown) {
    super(message)
    this.status = status
    this.body = body
  }
}

/** One JSON call; with `token`, as its bearer (HQ's admin token, or an enrolment code). */
export async function httpJson<T = unknown> (method: 'GET' | 'POST', url: string, body?: unknown, timeoutMs = 30_000, token?: string): Promise<T> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const res = await fetch(url, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(timeoutMs)
  })
  const text = await res.text()
  let parsed: unknown = text
  try { parsed = text.length > 0 ? JSON.parse(text) : null } catch { /* not JSON */ }
  if (!res.ok) {
    const reason = typeof parsed === 'object' && parsed !== null && 'error' in parsed ? String((parsed as { error: unknown }).error) : text.slice(0, 300)
    throw new HttpError(`${method} ${url}: ${res.status} ${reason}`, res.status, parsed)
  }
  return parsed as T
}

export const get = async <T = unknown>(url: string, timeoutMs?: number, token?: string): Promise<T> => await httpJson<T>('GET', url, undefined, timeoutMs, token)
export const post = async <T = unknown>(url: string, body: unknown = {}, timeoutMs?: number, token?: string): Promise<T> => await httpJson<T>('POST', url, body, timeoutMs, token)

/** Map `items` through `fn` with at most `limit` calls in flight; results in input order. */
export async function pool<T, R> (items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i] as T, i)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  return out
}

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Poll `probe` until it returns true or `timeoutMs` passes; returns whether it succeeded. */
export async function until (probe: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const end = performance.now() + timeoutMs
  for (;;) {
    try {
      if (await probe()) return true
    } catch { /* not yet */ }
    if (performance.now() >= end) return false
    await sleep(everyMs)
  }
}

/**
 * A client for HQ's admin HTTP API (node/src/daemon/README.md), as the recover command
 * uses it: HQ's root key and a till's certificates, HQ's copy of a till's log, handing it
 * recovered entries, and enrolling a replacement till's key from the next seq.
 */
import { fromHex, openEntry, type PublicKey, type TillId } from '@tillbooks/protocol'

export interface EntryOutcome { status: 'accepted' | 'duplicate' | 'rejected', seq?: number, code?: string, reason?: string }

/** Entries per POST /admin/entries (HQ's limit is 512). */
const ENTRIES_PER_POST = 256

export class HqAdminClient {
  readonly base: string
  readonly #timeoutMs: number

  constructor (base: string, opts: { timeoutMs?: number } = {}) {
    const u = new URL(base)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`--hq must be an http(s) URL, not ${base}`)
    this.base = base.replace(/\/+$/, '')
    this.#timeoutMs = opts.timeoutMs ?? 30_000
  }

  async #call<T> (method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs)
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string, message?: string } }).cause
      throw new Error(`HQ at ${this.base} did not answer ${method} ${path}: ${cause?.code ?? cause?.message ?? (err as Error).message}`)
    }
    const text = await res.text()
    let json: unknown
    try { json = JSON.parse(text) } catch { json = undefined }
    if (!res.ok) {
      const why = (json as { error?: string, message?: string } | undefined)?.error ?? (json as { message?: string } | undefined)?.message ?? text.slice(0, 200)
      throw new Error(`HQ ${method} ${path}: ${res.status} ${why}`)
    }
    return json as T
  }

  /** HQ's root key and the slot's certificates. */
  async certificates (tillId: TillId | string): Promise<{ rootKey: PublicKey, certificates: Uint8Array[] }> {
    const r = await this.#call<{ hqRootKey: string, certificates: string[] }>('GET', `/admin/certificates/${encodeURIComponent(tillId)}`)
    return { rootKey: fromHex(r.hqRootKey) as PublicKey, certificates: r.certificates.map(b => new Uint8Array(Buffer.from(b, 'base64'))) }
  }

  /** Every entry HQ holds for the till (untrusted like any copy), and the highest seq among them. */
  async log (tillId: TillId | string): Promise<{ entries: Uint8Array[], heldSeq: number }> {
    const r = await this.#call<{ entries: string[] }>('GET', `/admin/log/${encodeURIComponent(tillId)}`)
    const entries = r.entries.map(b => new Uint8Array(Buffer.from(b, 'base64')))
    let heldSeq = 0
    for (const e of entries) {
      try { heldSeq = Math.max(heldSeq, openEntry(e, { verify: false }).record.seq) } catch { /* HQ only holds valid entries; ignore anything else */ }
    }
    return { entries, heldSeq }
  }

  /** Hand entries to HQ (it verifies each and dedups): the answers, in order. */
  async submit (entries: Uint8Array[]): Promise<EntryOutcome[]> {
    const out: EntryOutcome[] = []
    for (let i = 0; i < entries.length; i += ENTRIES_PER_POST) {
      const chunk = entries.slice(i, i + ENTRIES_PER_POST).map(e => Buffer.from(e).toString('base64'))
      const r = await this.#call<{ outcomes: EntryOutcome[] }>('POST', '/admin/entries', { entries: chunk })
      out.push(...r.outcomes)
    }
    return out
  }

  /** Enrol a till key from `fromSeq` on; the certificate (base64) and HQ's root key (hex). */
  async enrol (c: { store: string, till: number, tillKey: Uint8Array, fromSeq: number }): Promise<{ tillId: string, certificate: string, hqRootKey: string, fromSeq: number }> {
    return await this.#call('POST', '/admin/enrol', { store: c.store, till: c.till, tillKey: Buffer.from(c.tillKey).toString('hex'), fromSeq: c.fromSeq })
  }
}

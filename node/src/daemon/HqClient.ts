/**
 * A client for HQ's HTTP API (node/src/daemon/README.md), as the CLI commands use it:
 * enrolment codes, HQ's root key and a till's certificates, HQ's copy of a till's log,
 * handing it recovered entries, and enrolling a till key. Every call carries the bearer
 * credential it was given (the admin token, or an enrolment code for one slot) and trusts
 * the private CA it was given (`../access/client.ts`). HQ's refusals come back as HqError
 * with HQ's status and reason.
 */
import { LOG_BYTES_MAX } from '@tillbooks/crdt/constants'
import { fromHex, openEntry, type PublicKey, type TillId } from '@tillbooks/protocol'
import { authedFetch, type AuthedFetch, type ClientAuth } from '../access/client.ts'
import type { IssuedCode } from '../access/EnrolmentCodes.ts'

export interface EntryOutcome { status: 'accepted' | 'duplicate' | 'rejected', seq?: number, code?: string, reason?: string }

/** Entries per POST /admin/entries (HQ's limit is 512). */
const ENTRIES_PER_POST = 256

export class HqError extends Error {
  override name = 'HqError'
  readonly status: number
  /** HQ's answer, when it was JSON. */
  readonly body: unknown
  constructor (message: string, status: number, body?: unknown) {
    super(message)
    this.status = status
    this.body = body
  }
}

/** A request body sent as it is (a file), not as JSON. */
class RawBody {
  readonly bytes: Uint8Array
  readonly type: string
  constructor (bytes: Uint8Array, type: string) {
    this.bytes = bytes
    this.type = type
  }
}

export class HqClient {
  readonly base: string
  readonly #timeoutMs: number
  readonly #fetch: AuthedFetch

  constructor (base: string, opts: { timeoutMs?: number, auth?: ClientAuth } = {}) {
    const u = new URL(base)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`--hq must be an http(s) URL, not ${base}`)
    this.base = base.replace(/\/+$/, '')
    this.#timeoutMs = opts.timeoutMs ?? 30_000
    this.#fetch = authedFetch(opts.auth)
  }

  async #call<T> (method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const { text } = await this.#request(method, path, body, 'text')
    return JSON.parse(text as string) as T
  }

  /** One request; the answer's body as text or bytes. Throws HqError (with the status and HQ's reason) on anything but 2xx. */
  async #request (method: 'GET' | 'POST', path: string, body: unknown, as: 'text' | 'bytes'): Promise<{ text?: string, bytes?: Uint8Array }> {
    let res: Response
    try {
      res = await this.#fetch(`${this.base}${path}`, {
        method,
        ...(body instanceof RawBody ? { body: body.bytes, headers: { 'content-type': body.type } } : body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs)
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string, message?: string } }).cause
      const why = cause?.code ?? cause?.message ?? (err as Error).message
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|unable to verify/i.test(why)) throw new Error(`HQ at ${this.base}: its TLS certificate is not trusted (${why}): give --ca FILE with the CA that signed it`)
      throw new Error(`HQ at ${this.base} did not answer ${method} ${path}: ${why}`)
    }
    if (res.ok && as === 'bytes') {
      // A document is at most LOG_BYTES_MAX: a longer answer is refused before it is all read.
      const length = Number(res.headers.get('content-length') ?? 0)
      if (length > LOG_BYTES_MAX) throw new HqError(`HQ ${method} ${path}: an answer of ${length} bytes, at most ${LOG_BYTES_MAX}`, res.status)
      const bytes = new Uint8Array(await res.arrayBuffer())
      if (bytes.length > LOG_BYTES_MAX) throw new HqError(`HQ ${method} ${path}: an answer of ${bytes.length} bytes, at most ${LOG_BYTES_MAX}`, res.status)
      return { bytes }
    }
    const text = await res.text()
    if (!res.ok) {
      let json: unknown
      try { json = JSON.parse(text) } catch { json = undefined }
      const why = (json as { error?: string, message?: string } | undefined)?.error ?? (json as { message?: string } | undefined)?.message ?? text.slice(0, 200)
      throw new HqError(`HQ ${method} ${path}: ${res.status} ${why}`, res.status, json)
    }
    return { text }
  }

  /**
   * Import a settlement file (the processor's CSV report, or a bank's camt.053: told from its
   * bytes) and get the reconciliation through its day. A refused file throws HqError with
   * HQ's reason (400: the file, each problem's line; 409: it contradicts a file imported).
   */
  async importSettlement (file: Uint8Array, o: { name?: string, processor?: string, lagDays?: number } = {}): Promise<unknown> {
    const q = new URLSearchParams()
    if (o.name !== undefined) q.set('name', o.name)
    if (o.processor !== undefined) q.set('processor', o.processor)
    if (o.lagDays !== undefined) q.set('lagDays', String(o.lagDays))
    const xml = /^\s*</.test(Buffer.from(file.subarray(0, 64)).toString('utf8').replace(/^\uFEFF/, ''))
    const qs = q.toString()
    return await this.#call('POST', `/admin/settlements${qs !== '' ? `?${qs}` : ''}`, new RawBody(file, xml ? 'application/xml' : 'text/csv'))
  }

  /** A one-time enrolment code for a till slot (the admin token's to ask for). */
  async issueCode (slot: { store: string, till: number, ttl?: string }): Promise<IssuedCode> {
    return await this.#call('POST', '/admin/enrolment-codes', { store: slot.store, till: slot.till, ...(slot.ttl !== undefined ? { ttl: slot.ttl } : {}) })
  }

  /** HQ's root key and the slot's certificates. */
  async certificates (tillId: TillId | string): Promise<{ rootKey: PublicKey, certificates: Uint8Array[] }> {
    const r = await this.#call<{ hqRootKey: string, certificates: string[] }>('GET', `/admin/certificates/${encodeURIComponent(tillId)}`)
    return { rootKey: fromHex(r.hqRootKey) as PublicKey, certificates: r.certificates.map(b => new Uint8Array(Buffer.from(b, 'base64'))) }
  }

  /** Import the retailer's catalogue CSV from `effective` (HQ's today when absent): `{ imported, unchanged, errors }`; a refused file is an HqError whose body lists the errors. */
  async importCatalogue (csv: string, effective?: string): Promise<{ imported: number, unchanged: number, errors: Array<{ line: number, column: string | null, reason: string }> }> {
    try {
      return await this.#call('POST', '/admin/catalogue/import', { csv, ...(effective !== undefined ? { effective } : {}) })
    } catch (err) {
      if (err instanceof HqError && err.body !== undefined && Array.isArray((err.body as { errors?: unknown }).errors)) return err.body as { imported: number, unchanged: number, errors: Array<{ line: number, column: string | null, reason: string }> }
      throw err
    }
  }

  /** The catalogue in force (HQ's today, or `day`), as the retailer's CSV. */
  async catalogueCsv (day?: string): Promise<string> {
    return (await this.#request('GET', `/catalogue.csv${day !== undefined ? `?day=${encodeURIComponent(day)}` : ''}`, undefined, 'text')).text as string
  }

  /** The catalogue in force as JSON: `{ day, products, aliases, heads }`. */
  async catalogue (day?: string): Promise<unknown> {
    return await this.#call('GET', `/catalogue${day !== undefined ? `?day=${encodeURIComponent(day)}` : ''}`)
  }

  /**
   * The till's log as HQ holds it, an Automerge document (the till's own changes HQ took in):
   * untrusted like any copy; merge it into a log of your own, which screens it.
   */
  async logDocument (tillId: TillId | string): Promise<Uint8Array> {
    return (await this.#request('GET', `/admin/log/${encodeURIComponent(tillId)}.automerge`, undefined, 'bytes')).bytes as Uint8Array
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

/**
 * The ProcessorAdapter for the embedded processor (`tillbooks processor`): its HTTP API, each
 * call bounded in time. No answer (refused connection, timeout, a dropped socket) is
 * ProcessorUnreachableError: the outcome is unknown, and the caller resolves it by `lookup`.
 * An answer that does not match the request (another payment id, more approved than asked)
 * is refused as a protocol error, never taken.
 */
import { ProcessorUnreachableError, type AuthoriseRequest, type ProcessorAdapter, type ProcessorAnswer, type RefundRequest } from '@tillbooks/payments'

export class ProcessorAnswerError extends Error {
  override name = 'ProcessorAnswerError'
}

export class EmbeddedProcessorAdapter implements ProcessorAdapter {
  readonly name = 'embedded'
  readonly #base: string
  readonly #timeoutMs: number

  constructor (baseUrl: string, o: { timeoutMs?: number } = {}) {
    this.#base = baseUrl.replace(/\/+$/, '')
    this.#timeoutMs = o.timeoutMs ?? 5_000
  }

  async authorise (r: AuthoriseRequest): Promise<ProcessorAnswer> {
    return checked(await this.#call('POST', '/payments', r), r.paymentId, r.amountCents)
  }

  async refund (r: RefundRequest): Promise<ProcessorAnswer> {
    return checked(await this.#call('POST', '/refunds', r), r.paymentId, r.amountCents)
  }

  async lookup (paymentId: string): Promise<ProcessorAnswer | null> {
    const a = await this.#call('GET', `/payments/${encodeURIComponent(paymentId)}`, undefined, true)
    return a === null ? null : checked(a, paymentId, Number.MAX_SAFE_INTEGER)
  }

  /** The store-and-forward profile this processor says its tills apply (`GET /profile`): its name. */
  async profileName (): Promise<string> {
    const p = await this.#call('GET', '/profile', undefined) as { name?: unknown } | null
    if (p === null || typeof p.name !== 'string') throw new ProcessorAnswerError('the processor\'s profile has no name')
    return p.name
  }

  async #call (method: string, path: string, body: unknown, notFoundIsNull = false): Promise<unknown> {
    let res: Response
    try {
      res = await fetch(`${this.#base}${path}`, {
        method,
        ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs)
      })
    } catch (err) {
      throw new ProcessorUnreachableError(`the processor did not answer ${method} ${path}: ${(err as Error).message}`)
    }
    const text = await res.text().catch(() => '')
    if (res.status === 404 && notFoundIsNull) return null
    if (res.status >= 500) throw new ProcessorUnreachableError(`the processor answered ${res.status}`)
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new ProcessorAnswerError(`the processor's answer to ${method} ${path} is not JSON`)
    }
    if (res.status !== 200) throw new ProcessorAnswerError(`the processor refused ${method} ${path}: ${res.status} ${String((json as { error?: unknown }).error ?? '')}`)
    return json
  }
}

/** An answer taken only if it is about this payment and approves no more than was asked. */
function checked (v: unknown, paymentId: string, amountCents: number): ProcessorAnswer {
  const a = v as Partial<ProcessorAnswer> | null
  if (a === null || typeof a !== 'object') throw new ProcessorAnswerError('the processor\'s answer is not an object')
  if (a.paymentId !== paymentId) throw new ProcessorAnswerError(`the processor answered about ${String(a.paymentId).slice(0, 64)}, not ${paymentId}`)
  if (a.status !== 'approved' && a.status !== 'declined') throw new ProcessorAnswerError(`the processor's status ${String(a.status).slice(0, 32)} is neither approved nor declined`)
  if (!Number.isSafeInteger(a.approvedCents) || (a.approvedCents as number) < 0 || (a.approvedCents as number) > amountCents) throw new ProcessorAnswerError(`the processor approved ${String(a.approvedCents)} of ${amountCents}`)
  if (a.status === 'approved' && (typeof a.processorRef !== 'string' || a.processorRef === '')) throw new ProcessorAnswerError('an approval without the processor\'s reference')
  if (typeof a.last4 === 'string' && !/^\d{4}$/.test(a.last4)) throw new ProcessorAnswerError('the processor sent more than the last four digits of the card')
  // What a receipt's signed approval carries (protocol's approval.ts), checked here: an answer the till could not sign is refused as an answer.
  const fields: Array<[string, unknown, RegExp]> = [
    ['processorRef', a.processorRef, /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/], ['authCode', a.authCode, /^[A-Za-z0-9]{1,12}$/],
    ['brand', a.brand, /^[a-z][a-z0-9_-]{0,31}$/], ['aid', a.aid, /^[0-9A-F]{10,32}$/], ['entryMode', a.entryMode, /^[a-z][a-z0-9_-]{0,31}$/]
  ]
  for (const [name, v, re] of fields) {
    if (v !== null && v !== undefined && (typeof v !== 'string' || !re.test(v))) throw new ProcessorAnswerError(`the processor's ${name} ${JSON.stringify(String(v).slice(0, 24))} is not one a receipt carries`)
  }
  return a as ProcessorAnswer
}

/**
 * The embedded card processor: a separate process with its own durable state that stands in
 * for a real processor (Adyen, Stripe, Square) the way the embedded demo stands in for a
 * store. Tills talk to it directly over HTTP (HQ is never on the path); it authorises by the
 * documented test cards (@tillbooks/payments' testCards.ts), is idempotent on our payment id
 * (the merchant reference: the primary key everywhere, since an offline payment has no
 * processor reference until it is forwarded), settles each day in one batch with fees, and
 * writes the two files reconciliation reads: its settlement report (CSV) and the bank's
 * statement of the payout (camt.053.001.08).
 *
 *   POST /payments   { paymentId, amountCents, currency, token?, forwarded?, storedAtMs? }
 *                    → { paymentId, status: approved|declined, approvedCents, partial, processorRef, authCode, brand, last4, aid, entryMode, bookingDay, reason? }
 *   GET  /payments/<paymentId>          the answer again (a till resolving an unknown outcome)
 *   POST /refunds    { paymentId, originalPaymentId, amountCents, currency }
 *   POST /admin/chargebacks { paymentId } a chargeback of an approved payment, booked today
 *   POST /admin/settle { day }          close the day's batch now (tests, demos); a day before today settles on its own
 *   GET  /settlements/<day>.csv, GET /statements/<day>.camt053.xml
 *   GET  /profile                       the store-and-forward profile tills apply for this processor
 *
 * On disk (LevelDB in DIR/db): `p!<paymentId>` each request and its answer, `b!<processorRef>`
 * each booking (payment, refund, chargeback), `r!<paymentId>` what has been refunded of a
 * payment, `s!<day>` a settled day's two files (written once: the files never change after),
 * `n!seq` the processor's reference counter.
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import {
  authorise, DEFAULT_TEST_TOKEN, exponentOf, payoutEntries, profileNamed, settleDay, toCamt053, toSettlementCsv,
  type Booked, type ProcessorAnswer, type StoreAndForwardProfile
} from '@tillbooks/payments'
import { systemClock, type Clock, type Logger } from '../components.ts'
import { OneAtATime } from '../OneAtATime.ts'
import { LevelStore } from '../storage/LevelStore.ts'
import { prefixEnd } from '../storage/KvStore.ts'
import { errorHandler, STRICT_AJV } from '../daemon/http.ts'

export interface ProcessorOptions {
  dataDir: string
  httpPort: number
  httpHost?: string
  logger: Logger
  clock?: Clock
  /** The store-and-forward profile tills apply (default `default`). */
  profile?: string
  /** Fee on each payment, basis points of its gross (default 150: 1.5 %). */
  feeBp?: number
  currency?: string
  /** The merchant's account the payouts go to (the camt.053 statement's). */
  iban?: string
  /** How long a `tok_no_response` request is held before the connection is dropped unanswered. */
  noResponseHoldMs?: number
}

export interface ProcessorReady { role: 'processor', http: string, profile: string, currency: string, iban: string, feeBp: number }
export interface ProcessorDaemon { http: FastifyInstance, ready: ProcessorReady, stop: () => Promise<void> }

/** What the processor keeps per payment id: the request's fingerprint and the answer given. */
interface PaymentRecord {
  fingerprint: string
  answer: PaymentAnswer
}

/** The processor's answer to a payment: the adapter's, and the day it is booked to. */
export interface PaymentAnswer extends ProcessorAnswer {
  bookingDay: string | null
  /** A refund: the payment it refunds. */
  refundOf?: string
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/
const ID = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$' } as const
const DEFAULT_IBAN = 'FR7630006000011234567890189'

export async function startProcessorDaemon (o: ProcessorOptions): Promise<ProcessorDaemon> {
  const clock = o.clock ?? systemClock
  const feeBp = o.feeBp ?? 150
  const currency = o.currency ?? 'EUR'
  exponentOf(currency)
  const iban = o.iban ?? DEFAULT_IBAN
  const profile: StoreAndForwardProfile = profileNamed(o.profile ?? 'default')
  const store = new LevelStore(join(o.dataDir, 'db'))
  await store.open()
  const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
  const read = async <T>(key: string): Promise<T | undefined> => {
    const bytes = await store.get(key)
    return bytes === undefined ? undefined : JSON.parse(new TextDecoder().decode(bytes)) as T
  }
  const today = (): string => new Date(clock.nowMs()).toISOString().slice(0, 10)
  /** A booking goes to today's batch, or the first day after it not yet settled. */
  const bookingDay = async (): Promise<string> => {
    let day = today()
    for (let i = 0; i < 366 && (await store.get(`s!${day}`)) !== undefined; i++) {
      const d = new Date(`${day}T00:00:00Z`)
      d.setUTCDate(d.getUTCDate() + 1)
      day = d.toISOString().slice(0, 10)
    }
    return day
  }
  let seq = (await read<number>('n!seq')) ?? 0
  // One request at a time: each reads what the last wrote (the counter, an idempotent replay).
  const oneAtATime = new OneAtATime()
  const serial = async <T>(fn: () => Promise<T>): Promise<T> => await oneAtATime.run(fn)
  const fingerprintOf = (v: unknown): string => createHash('sha256').update(JSON.stringify(v)).digest('hex')

  // Stopping closes every connection at once (a till's keep-alive ones too): a processor going down is what tills must survive.
  const http = Fastify({ logger: false, bodyLimit: 16 * 1024, forceCloseConnections: true, ajv: { customOptions: STRICT_AJV } }) as unknown as FastifyInstance
  http.setErrorHandler(errorHandler(o.logger))
  /** Requests held unanswered (`tok_no_response`), each released by its timer or by stop. */
  const held = new Set<() => void>()

  http.get('/health', async () => ({ ok: true }))
  http.get('/profile', async () => profile)
  // Requests served since start, per kind (a card sale costs the till one `payments` request).
  const counters = { payments: 0, lookups: 0, refunds: 0 }
  http.addHook('onRequest', async req => {
    if (req.method === 'POST' && req.url === '/payments') counters.payments++
    else if (req.method === 'GET' && req.url.startsWith('/payments/')) counters.lookups++
    else if (req.method === 'POST' && req.url === '/refunds') counters.refunds++
  })
  http.get('/counters', async () => ({ ...counters }))

  /** Authorise and book, once per payment id; the same request again gets the same answer. */
  const pay = async (b: { paymentId: string, amountCents: number, currency: string, token?: string, forwarded?: boolean }): Promise<{ answer: PaymentAnswer, silent: boolean } | { conflict: string }> => await serial(async () => {
    const fp = fingerprintOf({ amountCents: b.amountCents, currency: b.currency, token: b.token ?? DEFAULT_TEST_TOKEN, forwarded: b.forwarded === true })
    const seen = await read<PaymentRecord>(`p!${b.paymentId}`)
    if (seen !== undefined) {
      if (seen.fingerprint !== fp) return { conflict: `payment id ${b.paymentId} was used for another payment` }
      return { answer: seen.answer, silent: false }
    }
    if (b.currency !== currency) return { answer: declined(b.paymentId, `currency ${b.currency}: this account settles in ${currency}`, b.forwarded === true), silent: false }
    const a = authorise(b.token ?? DEFAULT_TEST_TOKEN, b.amountCents, b.forwarded === true)
    let answer: PaymentAnswer
    const ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
    if (a.status === 'approved') {
      const processorRef = `PSP${String(++seq).padStart(10, '0')}`
      const day = await bookingDay()
      answer = {
        paymentId: b.paymentId, status: 'approved', approvedCents: a.approvedCents, partial: a.partial, processorRef,
        authCode: createHash('sha256').update(processorRef).digest('hex').slice(0, 6).toUpperCase(),
        brand: a.card.brand, last4: a.card.last4, aid: a.card.aid, entryMode: a.card.entryMode, forwarded: b.forwarded === true, bookingDay: day
      }
      const booked: Booked = { processorRef, paymentId: b.paymentId, kind: 'payment', grossCents: a.approvedCents, paymentMethod: a.card.brand, bookingDay: day }
      ops.push({ type: 'put', key: `b!${processorRef}`, value: json(booked) }, { type: 'put', key: 'n!seq', value: json(seq) })
    } else {
      answer = { ...declined(b.paymentId, a.reason, b.forwarded === true), brand: a.card?.brand ?? null, last4: a.card?.last4 ?? null }
    }
    ops.push({ type: 'put', key: `p!${b.paymentId}`, value: json({ fingerprint: fp, answer } satisfies PaymentRecord) })
    await store.batch(ops, { sync: true })
    return { answer, silent: a.status === 'approved' && a.silent }
  })

  http.post('/payments', {
    schema: {
      body: {
        type: 'object',
        required: ['paymentId', 'amountCents', 'currency'],
        additionalProperties: false,
        properties: {
          paymentId: ID,
          amountCents: { type: 'integer', minimum: 1, maximum: 100_000_000_00 },
          currency: { type: 'string', pattern: '^[A-Z]{3}$' },
          token: { type: 'string', pattern: '^tok_[a-z_]{1,40}$' },
          forwarded: { type: 'boolean' },
          storedAtMs: { type: 'integer', minimum: 0 }
        }
      }
    }
  }, async (req, reply) => {
    const r = await pay(req.body as { paymentId: string, amountCents: number, currency: string, token?: string, forwarded?: boolean })
    if ('conflict' in r) return await reply.code(409).send({ error: r.conflict })
    if (r.silent) {
      // The test card whose answer never arrives: the payment is taken, the connection is held
      // and then dropped; the till finds the outcome by looking the payment up by its id.
      await new Promise<void>(resolve => {
        const release = (): void => { clearTimeout(t); held.delete(release); resolve() }
        const t = setTimeout(release, o.noResponseHoldMs ?? 30_000)
        held.add(release)
      })
      reply.hijack()
      req.raw.socket.destroy()
      return
    }
    return r.answer
  })

  http.get('/payments/:paymentId', { schema: { params: { type: 'object', required: ['paymentId'], properties: { paymentId: ID } } } }, async (req, reply) => {
    const seen = await read<PaymentRecord>(`p!${(req.params as { paymentId: string }).paymentId}`)
    if (seen === undefined) return await reply.code(404).send({ error: 'no such payment' })
    return seen.answer
  })

  http.post('/refunds', {
    schema: { body: { type: 'object', required: ['paymentId', 'originalPaymentId', 'amountCents', 'currency'], additionalProperties: false, properties: { paymentId: ID, originalPaymentId: ID, amountCents: { type: 'integer', minimum: 1, maximum: 100_000_000_00 }, currency: { type: 'string', pattern: '^[A-Z]{3}$' } } } }
  }, async (req, reply) => {
    const b = req.body as { paymentId: string, originalPaymentId: string, amountCents: number, currency: string }
    const r = await serial(async (): Promise<PaymentAnswer | { conflict: string } | { notFound: string }> => {
      const fp = fingerprintOf({ refundOf: b.originalPaymentId, amountCents: b.amountCents, currency: b.currency })
      const seen = await read<PaymentRecord>(`p!${b.paymentId}`)
      if (seen !== undefined) return seen.fingerprint === fp ? seen.answer : { conflict: `payment id ${b.paymentId} was used for another payment` }
      const original = await read<PaymentRecord>(`p!${b.originalPaymentId}`)
      if (original === undefined || original.answer.status !== 'approved') return { notFound: `no approved payment ${b.originalPaymentId} to refund` }
      // Never more back, over every refund of it, than was approved (a refund is not refundable itself).
      if (original.answer.refundOf !== undefined) return { notFound: `${b.originalPaymentId} is a refund: it is not refunded` }
      const refunded = (await read<number>(`r!${b.originalPaymentId}`)) ?? 0
      if (refunded + b.amountCents > original.answer.approvedCents) return { conflict: `a refund of ${b.amountCents} would take back more than the ${original.answer.approvedCents} approved (${refunded} refunded already)` }
      const processorRef = `PSP${String(++seq).padStart(10, '0')}`
      const day = await bookingDay()
      const answer: PaymentAnswer = { ...original.answer, paymentId: b.paymentId, approvedCents: b.amountCents, partial: false, processorRef, authCode: null, forwarded: false, bookingDay: day, refundOf: b.originalPaymentId }
      const booked: Booked = { processorRef, paymentId: b.paymentId, kind: 'refund', grossCents: -b.amountCents, paymentMethod: original.answer.brand ?? 'card', bookingDay: day }
      await store.batch([{ type: 'put', key: `b!${processorRef}`, value: json(booked) }, { type: 'put', key: 'n!seq', value: json(seq) }, { type: 'put', key: `p!${b.paymentId}`, value: json({ fingerprint: fp, answer }) }, { type: 'put', key: `r!${b.originalPaymentId}`, value: json(refunded + b.amountCents) }], { sync: true })
      return answer
    })
    if ('conflict' in r) return await reply.code(409).send({ error: r.conflict })
    if ('notFound' in r) return await reply.code(404).send({ error: r.notFound })
    return r
  })

  http.post('/admin/chargebacks', { schema: { body: { type: 'object', required: ['paymentId'], additionalProperties: false, properties: { paymentId: ID } } } }, async (req, reply) => {
    const { paymentId } = req.body as { paymentId: string }
    const r = await serial(async () => {
      const seen = await read<PaymentRecord>(`p!${paymentId}`)
      if (seen === undefined || seen.answer.status !== 'approved') return null
      const processorRef = `PSP${String(++seq).padStart(10, '0')}`
      const booked: Booked = { processorRef, paymentId, kind: 'chargeback', grossCents: -seen.answer.approvedCents, paymentMethod: seen.answer.brand ?? 'card', bookingDay: await bookingDay() }
      await store.batch([{ type: 'put', key: `b!${processorRef}`, value: json(booked) }, { type: 'put', key: 'n!seq', value: json(seq) }], { sync: true })
      return booked
    })
    if (r === null) return await reply.code(404).send({ error: `no approved payment ${paymentId}` })
    return r
  })

  /** Settle `day` once: its batch, its settlement report and the bank's statement, kept as written. */
  const settle = async (day: string): Promise<{ csv: string, camt053: string, lines: number, netCents: number }> => await serial(async () => {
    const done = await read<{ csv: string, camt053: string, lines: number, netCents: number }>(`s!${day}`)
    if (done !== undefined) return done
    const bookings: Booked[] = []
    for await (const [, bytes] of store.entries({ gte: 'b!', lt: prefixEnd('b!') })) {
      const b = JSON.parse(new TextDecoder().decode(bytes)) as Booked
      if (b.bookingDay === day) bookings.push(b)
    }
    const file = settleDay(bookings, day, { currency, feeBp })
    const stamp = day.replaceAll('-', '')
    const camt053 = toCamt053({ version: '001.08', messageId: `STMT${stamp}`, statementId: `STMT${stamp}-1`, account: iban, currency, createdAt: `${day}T23:59:59`, entries: payoutEntries(file) })
    const out = { csv: toSettlementCsv(file), camt053, lines: file.lines.length, netCents: file.batches.reduce((n, b) => n + b.netCents, 0) }
    await store.batch([{ type: 'put', key: `s!${day}`, value: json(out) }], { sync: true })
    o.logger.info({ day, lines: out.lines, netCents: out.netCents }, 'day settled')
    return out
  })

  http.post('/admin/settle', { schema: { body: { type: 'object', required: ['day'], additionalProperties: false, properties: { day: { type: 'string', pattern: DAY_RE.source } } } } }, async req => {
    const { day } = req.body as { day: string }
    const r = await settle(day)
    return { day, lines: r.lines, netCents: r.netCents }
  })

  /** A day's files: settled on the first request once the day is over (or when settled by hand). */
  const settledFile = async (day: string, which: 'csv' | 'camt053'): Promise<string | null> => {
    const done = await read<{ csv: string, camt053: string }>(`s!${day}`)
    if (done !== undefined) return done[which]
    if (day >= today()) return null
    return (await settle(day))[which]
  }
  http.get('/settlements/:file', { schema: { params: { type: 'object', required: ['file'], properties: { file: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}\\.csv$' } } } } }, async (req, reply) => {
    const day = (req.params as { file: string }).file.slice(0, 10)
    const text = await settledFile(day, 'csv')
    if (text === null) return await reply.code(409).send({ error: `${day} is not over yet: its batch is still open (POST /admin/settle closes it now)` })
    return await reply.type('text/csv; charset=utf-8').send(text)
  })
  http.get('/statements/:file', { schema: { params: { type: 'object', required: ['file'], properties: { file: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}\\.camt053\\.xml$' } } } } }, async (req, reply) => {
    const day = (req.params as { file: string }).file.slice(0, 10)
    const text = await settledFile(day, 'camt053')
    if (text === null) return await reply.code(409).send({ error: `${day} is not over yet: its batch is still open (POST /admin/settle closes it now)` })
    return await reply.type('application/xml; charset=utf-8').send(text)
  })

  const url = await http.listen({ port: o.httpPort, host: o.httpHost ?? '127.0.0.1' })
  let stopping: Promise<void> | null = null
  return {
    http,
    ready: { role: 'processor', http: url, profile: profile.name, currency, iban, feeBp },
    stop: async () => {
      stopping ??= (async () => {
        for (const release of [...held]) release()
        await http.close()
        await oneAtATime.idle()
        await store.close()
      })()
      await stopping
    }
  }
}

function declined (paymentId: string, reason: string, forwarded: boolean): PaymentAnswer {
  return { paymentId, status: 'declined', approvedCents: 0, partial: false, processorRef: null, authCode: null, brand: null, last4: null, aid: null, entryMode: null, forwarded, bookingDay: null, reason }
}

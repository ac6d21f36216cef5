/**
 * Who may call which route of a daemon's HTTP API. Every route names its access in its
 * config (`config: { access }`); a route that names none is admin-only, so a route added
 * without thought is closed, not open.
 *
 *   public  anyone (GET /health)
 *   read    the viewer or the admin token; anyone when the daemon listens on loopback only
 *   write   the admin token; anyone on loopback when the daemon opens everything there (the
 *           till, whose POS front end runs on the same machine)
 *   admin   the admin token, always (HQ's /admin routes)
 *   slot    the admin token, or an enrolment code: the handler checks the code's slot
 *           (`requireSlot`), so a code opens its own till's enrolment and recovery only
 *
 * Refusals are `{ error }`: 401 with no valid token, 403 with a token that may not do it,
 * 429 once a client address has failed to authenticate AUTH_FAILURES_MAX times in a window
 * (@fastify/rate-limit, counting failures only: a client at its limit is refused before its
 * token is even looked at, so a right guess does not get through either). Each refusal is
 * counted and logged with the client's address and never the token; every admin and slot
 * action is logged with who did it and what it changed (`req.audit`).
 *
 * The console (a browser) signs in once and then carries a session cookie instead of a token
 * (./sessions.ts): it acts with its token's role, and a change made with it (not GET or HEAD)
 * also needs the session's CSRF token (header `x-csrf-token` or form field `csrf`), or 403.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { Logger } from '../components.ts'
import { AUTH_CLIENTS_TRACKED_MAX, AUTH_FAILURE_WINDOW_MS, AUTH_FAILURES_MAX, AUTH_HEADER_CHARS_MAX, AUTH_REFUSALS_KEPT_MAX } from './constants.ts'
import { CodeRefusedError, type CodeHolder, type EnrolmentCodes } from './EnrolmentCodes.ts'
import { sameDigest, secretDigest, type SecretDigest } from './tokens.ts'
import { randomBytes } from 'node:crypto'
import { SESSION_COOKIE, type ConsoleSessions, type Session } from './sessions.ts'

export type Access = 'public' | 'read' | 'write' | 'admin' | 'slot'

export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'admin' }
  | { kind: 'viewer' }
  | { kind: 'code', code: CodeHolder }

declare module 'fastify' {
  interface FastifyContextConfig { access?: Access }
  interface FastifyRequest {
    principal: Principal
    /** What an admin action changed, for the audit log line (set by the handler). */
    audit: Record<string, unknown> | null
  }
}

export interface GuardOptions {
  /** The admin token (every route). */
  adminToken: string
  /** The viewer token (read routes). */
  viewerToken: string
  /** HQ's enrolment codes, for `slot` routes; absent on a till. */
  codes?: EnrolmentCodes
  /** Whether the daemon's HTTP listens on loopback only. */
  loopback: boolean
  /** What is open without a token on loopback: reads (HQ) or everything but admin routes (till). */
  loopbackOpen: 'reads' | 'all'
  /** A route's access when it names none: admin (HQ), or read for GET and write otherwise (a till). */
  routeDefault: 'admin' | 'byMethod'
  logger: Logger
  failuresMax?: number
  failureWindowMs?: number
  /** The console's sessions (HQ): a session cookie acts with its token's role. */
  sessions?: ConsoleSessions
}

export interface AuthCounters {
  admitted: number
  unauthenticated: number
  forbidden: number
  rateLimited: number
}

export interface Refusal { atMs: number, ip: string, method: string, url: string, status: number, reason: string }

export class ForbiddenError extends Error {
  static override name = 'ForbiddenError'
  override name = 'ForbiddenError'
  readonly statusCode = 403
}

export interface Guard {
  counters: AuthCounters
  refusals: Refusal[]
  /**
   * A token typed into the console's sign-in: its role, or why not (401 a wrong token, 429 a
   * client at its limit of failures): the same digests, comparison and failure count as the
   * Authorization header's.
   */
  tokenRole: (req: FastifyRequest, token: string) => Promise<{ role: 'admin' | 'viewer' } | { status: 401 | 429, reason: string }>
  /** Headers that mark a request as HQ's own (the console's inject calls): not counted against any address's failures. */
  internalHeaders: () => Record<string, string>
}

/** The header carrying this process's secret on its own in-process calls. */
const INTERNAL_HEADER = 'x-tillbooks-internal'
/** Requests admitted with a console session, and that session (its CSRF token is checked against it). */
const bySession = new WeakMap<FastifyRequest, Session>()

/** Who the principal is, for logs: never a secret, at most a code's id. */
export function who (p: Principal): string {
  switch (p.kind) {
    case 'code': return `code ${p.code.store}-${p.code.till} #${p.code.codeId}`
    default: return p.kind
  }
}

/**
 * A code may act for its own slot only; the admin token for any. Throws ForbiddenError (403).
 * `slot` is `S1-1` or `{ store, till }`.
 */
export function requireSlot (req: FastifyRequest, slot: string | { store: string, till: number }): void {
  const p = req.principal
  if (p.kind === 'admin') return
  const want = typeof slot === 'string' ? slot : `${slot.store}-${slot.till}`
  if (p.kind === 'code' && `${p.code.store}-${p.code.till}` === want) return
  if (p.kind === 'code') throw new ForbiddenError(`this enrolment code is for till ${p.code.store}-${p.code.till}, not ${want}`)
  throw new ForbiddenError('this needs the admin token or an enrolment code for the till')
}

const BEARER = new RegExp(`^Bearer ([\\x21-\\x7e]{1,${AUTH_HEADER_CHARS_MAX}})$`, 'i')

/** Register the guard on `app` (before its routes). */
export async function installGuard (app: FastifyInstance, o: GuardOptions): Promise<Guard> {
  const admin = secretDigest(o.adminToken)
  const viewer = secretDigest(o.viewerToken)
  if (sameDigest(admin, viewer)) throw new Error('the admin and viewer tokens must differ')
  const counters: AuthCounters = { admitted: 0, unauthenticated: 0, forbidden: 0, rateLimited: 0 }
  /** This process's secret for its own in-process calls (never leaves it). */
  const internalSecret = randomBytes(32).toString('hex')
  const internal = secretDigest(internalSecret)
  const refusals: Refusal[] = []

  await app.register(rateLimit, { global: false, cache: AUTH_CLIENTS_TRACKED_MAX })
  const failures = app.createRateLimit({ max: o.failuresMax ?? AUTH_FAILURES_MAX, timeWindow: o.failureWindowMs ?? AUTH_FAILURE_WINDOW_MS })

  // Set afresh by the onRequest hook for every request (fastify's decorators want a null start).
  app.decorateRequest('principal', null as never)
  app.decorateRequest('audit', null)
  app.addHook('onRoute', route => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const config = (route.config ??= {}) as { access?: Access }
    config.access ??= o.routeDefault === 'admin' ? 'admin' : methods.every(m => m === 'GET' || m === 'HEAD') ? 'read' : 'write'
  })

  /** Keep and log a refusal: the client's address, the route, the reason; never a token. */
  const note = (req: FastifyRequest, status: number, reason: string): void => {
    const r: Refusal = { atMs: Date.now(), ip: req.ip, method: req.method, url: req.routeOptions.url ?? req.url.slice(0, 200), status, reason }
    refusals.push(r)
    if (refusals.length > AUTH_REFUSALS_KEPT_MAX) refusals.shift()
    o.logger.warn({ status, ip: r.ip, method: r.method, url: r.url, reason, ...(req.principal !== null && req.principal.kind !== 'anonymous' ? { who: who(req.principal) } : {}) }, 'access refused')
  }

  const refuse = async (req: FastifyRequest, reply: FastifyReply, status: 401 | 403 | 429, reason: string, retryAfterS?: number): Promise<FastifyReply> => {
    if (status === 401) counters.unauthenticated++
    else if (status === 403) counters.forbidden++
    else counters.rateLimited++
    note(req, status, reason)
    if (status === 401) void reply.header('www-authenticate', 'Bearer')
    if (retryAfterS !== undefined) void reply.header('retry-after', String(retryAfterS))
    // A console page asked without signing in: to the sign-in page (the API's routes answer 401).
    if (status === 401 && req.method === 'GET' && req.url.startsWith('/ui/')) return await reply.redirect('/ui/signin', 303)
    return await reply.code(status).send({ error: reason })
  }

  /** Count a failed authentication; at the limit the answer is 429, not 401. */
  const failed = async (req: FastifyRequest, reply: FastifyReply, reason: string): Promise<FastifyReply> => {
    const limit = await failures(req)
    if (!limit.isAllowed && limit.isExceeded) return await refuse(req, reply, 429, `too many failed authentications from ${req.ip}: retry in ${limit.ttlInSeconds} s`, limit.ttlInSeconds)
    return await refuse(req, reply, 401, reason)
  }

  app.addHook('onRequest', async (req, reply) => {
    // An unknown path is a 404 for anyone: the guard has nothing to protect there.
    const access: Access = req.routeOptions.config?.access ?? (req.is404 ? 'public' : 'admin')
    req.principal = { kind: 'anonymous' }
    if (access === 'public') return
    const header = req.headers.authorization
    const session = header === undefined ? o.sessions?.get((req as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies?.[SESSION_COOKIE]) ?? null : null
    if (session !== null) {
      // The console's session: its token's role; a change also needs its CSRF token (checked once
      // the body is read, against this very session even if it ends meanwhile).
      req.principal = { kind: session.role }
      bySession.set(req, session)
      if (session.role === 'viewer' && access !== 'read') return await refuse(req, reply, 403, 'a viewer token may only read')
      if (access === 'slot' && session.role !== 'admin') return await refuse(req, reply, 403, 'this needs the admin token')
      counters.admitted++
      return
    }
    if (header === undefined) {
      if (o.loopback && (access === 'read' || (access === 'write' && o.loopbackOpen === 'all'))) return
      return await refuse(req, reply, 401, access === 'read' ? 'this needs a viewer or admin token (Authorization: Bearer <token>)' : 'this needs the admin token (Authorization: Bearer <token>)')
    }
    // HQ's console asking its own API in process (inject): never counted against an address.
    const internalHeader = req.headers[INTERNAL_HEADER]
    const internalCall = typeof internalHeader === 'string' && sameDigest(secretDigest(internalHeader), internal)
    // At the limit already (not past it): the next guess is refused before it is compared.
    const status = internalCall ? { isAllowed: true as const, key: '' } : await failures(req, { increment: false })
    if (!status.isAllowed && (status.isExceeded || status.remaining <= 0)) return await refuse(req, reply, 429, `too many failed authentications from ${req.ip}: retry in ${status.ttlInSeconds} s`, status.ttlInSeconds)
    const m = BEARER.exec(header)
    if (m === null) return await failed(req, reply, 'the Authorization header must be "Bearer <token>"')
    const token = m[1] as string
    const d: SecretDigest = secretDigest(token)
    let p: Principal
    if (sameDigest(d, admin)) {
      p = { kind: 'admin' }
    } else if (sameDigest(d, viewer)) {
      p = { kind: 'viewer' }
    } else {
      let holder: CodeHolder | null = null
      try {
        holder = o.codes?.holder(token) ?? null
      } catch (err) {
        if (err instanceof CodeRefusedError) return await failed(req, reply, err.message)
        throw err
      }
      if (holder === null) return await failed(req, reply, 'invalid token')
      p = { kind: 'code', code: holder }
    }
    req.principal = p
    if (p.kind === 'viewer' && access !== 'read') return await refuse(req, reply, 403, 'a viewer token may only read')
    if (p.kind === 'code' && access !== 'slot') return await refuse(req, reply, 403, `an enrolment code may only enrol till ${p.code.store}-${p.code.till} (and read what its recovery needs)`)
    counters.admitted++
  })

  // A change made with a console session needs the session's CSRF token (a form field or a header).
  app.addHook('preHandler', async (req, reply) => {
    const session = bySession.get(req)
    if (session === undefined || req.method === 'GET' || req.method === 'HEAD' || o.sessions === undefined) return
    const given = req.headers['x-csrf-token'] ?? (req.body !== null && typeof req.body === 'object' ? (req.body as { csrf?: unknown }).csrf : undefined)
    if (!o.sessions.csrfMatches(session, given)) return await refuse(req, reply, 403, 'a change made from the console needs its CSRF token')
  })

  // A handler's own refusal (a code for another slot: requireSlot) is counted and logged as the guard's are.
  app.addHook('onError', async (req, _reply, err) => {
    if (!(err instanceof ForbiddenError)) return
    counters.forbidden++
    note(req, 403, err.message)
  })

  app.addHook('onResponse', async (req, reply) => {
    const access = req.routeOptions.config?.access
    if ((access !== 'admin' && access !== 'slot') || req.principal === null || req.principal.kind === 'anonymous') return
    if (req.method === 'GET' && reply.statusCode < 400) return
    o.logger.info({ who: who(req.principal), method: req.method, url: req.routeOptions.url, status: reply.statusCode, ...(req.audit ?? {}) }, 'admin action')
  })

  const internalHeaders: Guard['internalHeaders'] = () => ({ [INTERNAL_HEADER]: internalSecret })

  const tokenRole: Guard['tokenRole'] = async (req, token) => {
    const status = await failures(req, { increment: false })
    if (!status.isAllowed && (status.isExceeded || status.remaining <= 0)) {
      counters.rateLimited++
      note(req, 429, 'too many failed authentications')
      return { status: 429, reason: `too many failed authentications from ${req.ip}: retry in ${status.ttlInSeconds} s` }
    }
    const d = secretDigest(token)
    if (sameDigest(d, admin)) return { role: 'admin' }
    if (sameDigest(d, viewer)) return { role: 'viewer' }
    const limit = await failures(req)
    counters.unauthenticated++
    note(req, 401, 'invalid token at sign-in')
    return !limit.isAllowed && limit.isExceeded ? { status: 429, reason: `too many failed authentications from ${req.ip}: retry in ${limit.ttlInSeconds} s` } : { status: 401, reason: 'invalid token' }
  }

  return { counters, refusals, tokenRole, internalHeaders }
}

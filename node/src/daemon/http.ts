/**
 * What both daemons' HTTP APIs share: how errors become answers, and the limits on bodies.
 * Every route validates its body with a JSON schema (fastify/ajv) before the handler runs;
 * what fails validation is a 400 with the reason, logged, and touches nothing.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { ENTRY_BYTES_MAX, ForgedError, InvalidRecordError, MalformedError, OversizedError } from '@tillbooks/protocol'
import { IdReusedError } from '@tillbooks/ledger'
import { RedemptionRefusedError, ReturnRefusedError, SaleRejectedError, TillStateError } from '../till/errors.ts'
import type { Logger } from '../components.ts'
import { CodeRefusedError, SlotBusyError, TooManyCodesError, type EnrolmentCodes } from '../access/EnrolmentCodes.ts'
import { installGuard, type Guard } from '../access/guard.ts'
import type { ConsoleSessions } from '../access/sessions.ts'
import { isLoopbackHost, serverTls, type ServerTls, type TlsFiles } from '../access/tls.ts'
import { readOrCreateToken } from '../access/tokens.ts'
import { adminTokenFile, viewerTokenFile } from './dataDir.ts'
import { diskErrorCode } from '../storage/KvStore.ts'
import { TillDiskError } from '../till/errors.ts'
import { DISK_RETRY_AFTER_S } from '../storage/constants.ts'

/**
 * The daemon cannot take this write now, though nothing is wrong with it (HQ's disk refused
 * the write that would have made it durable): 503 with the reason and Retry-After.
 */
export class ServiceBusyError extends Error {
  override name = 'ServiceBusyError'
}

/**
 * Validation refuses rather than repairs: an unknown field, a string where a number belongs
 * or a missing value is a 400, never silently dropped, coerced or defaulted.
 */
export const STRICT_AJV = { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } as const

/** `[{ sku, qty }]`, each qty a positive integer: sale lines, delivery lines. */
export function skuQtyLinesSchema (qtyMax: number) {
  return {
    type: 'array',
    minItems: 1,
    maxItems: 500,
    items: {
      type: 'object',
      required: ['sku', 'qty'],
      additionalProperties: false,
      properties: { sku: { type: 'string', minLength: 1, maxLength: 64 }, qty: { type: 'integer', minimum: 1, maximum: qtyMax } }
    }
  } as const
}

/** Entries one POST /admin/entries may carry. */
export const ADMIN_ENTRIES_MAX = 512

/** Base64 of one signed entry: bounded so a body cannot hide an oversized entry. */
export const B64_ENTRY = { type: 'string', minLength: 4, maxLength: Math.ceil(ENTRY_BYTES_MAX / 3) * 4, pattern: '^[A-Za-z0-9+/]+={0,2}$' } as const

export const TILL_ID_PARAM = {
  type: 'object',
  required: ['tillId'],
  properties: { tillId: { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,15}-[0-9]{1,3}$' } }
} as const

/** Room for `n` base64 entries and the JSON around them. */
export function bodyLimitBytes (n: number): number {
  return n * (Math.ceil(ENTRY_BYTES_MAX / 3) * 4 + 8) + 1024
}

export function errorHandler (logger: Logger) {
  return async (err: FastifyError, req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    let status = err.statusCode ?? 500
    const message = err.message
    if (err.validation !== undefined) {
      status = 400
    } else if (err instanceof SaleRejectedError) {
      status = 400
    } else if (err instanceof CodeRefusedError) {
      // Valid when the request came in, spent by a concurrent one before it got here.
      status = 401
    } else if (err instanceof TillStateError || err instanceof IdReusedError || err instanceof TooManyCodesError || err instanceof SlotBusyError || err instanceof RedemptionRefusedError || err instanceof ReturnRefusedError) {
      // A till not in the state asked for; an order or opening id already used with other content;
      // points beyond the till's rights that HQ did not grant (unreachable, or beyond the member's).
      status = 409
    } else if (err instanceof InvalidRecordError || err instanceof MalformedError || err instanceof OversizedError || err instanceof ForgedError) {
      // The protocol refused what the caller gave: bad input, not a fault of ours.
      status = 400
    } else if (err instanceof ServiceBusyError || err instanceof TillDiskError || diskErrorCode(err) !== undefined) {
      // A write the disk refused: nothing was made durable, nothing acknowledged; ask again
      // later (reads go on being served). Logged below as the fault of ours it is.
      status = 503
      void reply.header('retry-after', String(DISK_RETRY_AFTER_S))
    }
    if (status >= 500) logger.error({ err: { name: err.name, message: err.message, stack: err.stack }, url: req.url }, 'request failed')
    else logger.warn({ status, url: req.url, reason: message }, 'request refused')
    await reply.code(status).send({ error: message })
  }
}

export interface ApiOptions {
  /** For messages: 'HQ' or the till's id. */
  daemon: string
  dataDir: string
  host: string
  tls: TlsFiles
  /** Token files; default DIR/admin.token and DIR/viewer.token, written at first start. */
  adminTokenFile?: string | undefined
  viewerTokenFile?: string | undefined
  loopbackOpen: 'reads' | 'all'
  bodyLimitBytes: number
  logger: Logger
  /** The failed-authentication limit per client address (defaults in ../access/constants.ts). */
  authFailuresMax?: number | undefined
  authFailureWindowMs?: number | undefined
}

/** What an API will serve with, read and checked before the daemon opens anything else. */
export interface ApiPlan {
  o: ApiOptions
  tls: ServerTls | null
  adminToken: string
  viewerToken: string
  adminTokenFile: string
  viewerTokenFile: string
}

export interface Api {
  app: FastifyInstance
  guard: Guard
  adminTokenFile: string
  viewerTokenFile: string
  /** 'https' beyond loopback (or when given a certificate), else 'http'. */
  scheme: 'http' | 'https'
}

/**
 * A daemon's HTTP plan: HTTPS when it must (beyond loopback) or was asked to, and its admin
 * and viewer tokens (created on first start). Throws, saying why, rather than serve tokens
 * in clear over a network; a daemon calls it first, so a refusal leaves nothing open.
 */
export async function planApi (o: ApiOptions): Promise<ApiPlan> {
  const tls = await serverTls(o.daemon, o.host, o.tls)
  const adminFile = o.adminTokenFile ?? adminTokenFile(o.dataDir)
  const viewerFile = o.viewerTokenFile ?? viewerTokenFile(o.dataDir)
  const adminToken = await readOrCreateToken(adminFile, 'admin')
  const viewerToken = await readOrCreateToken(viewerFile, 'viewer')
  return { o, tls, adminToken, viewerToken, adminTokenFile: adminFile, viewerTokenFile: viewerFile }
}

/** The API of a plan, before its routes: fastify with the guard in front (../access/guard.ts). */
export async function createApi (plan: ApiPlan, codes?: EnrolmentCodes, sessions?: ConsoleSessions): Promise<Api> {
  const { o, tls } = plan
  const app = Fastify({
    logger: false,
    bodyLimit: o.bodyLimitBytes,
    ajv: { customOptions: STRICT_AJV },
    ...(tls !== null ? { https: { cert: tls.cert, key: tls.key } } : {})
  }) as unknown as FastifyInstance
  app.setErrorHandler(errorHandler(o.logger))
  // Cookies (the console's session) are read before the guard looks at a request; forms are bodies too.
  await app.register(cookie)
  // Forms only where the console is (HQ): a till's loopback writes take JSON alone, which a page
  // elsewhere cannot send it without a CORS preflight it never answers.
  if (sessions !== undefined) await app.register(formbody, { bodyLimit: 16 * 1024 })
  const guard = await installGuard(app, {
    ...(sessions !== undefined ? { sessions } : {}),
    adminToken: plan.adminToken,
    viewerToken: plan.viewerToken,
    ...(codes !== undefined ? { codes } : {}),
    loopback: isLoopbackHost(o.host),
    loopbackOpen: o.loopbackOpen,
    routeDefault: o.loopbackOpen === 'all' ? 'byMethod' : 'admin',
    logger: o.logger,
    ...(o.authFailuresMax !== undefined ? { failuresMax: o.authFailuresMax } : {}),
    ...(o.authFailureWindowMs !== undefined ? { failureWindowMs: o.authFailureWindowMs } : {})
  })
  await describeApi(app, o.daemon)
  return { app, guard, adminTokenFile: plan.adminTokenFile, viewerTokenFile: plan.viewerTokenFile, scheme: tls !== null ? 'https' : 'http' }
}

/** Every route each API serves (method and URL), as fastify declared them: what its OpenAPI document must describe. */
const routeLists = new WeakMap<FastifyInstance, Array<{ method: string, url: string }>>()

export function routesOf (app: FastifyInstance): ReadonlyArray<{ method: string, url: string }> {
  return routeLists.get(app) ?? []
}

/**
 * OpenAPI 3.1 of the API, generated by @fastify/swagger from the very JSON schemas fastify
 * validates with (nothing written twice): `GET /openapi.json` (public: it describes, it holds
 * no data), rendered by Swagger UI at `/openapi/` (read access, as any read route).
 */
async function describeApi (app: FastifyInstance, daemon: string): Promise<void> {
  const routes: Array<{ method: string, url: string }> = []
  routeLists.set(app, routes)
  app.addHook('onRoute', r => {
    if (r.schema?.hide === true) return
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) if (method !== 'HEAD') routes.push({ method, url: r.url })
  })
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: `tillbooks ${daemon === 'HQ' ? 'HQ' : 'till'} API`, version: '1', description: `The HTTP API of ${daemon === 'HQ' ? 'HQ' : 'a till'}: every body validated by the schemas below (unknown fields refused). Errors answer { error }.` },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the admin or viewer token (DIR/admin.token, DIR/viewer.token); on loopback reads need none' } } },
      security: [{ bearer: [] }]
    }
  })
  app.get('/openapi.json', { config: { access: 'public' }, schema: { summary: 'This document: OpenAPI 3.1 of this API' } }, async () => app.swagger())
  await app.register(async scope => {
    // The page that renders the document: read access, whatever the daemon's default.
    scope.addHook('onRoute', r => { ((r.config ??= {}) as { access?: string }).access = 'read' })
    await scope.register(swaggerUi, { routePrefix: '/openapi' })
  })
}

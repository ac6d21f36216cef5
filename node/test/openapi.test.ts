/**
 * Both daemons describe their HTTP API as OpenAPI 3.1 at GET /openapi.json, generated from the
 * JSON schemas fastify validates with: the document is valid by a maintained third-party
 * validator, and every route the daemon serves is in it (with its parameters).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Validator } from '@seriousme/openapi-schema-validator'
import { asStoreId } from '@tillbooks/protocol'
import { silentLogger } from '../src/components.ts'
import { routesOf } from '../src/daemon/http.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon, type TillDaemon } from '../src/daemon/tillDaemon.ts'
import { enrolStores, request } from './helpers/daemons.ts'

interface OpenApi { openapi: string, paths: Record<string, Record<string, { parameters?: Array<{ name: string, in: string }>, requestBody?: unknown }>> }

/** A fastify URL as OpenAPI writes it: `/members/:member` → `/members/{member}`. */
const asPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

describe('OpenAPI 3.1 of both daemons', function () {
  this.timeout(60_000)
  let dir: string
  let hq: HqDaemon
  let till: TillDaemon
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-openapi-'))
    hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    await enrolStores(hq, join(dir, 'hq'), dir, ['S1'])
    till = await startTillDaemon({ dataDir: join(dir, 'S1'), store: asStoreId('S1'), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], neighbours: [], logger: silentLogger, gossipRing: null })
  })
  after(async () => {
    await till?.stop().catch(() => {})
    await hq?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  for (const which of ['HQ', 'till'] as const) {
    it(`${which}: GET /openapi.json is valid OpenAPI 3.1 and describes every route it serves`, async () => {
      const d = which === 'HQ' ? hq : till
      const res = await request<OpenApi>(d.ready.http, 'GET', '/openapi.json')
      assert.equal(res.status, 200)
      const doc = res.json
      assert.equal(doc.openapi, '3.1.0')
      const verdict = await new Validator().validate(doc as never)
      assert.equal(verdict.valid, true, JSON.stringify(verdict.errors, null, 1)?.slice(0, 3000))
      // The validator is not vacuous: the same document without its info, or with a path item that is not one, is refused.
      const { info: _, ...noInfo } = doc as OpenApi & { info: unknown }
      assert.equal((await new Validator().validate(noInfo as never)).valid, false)
      assert.equal((await new Validator().validate({ ...doc, paths: { ...doc.paths, '/x': { get: { responses: 'none' } } } } as never)).valid, false)
      const served = routesOf(d.http).filter(r => !r.url.startsWith('/openapi/'))
      assert.ok(served.length > 10, `${served.length} routes`)
      const missing = served.filter(r => doc.paths[asPath(r.url)]?.[r.method.toLowerCase()] === undefined).map(r => `${r.method} ${r.url}`)
      assert.deepEqual(missing, [], 'every route is in the document')
      // Path parameters are described where the route has them.
      for (const r of served) {
        const names = [...r.url.matchAll(/:([A-Za-z0-9_]+)/g)].map(m => m[1])
        const op = doc.paths[asPath(r.url)]?.[r.method.toLowerCase()]
        for (const n of names) assert.ok(op?.parameters?.some(p => p.in === 'path' && p.name === n), `${r.method} ${r.url}: path parameter ${n}`)
      }
      // The page that renders it.
      const page = await fetch(`${d.ready.http}/openapi/`)
      assert.equal(page.status, 200)
      assert.match(await page.text(), /swagger/i)
    })
  }

  it('documents the bodies it validates: POST /sales (till) with its lines, tenders, member and redeemPoints', async () => {
    const doc = (await request<OpenApi>(till.ready.http, 'GET', '/openapi.json')).json
    const body = JSON.stringify(doc.paths['/sales']?.post?.requestBody)
    for (const field of ['lines', 'tenders', 'member', 'redeemPoints']) assert.ok(body.includes(`"${field}"`), field)
  })
})

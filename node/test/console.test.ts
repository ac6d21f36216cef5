/**
 * HQ's console and its token rules: sign-in turns a token into a session cookie (HttpOnly,
 * SameSite=Strict, Secure beyond loopback); a viewer's session reads and never acts; an action
 * needs the admin's session and its CSRF token; a wrong token counts towards the same limit as
 * the API's; beyond loopback a page without a session sends the browser to sign in. Pages show
 * the JSON API's figures (the browser test clicks through them).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, fetch as undiciFetch } from 'undici'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon, type HqDaemon } from '../src/daemon/hqDaemon.ts'
import { tokenOf } from './helpers/daemons.ts'
import { makeTestPki } from './helpers/tls.ts'

interface Answer { status: number, location: string | null, cookie: string | null, body: string }

/** A request as a browser makes it: no redirects followed, cookies and forms by hand. */
async function call (base: string, method: string, path: string, o: { cookie?: string, form?: Record<string, string>, ca?: string } = {}): Promise<Answer> {
  const init = {
    method,
    redirect: 'manual' as const,
    headers: { ...(o.cookie !== undefined ? { cookie: o.cookie } : {}), ...(o.form !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    ...(o.form !== undefined ? { body: new URLSearchParams(o.form).toString() } : {}),
    ...(o.ca !== undefined ? { dispatcher: new Agent({ connect: { ca: o.ca } }) } : {})
  }
  const r = await undiciFetch(`${base}${path}`, init)
  return { status: r.status, location: r.headers.get('location'), cookie: r.headers.get('set-cookie'), body: await r.text() }
}

/** The session cookie's `name=value` out of a Set-Cookie header. */
const sessionOf = (setCookie: string | null): string => (setCookie ?? '').split(';')[0] as string
const csrfOf = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''

describe('HQ console: sign-in, sessions and the token rules', function () {
  this.timeout(60_000)
  let dir: string
  let hq: HqDaemon
  let admin: string
  let viewer: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-console-'))
    hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0, booksDb: 'off', authFailuresMax: 4 })
    admin = await tokenOf(join(dir, 'hq'))
    viewer = await tokenOf(join(dir, 'hq'), 'viewer')
  })
  after(async () => {
    await hq?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  it('serves its pages under /ui/ (/ leads there); on loopback they read without signing in, as the JSON reads do', async () => {
    const root = await call(hq.ready.http, 'GET', '/')
    assert.deepEqual([root.status, root.location], [302, '/ui/fleet'])
    for (const path of ['/ui/fleet', '/ui/books', '/ui/exceptions', '/ui/members', '/ui/stores/S1', '/ui/signin']) {
      const r = await call(hq.ready.http, 'GET', path)
      assert.equal(r.status, 200, path)
      assert.match(r.body, /<html lang="en">/, path)
    }
    assert.equal((await call(hq.ready.http, 'GET', '/ui/closes/S1-1/1')).status, 404)
  })

  it('a viewer signs in to a session cookie that reads and never acts; a wrong token is refused and counted', async () => {
    const wrong = await call(hq.ready.http, 'POST', '/ui/signin', { form: { token: 'not-a-token' } })
    assert.equal(wrong.status, 401)
    assert.match(wrong.body, /not the admin or the viewer token/)
    assert.equal(wrong.cookie, null)
    assert.ok((JSON.parse((await call(hq.ready.http, 'GET', '/counters')).body) as { auth: { unauthenticated: number } }).auth.unauthenticated >= 1, 'counted as the API counts a wrong token')
    const signed = await call(hq.ready.http, 'POST', '/ui/signin', { form: { token: viewer } })
    assert.deepEqual([signed.status, signed.location], [303, '/ui/fleet'])
    assert.match(signed.cookie ?? '', /^tb_session=[A-Za-z0-9_-]{43}; Max-Age=28800; Path=\/; HttpOnly; SameSite=Strict$/, 'not Secure on loopback (plain HTTP)')
    const cookie = sessionOf(signed.cookie)
    const fleet = await call(hq.ready.http, 'GET', '/ui/fleet', { cookie })
    assert.match(fleet.body, /signed in: viewer/)
    const csrf = csrfOf(fleet.body)
    assert.ok(csrf.length > 20)
    const act = await call(hq.ready.http, 'POST', '/ui/catalogue/resolve', { cookie, form: { conflict: 'x', decision: 'same', csrf } })
    assert.equal(act.status, 403, 'a viewer may only read')
    // The cookie is the session: signed out, it reads as nobody's.
    const out = await call(hq.ready.http, 'POST', '/ui/signout', { cookie, form: { csrf } })
    assert.deepEqual([out.status, out.location], [303, '/ui/signin'])
    assert.doesNotMatch((await call(hq.ready.http, 'GET', '/ui/fleet', { cookie })).body, /signed in: viewer/)
  })

  it('the admin\'s session acts only with its CSRF token; the action reaches the API (a clash that is not open: its refusal shown)', async () => {
    const cookie = sessionOf((await call(hq.ready.http, 'POST', '/ui/signin', { form: { token: admin } })).cookie)
    const csrf = csrfOf((await call(hq.ready.http, 'GET', '/ui/exceptions', { cookie })).body)
    const without = await call(hq.ready.http, 'POST', '/ui/catalogue/resolve', { cookie, form: { conflict: 'c-1', decision: 'same' } })
    assert.equal(without.status, 403)
    assert.match(without.body, /CSRF/)
    const forged = await call(hq.ready.http, 'POST', '/ui/catalogue/resolve', { cookie, form: { conflict: 'c-1', decision: 'same', csrf: `${csrf}x` } })
    assert.equal(forged.status, 403)
    const done = await call(hq.ready.http, 'POST', '/ui/catalogue/resolve', { cookie, form: { conflict: 'c-1', decision: 'distinct', csrf } })
    assert.equal(done.status, 404)
    assert.match(done.body, /no open clash/)
    // A session is not a token: the JSON admin routes still need the Authorization header.
    assert.equal((await call(hq.ready.http, 'GET', '/admin/enrolment-codes', { cookie })).status, 200, 'the admin session reads admin routes')
    const viewerCookie = sessionOf((await call(hq.ready.http, 'POST', '/ui/signin', { form: { token: viewer } })).cookie)
    assert.equal((await call(hq.ready.http, 'GET', '/admin/enrolment-codes', { cookie: viewerCookie })).status, 403)
  })

  it('console pages are never framed nor cached; a new sign-in ends the session the browser had', async () => {
    const r = await undiciFetch(`${hq.ready.http}/ui/fleet`)
    assert.equal(r.headers.get('content-security-policy'), "frame-ancestors 'none'")
    assert.equal(r.headers.get('x-frame-options'), 'DENY')
    assert.equal(r.headers.get('cache-control'), 'no-store')
    const first = sessionOf((await call(hq.ready.http, 'POST', '/ui/signin', { form: { token: viewer } })).cookie)
    const second = await call(hq.ready.http, 'POST', '/ui/signin', { cookie: first, form: { token: admin } })
    assert.equal(second.status, 303)
    assert.doesNotMatch((await call(hq.ready.http, 'GET', '/ui/fleet', { cookie: first })).body, /signed in:/, 'the first session ended')
    assert.match((await call(hq.ready.http, 'GET', '/ui/fleet', { cookie: sessionOf(second.cookie) })).body, /signed in: admin/)
  })

  it('members are looked up by member id, never by phone number; what is typed is shown escaped', async () => {
    const r = await call(hq.ready.http, 'GET', `/ui/members?member=${encodeURIComponent('+447700900123')}`)
    assert.match(r.body, /never by phone number/)
    assert.doesNotMatch(r.body, /7700900123<\/td>/)
    const x = await call(hq.ready.http, 'GET', `/ui/members?member=${encodeURIComponent('"><script>alert(1)</script>')}`)
    assert.doesNotMatch(x.body, /<script>alert/)
    assert.match(x.body, /&quot;&gt;&lt;script&gt;/)
  })

  it('beyond loopback: pages without a session go to sign-in, the cookie is Secure', async () => {
    const { mkdir } = await import('node:fs/promises')
    await mkdir(join(dir, 'pki'), { recursive: true })
    const pki = await makeTestPki(join(dir, 'pki'))
    const far = await startHqDaemon({ dataDir: join(dir, 'hq-tls'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, httpHost: '0.0.0.0', tlsCertFile: pki.certFile, tlsKeyFile: pki.keyFile, logger: silentLogger, verifyWorkers: 0, booksDb: 'off' })
    try {
      const base = `https://127.0.0.1:${new URL(far.ready.http).port}`
      const page = await call(base, 'GET', '/ui/books', { ca: pki.caPem })
      assert.deepEqual([page.status, page.location], [303, '/ui/signin'])
      assert.equal((await call(base, 'GET', '/books', { ca: pki.caPem })).status, 401, 'the JSON API answers 401')
      const signed = await call(base, 'POST', '/ui/signin', { form: { token: await tokenOf(join(dir, 'hq-tls'), 'viewer') }, ca: pki.caPem })
      assert.match(signed.cookie ?? '', /; Secure; SameSite=Strict$/)
      assert.equal((await call(base, 'GET', '/ui/books', { cookie: sessionOf(signed.cookie), ca: pki.caPem })).status, 200)
    } finally {
      await far.stop()
    }
  })
})

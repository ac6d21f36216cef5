/**
 * Access control on the real daemons (fastify over TCP, LevelDB), rule by rule: who may
 * call what, with which token, from where, and how refusals look (401/403/429 `{ error }`),
 * counted and logged, with no secret in any log line. HTTPS is served with a private CA's
 * certificate and reached through the CLI's own client with `--ca`.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { asStoreId, keyPairFromSeed, toHex } from '@tillbooks/protocol'
import type { Clock, Logger } from '../src/components.ts'
import { startHqDaemon, type HqDaemon, type HqDaemonOptions } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon } from '../src/daemon/tillDaemon.ts'
import { enrolTill } from '../src/daemon/enrol.ts'
import { authedFetch } from '../src/access/client.ts'
import { request, tokenOf } from './helpers/daemons.ts'
import { makeTestPki, type TestPki } from './helpers/tls.ts'

const CLI = resolve(import.meta.dirname, '../src/cli.ts')

/** Every log line, as JSON text: what an operator's log collector would keep. */
class RecordingLogger implements Logger {
  lines: string[] = []
  info (obj: object, msg = ''): void { this.lines.push(JSON.stringify({ level: 'info', ...obj, msg })) }
  warn (obj: object, msg = ''): void { this.lines.push(JSON.stringify({ level: 'warn', ...obj, msg })) }
  error (obj: object, msg = ''): void { this.lines.push(JSON.stringify({ level: 'error', ...obj, msg })) }
  parsed (): Array<Record<string, unknown>> { return this.lines.map(l => JSON.parse(l) as Record<string, unknown>) }
}

class TestClock implements Clock { t = Date.now(); nowMs = (): number => this.t }

const keyHex = (n: number): string => toHex(keyPairFromSeed(new Uint8Array(32).fill(n)).publicKey)
const enrolBody = (store: string, till: number, n: number): Record<string, unknown> => ({ store, till, tillKey: keyHex(n), fromSeq: 1 })

function runCli (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TILLBOOKS_LOG_LEVEL: 'warn', TILLBOOKS_TOKEN: '', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')} timed out`)) }, 30_000)
    child.on('exit', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

describe('access control', function () {
  this.timeout(90_000)
  let dir: string
  let pki: TestPki
  const running: Array<{ stop: () => Promise<void> }> = []
  const log = new RecordingLogger()
  const clock = new TestClock()

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-access-'))
    pki = await makeTestPki(dir)
  })
  after(async () => {
    for (const d of running) await d.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  const startHq = async (name: string, o: Partial<HqDaemonOptions> = {}): Promise<HqDaemon> => {
    const d = await startHqDaemon({ dataDir: join(dir, name), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: log, verifyWorkers: 0, booksDb: 'off', clock, ...o })
    running.push(d)
    return d
  }
  const stop = async (d: { stop: () => Promise<void> }): Promise<void> => {
    await d.stop()
    running.splice(running.indexOf(d), 1)
  }
  const codeOf = async (hq: HqDaemon, admin: string, store: string, till: number, ttl?: string): Promise<string> => {
    const r = await request<{ code: string, store: string, till: number, expiresAt: string }>(hq.ready.http, 'POST', '/admin/enrolment-codes', { store, till, ...(ttl !== undefined ? { ttl } : {}) }, admin)
    assert.equal(r.status, 200, JSON.stringify(r.json))
    assert.deepEqual([r.json.store, r.json.till], [store, till])
    return r.json.code
  }

  it('HQ writes its admin and viewer tokens at first start, 0600 and 256-bit, and keeps them across restarts', async () => {
    const hq = await startHq('hq-tokens')
    const admin = await tokenOf(join(dir, 'hq-tokens'))
    const viewer = await tokenOf(join(dir, 'hq-tokens'), 'viewer')
    for (const f of ['admin.token', 'viewer.token']) assert.equal((await stat(join(dir, 'hq-tokens', f))).mode & 0o777, 0o600, f)
    assert.match(admin, /^tba_[A-Za-z0-9_-]{43}$/)
    assert.match(viewer, /^tbv_[A-Za-z0-9_-]{43}$/)
    assert.equal(hq.ready.adminTokenFile, join(dir, 'hq-tokens', 'admin.token'))
    await stop(hq)
    const again = await startHq('hq-tokens')
    assert.equal(await tokenOf(join(dir, 'hq-tokens')), admin)
    assert.equal((await request(again.ready.http, 'GET', '/admin/enrolment-codes', undefined, admin)).status, 200)
    await stop(again)
    // --admin-token-file names another file (created if absent); a token file others can read is refused.
    const elsewhere = join(dir, 'secrets', 'hq.admin')
    const other = await startHq('hq-tokens', { adminTokenFile: elsewhere })
    const token = (await readFile(elsewhere, 'utf8')).trim()
    assert.notEqual(token, admin)
    assert.equal((await request(other.ready.http, 'GET', '/admin/enrolment-codes', undefined, token)).status, 200)
    assert.equal((await request(other.ready.http, 'GET', '/admin/enrolment-codes', undefined, admin)).status, 401)
    await stop(other)
    await chmod(elsewhere, 0o644)
    await assert.rejects(startHq('hq-tokens', { adminTokenFile: elsewhere }), /readable by others/)
  })

  it('no token, a wrong token, a viewer token: 401, 401, 403 on every admin route, and nothing changes', async () => {
    // A high failure limit: this test makes many wrong guesses on purpose (the limit has its own test).
    const hq = await startHq('hq-rules', { authFailuresMax: 1_000 })
    const admin = await tokenOf(join(dir, 'hq-rules'))
    const viewer = await tokenOf(join(dir, 'hq-rules'), 'viewer')
    const booksBefore = (await request(hq.ready.http, 'GET', '/books')).json
    const routes: Array<[string, string, unknown]> = [
      ['POST', '/admin/enrol', enrolBody('S1', 1, 1)],
      ['POST', '/admin/enrolment-codes', { store: 'S1', till: 1 }],
      ['GET', '/admin/enrolment-codes', undefined],
      ['GET', '/admin/certificates/S1-1', undefined],
      ['GET', '/admin/log/S1-1', undefined],
      ['POST', '/admin/entries', { entries: ['AAAA'] }],
      ['POST', '/admin/opening-stock', { date: '2026-04-01', lines: [{ sku: 'patio-chair', qty: 5 }] }],
      ['POST', '/admin/replenishment', { id: 'R1', store: 'S1', businessDay: '2026-04-02', lines: [{ sku: 'patio-chair', qty: 1 }] }]
    ]
    const wrong = admin.slice(0, -2) + (admin.endsWith('AA') ? 'BB' : 'AA')
    for (const [method, path, body] of routes) {
      const none = await request<{ error: string }>(hq.ready.http, method, path, body)
      assert.equal(none.status, 401, `${method} ${path} without a token: ${JSON.stringify(none.json)}`)
      assert.match(none.json.error, /admin token/)
      const bad = await request<{ error: string }>(hq.ready.http, method, path, body, wrong)
      assert.equal(bad.status, 401, `${method} ${path} with a wrong token`)
      assert.equal(bad.json.error, 'invalid token')
      const asViewer = await request<{ error: string }>(hq.ready.http, method, path, body, viewer)
      assert.equal(asViewer.status, 403, `${method} ${path} with the viewer token`)
      assert.match(asViewer.json.error, /viewer token may only read/)
    }
    const www = await fetch(`${hq.ready.http}/admin/enrol`, { method: 'POST' })
    assert.equal(www.headers.get('www-authenticate'), 'Bearer')
    // A header that is not "Bearer <token>" is a failed authentication too.
    for (const h of [`Basic ${admin}`, `Bearer`, `Bearer ${admin} extra`, `Bearer ${'x'.repeat(300)}`]) {
      const r = await fetch(`${hq.ready.http}/admin/enrolment-codes`, { headers: { authorization: h } })
      assert.equal(r.status, 401, h.slice(0, 6))
    }
    // Nothing of it reached the books or the enrolment.
    assert.deepEqual((await request(hq.ready.http, 'GET', '/books')).json, booksBefore)
    assert.deepEqual((await request<{ certificates: string[] }>(hq.ready.http, 'GET', '/admin/certificates/S1-1', undefined, admin)).json.certificates, [])
    // The admin token does every one of them (the enrolment with the admin token alone).
    assert.equal((await request(hq.ready.http, 'POST', '/admin/enrol', enrolBody('S1', 1, 1), admin)).status, 200)
    assert.equal((await request(hq.ready.http, 'POST', '/admin/replenishment', routes[7]?.[2], admin)).status, 200)
    // Reads: open on loopback, the viewer and admin tokens work, a wrong one does not.
    for (const path of ['/books', '/books.hledger', '/fleet', '/counters', '/metrics']) {
      assert.equal((await request(hq.ready.http, 'GET', path)).status, 200, path)
      assert.equal((await request(hq.ready.http, 'GET', path, undefined, viewer)).status, 200, path)
      assert.equal((await request(hq.ready.http, 'GET', path, undefined, admin)).status, 200, path)
      assert.equal((await request(hq.ready.http, 'GET', path, undefined, wrong)).status, 401, path)
    }
    const counters = (await request<{ auth: { unauthenticated: number, forbidden: number } }>(hq.ready.http, 'GET', '/counters')).json.auth
    assert.ok(counters.unauthenticated >= 2 * routes.length && counters.forbidden >= routes.length, JSON.stringify(counters))
  })

  it('a code enrols its own slot once: not twice, not another slot, not after expiry; it survives a restart; two at once: one wins', async () => {
    let hq = await startHq('hq-codes', { rebuildVerify: false })
    const admin = await tokenOf(join(dir, 'hq-codes'))
    const c1 = await codeOf(hq, admin, 'S1', 1)
    assert.match(c1, /^[0-9A-Z]{5}(-[0-9A-Z]{5}){4}$/)
    // Another slot: 403 at enrolment and at the slot's recovery reads.
    const other = await request<{ error: string }>(hq.ready.http, 'POST', '/admin/enrol', enrolBody('S1', 2, 2), c1)
    assert.equal(other.status, 403)
    assert.match(other.json.error, /for till S1-1, not S1-2/)
    for (const path of ['/admin/certificates/S1-2', '/admin/log/S1-2']) assert.equal((await request(hq.ready.http, 'GET', path, undefined, c1)).status, 403, path)
    // What a code may do beyond its enrolment: nothing but its slot's recovery.
    assert.equal((await request(hq.ready.http, 'POST', '/admin/enrolment-codes', { store: 'S1', till: 1 }, c1)).status, 403)
    assert.equal((await request(hq.ready.http, 'POST', '/admin/replenishment', { id: 'R2', store: 'S1', businessDay: '2026-04-02', lines: [{ sku: 'patio-chair', qty: 1 }] }, c1)).status, 403)
    assert.equal((await request(hq.ready.http, 'GET', '/admin/certificates/S1-1', undefined, c1)).status, 200)
    // Typed loosely (lower case, no hyphens) it is the same code.
    const first = await request<{ tillId: string }>(hq.ready.http, 'POST', '/admin/enrol', enrolBody('S1', 1, 1), c1.toLowerCase().replace(/-/g, ''))
    assert.equal(first.status, 200, JSON.stringify(first.json))
    assert.equal(first.json.tillId, 'S1-1')
    const twice = await request<{ error: string }>(hq.ready.http, 'POST', '/admin/enrol', enrolBody('S1', 1, 3), c1)
    assert.equal(twice.status, 401)
    assert.match(twice.json.error, /already been used/)
    // Expired: issued for a minute, presented after it.
    const short = await codeOf(hq, admin, 'S2', 1, '1m')
    clock.t += 61_000
    const late = await request<{ error: string }>(hq.ready.http, 'POST', '/admin/enrol', enrolBody('S2', 1, 4), short)
    assert.equal(late.status, 401)
    assert.match(late.json.error, /expired/)
    // A code issued before a restart works after it; the used one stays used.
    const c3 = await codeOf(hq, admin, 'S3', 1)
    await stop(hq)
    hq = await startHq('hq-codes', { rebuildVerify: false })
    assert.equal((await request(hq.ready.http, 'POST', '/admin/enrol', enrolBody('S1', 1, 5), c1)).status, 401)
    assert.equal((await request(hq.ready.http, 'POST', '/admin/enrol', enrolBody('S3', 1, 6), c3)).status, 200)
    // Two enrolments with one code at the same moment: exactly one certificate.
    const c4 = await codeOf(hq, admin, 'S4', 1)
    const both = await Promise.all([7, 8].map(async n => await request(hq.ready.http, 'POST', '/admin/enrol', enrolBody('S4', 1, n), c4)))
    // The other is refused: 409 while the first is in flight, 401 once its code is spent.
    const statuses = both.map(r => r.status).sort()
    assert.equal(statuses[0], 200)
    assert.ok(statuses[1] === 401 || statuses[1] === 409, JSON.stringify(statuses))
    const certs = await request<{ certificates: string[] }>(hq.ready.http, 'GET', '/admin/certificates/S4-1', undefined, admin)
    assert.equal(certs.json.certificates.length, 1)
    // The list shows states and ids, never a code.
    const list = await request<{ codes: Array<{ codeId: string, state: string }> }>(hq.ready.http, 'GET', '/admin/enrolment-codes', undefined, admin)
    assert.deepEqual(list.json.codes.map(c => c.state).sort(), ['expired', 'used', 'used', 'used'])
    assert.ok(!JSON.stringify(list.json).includes(c1.replace(/-/g, '')) && !JSON.stringify(list.json).includes(c1))
    // Bad TTLs are a 400 with the reason.
    const ttl = await request<{ error: string }>(hq.ready.http, 'POST', '/admin/enrolment-codes', { store: 'S5', till: 1, ttl: '45d' }, admin)
    assert.equal(ttl.status, 400)
    assert.match(ttl.json.error, /30 days/)
  })

  it('a replacement after a fire needs a fresh code; the code hands over its own slot\'s entries only', async () => {
    const hq = await startHq('hq-fire', { rebuildVerify: false })
    const admin = await tokenOf(join(dir, 'hq-fire'))
    const tillDir = join(dir, 'fire-S1-1')
    await enrolTill({ hqUrl: hq.ready.http, dataDir: tillDir, store: asStoreId('S1'), till: 1, auth: { bearer: await codeOf(hq, admin, 'S1', 1) }, logger: log })
    const till = await startTillDaemon({ dataDir: tillDir, store: asStoreId('S1'), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], neighbours: [], logger: log, retryMinMs: 50, retryMaxMs: 200 })
    running.push(till)
    await request(till.ready.http, 'POST', '/day/open', { businessDay: '2026-04-02' })
    await request(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }] })
    await request(till.ready.http, 'POST', '/day/close', {})
    await till.sync()
    await stop(till)
    const entries = (await request<{ entries: string[] }>(hq.ready.http, 'GET', '/admin/log/S1-1', undefined, admin)).json.entries
    assert.equal(entries.length, 1)
    await rm(tillDir, { recursive: true, force: true })
    // The slot's used code does not enrol the replacement.
    await assert.rejects(enrolTill({ hqUrl: hq.ready.http, dataDir: tillDir, store: asStoreId('S1'), till: 1, auth: {}, recoverFrom: [], logger: log }), /401/)
    const fresh = await codeOf(hq, admin, 'S1', 1)
    // A code for S1-1 may hand HQ S1-1's entries, and is refused another till's.
    assert.equal((await request(hq.ready.http, 'POST', '/admin/entries', { entries }, fresh)).status, 200)
    const foreign = await request<{ error: string }>(hq.ready.http, 'POST', '/admin/entries', { entries: [Buffer.from('not an entry').toString('base64')] }, fresh)
    assert.equal(foreign.status, 403)
    const r = await enrolTill({ hqUrl: hq.ready.http, dataDir: tillDir, store: asStoreId('S1'), till: 1, auth: { bearer: fresh }, recoverFrom: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWLkqVkJigXi7kZRHFKuZAm1vJCNZogyRmLNd1Ns8vZkyi'], logger: log, timeoutMs: 3_000 })
    assert.equal(r.fromSeq, 2, JSON.stringify(r))
    assert.equal(r.recovered?.from, 'hq')
  })

  it('failed authentications are limited per address: at the limit even the right token gets 429 until the window passes', async () => {
    const hq = await startHq('hq-limit', { authFailuresMax: 5, authFailureWindowMs: 1_500 })
    const admin = await tokenOf(join(dir, 'hq-limit'))
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push((await request(hq.ready.http, 'GET', '/admin/enrolment-codes', undefined, `tba_${'A'.repeat(43)}`)).status)
    // Five guesses, and not one more: the right token is refused before it is compared.
    statuses.push((await request(hq.ready.http, 'GET', '/admin/enrolment-codes', undefined, admin)).status)
    statuses.push((await request(hq.ready.http, 'GET', '/admin/enrolment-codes', undefined, `tba_${'B'.repeat(43)}`)).status)
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429])
    const locked = await fetch(`${hq.ready.http}/admin/enrolment-codes`, { headers: { authorization: `Bearer ${admin}` } })
    assert.equal(locked.status, 429)
    assert.ok(Number(locked.headers.get('retry-after')) >= 1)
    assert.match(((await locked.json()) as { error: string }).error, /too many failed authentications/)
    // Requests that present no token are not guesses: reads stay open on loopback.
    assert.equal((await request(hq.ready.http, 'GET', '/books')).status, 200)
    await new Promise(resolve => setTimeout(resolve, 1_700))
    assert.equal((await request(hq.ready.http, 'GET', '/admin/enrolment-codes', undefined, admin)).status, 200)
    const counters = (await request<{ auth: { rateLimited: number, unauthenticated: number } }>(hq.ready.http, 'GET', '/counters')).json.auth
    assert.equal(counters.rateLimited, 3)
    assert.equal(counters.unauthenticated, 5)
  })

  it('beyond loopback: HTTPS or no start; reads need the viewer token; the CLI trusts a private CA with --ca', async () => {
    // Without TLS HQ refuses to start, says why, and leaves its directory free for the next start.
    await assert.rejects(startHq('hq-tls', { httpHost: '0.0.0.0' }), /beyond loopback.*--tls-cert/)
    await assert.rejects(startHq('hq-tls', { httpHost: '0.0.0.0', tlsCertFile: pki.certFile }), /go together/)
    const hq = await startHq('hq-tls', { httpHost: '0.0.0.0', tlsCertFile: pki.certFile, tlsKeyFile: pki.keyFile })
    const port = new URL(hq.ready.http).port
    const base = `https://127.0.0.1:${port}`
    const admin = await tokenOf(join(dir, 'hq-tls'))
    const viewer = await tokenOf(join(dir, 'hq-tls'), 'viewer')
    const call = async (path: string, bearer?: string, init: { method?: string, body?: string } = {}): Promise<Response> =>
      await authedFetch({ ca: pki.caPem, ...(bearer !== undefined ? { bearer } : {}) })(`${base}${path}`, { ...init, ...(init.body !== undefined ? { headers: { 'content-type': 'application/json' } } : {}) })
    assert.equal((await call('/health')).status, 200)
    for (const path of ['/books', '/books.hledger', '/fleet', '/counters', '/metrics']) {
      const open = await call(path)
      assert.equal(open.status, 401, `${path} without a token beyond loopback`)
      assert.match(((await open.json()) as { error: string }).error, /viewer or admin token/)
      assert.equal((await call(path, viewer)).status, 200, path)
      assert.equal((await call(path, admin)).status, 200, path)
    }
    assert.equal((await call('/admin/enrolment-codes', viewer)).status, 403)
    // Plain HTTP to the TLS port gets no answer of ours; a client that does not know the CA refuses the server.
    await assert.rejects(fetch(`http://127.0.0.1:${port}/books`, { signal: AbortSignal.timeout(3_000) }))
    await assert.rejects(fetch(`${base}/health`), (e: Error) => /fetch failed/.test(e.message))
    await assert.rejects(authedFetch({ ca: await readFile(pki.otherCaFile, 'utf8') })(`${base}/health`))
    // The CLI as an operator runs it: a code over HTTPS with --ca, then the enrolment with the code.
    const tokenFile = join(dir, 'hq-tls', 'admin.token')
    const issued = await runCli(['codes', 'new', '--hq', base, '--store', 'T1', '--till', '1', '--ttl', '2h', '--token-file', tokenFile, '--ca', pki.caFile, '--json'])
    assert.equal(issued.code, 0, issued.stderr)
    const code = JSON.parse(issued.stdout.trim().split('\n').pop() as string) as { code: string, store: string, till: number, expiresAt: string }
    assert.deepEqual([code.store, code.till], ['T1', 1])
    assert.ok(Math.abs(Date.parse(code.expiresAt) - clock.t - 2 * 3_600_000) < 60_000)
    const noCa = await runCli(['enrol', '--hq', base, '--code', code.code, '--data', join(dir, 'T1-1'), '--store', 'T1', '--till', '1', '--json'])
    assert.equal(noCa.code, 2)
    assert.match(noCa.stderr, /certificate/i)
    const enrolled = await runCli(['enrol', '--hq', base, '--code', code.code, '--ca', pki.caFile, '--data', join(dir, 'T1-1'), '--store', 'T1', '--till', '1', '--json'])
    assert.equal(enrolled.code, 0, enrolled.stderr)
    assert.equal((JSON.parse(enrolled.stdout.trim().split('\n').pop() as string) as { tillId: string }).tillId, 'T1-1')
    // TILLBOOKS_TOKEN works as --token-file does; no credential at all is a 401 with the reason.
    const viaEnv = await runCli(['codes', 'new', '--hq', base, '--store', 'T1', '--till', '2', '--ca', pki.caFile, '--json'], { TILLBOOKS_TOKEN: admin })
    assert.equal(viaEnv.code, 0, viaEnv.stderr)
    const without = await runCli(['codes', 'new', '--hq', base, '--store', 'T1', '--till', '2', '--ca', pki.caFile, '--json'])
    assert.equal(without.code, 2)
    assert.match(without.stdout, /401 this needs the admin token/)
  })

  it('a till beyond loopback: HTTPS, its own tokens for reads and writes; on loopback the POS needs none', async () => {
    const hq = await startHq('hq-till')
    const admin = await tokenOf(join(dir, 'hq-till'))
    const tillDir = join(dir, 'remote-R-1')
    await enrolTill({ hqUrl: hq.ready.http, dataDir: tillDir, store: asStoreId('R'), till: 1, auth: { bearer: admin }, logger: log })
    const opts = { dataDir: tillDir, store: asStoreId('R'), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], neighbours: [], logger: log }
    await assert.rejects(startTillDaemon({ ...opts, httpHost: '0.0.0.0' }), /till R-1: HTTP would listen on 0.0.0.0, beyond loopback/)
    const till = await startTillDaemon({ ...opts, httpHost: '0.0.0.0', tlsCertFile: pki.certFile, tlsKeyFile: pki.keyFile })
    running.push(till)
    const base = `https://127.0.0.1:${new URL(till.ready.http).port}`
    const tillAdmin = await tokenOf(tillDir)
    const tillViewer = await tokenOf(tillDir, 'viewer')
    const f = (bearer?: string) => authedFetch({ ca: pki.caPem, ...(bearer !== undefined ? { bearer } : {}) })
    const post = async (path: string, body: unknown, bearer?: string): Promise<Response> => await f(bearer)(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
    assert.equal((await f()(`${base}/status`)).status, 401)
    assert.equal((await f(tillViewer)(`${base}/status`)).status, 200)
    assert.equal((await post('/day/open', { businessDay: '2026-04-02' })).status, 401)
    assert.equal((await post('/day/open', { businessDay: '2026-04-02' }, tillViewer)).status, 403)
    // HQ's admin token is not the till's.
    assert.equal((await post('/day/open', { businessDay: '2026-04-02' }, admin)).status, 401)
    assert.equal((await post('/day/open', { businessDay: '2026-04-02' }, tillAdmin)).status, 200)
    const sale = await post('/sales', { lines: [{ sku: 'latte', qty: 1 }] }, tillAdmin)
    assert.equal(sale.status, 200)
    await stop(till)
    // The same till on loopback: the POS front end sells with no token, as the contract has it.
    const local = await startTillDaemon(opts)
    running.push(local)
    assert.equal((await request(local.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }] })).status, 200)
    assert.equal((await request(local.ready.http, 'GET', '/status')).status, 200)
    assert.equal((await request(local.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }] }, 'wrong')).status, 401)
  })

  it('every admin action is logged with who and what; refusals with the address and reason; no token or code in any log line', async () => {
    const lines = log.parsed()
    const actions = lines.filter(l => l.msg === 'admin action')
    assert.ok(actions.some(a => a.who === 'admin' && a.url === '/admin/enrolment-codes' && typeof a.issuedCode === 'string' && a.for === 'S1-1'))
    assert.ok(actions.some(a => typeof a.who === 'string' && /^code S3-1 #[0-9a-f]{8}$/.test(a.who) && a.enrolled === 'S3-1' && a.status === 200))
    assert.ok(actions.some(a => a.who === 'admin' && a.replenishment === 'R1'))
    const refused = lines.filter(l => l.msg === 'access refused')
    assert.ok(refused.length > 20 && refused.every(r => typeof r.ip === 'string' && typeof r.reason === 'string' && typeof r.status === 'number'))
    // Every secret this test saw: the daemons' tokens and all the codes.
    const secrets: string[] = []
    for (const d of ['hq-tokens', 'hq-rules', 'hq-codes', 'hq-fire', 'hq-limit', 'hq-tls', 'hq-till', 'remote-R-1']) {
      for (const role of ['admin', 'viewer'] as const) secrets.push(await tokenOf(join(dir, d), role))
    }
    secrets.push((await readFile(join(dir, 'secrets', 'hq.admin'), 'utf8')).trim())
    const text = log.lines.join('\n')
    for (const s of secrets) assert.ok(!text.includes(s), 'a token reached the log')
    // Codes: no 25-symbol code, grouped or not, anywhere in the log.
    assert.doesNotMatch(text, /[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}/)
    await writeFile(join(dir, 'log.txt'), text)
  })
})

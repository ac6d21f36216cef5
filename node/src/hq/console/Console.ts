/**
 * HQ's console: server-rendered pages over HQ's own JSON API, under `/ui/`. Each page asks the
 * API (in process, `inject`) with the token of whoever is signed in, so a page shows exactly
 * what its JSON route answers and nothing its role may not read. Sign-in turns the admin or
 * viewer token into a session cookie (../../access/sessions.ts); actions are forms that need
 * the admin role and the session's CSRF token (checked by the guard). The fleet page updates
 * itself from server-sent events; every page reads without JavaScript.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Guard } from '../../access/guard.ts'
import { SESSION_COOKIE, SESSION_TTL_MS, type ConsoleSessions } from '../../access/sessions.ts'
import type { Logger } from '../../components.ts'
import { barChart, esc, link, money, page, raw, table, tableRows, type Html } from './html.ts'

/** Live fleet pages at once (each an open server-sent events stream). */
export const CONSOLE_STREAMS_MAX = 64
/** How often the live fleet looks for a change. */
export const FLEET_POLL_MS = 1_000
/** A comment line on every live stream this often: a dead client is found, and its slot freed. */
export const SSE_HEARTBEAT_MS = 15_000
/** A live stream ends after this (the browser's EventSource reconnects: its session is checked again). */
export const SSE_LIFETIME_MS = 60 * 60 * 1000

export interface ConsoleInit {
  guard: Guard
  sessions: ConsoleSessions
  /** The tokens pages ask the API with, by role. */
  tokens: { admin: string, viewer: string }
  /** Cookies marked Secure (HQ beyond loopback, over HTTPS). */
  secure: boolean
  logger: Logger
}

interface FleetTill { lastSeq: number, lastClosedDay: string | null, pending: number, forked: boolean }

const READ = { config: { access: 'read' as const } }
/** The fleet table's numeric columns (last entry, held), in the page and in its live updates alike. */
const FLEET_NUMERIC = [3, 4]

/** A console page's headers: HTML, never cached, never framed (no clickjacking of its forms), no sniffing. */
function pageHeaders (reply: FastifyReply): FastifyReply {
  return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', "frame-ancestors 'none'").header('x-frame-options', 'DENY').header('x-content-type-options', 'nosniff')
}
const PUBLIC = { config: { access: 'public' as const } }

export function registerConsole (http: FastifyInstance, o: ConsoleInit): { stop: () => void } {
  const role = (req: FastifyRequest): 'admin' | 'viewer' | null => req.principal.kind === 'admin' ? 'admin' : req.principal.kind === 'viewer' ? 'viewer' : null
  const session = (req: FastifyRequest): { csrf: string } | null => o.sessions.get(req.cookies[SESSION_COOKIE])
  /** The JSON API as this request's role sees it (loopback without a session: as the viewer). */
  const api = async <T>(req: FastifyRequest, url: string): Promise<{ status: number, json: T }> => {
    const token = role(req) === 'admin' ? o.tokens.admin : o.tokens.viewer
    const r = await http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}`, ...o.guard.internalHeaders() } })
    if (r.statusCode >= 500) throw new Error(`${url} answered ${r.statusCode}`)
    return { status: r.statusCode, json: (r.headers['content-type']?.toString().startsWith('application/json') === true ? r.json() : null) as T }
  }
  const send = async (req: FastifyRequest, reply: FastifyReply, title: string, body: string, script?: string): Promise<FastifyReply> => {
    const s = session(req)
    return await pageHeaders(reply).send(page(title, body, { role: role(req), ...(s !== null ? { csrf: s.csrf } : {}), ...(script !== undefined ? { script } : {}) }))
  }

  http.get('/', { ...PUBLIC, schema: { summary: 'The console', hide: true } }, async (_req, reply) => await reply.redirect('/ui/fleet', 302))
  http.get('/ui/', { ...PUBLIC, schema: { hide: true } }, async (_req, reply) => await reply.redirect('/ui/fleet', 302))

  // ------------------------------------------------------------ sign in, sign out
  const signInForm = (message: string | null): string => `${message !== null ? `<p class="bad" role="alert">${esc(message)}</p>` : ''}
<form method="post" action="/ui/signin">
<p><label for="token">Admin or viewer token</label><br><input id="token" name="token" type="password" autocomplete="current-password" required size="60"></p>
<p><button type="submit">Sign in</button></p>
</form>
<p>The tokens are in HQ's data directory (<code>admin.token</code>, <code>viewer.token</code>). The viewer reads; only the admin acts.</p>`
  http.get('/ui/signin', { ...PUBLIC, schema: { hide: true } }, async (req, reply) => await send(req, reply, 'Sign in', signInForm(null)))
  http.post('/ui/signin', {
    ...PUBLIC,
    schema: { summary: 'Sign in to the console with a token (a form)', body: { type: 'object', required: ['token'], additionalProperties: false, properties: { token: { type: 'string', minLength: 1, maxLength: 200 } } } }
  }, async (req, reply) => {
    const r = await o.guard.tokenRole(req, (req.body as { token: string }).token.trim())
    if ('status' in r) return await pageHeaders(reply.code(r.status)).send(page('Sign in', signInForm(r.status === 429 ? r.reason : 'That is not the admin or the viewer token.'), { role: null }))
    // A new session each sign-in; whatever session the browser had ends.
    o.sessions.end(req.cookies[SESSION_COOKIE])
    const { id } = o.sessions.create(r.role)
    o.logger.info({ who: r.role, ip: req.ip }, 'console sign-in')
    return await reply.setCookie(SESSION_COOKIE, id, { httpOnly: true, sameSite: 'strict', secure: o.secure, path: '/', maxAge: SESSION_TTL_MS / 1000 }).redirect('/ui/fleet', 303)
  })
  http.post('/ui/signout', { ...READ, schema: { summary: 'Sign out of the console', body: { type: ['object', 'null'], properties: { csrf: { type: 'string', maxLength: 100 } } } } }, async (req, reply) => {
    o.sessions.end(req.cookies[SESSION_COOKIE])
    return await reply.clearCookie(SESSION_COOKIE, { path: '/' }).redirect('/ui/signin', 303)
  })

  // ------------------------------------------------------------ fleet (live)
  const fleetRows = (tills: Record<string, FleetTill>): { expected: string | null, reported: number, rows: Array<{ id: string, cells: Array<string | Html> }> } => {
    const days = Object.values(tills).map(t => t.lastClosedDay).filter((d): d is string => d !== null).sort()
    const expected = days.at(-1) ?? null
    let reported = 0
    const rows = Object.entries(tills).sort((a, b) => a[0] < b[0] ? -1 : 1).map(([tillId, t]) => {
      const state = t.forked ? 'forked' : t.pending > 0 ? 'quarantined' : t.lastClosedDay === null ? 'missing' : t.lastClosedDay === expected ? 'reported' : 'late'
      if (state === 'reported') reported++
      const store = tillId.slice(0, tillId.lastIndexOf('-'))
      return {
        id: tillId,
        cells: [link(`/ui/stores/${store}`, store), tillId, t.lastClosedDay ?? '—', t.lastSeq > 0 ? link(`/ui/closes/${tillId}/${t.lastSeq}`, t.lastSeq) : '0', String(t.pending), raw(`<span class="${state === 'reported' ? 'ok' : 'bad'}">${state}</span>`)]
      }
    })
    return { expected, reported, rows }
  }
  const asOf = (f: ReturnType<typeof fleetRows>, total: number): string => `as of ${f.expected ?? 'no close yet'}: ${f.reported} of ${total} tills reported`
  http.get('/ui/fleet', READ, async (req, reply) => {
    const tills = (await api<{ tills: Record<string, FleetTill> }>(req, '/fleet')).json.tills
    const f = fleetRows(tills)
    const body = `<p id="asof" aria-live="polite">${esc(asOf(f, Object.keys(tills).length))}</p>
${table('Tills', ['Store', 'Till', 'Last closed day', 'Last entry', 'Held', 'State'], f.rows.map(r => r.cells), { ids: f.rows.map(r => `till-${r.id}`), numeric: FLEET_NUMERIC, id: 'fleet' })}`
    // Live: each update replaces the table's body and the line above it.
    const script = `<script>
(() => {
  if (!window.EventSource) return
  const es = new EventSource('/ui/events')
  es.addEventListener('fleet', e => {
    const d = JSON.parse(e.data)
    document.getElementById('asof').textContent = d.asOf
    document.querySelector('#fleet tbody').innerHTML = d.rows
  })
})()
</script>`
    return await send(req, reply, 'Fleet', body, script)
  })
  // Server-sent events: the fleet table's rows whenever the fleet changes. One poller for all
  // streams (only while any is open); a heartbeat keeps dead clients from holding a slot; a
  // stream ends with its session, or after a while (the browser reconnects, signed in again).
  interface Stream { res: FastifyReply['raw'], sessionId: string | undefined, endsAtMs: number, end: () => void }
  const streams = new Set<Stream>()
  let lastFleet = ''
  let lastBeatMs = 0
  let polling: ReturnType<typeof setInterval> | null = null
  let ticking = false
  const poll = async (): Promise<void> => {
    if (ticking) return
    ticking = true
    try {
      const r = await http.inject({ method: 'GET', url: '/fleet', headers: { authorization: `Bearer ${o.tokens.viewer}`, ...o.guard.internalHeaders() } })
      if (r.statusCode !== 200) return
      const tills = (r.json() as { tills: Record<string, FleetTill> }).tills
      const f = fleetRows(tills)
      const rows = tableRows(f.rows.map(x => x.cells), { ids: f.rows.map(x => `till-${x.id}`), numeric: FLEET_NUMERIC })
      const data = JSON.stringify({ asOf: asOf(f, Object.keys(tills).length), rows })
      const now = Date.now()
      const changed = data !== lastFleet
      lastFleet = data
      const beat = now - lastBeatMs >= SSE_HEARTBEAT_MS
      if (beat) lastBeatMs = now
      for (const st of [...streams]) {
        if (now >= st.endsAtMs || (st.sessionId !== undefined && o.sessions.get(st.sessionId) === null)) { st.end(); continue }
        if (changed) write(st, `event: fleet\ndata: ${data}\n\n`)
        else if (beat) write(st, ':\n\n')
      }
    } finally {
      ticking = false
    }
  }
  const write = (st: Stream, chunk: string): void => {
    if (st.res.writableEnded || st.res.destroyed) { st.end(); return }
    st.res.write(chunk)
  }
  http.get('/ui/events', { ...READ, schema: { summary: 'The fleet, live (server-sent events)' } }, async (req, reply) => {
    if (streams.size >= CONSOLE_STREAMS_MAX) return await reply.code(503).send({ error: `${CONSOLE_STREAMS_MAX} live pages already` })
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    const st: Stream = {
      res,
      sessionId: req.cookies[SESSION_COOKIE],
      endsAtMs: Date.now() + SSE_LIFETIME_MS,
      end: () => {
        if (!streams.delete(st)) return
        if (!res.writableEnded) res.end()
        if (streams.size === 0 && polling !== null) { clearInterval(polling); polling = null }
      }
    }
    streams.add(st)
    res.on('close', () => { st.end() })
    res.on('error', () => { st.end() })
    // The current table at once, then changes as they come.
    lastFleet = ''
    polling ??= setInterval(() => { void poll().catch(err => { o.logger.warn({ err: (err as Error).message }, 'console: fleet not polled') }) }, FLEET_POLL_MS)
    await poll()
  })

  // ------------------------------------------------------------ a store's day
  http.get('/ui/stores/:store', { ...READ, schema: { params: { type: 'object', required: ['store'], properties: { store: { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,15}$' } } }, querystring: { type: 'object', additionalProperties: false, properties: { day: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } } } } }, async (req, reply) => {
    const store = (req.params as { store: string }).store
    const day = (req.query as { day?: string }).day
    const d = (await api<{ tills: Array<{ tillId: string, forked: boolean, pending: number, close: null | { seq: number, businessDay: string, takingsCents: { cash: number, card: number }, expectedCashCents: number, countedCashCents: number, overShortCents: number, folded: boolean } }> }>(req, `/stores/${store}/closes${day !== undefined ? `?day=${day}` : ''}`)).json
    const rows = d.tills.map(t => t.close === null
      ? [t.tillId, '—', '—', '—', '—', '—', '—', t.forked ? 'forked' : 'no close']
      : [t.tillId, link(`/ui/closes/${t.tillId}/${t.close.seq}`, `${t.close.businessDay} #${t.close.seq}`), money(t.close.takingsCents.cash), money(t.close.takingsCents.card), money(t.close.expectedCashCents), money(t.close.countedCashCents), money(t.close.overShortCents),
          t.close.folded ? 'in the books' : t.forked ? 'not folded: the till forked' : 'not folded yet: held'])
    const body = `<form method="get"><label for="day">Business day</label> <input id="day" name="day" type="date" value="${esc(day ?? '')}"> <button type="submit">Show</button></form>
${table(`Closes of store ${store}${day !== undefined ? ` on ${day}` : ' (the last of each till)'}`, ['Till', 'Close', 'Cash', 'Card', 'Expected cash', 'Counted cash', 'Over/short', 'Books'], rows, { numeric: [2, 3, 4, 5, 6] })}`
    return await send(req, reply, `Store ${store}`, body)
  })

  // ------------------------------------------------------------ a close
  http.get('/ui/closes/:tillId/:seq', { ...READ, schema: { params: { type: 'object', required: ['tillId', 'seq'], properties: { tillId: { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,15}-[0-9]{1,3}$' }, seq: { type: 'string', pattern: '^[1-9][0-9]{0,11}$' } } } } }, async (req, reply) => {
    const p = req.params as { tillId: string, seq: string }
    const r = await api<{ tillId: string, seq: number, kind: string, businessDay: string, hash: string, signer: string, verdict: string, folded: boolean, notFolded?: string, record: Record<string, unknown>, journal: Array<{ account: string, amountCents: number }> | null }>(req, `/closes/${p.tillId}/${p.seq}`)
    if (r.status !== 200) return await pageHeaders(reply.code(r.status)).send(page('Not found', `<p>HQ holds no entry ${esc(p.seq)} of ${esc(p.tillId)}.</p>`, { role: role(req) }))
    const c = r.json
    const facts = table('The signed entry', ['Field', 'Value'], [
      ['Till', c.tillId], ['Seq', String(c.seq)], ['Kind', c.kind], ['Business day', c.businessDay], ['Hash', c.hash], ['Signing key', c.signer],
      ['Verification', raw(`<span class="${c.verdict.startsWith('signature valid, key') ? 'ok' : 'bad'}">${esc(c.verdict)}</span>`)],
      ['In the books', c.folded ? 'yes: verified and folded' : `no: ${c.notFolded ?? ''}`],
      ['Signed bytes', role(req) === 'admin' ? link(`/closes/${c.tillId}/${c.seq}/entry.bin`, 'download') : 'the admin downloads them (they name members)']
    ])
    const fields = table('The record', ['Field', 'Value'], Object.entries(c.record).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]))
    const journal = c.journal === null ? '<p>No journal lines yet: a product it names has no cost yet.</p>' : table('Journal lines it made', ['Account', 'Debit', 'Credit'], c.journal.map(j => [j.account, j.amountCents > 0 ? money(j.amountCents) : '', j.amountCents < 0 ? money(-j.amountCents) : '']), { numeric: [1, 2] })
    return await send(req, reply, `${c.tillId} #${c.seq}`, `${facts}${journal}${fields}`)
  })

  // ------------------------------------------------------------ books
  http.get('/ui/books', { ...READ, schema: { querystring: { type: 'object', additionalProperties: false, properties: { from: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, to: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } } } } }, async (req, reply) => {
    const q = req.query as { from?: string, to?: string }
    const b = (await api<{ accounts: Record<string, number>, trialBalance: { debitsCents: number, creditsCents: number } }>(req, '/books')).json
    const range = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined)).toString()
    const pnl = (await api<{ stores: Record<string, { salesNetCents: number, taxCents: number, cogsCents: number, grossMarginCents: number, cashOverShortCents: number, loyaltyPointsCents: number, closes: number }> }>(req, `/books/pnl${range !== '' ? `?${range}` : ''}`)).json
    const tb = table('Trial balance', ['Account', 'Debit', 'Credit'], [
      ...Object.entries(b.accounts).map(([a, v]) => [a, v > 0 ? money(v) : '', v < 0 ? money(-v) : '']),
      [raw('<strong>Total</strong>'), raw(`<strong id="tb-debits">${money(b.trialBalance.debitsCents)}</strong>`), raw(`<strong id="tb-credits">${money(b.trialBalance.creditsCents)}</strong>`)]
    ], { numeric: [1, 2] })
    const balanced = `<p class="${b.trialBalance.debitsCents === b.trialBalance.creditsCents ? 'ok' : 'bad'}">Debits ${b.trialBalance.debitsCents === b.trialBalance.creditsCents ? '=' : '≠'} credits.</p>`
    const form = `<form method="get"><label for="from">From</label> <input id="from" name="from" type="date" value="${esc(q.from ?? '')}"> <label for="to">to</label> <input id="to" name="to" type="date" value="${esc(q.to ?? '')}"> <button type="submit">Show</button></form>`
    const p = table(`P&L per store${q.from !== undefined || q.to !== undefined ? ` from ${q.from ?? 'the start'} to ${q.to ?? 'today'}` : ''} (folded Closes)`, ['Store', 'Net sales', 'Cost of goods', 'Gross margin', 'Cash over/short', 'Loyalty points', 'Closes'],
      Object.entries(pnl.stores).map(([s, v]) => [link(`/ui/stores/${s}`, s), money(v.salesNetCents), money(v.cogsCents), money(v.grossMarginCents), money(v.cashOverShortCents), money(v.loyaltyPointsCents), String(v.closes)]), { numeric: [1, 2, 3, 4, 5, 6] })
    const chart = barChart('Net sales per store', Object.entries(pnl.stores).map(([s, v]) => ({ label: s, cents: v.salesNetCents })))
    const exports = '<p>Exports: <a href="/books.hledger">hledger journal</a> · <a href="/books.csv">CSV</a> · <a href="/books">JSON</a></p>'
    return await send(req, reply, 'Books', `${tb}${balanced}${form}${p}${chart}${exports}`)
  })

  // ------------------------------------------------------------ exceptions
  http.get('/ui/exceptions', READ, async (req, reply) => {
    const s = session(req)
    const admin = role(req) === 'admin'
    const counters = (await api<{ rejections: Array<{ atMs?: number, tillId?: string, seq?: number, code: string, reason: string }>, members: { rightsGranted: number, rightsReturned: number, rightsRefused: number, lookups: number } }>(req, '/counters')).json
    const books = (await api<{ forks: Array<{ tillId: string, seq: number, reason: string }> }>(req, '/books')).json
    const conflicts = (await api<{ conflicts: Array<{ id: string, kind: string, products: Array<{ sku: string, store: string, name: string, gtin?: string }> }> }>(req, '/catalogue/conflicts')).json.conflicts
    const refunds = (await api<{ flagged: Array<{ till: string, receipt: string, refund: string, amountCents: number }>, conflicts: Array<{ till: string, receipt: string, sku: string, soldQty: number, refundedQty: number, refunds: string[] }> }>(req, '/refunds/flagged')).json
    const rec = await api<{ exceptions: Array<{ kind: string, paymentId?: string, till?: string, docNo?: string, expectedCents?: number, settledCents?: number, count?: number }> }>(req, '/reconciliation')
    const tillLink = (id: string | undefined): string | Html => id === undefined ? '—' : link(`/ui/stores/${id.slice(0, id.lastIndexOf('-'))}`, id)
    const resolve = (id: string, sku: string): string => admin && s !== null
      ? `<form method="post" action="/ui/catalogue/resolve" class="inline"><input type="hidden" name="csrf" value="${esc(s.csrf)}"><input type="hidden" name="conflict" value="${esc(id)}"><input type="hidden" name="canonical" value="${esc(sku)}"><button type="submit" name="decision" value="same">Same product (${esc(sku)})</button> <button type="submit" name="decision" value="distinct">Different products</button></form>`
      : 'the admin resolves it'
    const body = [
      table('Settlement exceptions', ['Kind', 'Payment', 'Till', 'Document', 'Expected', 'Settled'], (rec.status === 200 ? rec.json.exceptions : []).map(e => [e.kind, e.paymentId ?? (e.count !== undefined ? `${e.count} not yet due` : '—'), tillLink(e.till), e.docNo ?? '—', e.expectedCents !== undefined ? money(e.expectedCents) : '—', e.settledCents !== undefined ? money(e.settledCents) : '—']), { numeric: [4, 5] }),
      table('Input refused (forged, malformed, replayed), the newest first', ['Till', 'Seq', 'Code', 'Reason'], [...counters.rejections].reverse().map(r => [tillLink(r.tillId), r.seq !== undefined && r.tillId !== undefined ? link(`/ui/closes/${r.tillId}/${r.seq}`, r.seq) : '—', r.code, r.reason])),
      table('Forks', ['Till', 'At seq', 'Why'], books.forks.map(f => [tillLink(f.tillId), link(`/ui/closes/${f.tillId}/${f.seq}`, f.seq), f.reason])),
      table('Catalogue conflicts', ['Kind', 'Products', 'Resolve'], conflicts.map(c => [c.kind, raw(c.products.map(p => `${esc(p.sku)} (<a href="/ui/stores/${esc(p.store)}">${esc(p.store)}</a>: ${esc(p.name)}${p.gtin !== undefined ? `, ${esc(p.gtin)}` : ''})`).join('; ')), raw(resolve(c.id, [...c.products.map(p => p.sku)].sort()[0] ?? ''))])),
      table('Members\' points: rights asked of HQ', ['Granted', 'Given back', 'Refused (beyond what the member has, or not the till as enrolled)', 'Phone numbers looked up'], [[String(counters.members.rightsGranted), String(counters.members.rightsReturned), String(counters.members.rightsRefused), String(counters.members.lookups)]], { numeric: [0, 1, 2, 3] }),
      table('Refunds made without the selling till\'s consent', ['Refunding till', 'Receipt', 'Refund', 'Amount'], refunds.flagged.map(f => [tillLink(f.till), f.receipt, f.refund, money(f.amountCents)]), { numeric: [3] }),
      table('Lines refunded beyond what was sold', ['Selling till', 'Receipt', 'Product', 'Sold', 'Refunded', 'Refunds'], refunds.conflicts.map(c => [tillLink(c.till), c.receipt, c.sku, String(c.soldQty), String(c.refundedQty), c.refunds.join(', ')]), { numeric: [3, 4] })
    ].join('\n')
    const done = (req.query as { resolved?: string }).resolved
    return await send(req, reply, 'Exceptions', `${done !== undefined ? `<p class="ok" role="status">Resolved: ${esc(done)}</p>` : ''}${body}`)
  })
  http.post('/ui/catalogue/resolve', {
    config: { access: 'admin' },
    schema: { summary: 'Resolve a catalogue conflict from the console (a form)', body: { type: 'object', required: ['conflict', 'decision'], additionalProperties: false, properties: { conflict: { type: 'string', maxLength: 64 }, decision: { type: 'string', enum: ['same', 'distinct', 'withdraw'] }, canonical: { type: 'string', maxLength: 40 }, csrf: { type: 'string', maxLength: 100 } } } }
  }, async (req, reply) => {
    const b = req.body as { conflict: string, decision: string, canonical?: string }
    const r = await http.inject({ method: 'POST', url: '/admin/catalogue/resolve', headers: { authorization: `Bearer ${o.tokens.admin}` }, payload: { conflict: b.conflict, decision: b.decision, ...(b.decision === 'same' && b.canonical !== undefined ? { canonical: b.canonical } : {}) } })
    if (r.statusCode !== 200) {
      let reason = r.body
      try { reason = (r.json() as { error?: string }).error ?? r.body } catch { /* not JSON: the body as it is */ }
      return await pageHeaders(reply.code(r.statusCode)).send(page('Not resolved', `<p class="bad" role="alert">${esc(reason)}</p><p><a href="/ui/exceptions">Back</a></p>`, { role: role(req) }))
    }
    return await reply.redirect(`/ui/exceptions?resolved=${encodeURIComponent(b.conflict)}`, 303)
  })

  // ------------------------------------------------------------ members
  http.get('/ui/members', { ...READ, schema: { querystring: { type: 'object', additionalProperties: false, properties: { member: { type: 'string', maxLength: 40 } } } } }, async (req, reply) => {
    const m = (req.query as { member?: string }).member?.trim()
    let found = ''
    if (m !== undefined && m !== '') {
      if (!/^m-[A-Za-z0-9_-]{22}$/.test(m)) {
        found = '<p class="bad" role="alert">A member is looked up by member id (m-…), never by phone number.</p>'
      } else {
        const r = await api<{ earned: number, vested: number, redeemed: number, balance: number, spendable: number, rights: Record<string, number>, liabilityCents: number, heldAtForks?: number }>(req, `/members/${m}`)
        found = r.status !== 200
          ? '<p>No such member.</p>'
          : table(`Member ${m}`, ['', 'Points'], [['Earned', String(r.json.earned)], ['Vested', String(r.json.vested)], ['Redeemed', String(r.json.redeemed)], ['Balance', String(r.json.balance)], ['Spendable at HQ', String(r.json.spendable)],
            ...Object.entries(r.json.rights).map(([t, p]) => [`Escrowed at ${t}`, String(p)]),
            // A fork took back points the member had already spent: say so beside the balance below zero.
            ...((r.json.heldAtForks ?? 0) > 0 ? [['Held at forked tills', String(r.json.heldAtForks)]] : []),
            ['Liability', money(r.json.liabilityCents)]], { numeric: [1] })
      }
    }
    return await send(req, reply, 'Members', `<form method="get"><label for="member">Member id</label> <input id="member" name="member" value="${esc(m ?? '')}" size="30"> <button type="submit">Look up</button></form>${found}`)
  })

  return { stop: () => { for (const st of [...streams]) st.end() } }
}

/**
 * Email backup: the message a till sends at close, reading mailboxes (Maildir, mbox, .eml
 * folder), and MailBackup's durable outbox against a real SMTP server (smtp-server,
 * in-process on 127.0.0.1, filing into a Maildir).
 */
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { simpleParser } from 'mailparser'
import { openEntry, type Close } from '@tillbooks/protocol'
import {
  backupOf, buildBackupMessage, decodeBackupPayload, MailBackup, mboxEntry, MemoryStore, moneyText, parseBackupMessage,
  readMailbox, silentLogger, splitMbox, startMaildirSink, systemClock, type MaildirSink
} from '../src/index.ts'
import { DAY1, DAY2, startHq, startTill } from './helpers/fleet.ts'

async function closedTill (days = 1) {
  const hq = await startHq()
  const t = await startTill(hq)
  const order = await hq.dispatchReplenishment({ id: 'R-1', store: t.storeId, businessDay: DAY1, lines: [{ sku: 'patio-chair', qty: 8 }] })
  await t.till.openDay(DAY1, { order })
  await t.till.sell({ lines: [{ sku: 'patio-set', qty: 1 }], tenders: [{ type: 'card', amountCents: 50_000 }] })
  await t.till.sell({ lines: [{ sku: 'latte', qty: 2 }] })
  await t.till.closeDay()
  if (days > 1) {
    await t.till.acknowledge((await hq.submit(t.till.outbox())).map(a => ({ seq: a.seq as number, status: a.status })))
    await t.till.openDay(DAY2)
    await t.till.sell({ lines: [{ sku: 'espresso', qty: 3 }] })
    await t.till.closeDay()
  }
  return { hq, ...t }
}

describe('mail: the backup message', () => {
  it('formats money from integer cents without floats', () => {
    assert.equal(moneyText(0), '0.00')
    assert.equal(moneyText(5), '0.05')
    assert.equal(moneyText(-5), '-0.05')
    assert.equal(moneyText(123_456_789), '1,234,567.89')
    assert.equal(moneyText(50_840, 'EUR'), '508.40 EUR')
    assert.equal(moneyText(9_007_199_254_740_991), '90,071,992,547,409.91')
    assert.throws(() => moneyText(1.5))
  })

  it('carries the close and the day\'s StockIn, a readable summary, and is deterministic', async () => {
    const { till } = await closedTill()
    const input = backupOf(till)
    assert.deepEqual(input.entries.map(e => e.record.kind), ['stockIn', 'close'])
    const opts = { from: 'till@store1.example', to: 'backups@hq.example', dateMs: Date.parse('2026-03-02T20:00:00Z') }
    const a = await buildBackupMessage(input, opts)
    const b = await buildBackupMessage(input, opts)
    assert.ok(a.raw.equals(b.raw), 'the same backup builds to the same bytes')
    assert.equal(a.filename, 'S001-1-2.tillbooks')
    const text = a.raw.toString('utf8')
    assert.match(text, /^X-Tillbooks-Till: S001-1\r$/m)
    assert.match(text, /^X-Tillbooks-Seq: 2\r$/m)
    assert.doesNotMatch(text, /^From /m, 'nothing an mbox would have to quote')
    const parsed = await simpleParser(a.raw)
    assert.match(parsed.subject ?? '', /S001-1: close 2026-03-02, seq 2, takings 508\.40 EUR/)
    assert.match(parsed.text ?? '', /Takings: +508\.40 EUR/)
    assert.match(parsed.text ?? '', /card: +500\.00 EUR/)
    assert.match(parsed.text ?? '', /Documents: +S001-1-1 \.\. S001-1-2/)
    assert.match(parsed.text ?? '', /Business day: +2026-03-02/)
    const p = await parseBackupMessage({ source: 'x', raw: a.raw })
    assert.equal(p.attachments.length, 1)
    const payload = decodeBackupPayload(p.attachments[0]!.bytes)
    assert.equal(payload.tillId, 'S001-1')
    assert.deepEqual(payload.entries.map(e => openEntry(e).record.seq), [1, 2])
    assert.equal(p.dateMs, opts.dateMs)
  })

  it('includes everything HQ has not acknowledged, and the last day\'s entries even when acknowledged', async () => {
    const { hq, till } = await closedTill(2)
    // Day 1 was acknowledged; day 2 has no StockIn (no delivery): only its Close is unacknowledged.
    assert.deepEqual(backupOf(till).entries.map(e => e.record.seq), [3])
    await hq.submit(till.outbox())
    assert.deepEqual(backupOf(till).entries.map(e => e.record.seq), [3], 'the last day is always backed up')
    const unacked = backupOf({ tillId: till.tillId, log: till.log, outbox: () => till.log.map(e => e.bytes) })
    assert.deepEqual(unacked.entries.map(e => e.record.seq), [1, 2, 3])
  })
})

describe('mail: reading mailboxes', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'tillbooks-mailbox-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('splits an mbox on postmark lines and unquotes >From lines (mboxrd)', () => {
    const m1 = 'Subject: one\n\nFrom the start\nline\n>From quoted\n'
    const m2 = 'Subject: two\n\nbody\nFrom here, unquoted mid-paragraph\n'
    const mbox = Buffer.concat([mboxEntry(m1, { dateMs: 0 }), mboxEntry(m2, { dateMs: 1000, sender: 'a@b' })])
    assert.match(mbox.toString(), /^From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n/)
    assert.match(mbox.toString(), /\n>From the start\n/)
    assert.match(mbox.toString(), /\n>>From quoted\n/)
    const parts = splitMbox(mbox, 'box')
    assert.deepEqual(parts.map(p => p.source), ['box#1', 'box#2'])
    assert.equal(parts[0]!.raw.toString(), m1)
    assert.equal(parts[1]!.raw.toString(), m2)
    // An mboxo writer that did not quote a body line: only a `From ` after an empty line starts a message.
    const loose = Buffer.from('From x Mon Jan  1 00:00:00 2026\nSubject: a\n\nhello\nFrom me to you\n\nFrom y Mon Jan  1 00:00:00 2026\nSubject: b\n\nbye\n')
    const two = splitMbox(loose, 'loose')
    assert.equal(two.length, 2)
    assert.match(two[0]!.raw.toString(), /From me to you/)
  })

  it('reads a Maildir (new/ and cur/), an mbox file, a folder of .eml files and a single .eml', async () => {
    const { till } = await closedTill()
    const built = await buildBackupMessage(backupOf(till), { from: 'a@b.example', to: 'c@d.example', dateMs: 0 })
    const maildir = join(dir, 'Maildir')
    for (const sub of ['new', 'cur', 'tmp']) await mkdir(join(maildir, sub), { recursive: true })
    await writeFile(join(maildir, 'new', '1.a.host'), built.raw)
    await writeFile(join(maildir, 'cur', '2.b.host:2,S'), built.raw)
    await writeFile(join(maildir, 'tmp', '3.c.host'), 'half a message')
    const md = await readMailbox(maildir)
    assert.equal(md.kind, 'maildir')
    assert.deepEqual(md.messages.map(m => m.source), [join(maildir, 'cur', '2.b.host:2,S'), join(maildir, 'new', '1.a.host')])

    const mboxPath = join(dir, 'backups.mbox')
    await writeFile(mboxPath, Buffer.concat([mboxEntry(built.raw, { dateMs: 0 }), mboxEntry(built.raw, { dateMs: 1 })]))
    const mb = await readMailbox(mboxPath)
    assert.equal(mb.kind, 'mbox')
    assert.equal(mb.messages.length, 2)
    for (const m of mb.messages) {
      const p = await parseBackupMessage(m)
      assert.deepEqual(decodeBackupPayload(p.attachments[0]!.bytes).entries.map(e => openEntry(e).record.seq), [1, 2])
    }

    const emls = join(dir, 'eml')
    await mkdir(emls)
    await writeFile(join(emls, 'a.eml'), built.raw)
    await writeFile(join(emls, 'notes.txt'), 'not mail')
    const ef = await readMailbox(emls)
    assert.equal(ef.kind, 'eml-folder')
    assert.deepEqual(ef.messages.map(m => m.source), [join(emls, 'a.eml')])
    const one = await readMailbox(join(emls, 'a.eml'))
    assert.equal(one.kind, 'eml')
    assert.equal(one.messages.length, 1)
  })
})

describe('mail: MailBackup over a real SMTP server', function () {
  this.timeout(30_000)
  let dir: string
  const sinks: MaildirSink[] = []
  const backups: MailBackup[] = []
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'tillbooks-smtp-')) })
  after(async () => {
    for (const b of backups) await b.stop()
    for (const s of sinks) await s.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function sink (name: string, opts: Partial<Parameters<typeof startMaildirSink>[0]> = {}): Promise<MaildirSink> {
    const s = await startMaildirSink({ maildir: join(dir, name), ...opts })
    sinks.push(s)
    return s
  }

  function backup (o: Partial<ConstructorParameters<typeof MailBackup>[0]> & { smtpUrl: string }): MailBackup {
    const b = new MailBackup({ store: new MemoryStore(), to: 'backups@hq.example', from: 'till-S001-1@store.example', logger: silentLogger, clock: systemClock, retryMinMs: 50, retryMaxMs: 200, timeoutMs: 5_000, ...o })
    backups.push(b)
    return b
  }

  async function until (what: string, cond: () => boolean, ms = 10_000): Promise<void> {
    const t0 = Date.now()
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }

  it('delivers the close\'s backup into the Maildir; queue() returns before SMTP does', async () => {
    const s = await sink('plain')
    const { till } = await closedTill()
    const b = backup({ smtpUrl: s.url })
    await b.start()
    const q = await b.queue(till)
    assert.equal(q.seq, 2)
    assert.equal(b.pending().length, 1, 'queued, not yet sent')
    await until('delivery', () => s.delivered.length === 1)
    await until('outbox empty', () => b.pending().length === 0)
    const files = await readdir(join(dir, 'plain', 'new'))
    assert.equal(files.length, 1)
    assert.deepEqual(await readdir(join(dir, 'plain', 'tmp')), [])
    const p = await parseBackupMessage({ source: files[0]!, raw: await readFile(join(dir, 'plain', 'new', files[0]!)) })
    const close = openEntry(decodeBackupPayload(p.attachments[0]!.bytes).entries[1]!).record as Close
    assert.equal(close.takingsCents.card + close.takingsCents.cash, 50_840)
  })

  it('retries with backoff while the server refuses, and never blocks the caller', async () => {
    const s = await sink('flaky', { refuse: n => n <= 2 ? 'mailbox busy, try later' : null })
    const { till } = await closedTill()
    const b = backup({ smtpUrl: s.url })
    await b.start()
    const t0 = performance.now()
    await b.queue(till)
    assert.ok(performance.now() - t0 < 1_000, 'queue() only writes the outbox')
    await until('delivery after two refusals', () => s.delivered.length === 1)
    assert.equal(s.refused, 2)
    await until('outbox empty', () => b.pending().length === 0)
  })

  it('keeps a backup queued while the server is down across a restart, and sends it once the server is up', async () => {
    const probe = await startMaildirSink({ maildir: join(dir, 'probe') })
    const port = probe.port
    await probe.close()
    const outbox = new MemoryStore()
    const { till } = await closedTill()
    const first = new MailBackup({ store: outbox, smtpUrl: `smtp://127.0.0.1:${port}`, to: 'backups@hq.example', logger: silentLogger, retryMinMs: 50, retryMaxMs: 100, timeoutMs: 2_000 })
    await first.start()
    await first.queue(till)
    await until('a failed attempt', () => (first.pending()[0]?.lastError ?? null) !== null)
    assert.match(first.pending()[0]?.lastError ?? '', /ECONNREFUSED|connect/i)
    await first.stop()
    outbox.crash() // the till loses power: only synced writes survive
    const s = await sink('later', { port })
    const again = backup({ store: outbox, smtpUrl: s.url })
    await again.start()
    assert.equal(again.pending().length, 1, 'the backup survived the restart')
    await until('delivery', () => s.delivered.length === 1)
    await until('outbox empty', () => again.pending().length === 0)
  })

  it('uses TLS when configured: STARTTLS required, and smtps', async () => {
    const starttls = await sink('starttls', { startTls: true })
    const { till } = await closedTill()
    const b1 = backup({ smtpUrl: `${starttls.url}?requireTLS=true&tls.rejectUnauthorized=false` })
    await b1.start()
    await b1.queue(till)
    assert.deepEqual(await b1.flush(), { sent: 1, pending: 0 })
    assert.equal(starttls.delivered.length, 1)

    const noTls = await sink('notls')
    const b2 = backup({ smtpUrl: noTls.url, requireTLS: true })
    await b2.start()
    await b2.queue(till)
    const r = await b2.flush()
    assert.equal(r.sent, 0, 'a server without STARTTLS is refused when TLS is required')
    assert.equal(noTls.delivered.length, 0)

    const smtps = await sink('smtps', { secure: true })
    assert.match(smtps.url, /^smtps:/)
    const b3 = backup({ smtpUrl: smtps.url, tls: { rejectUnauthorized: false } })
    await b3.start()
    await b3.queue(till)
    assert.deepEqual(await b3.flush(), { sent: 1, pending: 0 })
    assert.equal(smtps.delivered.length, 1)
  })
})

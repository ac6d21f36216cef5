/**
 * Fire recovery from email backups, end to end: tills sell, close and email their signed
 * backups through a real SMTP server (smtp-server in-process on 127.0.0.1, filing into a
 * Maildir); the store burns; recovery restores each till's last close to the cent from
 * the mailbox, HQ's books hold it exactly once, and a replacement till sells on with fresh
 * document numbers. Each way a backup can be bad has its own test.
 */
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { Command } from 'commander'
import { createTransport } from 'nodemailer'
import {
  asBusinessDay, canonicalDecode, canonicalEncode, keyPairFromSeed, openEntry, signEntry, Signer, toHex,
  type Canonical, type Close, type Entry, type PublicKey, type StoreId, type TillId
} from '@tillbooks/protocol'
import {
  buildBackupMessage, decodeBackupPayload, formatRecover, LevelStore, MailBackup, mboxEntry, MemoryStore, parseBackupMessage,
  readMailbox, recoverFromMail, registerRecoverCommand, runRecover, silentLogger, startMaildirSink, TillNode,
  type HqNode, type MaildirSink, type RecoverFromMailOptions
} from '../src/index.ts'
import { tillDbDir, tillKey } from '../src/daemon/dataDir.ts'
import { catalogue, DAY1, DAY2, ManualClock, root, seedBytes, startHq } from './helpers/fleet.ts'

const DAY3 = asBusinessDay('2026-03-04')
const TO = 'backups@hq.example'

interface TillRun { tillId: TillId, till: TillNode, kv: MemoryStore, signer: Signer, closes: Close[] }

interface Fire {
  hq: HqNode
  certs: Map<TillId, Uint8Array[]>
  tills: Map<TillId, TillRun>
  maildir: string
  /** Each delivered backup's raw bytes, by `<tillId>#<head seq>`. */
  raw: Map<string, Buffer>
  /** Takings of each till's last close, and its head. */
  last: Map<TillId, { takingsCents: number, seq: number, hash: string, docLast: number }>
}

let work: string
const sinks: MaildirSink[] = []

async function sink (name: string): Promise<MaildirSink> {
  const s = await startMaildirSink({ maildir: join(work, name) })
  sinks.push(s)
  return s
}

/** Mail one raw message through a real SMTP server, as anyone (e.g. an attacker) can. */
async function smtpSend (s: MaildirSink, raw: Buffer): Promise<void> {
  const t = createTransport({ host: s.host, port: s.port, secure: false, ignoreTLS: true, connectionTimeout: 5_000, socketTimeout: 5_000 })
  try {
    await t.sendMail({ envelope: { from: 'someone@example.org', to: [TO] }, raw })
  } finally {
    t.close()
  }
}

async function mailbox (name: string, raws: Buffer[]): Promise<string> {
  const s = await sink(name)
  for (const r of raws) await smtpSend(s, r)
  assert.equal(s.delivered.length, raws.length)
  return join(work, name)
}

async function enrolled (hq: HqNode, certs: Map<TillId, Uint8Array[]>, store: string, tillNo: number, label: string, fromSeq = 1) {
  const signer = new Signer(keyPairFromSeed(seedBytes(label)))
  const cert = await hq.enrol({ store: store as StoreId, till: tillNo, tillKey: signer.publicKey, fromSeq })
  const tillId = `${store}-${tillNo}` as TillId
  certs.set(tillId, [...(certs.get(tillId) ?? []), cert])
  return { signer, cert, tillId }
}

async function ack (hq: HqNode, till: TillNode): Promise<void> {
  const answers = await hq.submit(till.outbox())
  await till.acknowledge(answers.map(a => ({ seq: a.seq as number, status: a.status })))
}

/**
 * Two days at three tills (S001-1, S001-2, S002-1). HQ gets everything but the second
 * evening's closes (the WAN is down that evening); every close is emailed. Then S001 burns.
 */
async function fire (): Promise<Fire> {
  const hq = await startHq()
  const certs = new Map<TillId, Uint8Array[]>()
  const tills = new Map<TillId, TillRun>()
  for (const [store, n] of [['S001', 1], ['S001', 2], ['S002', 1]] as const) {
    const { signer, tillId } = await enrolled(hq, certs, store, n, `fire-${store}-${n}`)
    const kv = new MemoryStore()
    const till = new TillNode({ store: kv, clock: new ManualClock(), logger: silentLogger }, { store: store as StoreId, till: n, signer, catalogue, hqRootKey: root.publicKey })
    await till.start()
    tills.set(tillId, { tillId, till, kv, signer, closes: [] })
  }
  const s = await sink('fire')
  const mailClock = new ManualClock(Date.parse('2026-03-02T20:00:00Z'))
  const backup = new MailBackup({ store: new MemoryStore(), smtpUrl: s.url, to: TO, from: 'tills@store.example', clock: mailClock, logger: silentLogger, timeoutMs: 5_000 })
  await backup.start()
  for (const [d, day] of [DAY1, DAY2].entries()) {
    mailClock.ms = Date.parse(`${day}T20:00:00Z`)
    for (const t of tills.values()) {
      const order = await hq.dispatchReplenishment({ id: `R-${day}-${t.tillId}`, store: t.till.store, businessDay: day, lines: [{ sku: 'patio-chair', qty: 4 + d }] })
      await t.till.openDay(day, { order })
      await ack(hq, t.till) // the morning StockIn reaches HQ
      for (let i = 0; i <= d + t.till.till; i++) {
        await t.till.sell({ lines: [{ sku: 'latte', qty: 1 + i }], ...(i % 2 === 1 ? { tenders: [{ type: 'card', amountCents: 420 * (1 + i) }] } : {}) })
        if (i === 1) await t.till.sell({ lines: [{ sku: 'patio-set', qty: 1 }], tenders: [{ type: 'card', amountCents: 50_000 }], member: '+447700900123' })
      }
      const close = (await t.till.closeDay()).record as Close
      t.closes.push(close)
      const q = await backup.queue(t.till, { certificates: certs.get(t.tillId) ?? [] })
      assert.equal(q.seq, close.seq)
      if (d === 0) await ack(hq, t.till) // day 2: the evening link is down
    }
    assert.deepEqual(await backup.flush(), { sent: 3, pending: 0 })
  }
  await backup.stop()
  const raw = new Map<string, Buffer>()
  for (const path of s.delivered) {
    const buf = await readFile(path)
    const p = await parseBackupMessage({ source: path, raw: buf })
    raw.set(`${p.hints.till ?? ''}#${p.hints.seq ?? ''}`, buf)
  }
  const last = new Map<TillId, { takingsCents: number, seq: number, hash: string, docLast: number }>()
  for (const t of tills.values()) {
    const c = t.closes[t.closes.length - 1] as Close
    last.set(t.tillId, { takingsCents: c.takingsCents.cash + c.takingsCents.card, seq: c.seq, hash: t.till.head?.hash ?? '', docLast: c.docLast })
  }
  // The fire: S001's tills and everything on their disks are gone.
  for (const t of tills.values()) {
    if (t.till.store !== 'S001') continue
    t.kv.burn()
  }
  return { hq, certs, tills, maildir: join(work, 'fire'), raw, last }
}

function opts (f: Fire, extra: Partial<RecoverFromMailOptions> = {}): RecoverFromMailOptions {
  return { store: 'S001', rootKey: root.publicKey, certificates: id => f.certs.get(id) ?? [], ...extra }
}

const attacker = new Signer(keyPairFromSeed(seedBytes('mail-attacker')))

/** A copy of `e`'s record, changed by `change`, signed by `signer`. */
function resigned (e: Entry, signer: Signer, change: (c: Close) => Close): Entry {
  return signEntry(change(e.record as Close), signer)
}

function inflate (c: Close): Close {
  const extra = 1_000_000
  return { ...c, takingsCents: { ...c.takingsCents, card: c.takingsCents.card + extra }, tax: c.tax.map((l, i) => i === 0 ? { ...l, netCents: l.netCents + extra } : l) }
}

function entriesIn (raw: Buffer | undefined): Promise<Entry[]> {
  assert.ok(raw !== undefined)
  return parseBackupMessage({ source: 'x', raw }).then(p => decodeBackupPayload(p.attachments[0]!.bytes).entries.map(b => openEntry(b, { verify: false })))
}

describe('mail: fire recovery from email backups', function () {
  this.timeout(60_000)
  let f: Fire

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tillbooks-mailrec-'))
    f = await fire()
  })
  after(async () => {
    for (const s of sinks) await s.close()
    await rm(work, { recursive: true, force: true })
  })

  it('restores each burnt till\'s last close to the cent; HQ\'s books hold it exactly once; a replacement sells on with fresh numbers', async () => {
    const { hq } = f
    const r = await recoverFromMail(opts(f, {
      path: f.maildir,
      baseLog: async id => ({ source: 'hq', entries: await hq.tillLog(id) }),
      heldSeq: id => hq.heldSeq(id)
    }))
    assert.equal(r.messages, 6)
    assert.deepEqual(r.restored.map(x => x.tillId), ['S001-1', 'S001-2'])
    for (const x of r.restored) {
      const want = f.last.get(x.tillId)!
      assert.equal(x.lastSeq, want.seq)
      assert.equal(x.headHash, want.hash)
      assert.equal(x.takingsCents, want.takingsCents, 'the last close to the cent')
      assert.equal(x.nextDocN, want.docLast + 1)
      assert.equal(x.businessDay, DAY2)
      assert.match(x.from, /^mail:/)
      assert.equal(hq.heldSeq(x.tillId), want.seq - 1, 'HQ had only part of it: the close never arrived')
    }
    assert.deepEqual(r.rejected.map(x => x.reason), ['message for another store: S002-1 (recovering S001)', 'message for another store: S002-1 (recovering S001)'])

    // Into HQ: only the missing close is new; handing it over again adds nothing.
    const before = hq.books.snapshot().stores.S001?.takingsCents ?? 0
    const answers = await hq.submit(r.restored.flatMap(x => x.entries.map(e => e.bytes)))
    assert.equal(answers.filter(a => a.status === 'accepted').length, 2)
    assert.equal(answers.filter(a => a.status === 'duplicate').length, 6)
    const all = [...f.tills.values()].filter(t => t.till.store === 'S001').flatMap(t => t.closes).reduce((s, c) => s + c.takingsCents.cash + c.takingsCents.card, 0)
    assert.equal(hq.books.snapshot().stores.S001?.takingsCents, all)
    assert.equal(all - before, (f.last.get('S001-1' as TillId)?.takingsCents ?? 0) + (f.last.get('S001-2' as TillId)?.takingsCents ?? 0))
    const again = await hq.submit(r.restored.flatMap(x => x.entries.map(e => e.bytes)))
    assert.ok(again.every(a => a.status === 'duplicate'))
    assert.equal(hq.books.snapshot().stores.S001?.takingsCents, all, 'exactly once')

    // A replacement till: a new key from the next seq, the recovered log adopted, numbering continues.
    const x = r.restored[0]!
    const { signer } = await enrolled(hq, f.certs, 'S001', 1, 'replacement-S001-1', x.lastSeq + 1)
    const fresh = new TillNode({ store: new MemoryStore(), clock: new ManualClock(), logger: silentLogger }, { store: 'S001' as StoreId, till: 1, signer, catalogue, hqRootKey: root.publicKey })
    await fresh.start()
    await fresh.adoptRecoveredLog(x.entries)
    await fresh.openDay(DAY3)
    const sale = await fresh.sell({ lines: [{ sku: 'espresso', qty: 1 }] })
    assert.equal(sale.docNo, `S001-1-${f.last.get('S001-1' as TillId)!.docLast + 1}`)
    const close = (await fresh.closeDay()).record as Close
    assert.equal(close.seq, x.lastSeq + 1)
    assert.equal(close.docFirst, f.last.get('S001-1' as TillId)!.docLast + 1)
    const a = await hq.submit(fresh.outbox())
    assert.deepEqual(a.map(o => o.status), ['duplicate', 'duplicate', 'duplicate', 'duplicate', 'accepted'], 'the replacement resends the recovered log; only its own close is new')
    assert.equal(hq.books.snapshot().tills['S001-1']?.lastSeq, close.seq)
  })

  it('recovers from the mailbox alone (no HQ): each close\'s backup carries that day\'s StockIn', async () => {
    const r = await recoverFromMail(opts(f, { path: f.maildir, till: 2 }))
    assert.equal(r.skipped, 2, 'S001-1\'s messages are skipped, not rejected')
    assert.deepEqual(r.restored.map(x => [x.tillId, x.lastSeq, x.takingsCents]), [['S001-2', 4, f.last.get('S001-2' as TillId)!.takingsCents]])
  })

  it('reads the same backups from an mbox file and from a folder of .eml files', async () => {
    const box = await readMailbox(f.maildir)
    const mboxPath = join(work, 'all.mbox')
    await writeFile(mboxPath, Buffer.concat(box.messages.map((m, i) => mboxEntry(m.raw, { dateMs: i * 1000, sender: 'tills@store.example' }))))
    const emlDir = join(work, 'eml')
    await mkdir(emlDir)
    for (const [i, m] of box.messages.entries()) await writeFile(join(emlDir, `${String(i).padStart(3, '0')}.eml`), m.raw)
    for (const path of [mboxPath, emlDir]) {
      const r = await recoverFromMail(opts(f, { path }))
      assert.equal(r.messages, 6, path)
      assert.deepEqual(r.restored.map(x => [x.tillId, x.lastSeq, x.takingsCents]), ['S001-1', 'S001-2'].map(id => [id, 4, f.last.get(id as TillId)!.takingsCents]), path)
      assert.ok(r.rejected.every(x => /another store/.test(x.reason)))
      if (path === mboxPath) assert.ok(r.rejected.every(x => /#[1-6]$/.test(x.source)), 'an mbox message is named by its position')
    }
  })

  it('rejects a forged backup signed by the wrong key, and restores the genuine close', async () => {
    const genuine = await entriesIn(f.raw.get('S001-1#4'))
    const head = genuine[genuine.length - 1]!
    // 1. a "next" close with huge takings, chained to the real head, signed by the attacker;
    // 2. the real close rewritten, same seq, signed by the attacker.
    const next = signEntry({ ...inflate(head.record as Close), seq: head.record.seq + 1, prevHash: head.hashBytes }, attacker)
    const rewrite = resigned(head, attacker, inflate)
    const date = Date.parse('2026-03-03T21:00:00Z')
    const m1 = await buildBackupMessage({ tillId: head.tillId, entries: [next] }, { from: 'tills@store.example', to: TO, dateMs: date })
    const m2 = await buildBackupMessage({ tillId: head.tillId, entries: [...genuine.slice(0, -1), rewrite] }, { from: 'tills@store.example', to: TO, dateMs: date + 1 })
    const path = await mailbox('forged', [f.raw.get('S001-1#2')!, f.raw.get('S001-1#4')!, m1.raw, m2.raw])
    const r = await recoverFromMail(opts(f, { path }))
    assert.equal(r.rejected.length, 2)
    for (const x of r.rejected) assert.match(x.reason, /^forged: S001-1 seq [45] is signed by [0-9a-f]{16}…, not by [0-9a-f]{16}…, the key enrolled for it$/)
    assert.deepEqual(r.restored.map(x => [x.lastSeq, x.headHash, x.takingsCents]), [[4, f.last.get('S001-1' as TillId)!.hash, f.last.get('S001-1' as TillId)!.takingsCents]])
  })

  it('rejects a backup for a till HQ never enrolled', async () => {
    const e = signEntry({ ...(f.tills.get('S001-1' as TillId)!.closes[0] as Close), till: 9, seq: 1, prevHash: new Uint8Array(32) }, attacker)
    const m = await buildBackupMessage({ tillId: 'S001-9' as TillId, entries: [e] }, { from: 'tills@store.example', to: TO, dateMs: 0 })
    const path = await mailbox('unenrolled', [m.raw])
    const r = await recoverFromMail(opts(f, { path }))
    assert.deepEqual(r.rejected.map(x => x.reason), ['forged: S001-9 is not enrolled (no certificate from HQ\'s root key)'])
    assert.deepEqual(r.restored, [])
  })

  it('rejects a tampered attachment: an altered entry, and bytes that do not decode', async () => {
    const genuine = await entriesIn(f.raw.get('S001-1#4'))
    const head = genuine[genuine.length - 1]!
    // The close's body altered after signing (takings raised consistently), the signature kept.
    const env = canonicalDecode(head.bytes) as { [k: string]: Canonical }
    const body = canonicalEncode(inflate(head.record as Close) as unknown as Canonical)
    const altered = openEntry(canonicalEncode({ ...env, body }), { verify: false })
    const m1 = await buildBackupMessage({ tillId: head.tillId, entries: [...genuine.slice(0, -1), altered] }, { from: 'tills@store.example', to: TO, dateMs: Date.parse('2026-03-03T20:00:00Z') })
    // Another copy whose attachment was damaged: one byte changed inside the CBOR.
    const raw = f.raw.get('S001-1#4')!.toString('latin1')
    const p = await parseBackupMessage({ source: 'x', raw: f.raw.get('S001-1#4')! })
    const payload = Buffer.from(p.attachments[0]!.bytes)
    payload[3] = (payload[3] as number) ^ 0xff
    const b64 = (b: Buffer): string => b.toString('base64').replace(/.{76}/g, '$&\r\n')
    const m2 = Buffer.from(raw.replace(b64(Buffer.from(p.attachments[0]!.bytes)), b64(payload)), 'latin1')
    assert.ok(!m2.equals(f.raw.get('S001-1#4')!))
    const path = await mailbox('tampered', [f.raw.get('S001-1#2')!, m1.raw, m2])
    const r = await recoverFromMail(opts(f, { path }))
    assert.deepEqual(r.rejected.map(x => x.reason).sort(), [
      'tampered attachment: S001-1-4.tillbooks does not decode: not canonical CBOR: indefinite length or reserved info 30',
      'tampered attachment: the signature on S001-1 seq 4 does not verify (the entry was altered)'
    ])
    // Day 1's backup is intact: restored to it, never to the altered close.
    assert.deepEqual(r.restored.map(x => [x.lastSeq, x.takingsCents]), [[2, (f.tills.get('S001-1' as TillId)!.closes[0]!.takingsCents.cash + f.tills.get('S001-1' as TillId)!.closes[0]!.takingsCents.card)]])
  })

  it('rejects a truncated chain: a backup whose entries do not link back to what is verifiable', async () => {
    // Day 1's backup is missing: day 2's entries (seq 3..4) link to nothing the mailbox proves.
    const path = await mailbox('truncated', [f.raw.get('S001-1#4')!])
    const r = await recoverFromMail(opts(f, { path }))
    assert.deepEqual(r.restored, [])
    assert.equal(r.rejected.length, 1)
    assert.match(r.rejected[0]!.reason, /^truncated chain: seq 3\.\.4 do not link back to a verifiable chain \(.*no valid entry at seq 1/)
    // With HQ's copy of the log (seq 1..3), the same backup links, and the close comes back.
    const hq = f.hq
    const held = await hq.tillLog('S001-1' as TillId)
    const withHq = await recoverFromMail(opts(f, { path, baseLog: () => ({ source: 'hq', entries: held.filter(b => openEntry(b, { verify: false }).record.seq <= 3) }) }))
    assert.deepEqual(withHq.rejected, [])
    assert.deepEqual(withHq.restored.map(x => [x.lastSeq, x.takingsCents]), [[4, f.last.get('S001-1' as TillId)!.takingsCents]])

    // A backup with an entry cut out of its attachment: seq 4 without seq 3 does not link to day 1.
    const genuine = await entriesIn(f.raw.get('S001-1#4'))
    const cut = await buildBackupMessage({ tillId: 'S001-1' as TillId, entries: genuine.filter(e => e.record.seq !== 3) }, { from: 'tills@store.example', to: TO, dateMs: Date.parse('2026-03-03T20:00:00Z') })
    const path2 = await mailbox('cut', [f.raw.get('S001-1#2')!, cut.raw])
    const r2 = await recoverFromMail(opts(f, { path: path2 }))
    assert.equal(r2.rejected.length, 1)
    assert.match(r2.rejected[0]!.reason, /^truncated chain: seq 4 does not link back to a verifiable chain \(.*seq 3/)
    assert.deepEqual(r2.restored.map(x => x.lastSeq), [2])
  })

  it('rejects a replayed older backup: it never rolls a till back', async () => {
    const day1 = f.raw.get('S001-1#2')!
    const day2 = f.raw.get('S001-1#4')!
    // (a) day 1's message resent byte for byte after day 2's; (b) rebuilt with a later date.
    const rebuilt = await buildBackupMessage({ tillId: 'S001-1' as TillId, entries: await entriesIn(day1) }, { from: 'tills@store.example', to: TO, dateMs: Date.parse('2026-03-05T09:00:00Z') })
    const path = await mailbox('replay', [day1, day2, day1, rebuilt.raw])
    const r = await recoverFromMail(opts(f, { path }))
    assert.equal(r.rejected.length, 2)
    for (const x of r.rejected) assert.match(x.reason, /^replayed older backup: its newest entry is seq 2, but .* already reached seq [24]$/)
    assert.deepEqual(r.restored.map(x => [x.lastSeq, x.takingsCents]), [[4, f.last.get('S001-1' as TillId)!.takingsCents]])

    // (c) Only the old backup is left in the mailbox, and HQ (or the till) already holds newer.
    const path2 = await mailbox('replay-old', [day1])
    const byHq = await recoverFromMail(opts(f, { path: path2, heldSeq: () => 4 }))
    assert.deepEqual(byHq.restored, [])
    assert.deepEqual(byHq.rejected.map(x => x.reason), ['replayed older backup: its newest entry is seq 2, older than seq 4 already held by HQ'])
    const byTill = await recoverFromMail(opts(f, { path: path2, currentHead: () => 4 }))
    assert.deepEqual(byTill.restored, [])
    assert.deepEqual(byTill.rejected.map(x => x.reason), ['replayed older backup: its newest entry is seq 2, older than seq 4 already held by the till'])
  })

  it('rejects a message for another store, whatever its headers say', async () => {
    const other = f.raw.get('S002-1#4')!
    // Headers are hints only: relabelled as S001's, it is still S002's signed entries.
    const relabelled = Buffer.from(other.toString('latin1').replace(/X-Tillbooks-Store: S002/, 'X-Tillbooks-Store: S001').replace(/X-Tillbooks-Till: S002-1/, 'X-Tillbooks-Till: S001-1'), 'latin1')
    const path = await mailbox('other-store', [other, relabelled, f.raw.get('S001-2#2')!, f.raw.get('S001-2#4')!])
    const r = await recoverFromMail(opts(f, { path }))
    assert.deepEqual(r.rejected.map(x => x.reason), ['message for another store: S002-1 (recovering S001)', 'message for another store: S002-1 (recovering S001)'])
    assert.deepEqual(r.restored.map(x => [x.tillId, x.lastSeq]), [['S001-2', 4]])
  })
})

/** HQ's admin routes (node/src/daemon/README.md) over an in-process HqNode: what `recover --hq` talks to. */
async function hqStub (hq: HqNode, certs: Map<TillId, Uint8Array[]>): Promise<{ url: string, app: FastifyInstance }> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 })
  const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')
  app.get('/admin/certificates/:tillId', async req => {
    const { tillId } = req.params as { tillId: TillId }
    return { tillId, hqRootKey: toHex(hq.rootKey), certificates: (certs.get(tillId) ?? []).map(b64) }
  })
  app.get('/admin/log/:tillId', async req => {
    const { tillId } = req.params as { tillId: TillId }
    return { tillId, entries: (await hq.tillLog(tillId)).map(b64) }
  })
  app.post('/admin/entries', async req => ({ outcomes: await hq.submit((req.body as { entries: string[] }).entries.map(e => new Uint8Array(Buffer.from(e, 'base64')))) }))
  app.post('/admin/enrol', async req => {
    const b = req.body as { store: string, till: number, tillKey: string, fromSeq: number }
    const cert = await hq.enrol({ store: b.store as StoreId, till: b.till, tillKey: Buffer.from(b.tillKey, 'hex') as unknown as PublicKey, fromSeq: b.fromSeq })
    const tillId = `${b.store}-${b.till}` as TillId
    certs.set(tillId, [...(certs.get(tillId) ?? []), cert])
    return { tillId, certificate: b64(cert), hqRootKey: toHex(hq.rootKey), fromSeq: b.fromSeq }
  })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { url, app }
}

describe('mail: `tillbooks recover --from-mail` against HQ\'s admin API', function () {
  this.timeout(60_000)
  let f: Fire
  let stub: { url: string, app: FastifyInstance }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tillbooks-mailcli-'))
    f = await fire()
    stub = await hqStub(f.hq, f.certs)
  })
  after(async () => {
    await stub.app.close()
    for (const s of sinks) await s.close()
    await rm(work, { recursive: true, force: true })
  })

  it('restores into HQ (exactly once) and onto a replacement till dir that continues the numbering', async () => {
    const dir = join(work, 'replacement-S001-1')
    const r = await runRecover({ fromMail: f.maildir, store: 'S001', till: 1, hq: stub.url, toDir: dir })
    const want = f.last.get('S001-1' as TillId)!
    assert.deepEqual(r.restored.map(x => [x.till, x.tillId, x.lastSeq, x.takingsCents]), [[1, 'S001-1', 4, want.takingsCents]])
    assert.deepEqual(r.rejected.map(x => x.reason), ['message for another store: S002-1 (recovering S001)', 'message for another store: S002-1 (recovering S001)'])
    assert.deepEqual({ ...r.hq, url: '' }, { url: '', submitted: 4, accepted: 1, duplicate: 3, rejected: 0, reasons: [] })
    assert.equal(r.toDir?.adopted, true)
    assert.equal(r.toDir?.enrolledFromSeq, 5)
    assert.equal(r.toDir?.nextDocNo, `S001-1-${want.docLast + 1}`)
    const books = f.hq.books.snapshot()
    assert.equal(books.tills['S001-1']?.lastSeq, 4)
    assert.equal(books.tills['S001-2']?.lastSeq, 3, 'only --till 1 was handed over')

    // The replacement till starts from its dir, sells on with the next number, and HQ accepts its new key.
    const kv = new LevelStore(tillDbDir(dir))
    const signer = new Signer(await tillKey(dir))
    const till = new TillNode({ store: kv, clock: new ManualClock(), logger: silentLogger }, { store: 'S001' as StoreId, till: 1, signer, catalogue, hqRootKey: root.publicKey })
    await till.start()
    try {
      await till.openDay(DAY3)
      assert.equal((await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })).docNo, `S001-1-${want.docLast + 1}`)
      const c = (await till.closeDay()).record as Close
      assert.equal(c.seq, 5)
      assert.deepEqual((await f.hq.submit(till.outbox())).map(a => a.status), ['duplicate', 'duplicate', 'duplicate', 'duplicate', 'accepted'])
      assert.equal(f.hq.books.snapshot().tills['S001-1']?.lastSeq, 5)
      assert.equal(f.hq.books.snapshot().stores.S001?.takingsCents, (books.stores.S001?.takingsCents ?? 0) + c.takingsCents.cash + c.takingsCents.card)
    } finally {
      await till.stop()
    }

    // Run again later: the till now holds seq 5, so the mailbox's seq 4 is a replay and nothing rolls back.
    const again = await runRecover({ fromMail: f.maildir, store: 'S001', till: 1, hq: stub.url, toDir: dir })
    assert.deepEqual(again.restored, [])
    assert.match(again.rejected.find(x => x.tillId === 'S001-1')?.reason ?? '', /^replayed older backup: its newest entry is seq 4, older than seq 5 already held by (HQ|the till)$/)
    assert.equal(again.toDir, undefined)
  })

  it('prints one JSON object on the last line with restored and rejected (the CLI contract)', async () => {
    const program = new Command().exitOverride()
    registerRecoverCommand(program)
    const out: string[] = []
    const write = process.stdout.write.bind(process.stdout)
    process.stdout.write = ((chunk: string) => { out.push(chunk); return true }) as typeof process.stdout.write
    try {
      await program.parseAsync(['node', 'tillbooks', 'recover', '--from-mail', f.maildir, '--store', 'S001', '--hq', stub.url, '--json'])
    } finally {
      process.stdout.write = write
    }
    const lines = out.join('').trim().split('\n')
    const j = JSON.parse(lines[lines.length - 1]!) as { restored: Array<{ till: number, lastSeq: number, takingsCents: number }>, rejected: Array<{ source: string, reason: string }> }
    const s2 = f.last.get('S001-2' as TillId)!
    // S001-1 moved on to seq 5 in the test before: its mailed seq 4 is refused as a replay.
    assert.deepEqual(j.restored.map(x => [x.till, x.lastSeq, x.takingsCents]), [[2, 4, s2.takingsCents]])
    assert.deepEqual(j.rejected.map(x => x.reason).sort(), [
      'message for another store: S002-1 (recovering S001)',
      'message for another store: S002-1 (recovering S001)',
      'replayed older backup: its newest entry is seq 4, older than seq 5 already held by HQ'
    ])
    for (const x of j.rejected) assert.ok(x.source.startsWith(f.maildir))
    assert.equal(f.hq.books.snapshot().tills['S001-2']?.lastSeq, 4, 'S001-2\'s close handed to HQ')
    assert.equal(process.exitCode ?? 0, 0)
  })

  it('refuses to run without a way to know HQ\'s root key, and names the options', async () => {
    await assert.rejects(runRecover({ fromMail: f.maildir, store: 'S001' }), /--hq URL, --root-key HEX, or --to-dir/)
    const r = await runRecover({ fromMail: f.maildir, store: 'S001', rootKey: toHex(root.publicKey) })
    assert.deepEqual(r.restored.map(x => x.tillId), ['S001-1', 'S001-2'], 'the certificates carried in the backups, checked against the root key')
    const text = formatRecover(r, f.maildir)
    assert.match(text, /^Read 6 message\(s\) from .* for store S001\.$/m)
    assert.match(text, new RegExp(`^  S001-1: restored to seq 4, last close ${DAY2}, takings [0-9,]+\\.\\d\\d; next document S001-1-${f.last.get('S001-1' as TillId)!.docLast + 1} \\(from mail:`, 'm'))
    assert.match(text, /^Rejected 2:\n  .*: message for another store: S002-1 \(recovering S001\)$/m)
  })
})

/**
 * MailBackup: emails each close's backup over SMTP from a durable outbox.
 *
 * `queue()` builds the message and writes it to the outbox (one fsync'd put) and returns:
 * it never waits for SMTP, so closing the day and selling on never block on mail. A sender
 * loop delivers the outbox in order, deleting a message only once the server accepted it;
 * when the server is down or refuses, it retries with exponential backoff. A backup queued
 * before a crash or restart is still in the outbox afterwards and is sent then.
 *
 * Outbox layout (KvStore): `mb!<tillId>!<seq:12>` → canonical CBOR { v, tillId, seq,
 * messageId, queuedAtMs, raw }. The store is opened by start() and closed by stop().
 */
import type { Transporter } from 'nodemailer'
import { canonicalDecode, canonicalEncode, type Canonical, type TillId } from '@tillbooks/protocol'
import { silentLogger, systemClock, type Clock, type Logger } from '../components.ts'
import { prefixEnd, type KvStore } from '../storage/KvStore.ts'
import type { TillNode } from '../till/TillNode.ts'
import { backupOf, buildBackupMessage, entriesOf, type BackupInput } from './message.ts'

export interface MailBackupOptions {
  /** The durable outbox (LevelStore in the daemon, MemoryStore in tests). Owned: opened by start(), closed by stop(). */
  store: KvStore
  /** `smtp://[user:pass@]host[:port][?requireTLS=true&tls.rejectUnauthorized=false]` or `smtps://…` (TLS from the first byte). */
  smtpUrl?: string
  /** Where backups go. */
  to: string | string[]
  /** Default `tillbooks@localhost`. */
  from?: string
  logger?: Logger
  clock?: Clock
  /** Merged into the URL's settings: e.g. `{ rejectUnauthorized: true, ca }`. */
  tls?: Record<string, unknown>
  /** STARTTLS must succeed (smtp://). Also settable as `?requireTLS=true`. */
  requireTLS?: boolean
  /** First retry delay (default 30 s), doubling up to retryMaxMs (default 1 h). */
  retryMinMs?: number
  retryMaxMs?: number
  /** Connection, greeting and socket timeouts for one attempt (default 30 s). */
  timeoutMs?: number
  /** Labels amounts in the body (default EUR). */
  currency?: string
  /** Instead of SMTP: deliver the raw message or throw (tests, the simulator). */
  send?: (raw: Buffer, envelope: { from: string, to: string[] }) => Promise<void>
}

export interface PendingBackup {
  key: string
  tillId: TillId
  seq: number
  messageId: string
  queuedAtMs: number
  attempts: number
  lastError: string | null
}

export interface QueuedBackup { key: string, tillId: TillId, seq: number, messageId: string, bytes: number }

const PREFIX = 'mb!'
const pad = (n: number): string => String(n).padStart(12, '0')

interface Item extends PendingBackup { raw: Buffer }

export class MailBackup {
  readonly #o: MailBackupOptions
  readonly #logger: Logger
  readonly #clock: Clock
  readonly #to: string[]
  readonly #from: string
  #transport: Transporter | null = null
  readonly #items = new Map<string, Item>()
  #started = false
  #stopping = false
  #lock: Promise<void> = Promise.resolve()
  #scheduled = false
  #timer: NodeJS.Timeout | null = null
  /** Consecutive failed attempts (one server: a failure delays the whole outbox). */
  #failures = 0
  #notBeforeMs = 0
  /** Messages the server accepted since start. */
  sent = 0

  constructor (o: MailBackupOptions) {
    if (o.send === undefined) {
      if (o.smtpUrl === undefined) throw new TypeError('MailBackup needs smtpUrl (or send)')
      const u = new URL(o.smtpUrl)
      if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new TypeError(`smtpUrl must be smtp:// or smtps://, not ${u.protocol}`)
    }
    this.#o = o
    this.#logger = o.logger ?? silentLogger
    this.#clock = o.clock ?? systemClock
    this.#to = Array.isArray(o.to) ? o.to : [o.to]
    if (this.#to.length === 0 || this.#to.some(a => !/^[^\s@<>]+@[^\s@<>]+$/.test(a))) throw new TypeError(`backup address must be user@host: ${this.#to.join(', ')}`)
    this.#from = o.from ?? 'tillbooks@localhost'
  }

  /** Open the outbox and start sending what it holds (e.g. backups queued before a restart). */
  async start (): Promise<void> {
    if (this.#started) return
    await this.#o.store.open()
    for await (const [key, value] of this.#o.store.entries({ gte: PREFIX, lt: prefixEnd(PREFIX) })) {
      const v = canonicalDecode(value) as { tillId: TillId, seq: number, messageId: string, queuedAtMs: number, raw: Uint8Array }
      this.#items.set(key, { key, tillId: v.tillId, seq: v.seq, messageId: v.messageId, queuedAtMs: v.queuedAtMs, attempts: 0, lastError: null, raw: Buffer.from(v.raw) })
    }
    if (this.#o.send === undefined) {
      const { createTransport } = await import('nodemailer')
      const { parseConnectionUrl } = await import('nodemailer/lib/shared')
      const url = parseConnectionUrl(this.#o.smtpUrl)
      const timeout = this.#o.timeoutMs ?? 30_000
      this.#transport = createTransport({
        ...url,
        ...(this.#o.requireTLS === true ? { requireTLS: true } : {}),
        ...(this.#o.tls !== undefined ? { tls: { ...(url.tls ?? {}), ...this.#o.tls } } : {}),
        connectionTimeout: timeout,
        greetingTimeout: timeout,
        socketTimeout: timeout,
        disableFileAccess: true,
        disableUrlAccess: true
      } as Parameters<typeof import('nodemailer').createTransport>[0])
    }
    this.#started = true
    this.#stopping = false
    if (this.#items.size > 0) this.#logger.info({ pending: this.#items.size }, 'mail backup: outbox holds unsent backups')
    this.#kick()
  }

  /** Stop sending (an attempt in flight finishes), close the transport and the outbox. Queued backups stay queued. */
  async stop (): Promise<void> {
    if (!this.#started) return
    this.#stopping = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    await this.#lock
    this.#transport?.close()
    this.#transport = null
    this.#started = false
    this.#items.clear()
    await this.#o.store.close()
  }

  /**
   * Queue a backup: a TillNode (its unacknowledged entries and the last day's StockIn and
   * Close) or explicit entries. Durable when this resolves; sending happens in the background.
   */
  async queue (source: Pick<TillNode, 'tillId' | 'log' | 'outbox'> | BackupInput | { tillId: TillId, entries: Uint8Array[], certificates?: Uint8Array[] }, opts: { certificates?: Uint8Array[] } = {}): Promise<QueuedBackup> {
    if (!this.#started) throw new Error('MailBackup is not started')
    let input: BackupInput
    if ('outbox' in source && typeof source.outbox === 'function') {
      input = backupOf(source, opts.certificates !== undefined ? { certificates: opts.certificates } : {})
    } else {
      const s = source as BackupInput | { tillId: TillId, entries: Uint8Array[], certificates?: Uint8Array[] }
      const entries = s.entries.length > 0 && s.entries[0] instanceof Uint8Array ? entriesOf(s.entries as Uint8Array[]) : s.entries as BackupInput['entries']
      const certificates = opts.certificates ?? s.certificates
      input = { tillId: s.tillId, entries, ...(certificates !== undefined ? { certificates } : {}) }
    }
    const queuedAtMs = this.#clock.nowMs()
    const built = await buildBackupMessage(input, { from: this.#from, to: this.#to, dateMs: queuedAtMs, ...(this.#o.currency !== undefined ? { currency: this.#o.currency } : {}) })
    const key = `${PREFIX}${built.tillId}!${pad(built.seq)}`
    const value = canonicalEncode({ v: 1, tillId: built.tillId, seq: built.seq, messageId: built.messageId, queuedAtMs, raw: new Uint8Array(built.raw) } as unknown as Canonical)
    await this.#o.store.batch([{ type: 'put', key, value }], { sync: true })
    this.#items.set(key, { key, tillId: built.tillId, seq: built.seq, messageId: built.messageId, queuedAtMs, attempts: 0, lastError: null, raw: built.raw })
    this.#logger.info({ tillId: built.tillId, seq: built.seq, entries: built.entries, messageId: built.messageId }, 'mail backup queued')
    this.#kick()
    return { key, tillId: built.tillId, seq: built.seq, messageId: built.messageId, bytes: built.raw.length }
  }

  /** Backups not yet accepted by the server, oldest first per till. */
  pending (): PendingBackup[] {
    return [...this.#items.values()].sort((a, b) => a.key < b.key ? -1 : 1).map(({ raw: _, ...p }) => p)
  }

  /** Try to send everything now, ignoring the backoff. Resolves once the attempt is over. */
  async flush (): Promise<{ sent: number, pending: number }> {
    const before = this.sent
    this.#notBeforeMs = 0
    await this.#locked(async () => { await this.#drain() })
    return { sent: this.sent - before, pending: this.#items.size }
  }

  /** One drain at a time: a message is never handed to the server twice at once. */
  async #locked (fn: () => Promise<void>): Promise<void> {
    const run = this.#lock.then(fn)
    this.#lock = run.catch(() => {})
    await run
  }

  #kick (): void {
    if (!this.#started || this.#stopping || this.#scheduled) return
    this.#scheduled = true
    void this.#locked(async () => {
      this.#scheduled = false
      await this.#drain()
    }).catch(err => { this.#logger.error({ err: (err as Error).message }, 'mail backup: outbox error') }).finally(() => { this.#arm() })
  }

  #arm (): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (!this.#started || this.#stopping || this.#scheduled || this.#items.size === 0) return
    const delay = Math.max(0, this.#notBeforeMs - this.#clock.nowMs())
    this.#timer = setTimeout(() => { this.#timer = null; this.#kick() }, delay)
    this.#timer.unref()
  }

  async #drain (): Promise<void> {
    if (this.#clock.nowMs() < this.#notBeforeMs) return
    for (const key of [...this.#items.keys()].sort()) {
      if (this.#stopping) return
      const item = this.#items.get(key)
      if (item === undefined) continue
      item.attempts++
      try {
        await this.#send(item.raw)
      } catch (err) {
        item.lastError = (err as Error).message
        this.#failures++
        const min = this.#o.retryMinMs ?? 30_000
        const max = this.#o.retryMaxMs ?? 3_600_000
        const delay = Math.min(max, min * 2 ** Math.min(30, this.#failures - 1))
        this.#notBeforeMs = this.#clock.nowMs() + delay
        this.#logger.warn({ tillId: item.tillId, seq: item.seq, attempts: item.attempts, retryInMs: delay, err: item.lastError }, 'mail backup not sent; will retry')
        return
      }
      this.#failures = 0
      this.sent++
      this.#items.delete(key)
      await this.#o.store.batch([{ type: 'del', key }], { sync: true })
      this.#logger.info({ tillId: item.tillId, seq: item.seq, attempts: item.attempts, messageId: item.messageId }, 'mail backup sent')
    }
  }

  async #send (raw: Buffer): Promise<void> {
    const envelope = { from: this.#from, to: this.#to }
    if (this.#o.send !== undefined) { await this.#o.send(raw, envelope); return }
    if (this.#transport === null) throw new Error('no SMTP transport')
    await this.#transport.sendMail({ envelope, raw })
  }
}

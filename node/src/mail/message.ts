/**
 * The backup message: what a till emails at close. A MIME message (nodemailer's
 * MailComposer) with a plain-text summary for people and one attachment for machines:
 *
 *   <store>-<till>-<seq>.tillbooks   application/vnd.tillbooks.backup+cbor, base64
 *   canonical CBOR { v: 1, tillId, entries: [envelope bytes...], certificates: [cert bytes...] }
 *
 * `entries` are the till's signed log entries exactly as signed (seq ascending): at least
 * the Close and the day's StockIn, plus everything HQ has not acknowledged. `certificates`
 * are HQ-signed enrolment certificates for the slot (optional; they prove nothing without
 * HQ's root key). The X-Tillbooks-* headers help filing and are never trusted.
 *
 * The bytes are a pure function of the entries, the addresses and the date: the
 * Message-ID and the MIME boundary derive from the head entry's hash, so the same backup
 * built twice is the same message (the simulator relies on it; a resend is recognisable).
 */
import MailComposer from 'nodemailer/lib/mail-composer'
import {
  arr, canonicalDecode, canonicalEncode, InvalidRecordError, MalformedError, obj, openEntry, parseTillId, str,
  type Canonical, type Entry, type TillId
} from '@tillbooks/protocol'
import type { TillNode } from '../till/TillNode.ts'
import { bodyOf, subjectOf } from './format.ts'

export const BACKUP_CONTENT_TYPE = 'application/vnd.tillbooks.backup+cbor'
export const BACKUP_EXTENSION = '.tillbooks'
/** Entries in one backup. At two a day this is years of unacknowledged log. */
export const BACKUP_ENTRIES_MAX = 4096
/** Certificates in one backup. */
export const BACKUP_CERTIFICATES_MAX = 64
/** An attachment larger than this is not read. */
export const BACKUP_BYTES_MAX = 32 * 1024 * 1024

export interface BackupPayload {
  v: 1
  tillId: TillId
  entries: Uint8Array[]
  certificates: Uint8Array[]
}

const TILL_ID_RE = /^[A-Z][A-Z0-9]{0,15}-[1-9]\d{0,2}$/

export function encodeBackupPayload (p: BackupPayload): Uint8Array {
  return canonicalEncode({ v: 1, tillId: p.tillId, entries: p.entries, certificates: p.certificates } as unknown as Canonical)
}

/** Decode an attachment. Throws MalformedError / InvalidRecordError with the reason. */
export function decodeBackupPayload (bytes: Uint8Array): BackupPayload {
  if (bytes.length > BACKUP_BYTES_MAX) throw new MalformedError(`attachment of ${bytes.length} bytes, at most ${BACKUP_BYTES_MAX}`)
  const o = obj(canonicalDecode(bytes), 'backup', ['v', 'tillId', 'entries', 'certificates'])
  if (o.v !== 1) throw new InvalidRecordError('unsupported backup version')
  const tillId = str(o.tillId, 'tillId', TILL_ID_RE, 20) as TillId
  parseTillId(tillId)
  const list = (v: Canonical | undefined, path: string, max: number): Uint8Array[] => arr(v, path, max).map((b, i) => {
    if (!(b instanceof Uint8Array)) throw new InvalidRecordError(`${path}[${i}] must be bytes`)
    return b
  })
  return { v: 1, tillId, entries: list(o.entries, 'entries', BACKUP_ENTRIES_MAX), certificates: list(o.certificates, 'certificates', BACKUP_CERTIFICATES_MAX) }
}

/** What one backup carries. */
export interface BackupInput {
  tillId: TillId
  /** The till's signed entries, seq ascending, no repeats. */
  entries: Entry[]
  certificates?: Uint8Array[]
}

export interface MessageOptions {
  from: string
  to: string | string[]
  /** The Date header (the till's clock at queueing). */
  dateMs: number
  /** Labels amounts in the body (the records are currency-free integer cents). Default EUR. */
  currency?: string
}

export interface BuiltBackup {
  raw: Buffer
  tillId: TillId
  /** Head seq and hash of the entries carried. */
  seq: number
  headHash: string
  firstSeq: number
  entries: number
  messageId: string
  filename: string
}

/**
 * What a till backs up at close: every entry HQ has not acknowledged, plus the entries of
 * the last business day in the log (its StockIn and Close), seq ascending. If more than
 * `max` qualify, the newest `max` are kept (recovery then needs HQ or an earlier backup
 * for the rest).
 */
export function backupOf (till: Pick<TillNode, 'tillId' | 'log' | 'outbox'>, opts: { certificates?: Uint8Array[], max?: number } = {}): BackupInput {
  const log = till.log
  const unacked = new Set(till.outbox())
  const head = log[log.length - 1]
  const lastDay = head?.record.businessDay
  let entries = log.filter(e => unacked.has(e.bytes) || e.record.businessDay === lastDay)
  const max = opts.max ?? BACKUP_ENTRIES_MAX
  if (entries.length > max) entries = entries.slice(entries.length - max)
  return { tillId: till.tillId, entries, ...(opts.certificates !== undefined ? { certificates: opts.certificates } : {}) }
}

/** Entries from bytes (e.g. a till's outbox), for callers that hold no Entry objects. */
export function entriesOf (bytes: Uint8Array[]): Entry[] {
  return bytes.map(b => openEntry(b, { verify: false })).sort((a, b) => a.record.seq - b.record.seq)
}

function checkInput (input: BackupInput): Entry[] {
  const { entries } = input
  if (entries.length === 0) throw new RangeError('a backup needs at least one entry')
  if (entries.length > BACKUP_ENTRIES_MAX) throw new RangeError(`a backup holds at most ${BACKUP_ENTRIES_MAX} entries`)
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry
    if (e.tillId !== input.tillId) throw new RangeError(`entry of ${e.tillId} in a backup of ${input.tillId}`)
    if (i > 0 && e.record.seq <= (entries[i - 1] as Entry).record.seq) throw new RangeError('backup entries must be seq ascending, without repeats')
  }
  return entries
}

function domainOf (address: string): string {
  const m = /@([A-Za-z0-9.-]+)>?\s*$/.exec(address)
  return m?.[1] ?? 'tillbooks.invalid'
}

/** Build the MIME message (RFC 5322 bytes, CRLF line ends). Deterministic. */
export async function buildBackupMessage (input: BackupInput, opts: MessageOptions): Promise<BuiltBackup> {
  const entries = checkInput(input)
  const head = entries[entries.length - 1] as Entry
  const first = entries[0] as Entry
  const { store } = parseTillId(input.tillId)
  const seq = head.record.seq
  const filename = `${input.tillId}-${seq}${BACKUP_EXTENSION}`
  const payload = encodeBackupPayload({ v: 1, tillId: input.tillId, entries: entries.map(e => e.bytes), certificates: input.certificates ?? [] })
  const messageId = `<tillbooks.${input.tillId}.${seq}.${head.hash.slice(0, 16)}@${domainOf(opts.from)}>`
  const composer = new MailComposer({
    from: opts.from,
    to: opts.to,
    subject: subjectOf(entries, input.tillId, opts.currency ?? 'EUR'),
    date: new Date(opts.dateMs),
    messageId,
    baseBoundary: head.hash.slice(0, 24),
    headers: {
      'X-Tillbooks-Store': store,
      'X-Tillbooks-Till': input.tillId,
      'X-Tillbooks-Seq': String(seq),
      'X-Tillbooks-First-Seq': String(first.record.seq),
      'X-Tillbooks-Business-Day': head.record.businessDay,
      'X-Tillbooks-Head': head.hash
    },
    text: bodyOf({ tillId: input.tillId, entries, currency: opts.currency ?? 'EUR', attachment: filename }),
    attachments: [{ filename, content: Buffer.from(payload), contentType: BACKUP_CONTENT_TYPE, contentTransferEncoding: 'base64' }]
  })
  const raw = await composer.compile().build()
  return { raw, tillId: input.tillId, seq, headHash: head.hash, firstSeq: first.record.seq, entries: entries.length, messageId, filename }
}

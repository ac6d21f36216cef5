/**
 * Reading one backup message with mailparser: its date (for ordering only), Message-ID,
 * filing hints, and the tillbooks attachments' bytes. Nothing here is trusted: the
 * attachment is decoded and every entry verified by recovery.
 */
import { BACKUP_CONTENT_TYPE, BACKUP_EXTENSION } from './message.ts'
import type { RawMessage } from './mailbox.ts'

export interface ParsedBackup {
  source: string
  /** The Date header in ms, or null when absent/unparseable. Untrusted: used to order messages only. */
  dateMs: number | null
  messageId: string | null
  subject: string | null
  /** X-Tillbooks-* headers: filing hints, never trusted. */
  hints: { store?: string, till?: string, seq?: string }
  /** The tillbooks attachments (by content type or `.tillbooks` file name). */
  attachments: Array<{ filename: string | null, bytes: Uint8Array }>
  /** Set when the message could not be parsed at all. */
  error?: string
}

function header (headers: Map<string, unknown>, name: string): string | undefined {
  const v = headers.get(name)
  return typeof v === 'string' ? v.slice(0, 200) : undefined
}

export async function parseBackupMessage (msg: RawMessage): Promise<ParsedBackup> {
  const base = { source: msg.source, dateMs: null, messageId: null, subject: null, hints: {}, attachments: [] }
  try {
    // Loaded on first use: mailparser costs ~0.4 s to import, and most users of this package never parse mail.
    const { simpleParser } = await import('mailparser')
    const parsed = await simpleParser(msg.raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true })
    const date = parsed.date?.getTime()
    const hints: ParsedBackup['hints'] = {}
    const store = header(parsed.headers, 'x-tillbooks-store')
    const till = header(parsed.headers, 'x-tillbooks-till')
    const seq = header(parsed.headers, 'x-tillbooks-seq')
    if (store !== undefined) hints.store = store
    if (till !== undefined) hints.till = till
    if (seq !== undefined) hints.seq = seq
    const attachments = parsed.attachments
      .filter(a => a.contentType === BACKUP_CONTENT_TYPE || (a.filename ?? '').toLowerCase().endsWith(BACKUP_EXTENSION))
      .map(a => ({ filename: a.filename ?? null, bytes: new Uint8Array(a.content.buffer, a.content.byteOffset, a.content.byteLength) }))
    return {
      source: msg.source,
      dateMs: date !== undefined && Number.isFinite(date) ? date : null,
      messageId: parsed.messageId ?? null,
      subject: parsed.subject ?? null,
      hints,
      attachments
    }
  } catch (err) {
    return { ...base, error: `not a readable MIME message: ${(err as Error).message}` }
  }
}

export async function parseBackupMessages (msgs: RawMessage[]): Promise<ParsedBackup[]> {
  const out: ParsedBackup[] = []
  for (const m of msgs) out.push(await parseBackupMessage(m))
  return out
}

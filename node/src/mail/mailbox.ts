/**
 * Mailboxes on disk: a Maildir (new/ and cur/), an mbox file, a folder of .eml files, or a
 * single .eml file. Reading yields each message's raw bytes and where it came from (the
 * `source` recovery reports). Writing helpers deliver into a Maildir (tmp/, then rename
 * into new/, so a reader never sees half a message) and format mboxrd entries.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'

export interface RawMessage {
  /** The message file (Maildir, .eml), or `<mbox file>#<n>` (1-based) for an mbox. */
  source: string
  raw: Buffer
}

/** A single message larger than this is not read (reported instead). */
export const MESSAGE_BYTES_MAX = 48 * 1024 * 1024

export interface MailboxRead {
  kind: 'maildir' | 'mbox' | 'eml-folder' | 'eml'
  messages: RawMessage[]
  /** Files that could not be read as messages (too large, unreadable), with why. */
  unreadable: Array<{ source: string, reason: string }>
}

async function isDir (p: string): Promise<boolean> {
  try { return (await stat(p)).isDirectory() } catch { return false }
}

async function readMessageFile (path: string, out: MailboxRead): Promise<void> {
  try {
    const s = await stat(path)
    if (!s.isFile()) return
    if (s.size > MESSAGE_BYTES_MAX) { out.unreadable.push({ source: path, reason: `message of ${s.size} bytes, at most ${MESSAGE_BYTES_MAX}` }); return }
    out.messages.push({ source: path, raw: await readFile(path) })
  } catch (err) {
    out.unreadable.push({ source: path, reason: `unreadable: ${(err as Error).message}` })
  }
}

/** Read every message at `path`: a Maildir, an mbox file, a folder of .eml files, or one .eml. */
export async function readMailbox (path: string): Promise<MailboxRead> {
  const s = await stat(path)
  if (s.isDirectory()) {
    if (await isDir(join(path, 'new')) || await isDir(join(path, 'cur'))) {
      const out: MailboxRead = { kind: 'maildir', messages: [], unreadable: [] }
      for (const sub of ['cur', 'new']) {
        const dir = join(path, sub)
        if (!await isDir(dir)) continue
        for (const name of (await readdir(dir)).filter(n => !n.startsWith('.')).sort()) await readMessageFile(join(dir, name), out)
      }
      return out
    }
    const out: MailboxRead = { kind: 'eml-folder', messages: [], unreadable: [] }
    for (const name of (await readdir(path)).filter(n => /\.eml$/i.test(n) && !n.startsWith('.')).sort()) await readMessageFile(join(path, name), out)
    return out
  }
  const head = Buffer.alloc(5)
  const fh = await open(path, 'r')
  try { await fh.read(head, 0, 5, 0) } finally { await fh.close() }
  if (head.toString('latin1') === 'From ') {
    if (s.size > 16 * MESSAGE_BYTES_MAX) throw new RangeError(`${path}: mbox of ${s.size} bytes is too large to read at once`)
    return { kind: 'mbox', messages: splitMbox(await readFile(path), path), unreadable: [] }
  }
  const out: MailboxRead = { kind: 'eml', messages: [], unreadable: [] }
  await readMessageFile(path, out)
  return out
}

/**
 * Split an mbox (mboxo or mboxrd) into messages. A message starts at a line beginning
 * `From ` at the start of the file or after an empty line (the separator the writer adds);
 * that postmark line is dropped, as is the empty line before the next one. Quoted lines
 * `>From `, `>>From `… lose one `>` (mboxrd; for mboxo this restores the common case).
 */
export function splitMbox (buf: Buffer, source: string): RawMessage[] {
  const text = buf.toString('latin1')
  const lines = text.split('\n')
  const messages: RawMessage[] = []
  let current: string[] | null = null
  const finish = (): void => {
    if (current === null) return
    // The empty line that separates this message from the next postmark is not part of it.
    if (current.length > 0 && (current[current.length - 1] === '' || current[current.length - 1] === '\r')) current.pop()
    messages.push({ source: `${source}#${messages.length + 1}`, raw: Buffer.from(current.join('\n') + '\n', 'latin1') })
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const prev = i === 0 ? '' : lines[i - 1] as string
    if (line.startsWith('From ') && (i === 0 || prev === '' || prev === '\r')) {
      finish()
      current = []
      continue
    }
    if (current === null) continue // text before the first postmark is not a message
    if (i === lines.length - 1 && line === '') continue // the file's final newline
    current.push(/^>+From /.test(line) ? line.slice(1) : line)
  }
  finish()
  return messages
}

/** One mboxrd entry: the postmark line, the message with `From ` lines quoted, and an empty line. */
export function mboxEntry (raw: Buffer | string, opts: { sender?: string, dateMs: number }): Buffer {
  const text = (typeof raw === 'string' ? raw : raw.toString('latin1')).replace(/\r\n/g, '\n')
  const quoted = text.split('\n').map(l => /^>*From /.test(l) ? `>${l}` : l).join('\n')
  const d = new Date(opts.dateMs)
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
  const p2 = (n: number): string => String(n).padStart(2, '0')
  const asctime = `${days[d.getUTCDay()] ?? ''} ${months[d.getUTCMonth()] ?? ''} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}`
  return Buffer.from(`From ${opts.sender ?? 'MAILER-DAEMON'} ${asctime}\n${quoted}${quoted.endsWith('\n') ? '' : '\n'}\n`, 'latin1')
}

let delivered = 0

/** Deliver a message into a Maildir: write it under tmp/ (flushed), then rename it into new/. Returns its path. */
export async function deliverToMaildir (dir: string, raw: Buffer | Uint8Array): Promise<string> {
  for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(dir, sub), { recursive: true })
  const now = Date.now()
  const name = `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}Q${++delivered}R${randomBytes(4).toString('hex')}.${hostname().replace(/[/:]/g, '_')}`
  const tmp = join(dir, 'tmp', name)
  await writeFile(tmp, raw, { flush: true })
  const final = join(dir, 'new', name)
  await rename(tmp, final)
  return final
}

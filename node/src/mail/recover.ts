/**
 * Fire recovery from email backups. Every message in the mailbox is untrusted: its
 * attachment is decoded, every entry's signature is checked against the key HQ enrolled
 * for that till and seq, and the entries of the messages that pass are pooled (with HQ's
 * copy of the log, when given) into candidates for `chooseChain`, which keeps the longest
 * verified hash chain. A message is rejected, with a stated reason, when it is:
 *
 * - not a tillbooks backup, or its attachment does not decode (tampered attachment);
 * - for another store than the one being recovered;
 * - signed by a key that is not enrolled for the till at that seq, or for a till that is
 *   not enrolled at all (forged);
 * - carrying an entry whose signature does not verify under its own signer (tampered);
 * - carrying entries that do not link back to the verified chain (truncated chain);
 * - a replay: a backup no newer than one dated before it in the mailbox, or whose newest
 *   entry is older than what HQ or the till already holds (it must not roll a till back).
 *
 * A rejected message is never the restore point. (A replayed copy of a genuine backup
 * carries genuine entries; they may still fill the chain below the restore point, which
 * can never move it back, because the chain chosen is the longest that verifies.)
 */
import {
  Enrolment, openEntry, parseTillId, rejectionOf, signingBytes, toHex, verifySignature,
  type Entry, type PublicKey, type TillId
} from '@tillbooks/protocol'
import { chooseChain, type LogCandidate } from '../recovery/chooseChain.ts'
import { lastCloseOf, takingsOf } from './format.ts'
import { readMailbox, type RawMessage } from './mailbox.ts'
import { decodeBackupPayload } from './message.ts'
import { parseBackupMessages, type ParsedBackup } from './parse.ts'

type MaybePromise<T> = T | Promise<T>

export interface RecoverFromMailOptions {
  /** A Maildir, an mbox file, a folder of .eml files or one .eml file. */
  path?: string
  /** Raw messages instead of (or besides) `path`. */
  messages?: RawMessage[]
  /** Messages already parsed with `parseBackupMessage` (the simulator parses as mail arrives). */
  parsed?: ParsedBackup[]
  /** The store being recovered: messages for any other store are rejected. */
  store: string
  /** Only this till (others of the store are skipped, not rejected). */
  till?: number
  /** HQ's root public key: the only thing trusted. */
  rootKey: PublicKey | Uint8Array
  /** HQ's certificates for the slot (e.g. GET /admin/certificates/:tillId). */
  certificates?: (tillId: TillId) => MaybePromise<Uint8Array[]>
  /** Also use root-signed certificates carried inside backups (default true). */
  trustMessageCertificates?: boolean
  /** Another copy of the log to verify alongside the mail (e.g. HQ's: GET /admin/log/:tillId). */
  baseLog?: (tillId: TillId) => MaybePromise<{ source: string, entries: Uint8Array[] } | null>
  /** The highest seq HQ already holds for the till: a backup older than it is a replay. */
  heldSeq?: (tillId: TillId) => MaybePromise<number>
  /** The head seq of the till's own log (a replacement's data dir): never rolled back either. */
  currentHead?: (tillId: TillId) => MaybePromise<number>
}

export interface RestoredTill {
  store: string
  till: number
  tillId: TillId
  lastSeq: number
  headHash: string
  /** The restored last Close's takings (every tender), integer cents; 0 if the chain holds no Close. */
  takingsCents: number
  businessDay: string | null
  /** The last Close's last document number; the replacement continues at docLast + 1. */
  docLast: number | null
  nextDocN: number
  /** The message (or base copy) the head entry came from. */
  from: string
  /** The verified chain, seq 1..lastSeq. */
  entries: Entry[]
}

export interface MailRejection { source: string, reason: string, tillId?: string }

export interface MailRecovery {
  store: string
  restored: RestoredTill[]
  rejected: MailRejection[]
  /** Messages read. */
  messages: number
  /** Messages for other tills of the store, skipped because of `till`. */
  skipped: number
}

interface Screened {
  source: string
  dateMs: number
  tillId: TillId
  entries: Entry[]
  certificates: Uint8Array[]
}

const short = (key: Uint8Array): string => `${toHex(key).slice(0, 16)}…`

/** Decode and sort out one message: a till's entries, or why not. */
function screenMessage (m: ParsedBackup, store: string): { ok: Screened } | { rejected: string } {
  if (m.error !== undefined) return { rejected: m.error }
  if (m.attachments.length === 0) return { rejected: 'not a tillbooks backup: no .tillbooks attachment' }
  let tillId: TillId | null = null
  const entries: Entry[] = []
  const certificates: Uint8Array[] = []
  for (const a of m.attachments) {
    let payload
    try {
      payload = decodeBackupPayload(a.bytes)
    } catch (err) {
      return { rejected: `tampered attachment: ${a.filename ?? 'the attachment'} does not decode: ${rejectionOf(err).reason}` }
    }
    if (tillId !== null && payload.tillId !== tillId) return { rejected: `tampered attachment: backups of ${tillId} and ${payload.tillId} in one message` }
    tillId = payload.tillId
    for (let i = 0; i < payload.entries.length; i++) {
      let e: Entry
      try {
        e = openEntry(payload.entries[i] as Uint8Array, { verify: false })
      } catch (err) {
        return { rejected: `tampered attachment: entry ${i + 1}: ${rejectionOf(err).reason}` }
      }
      if (e.tillId !== payload.tillId) return { rejected: `tampered attachment: an entry of ${e.tillId} in a backup of ${payload.tillId}` }
      entries.push(e)
    }
    certificates.push(...payload.certificates)
  }
  if (tillId === null || entries.length === 0) return { rejected: 'empty backup: no entries' }
  const msgStore = parseTillId(tillId).store
  if (msgStore !== store) return { rejected: `message for another store: ${tillId} (recovering ${store})` }
  entries.sort((a, b) => a.record.seq - b.record.seq)
  return { ok: { source: m.source, dateMs: m.dateMs ?? 0, tillId, entries, certificates } }
}

/** Every entry signed by the key enrolled for its seq, and intact: or the first reason it is not. */
function checkSignatures (s: Screened, enrolment: Enrolment): string | null {
  if (!enrolment.has(s.tillId)) return `forged: ${s.tillId} is not enrolled (no certificate from HQ's root key)`
  for (const e of s.entries) {
    const seq = e.record.seq
    if (!verifySignature(e.sig, signingBytes(e.record.kind, e.body), e.signer)) {
      return `tampered attachment: the signature on ${s.tillId} seq ${seq} does not verify (the entry was altered)`
    }
    const key = enrolment.keyFor(s.tillId, seq)
    if (key === undefined) return `forged: no key is enrolled for ${s.tillId} at seq ${seq}`
    if (Buffer.compare(key, e.signer) !== 0) return `forged: ${s.tillId} seq ${seq} is signed by ${short(e.signer)}, not by ${short(key)}, the key enrolled for it`
  }
  return null
}

function seqRange (entries: Entry[]): string {
  const a = entries[0]?.record.seq
  const b = entries[entries.length - 1]?.record.seq
  return a === b ? `seq ${a}` : `seq ${a}..${b}`
}

export async function recoverFromMail (o: RecoverFromMailOptions): Promise<MailRecovery> {
  const store = o.store
  const raw: RawMessage[] = [...(o.messages ?? [])]
  const rejected: MailRejection[] = []
  if (o.path !== undefined) {
    const box = await readMailbox(o.path)
    raw.push(...box.messages)
    for (const u of box.unreadable) rejected.push(u)
  }
  const parsed = [...(o.parsed ?? []), ...await parseBackupMessages(raw)]
  const byTill = new Map<TillId, Screened[]>()
  let skipped = 0
  for (const m of parsed) {
    const r = screenMessage(m, store)
    if ('rejected' in r) { rejected.push({ source: m.source, reason: r.rejected }); continue }
    const s = r.ok
    if (o.till !== undefined && parseTillId(s.tillId).till !== o.till) { skipped++; continue }
    const list = byTill.get(s.tillId) ?? []
    list.push(s)
    byTill.set(s.tillId, list)
  }
  if (o.till !== undefined) {
    const wanted = `${store}-${o.till}` as TillId
    if (!byTill.has(wanted)) byTill.set(wanted, [])
  }

  const restored: RestoredTill[] = []
  for (const tillId of [...byTill.keys()].sort()) {
    const msgs = (byTill.get(tillId) ?? []).sort((a, b) => a.dateMs - b.dateMs || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0))
    const reject = (s: Screened, reason: string): void => { rejected.push({ source: s.source, reason, tillId }) }
    const enrolment = new Enrolment(o.rootKey as PublicKey)
    for (const c of await o.certificates?.(tillId) ?? []) enrolment.add(c)
    if (o.trustMessageCertificates ?? true) {
      for (const s of msgs) for (const c of s.certificates) { try { enrolment.add(c) } catch { /* not signed by HQ's root: ignored */ } }
    }
    const good: Screened[] = []
    for (const s of msgs) {
      const bad = checkSignatures(s, enrolment)
      if (bad !== null) reject(s, bad)
      else good.push(s)
    }
    if (good.length === 0) continue

    // Candidates, in order of preference on a tie: the mail alone, the mail with the base copy, the base copy.
    const pool: Uint8Array[] = good.flatMap(s => s.entries.map(e => e.bytes))
    const base = await o.baseLog?.(tillId) ?? null
    const candidates: LogCandidate[] = [{ source: 'mail', entries: pool }]
    if (base !== null && base.entries.length > 0) {
      candidates.push({ source: `mail+${base.source}`, entries: [...pool, ...base.entries] })
      candidates.push({ source: base.source, entries: base.entries })
    }
    const choice = chooseChain(tillId, enrolment, candidates)
    const headSeq = choice.head?.seq ?? 0
    const onChain = new Set(choice.entries.map(e => e.hash))
    const stop = choice.rejected.find(r => r.source === (choice.from ?? 'mail') && r.reason.startsWith('chain stops'))?.reason ??
      choice.rejected.find(r => r.source === 'mail' && r.reason.startsWith('chain stops'))?.reason

    // Truncated chains, then replays within the mailbox (in date order).
    const consistent: Array<{ s: Screened, head: number }> = []
    let newest: { seq: number, source: string } | null = null
    for (const s of good) {
      const off = s.entries.filter(e => !onChain.has(e.hash))
      if (off.length > 0) {
        const why = stop ?? (headSeq === 0 ? 'no verifiable chain from seq 1' : `the verified chain ends at seq ${headSeq}`)
        reject(s, `truncated chain: ${seqRange(off)} do${off.length === 1 ? 'es' : ''} not link back to a verifiable chain (${why})`)
        continue
      }
      const head = (s.entries[s.entries.length - 1] as Entry).record.seq
      if (newest !== null && head <= newest.seq) {
        reject(s, `replayed older backup: its newest entry is seq ${head}, but ${newest.source}, dated no later, already reached seq ${newest.seq}`)
        continue
      }
      newest = { seq: head, source: s.source }
      consistent.push({ s, head })
    }
    if (newest === null) continue

    // Never roll back what HQ or the till already holds.
    const held = await o.heldSeq?.(tillId) ?? 0
    const current = await o.currentHead?.(tillId) ?? 0
    const floor = Math.max(held, current)
    if (newest.seq < floor) {
      const who = current >= held ? 'the till' : 'HQ'
      for (const c of consistent) if (c.head === newest.seq) reject(c.s, `replayed older backup: its newest entry is seq ${newest.seq}, older than seq ${floor} already held by ${who}`)
      continue
    }
    if (headSeq < floor || headSeq === 0) continue

    const headHash = choice.head?.hash ?? ''
    const close = lastCloseOf(choice.entries)
    const { till } = parseTillId(tillId)
    const carrier = consistent.find(c => c.s.entries.some(e => e.hash === headHash))
    restored.push({
      store,
      till,
      tillId,
      lastSeq: headSeq,
      headHash,
      takingsCents: close === undefined ? 0 : takingsOf(close),
      businessDay: close?.businessDay ?? null,
      docLast: close?.docLast ?? null,
      nextDocN: (close?.docLast ?? 0) + 1,
      from: carrier !== undefined ? `mail:${carrier.s.source}` : (choice.from ?? 'mail'),
      entries: choice.entries
    })
  }
  return { store, restored, rejected, messages: parsed.length, skipped }
}

/** The report as JSON-friendly data (entries left out). */
export function recoveryJson (r: MailRecovery): { store: string, restored: Array<Omit<RestoredTill, 'entries'>>, rejected: MailRejection[], messages: number, skipped: number } {
  return {
    store: r.store,
    restored: r.restored.map(({ entries: _, ...rest }) => rest),
    rejected: r.rejected,
    messages: r.messages,
    skipped: r.skipped
  }
}

/**
 * The verdict on a log: a pure function of the set of stored (key, bytes) pairs and of
 * the enrolment (`keyFor`). The same set in any order, with any duplicates, gives the same
 * report, which is what makes converged replicas agree on the chain, forks and forgeries.
 */
import {
  GENESIS_HASH, bytesEqual, openEntry, toHex,
  type Entry, type EntryHash, type PublicKey, type Rejection, type RejectionCode, type TillId
} from '@tillbooks/protocol'
import { LOG_SEQ_MAX } from './constants.ts'
import { entryKey, parseEntryKey } from './entryKey.ts'
import { logRejectionOf } from './errors.ts'

/** The key enrolled to sign `seq` of `tillId` (protocol's `Enrolment.keyFor`), or undefined. */
export type KeyFor = (tillId: TillId, seq: number) => PublicKey | undefined

export interface LogHead { seq: number, hash: EntryHash }

/** A seq with two or more distinct validly-signed records: the till (or its key) equivocated. */
export interface Fork { seq: number, hashes: EntryHash[] }

/** A stored entry that is not a valid signed entry of this till at its seq, and why. */
export interface InvalidEntry { key: string, code: RejectionCode, reason: string }

/** Why the chain ends where it does, when something valid lies beyond it. */
export interface ChainStop {
  /** The first seq not in the chain (head.seq + 1). */
  seq: number
  /** GAP: no valid entry at seq; FORK: two or more; CHAIN: one, but its prevHash is not the head's hash. */
  code: 'GAP' | 'FORK' | 'CHAIN'
  reason: string
}

export interface LogReport {
  /** The longest clean prefix 1..k: one valid entry per seq, each linked to the one before. */
  chain: Entry[]
  head: LogHead | null
  /** Every seq holding two or more distinct validly-signed entries, by seq; hashes sorted. */
  forks: Fork[]
  /** Entries that fail to decode, to verify, to match their key or the till, or are signed by a key not enrolled for their seq. By key. */
  invalid: InvalidEntry[]
  /** The first seq of each run of seqs with no valid entry that has valid entries beyond it. */
  gaps: number[]
  /** Why the chain stops at head; null when nothing valid lies beyond the head. */
  stop: ChainStop | null
}

/** A (key, value) pair as read from the document; the value is untrusted. */
export interface StoredEntry { key: string, bytes: unknown }

/**
 * Results of opening a stored (key, bytes) pair: decode, signature against the envelope's
 * signer, record rules, and the key the bytes give. Pure in the pair, so kept across
 * verifies: a warm verify checks no signature twice.
 */
export type OpenCache = Map<string, { bytes: Uint8Array, result: Entry | Rejection }>

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** Open the bytes stored under `key`, or say why they are not a well-formed, self-signed entry belonging under it. */
export function openStored (key: string, bytes: Uint8Array, cache: OpenCache | undefined): Entry | Rejection {
  const hit = cache?.get(key)
  if (hit !== undefined && sameBytes(hit.bytes, bytes)) return hit.result
  let result: Entry | Rejection
  try {
    result = openEntry(bytes)
    const seq = result.record.seq
    if (seq > LOG_SEQ_MAX) result = { code: 'INVALID', reason: `seq ${seq} is beyond ${LOG_SEQ_MAX}` }
    else if (entryKey(seq, result.hash, bytes) !== key) result = { code: 'MALFORMED', reason: 'stored under a key its bytes do not give' }
  } catch (err) {
    result = logRejectionOf(err)
  }
  cache?.set(key, { bytes, result })
  return result
}

function isRejection (r: Entry | Rejection): r is Rejection {
  return 'code' in r
}

function compareStored (a: StoredEntry, b: StoredEntry): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1
  const x = a.bytes instanceof Uint8Array ? a.bytes : new Uint8Array(0)
  const y = b.bytes instanceof Uint8Array ? b.bytes : new Uint8Array(0)
  return Buffer.compare(x, y)
}

function shortHex (bytes: Uint8Array): string {
  return `${toHex(bytes).slice(0, 16)}…`
}

/** Check one stored entry; the valid Entry, or why not. */
function check (tillId: TillId, s: StoredEntry, keyFor: KeyFor, cache: OpenCache | undefined): { entry: Entry } | { invalid: InvalidEntry } {
  const bad = (code: RejectionCode, reason: string): { invalid: InvalidEntry } => ({ invalid: { key: s.key, code, reason } })
  if (parseEntryKey(s.key) === undefined) return bad('MALFORMED', 'key is not <seq>:<entry hash>:<envelope digest>')
  if (!(s.bytes instanceof Uint8Array)) return bad('MALFORMED', 'value is not bytes')
  const opened = openStored(s.key, s.bytes, cache)
  if (isRejection(opened)) return bad(opened.code, opened.reason)
  const seq = opened.record.seq
  if (opened.tillId !== tillId) return bad('INVALID', `entry of till ${opened.tillId} in the log of ${tillId}`)
  const key = keyFor(tillId, seq)
  if (key === undefined) return bad('UNENROLLED', `no key is enrolled for ${tillId} at seq ${seq}`)
  if (!bytesEqual(key, opened.signer)) return bad('UNENROLLED', `signed by ${shortHex(opened.signer)}, but ${shortHex(key)} is enrolled for ${tillId} at seq ${seq}`)
  return { entry: opened }
}

export function verifyEntries (tillId: TillId, storedIn: readonly StoredEntry[], keyFor: KeyFor, cache?: OpenCache): LogReport {
  const stored = [...storedIn].sort(compareStored)
  const invalid: InvalidEntry[] = []
  /** Valid entries by seq, then by hash; the first key of a hash wins (same record, another envelope). */
  const bySeq = new Map<number, Map<EntryHash, Entry>>()
  let previous: StoredEntry | undefined
  for (const s of stored) {
    if (previous !== undefined && compareStored(previous, s) === 0) continue // a duplicate
    previous = s
    const r = check(tillId, s, keyFor, cache)
    if ('invalid' in r) {
      invalid.push(r.invalid)
      continue
    }
    const entry = r.entry
    const atSeq = bySeq.get(entry.record.seq) ?? new Map<EntryHash, Entry>()
    if (!atSeq.has(entry.hash)) atSeq.set(entry.hash, entry)
    bySeq.set(entry.record.seq, atSeq)
  }

  const seqs = [...bySeq.keys()].sort((a, b) => a - b)
  const forks: Fork[] = []
  const gaps: number[] = []
  let expected = 1
  for (const seq of seqs) {
    const atSeq = bySeq.get(seq) as Map<EntryHash, Entry>
    if (atSeq.size >= 2) forks.push({ seq, hashes: [...atSeq.keys()].sort() })
    if (seq > expected) gaps.push(expected)
    expected = seq + 1
  }

  const chain: Entry[] = []
  let prevHash: Uint8Array = GENESIS_HASH
  let stop: ChainStop | null = null
  for (let seq = 1; seq <= seqs.length + 1; seq++) { // the chain holds at most one entry per valid seq
    const atSeq = bySeq.get(seq)
    if (atSeq === undefined) {
      const beyond = seqs.length > 0 && (seqs[seqs.length - 1] as number) > seq
      if (beyond) stop = { seq, code: 'GAP', reason: `no valid entry at seq ${seq}, but valid entries beyond it` }
      break
    }
    if (atSeq.size >= 2) {
      stop = { seq, code: 'FORK', reason: `${atSeq.size} distinct validly-signed entries at seq ${seq}` }
      break
    }
    const entry = atSeq.values().next().value as Entry
    if (!bytesEqual(entry.record.prevHash, prevHash)) {
      stop = { seq, code: 'CHAIN', reason: `prevHash ${shortHex(entry.record.prevHash)} of seq ${seq} is not the hash ${shortHex(prevHash)} of seq ${seq - 1}` }
      break
    }
    chain.push(entry)
    prevHash = entry.hashBytes
  }
  const last = chain[chain.length - 1]
  const head = last === undefined ? null : { seq: last.record.seq, hash: last.hash }
  return { chain, head, forks, invalid, gaps, stop }
}

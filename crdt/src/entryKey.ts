/**
 * Where an entry lives in the log's Automerge map: `<seq, 12 digits>:<entry hash>:<envelope digest>`.
 *
 * - seq first, zero-padded, so keys sort by seq.
 * - The entry hash (of the signed record body) next: two different records at one seq (a
 *   fork) get two keys and both survive a merge, instead of becoming an Automerge conflict
 *   on one key where one value silently wins.
 * - The envelope digest last: the entry hash covers the body only, so a relay could wrap a
 *   genuine body in a garbage signature; under a `seq:hash` key that copy would conflict
 *   with the genuine envelope and might win the conflict on every replica, hiding it.
 *   With the digest, each distinct envelope has its own key, and one key has one value.
 *
 * The key is a function of the bytes alone, so every replica files an entry under the same key.
 */
import {
  ENTRY_BYTES_MAX, MalformedError, OversizedError, entryHashOf, sha256, tillIdOf, toHex, unseal,
  type EntryHash, type StoreId, type TillId
} from '@tillbooks/protocol'
import { ENVELOPE_DIGEST_HEX, LOG_SEQ_MAX, SEQ_KEY_DIGITS } from './constants.ts'

export type EntryKey = string & { readonly __brand: 'EntryKey' }

export const ENTRY_KEY_RE = new RegExp(`^(\\d{${SEQ_KEY_DIGITS}}):([0-9a-f]{64}):([0-9a-f]{${ENVELOPE_DIGEST_HEX}})$`)

export interface KeyParts { seq: number, hash: EntryHash, digest: string }

export function entryKey (seq: number, hash: EntryHash, bytes: Uint8Array): EntryKey {
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > LOG_SEQ_MAX) throw new MalformedError(`seq ${seq} is outside 1..${LOG_SEQ_MAX}`)
  return `${String(seq).padStart(SEQ_KEY_DIGITS, '0')}:${hash}:${envelopeDigest(bytes)}` as EntryKey
}

export function envelopeDigest (bytes: Uint8Array): string {
  return toHex(sha256(bytes)).slice(0, ENVELOPE_DIGEST_HEX)
}

export function parseEntryKey (key: string): KeyParts | undefined {
  const m = ENTRY_KEY_RE.exec(key)
  if (m === null) return undefined
  return { seq: Number(m[1]), hash: m[2] as EntryHash, digest: m[3] as string }
}

/**
 * The key of an envelope and the till it claims, from its bytes, without checking the
 * signature or the record's fields (a stored forgery still needs a key). Throws
 * MalformedError/OversizedError when the bytes are not a till entry's envelope at all.
 */
export function keyOfBytes (bytes: Uint8Array): { key: EntryKey, tillId: TillId, seq: number } {
  if (!(bytes instanceof Uint8Array)) throw new MalformedError('an entry is bytes')
  if (bytes.length > ENTRY_BYTES_MAX) throw new OversizedError(`entry is ${bytes.length} bytes, at most ${ENTRY_BYTES_MAX}`)
  const opened = unseal(bytes, { verify: false })
  if (opened.kind !== 'stockIn' && opened.kind !== 'close') throw new MalformedError(`not a till record: ${opened.kind}`)
  const value = opened.value as { [k: string]: unknown }
  const seq = value.seq
  if (typeof seq !== 'number') throw new MalformedError('entry has no seq')
  let tillId: TillId
  try {
    tillId = tillIdOf(value.store as StoreId, value.till as number)
  } catch {
    throw new MalformedError('entry has no valid store and till')
  }
  const hash = toHex(entryHashOf(opened.body)) as EntryHash
  return { key: entryKey(seq, hash, bytes), tillId, seq }
}

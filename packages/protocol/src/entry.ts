/**
 * A till's signed, hash-chained log entry: an envelope holding one StockIn or Close.
 * Its hash (the next entry's prevHash) covers the record body; signatures are
 * deterministic, so one record body has one entry.
 */
import { toHex } from './canonical.ts'
import { ENTRY_BYTES_MAX } from './constants.ts'
import { ForgedError, MalformedError } from './errors.ts'
import { seal, unseal } from './envelope.ts'
import { tillIdOf, type EntryHash, type TillId } from './ids.ts'
import { sha256, sha256Into, type PublicKey, type Signer, verifySignature } from './keys.ts'
import { encodeRecord, validateRecord, type TillRecord } from './records.ts'

export interface Entry {
  /** The envelope's bytes, exactly as signed and sent. */
  bytes: Uint8Array
  hash: EntryHash
  hashBytes: Uint8Array
  record: TillRecord
  tillId: TillId
  /** `record.seq`, readable without decoding the record (see CheckedEntry). */
  seq: number
  signer: PublicKey
  /** The signed record bytes and the signature over `signingBytes(kind, body)`: what a verifier checks. */
  body: Uint8Array
  sig: Uint8Array
}

const ENTRY_TAG = new TextEncoder().encode('tillbooks/entry/v1\u0000')

/**
 * `tag ‖ body` is built here and hashed in one call straight into the caller's bytes
 * (`sha256Into`: libsodium for bodies as tills write them, ~1.5 µs against node:crypto's ~2.2
 * with its Buffer per call; a rebuild hashes every entry of the log).
 */
const hashScratch = new Uint8Array(ENTRY_TAG.length + ENTRY_BYTES_MAX)
hashScratch.set(ENTRY_TAG, 0)

export function entryHashOf (body: Uint8Array): Uint8Array {
  const out = new Uint8Array(32)
  entryHashInto(body, out, 0)
  return out
}

/** `entryHashOf(body)` written into `out` at `offset`, with no copy of its own (the verify threads' packed answers). */
export function entryHashInto (body: Uint8Array, out: Uint8Array, offset: number): void {
  if (body.length > ENTRY_BYTES_MAX) {
    out.set(sha256(ENTRY_TAG, body), offset)
    return
  }
  hashScratch.set(body, ENTRY_TAG.length)
  sha256Into(hashScratch.subarray(0, ENTRY_TAG.length + body.length), out, offset)
}

export function signEntry (record: TillRecord, signer: Signer): Entry {
  const body = encodeRecord(record)
  const bytes = seal(record.kind, body, signer)
  const hashBytes = entryHashOf(body)
  const sig = unseal(bytes, { verify: false }).sig
  return { bytes, hash: toHex(hashBytes) as EntryHash, hashBytes, record, tillId: tillIdOf(record.store, record.till), seq: record.seq, signer: signer.publicKey, body, sig }
}

/** Decode, check the signature (unless told it was checked before) and validate the record. */
export function openEntry (bytes: Uint8Array, opts: { verify: boolean, verifier?: typeof verifySignature } = { verify: true }): Entry {
  const opened = unseal(bytes, opts)
  if (opened.kind !== 'stockIn' && opened.kind !== 'close') throw new MalformedError(`not a till record: ${opened.kind}`)
  const record = validateRecord(opened.value)
  const hashBytes = entryHashOf(opened.body)
  return { bytes, hash: toHex(hashBytes) as EntryHash, hashBytes, record, tillId: tillIdOf(record.store, record.till), seq: record.seq, signer: opened.signer, body: opened.body, sig: opened.sig }
}

export { ForgedError }

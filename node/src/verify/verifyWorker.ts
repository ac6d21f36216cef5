/**
 * Worker thread body. Two jobs:
 * - `open`: a packed batch of envelopes is decoded and validated (`openRecordUnverified`:
 *   the checks and answers of `openEntry`, in one pass), hashed, and its signatures
 *   verified natively; the main thread gets back one status byte and the 32-byte entry
 *   hash per envelope, the reasons of the refused ones, and its own buffer (transferred
 *   both ways, never copied).
 * - `verify`: bare signatures (rebuild checks and callers of `Verifier.verify`).
 * Parsed public keys are kept in a bounded cache: parsing costs about a third of a verify.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { KeyObject } from 'node:crypto'
import {
  ENTRY_BYTES_MAX, entryHashOf, nativePublicKeyObject, nativeVerifyParsed, openRecordUnverified, rejectionOf, signingBytes,
  type EnvelopeKind, type OpenedRecord, type PublicKey
} from '@tillbooks/protocol'
import { OPEN_CHECKED_BAD, OPEN_CHECKED_GOOD, OPEN_REFUSED, OPEN_UNCHECKED, type OpenJob, type OpenReply, type VerifyJob, type WarmJob, type WorkerJob } from './workerProtocol.ts'

const KEY_CACHE_MAX: number = (workerData as { keyCacheMax?: number } | undefined)?.keyCacheMax ?? 50_000

/**
 * Parsed keys, least recently used dropped first, approximately (CLOCK: a hit only sets a
 * bit, so the map is not rewritten on every verify; an eviction gives each used key a
 * second chance). Keyed by 30 bits of the key, checked against all 32 bytes: no string is
 * made per lookup; two keys sharing the 30 bits take turns in the slot.
 */
interface Slot { publicKey: Uint8Array, key: KeyObject, used: boolean }
const keys = new Map<number, Slot>()
let keyParses = 0

function sameKey (a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return false
  return true
}

function keyObject (publicKey: Uint8Array): KeyObject | null {
  const id = (((publicKey[0] as number) | ((publicKey[1] as number) << 8) | ((publicKey[2] as number) << 16) | ((publicKey[3] as number) << 24)) >>> 2)
  const slot = keys.get(id)
  if (slot !== undefined && sameKey(slot.publicKey, publicKey)) {
    slot.used = true
    return slot.key
  }
  let key: KeyObject
  try {
    key = nativePublicKeyObject(publicKey as PublicKey)
  } catch {
    return null
  }
  keyParses++
  if (slot !== undefined) keys.delete(id)
  while (keys.size >= KEY_CACHE_MAX) {
    const [oldest, old] = keys.entries().next().value as [number, Slot]
    keys.delete(oldest)
    if (!old.used) break
    old.used = false
    keys.set(oldest, old)
  }
  keys.set(id, { publicKey: publicKey.slice(), key, used: false })
  return key
}

function verifyOne (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  const key = keyObject(publicKey)
  return key !== null && nativeVerifyParsed(signature, message, key)
}

/** Domain tags by kind, and one scratch buffer for `tag ‖ body`: no allocation per verify. */
const tags = new Map<string, Uint8Array>()
const scratch = new Uint8Array(ENTRY_BYTES_MAX + 64)

function signedMessage (kind: EnvelopeKind, body: Uint8Array): Uint8Array {
  let tag = tags.get(kind)
  if (tag === undefined) {
    tag = signingBytes(kind, new Uint8Array(0))
    tags.set(kind, tag)
  }
  scratch.set(tag, 0)
  scratch.set(body, tag.length)
  return scratch.subarray(0, tag.length + body.length)
}

function open (job: OpenJob): OpenReply {
  const n = job.ends.length
  const status = new Uint8Array(n)
  const hashes = new Uint8Array(n * 32)
  const refused: OpenReply['refused'] = []
  let start = 0
  for (let i = 0; i < n; i++) {
    const end = job.ends[i] as number
    // As openOne (Verifier.ts): open without the signature, then the signature if asked.
    let entry: OpenedRecord
    try {
      entry = openRecordUnverified(new Uint8Array(job.buf, start, end - start))
    } catch (err) {
      const r = rejectionOf(err) // rethrows a bug
      status[i] = OPEN_REFUSED
      refused.push([i, r.code, r.reason])
      continue
    } finally {
      start = end
    }
    status[i] = job.check[i] !== 1
      ? OPEN_UNCHECKED
      : verifyOne(entry.sig, signedMessage(entry.kind, entry.body), entry.signer) ? OPEN_CHECKED_GOOD : OPEN_CHECKED_BAD
    hashes.set(entryHashOf(entry.body), i * 32)
  }
  return { id: job.id, buf: job.buf, status, hashes, refused, keyParses }
}

parentPort?.on('message', (job: WorkerJob) => {
  try {
    if (job.type === 'open') {
      const reply = open(job)
      parentPort?.postMessage(reply, [reply.buf, reply.status.buffer, reply.hashes.buffer])
    } else if (job.type === 'verify') {
      const v = job as VerifyJob
      const ok = new Uint8Array(v.signatures.length)
      for (let i = 0; i < ok.length; i++) ok[i] = verifyOne(v.signatures[i] as Uint8Array, v.messages[i] as Uint8Array, v.keys[i] as Uint8Array) ? 1 : 0
      parentPort?.postMessage({ id: v.id, ok }, [ok.buffer])
    } else {
      const w = job as WarmJob
      for (let at = 0; at + 32 <= w.keys.length; at += 32) keyObject(w.keys.subarray(at, at + 32))
      parentPort?.postMessage({ id: w.id, keyParses })
    }
  } catch (err) {
    // A bug (openOne rethrows what is not bad input): fail the job, not the thread.
    parentPort?.postMessage({ id: job.id, error: (err as Error).stack ?? String(err) })
  }
})

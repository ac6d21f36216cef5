/**
 * Worker thread body. Two jobs:
 * - `open`: a packed batch of envelopes is checked (`acceptRecordEnvelope`, one walk that
 *   builds nothing; where it is not sure, `openRecordUnverified`: the checks and answers of
 *   `openEntry`), hashed, and its signatures
 *   verified natively; the main thread gets back one status byte and the 32-byte entry
 *   hash per envelope, the reasons of the refused ones, and its own buffer (transferred
 *   both ways, never copied).
 * - `verify`: bare signatures (rebuild checks and callers of `Verifier.verify`).
 * Signatures are checked by `verifySignature` (libsodium), on the raw key: nothing to parse or cache.
 */
import { parentPort } from 'node:worker_threads'
import {
  acceptRecordEnvelope, ENTRY_BYTES_MAX, entryHashInto, openRecordUnverified, rejectionOf, signingBytes, verifySignature,
  type EnvelopeKind, type OpenedRecord, type PublicKey
} from '@tillbooks/protocol'
import { OPEN_CHECKED_BAD, OPEN_CHECKED_GOOD, OPEN_REFUSED, OPEN_UNCHECKED, type OpenJob, type OpenReply, type VerifyJob, type WorkerJob } from './workerProtocol.ts'

function verifyOne (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  return publicKey.length === 32 && verifySignature(signature, message, publicKey as PublicKey)
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
    const bytes = new Uint8Array(job.buf, start, end - start)
    start = end
    // The one-walk yes (acceptFast.ts) for what tills sign; anything it is not sure of is
    // opened as openOne (Verifier.ts) does, for the verdict and the reason.
    let kind: EnvelopeKind
    let body: Uint8Array
    let signer: Uint8Array
    let sig: Uint8Array
    const layout = acceptRecordEnvelope(bytes)
    if (layout !== null) {
      kind = layout.kind
      body = bytes.subarray(layout.bodyStart, layout.bodyEnd)
      signer = bytes.subarray(layout.signerStart, layout.signerStart + 32)
      sig = bytes.subarray(layout.sigStart, layout.sigStart + 64)
    } else {
      let entry: OpenedRecord
      try {
        entry = openRecordUnverified(bytes)
      } catch (err) {
        const r = rejectionOf(err) // rethrows a bug
        status[i] = OPEN_REFUSED
        refused.push([i, r.code, r.reason])
        continue
      }
      ;({ kind, body, signer, sig } = entry)
    }
    status[i] = job.check[i] !== 1
      ? OPEN_UNCHECKED
      : verifyOne(sig, signedMessage(kind, body), signer) ? OPEN_CHECKED_GOOD : OPEN_CHECKED_BAD
    entryHashInto(body, hashes, i * 32)
  }
  return { id: job.id, buf: job.buf, status, hashes, refused }
}

parentPort?.on('message', (job: WorkerJob) => {
  try {
    if (job.type === 'open') {
      const reply = open(job)
      parentPort?.postMessage(reply, [reply.buf, reply.status.buffer, reply.hashes.buffer])
    } else {
      const v = job as VerifyJob
      const ok = new Uint8Array(v.signatures.length)
      for (let i = 0; i < ok.length; i++) ok[i] = verifyOne(v.signatures[i] as Uint8Array, v.messages[i] as Uint8Array, v.keys[i] as Uint8Array) ? 1 : 0
      parentPort?.postMessage({ id: v.id, ok }, [ok.buffer])
    }
  } catch (err) {
    // A bug (openOne rethrows what is not bad input): fail the job, not the thread.
    parentPort?.postMessage({ id: job.id, error: (err as Error).stack ?? String(err) })
  }
})

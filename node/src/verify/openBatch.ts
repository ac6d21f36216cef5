/**
 * One `open` job (see workerProtocol.ts), on the thread that runs it: each envelope — or
 * change of a till's log that carries one: the entry is read out of it, and the change held
 * to it — is checked (`acceptRecordEnvelope`, one walk that builds nothing; where it is not
 * sure, `openRecordUnverified`: the checks and answers of `openEntry`), hashed, and its
 * signature verified natively (`verifySignature`, libsodium, on the raw key). Shared by the
 * verify threads and a rebuild's fold threads.
 */
import { checkEntryChange, checkEntryChangeAt, checksumHolds, entryChangeLayout, isAutomergeChunk, readEntryChange, type EntryChange, type EntryChangeLayout } from '@tillbooks/crdt/entryChange'
import {
  acceptRecordEnvelope, checkedEntry, ENTRY_BYTES_MAX, entryHashInto, openRecordUnverified, rejectionOf, signingBytes, toHex, verifySignature,
  type EntryHash, type EnvelopeKind, type OpenedRecord, type PublicKey, type RejectionCode
} from '@tillbooks/protocol'
import { changeRefusal } from './Verifier.ts'
import { OPEN_CHECKED_BAD, OPEN_CHECKED_GOOD, OPEN_REFUSED, OPEN_UNCHECKED, type OpenJob, type OpenReply } from './workerProtocol.ts'

export function verifyOne (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
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

export function openBatch (job: Pick<OpenJob, 'id' | 'buf' | 'ends' | 'check'>): OpenReply {
  const n = job.ends.length
  const status = new Uint8Array(n)
  const hashes = new Uint8Array(n * 32)
  const refused: OpenReply['refused'] = []
  const spans = new Uint32Array(n * 2)
  const refuse = (i: number, code: RejectionCode, reason: string): void => {
    status[i] = OPEN_REFUSED
    refused.push([i, code, reason])
  }
  let start = 0
  for (let i = 0; i < n; i++) {
    const end = job.ends[i] as number
    const item = new Uint8Array(job.buf, start, end - start)
    start = end
    // A change of the till's log: its entry is read out of it (the one-put walk), then opened
    // like any envelope, and the change held to that entry once its seq and hash are known.
    let change: EntryChange | null = null
    let walked: EntryChangeLayout | null = null
    let bytes = item
    if (isAutomergeChunk(item) && (walked = entryChangeLayout(item)) !== null) {
      // The one-put walk (nothing built); the change is held to its entry in place, below.
      if (!checksumHolds(item)) {
        refuse(i, 'MALFORMED', 'the change\'s checksum does not match its bytes')
        continue
      }
      bytes = item.subarray(walked.entryStart, walked.entryEnd)
    } else if (isAutomergeChunk(item)) {
      try {
        change = readEntryChange(item)
      } catch (err) {
        const r = rejectionOf(err) // rethrows a bug
        refuse(i, r.code, r.reason)
        continue
      }
      const why = changeRefusal(change)
      if (why !== null) {
        refuse(i, 'MALFORMED', why)
        continue
      }
      bytes = change.entry as Uint8Array<ArrayBuffer> // a view into this job's buffer (entryStart is set)
    }
    spans[2 * i] = bytes.byteOffset - item.byteOffset
    spans[2 * i + 1] = bytes.byteOffset - item.byteOffset + bytes.length
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
        refuse(i, r.code, r.reason)
        continue
      }
      ;({ kind, body, signer, sig } = entry)
    }
    entryHashInto(body, hashes, i * 32)
    if (change !== null || walked !== null) {
      const hash = hashes.subarray(i * 32, i * 32 + 32)
      const e = checkedEntry(bytes, hash)
      const wrong = walked !== null
        ? checkEntryChangeAt(item, walked, { tillId: e.tillId, seq: e.seq, hash, signer: e.signer })
        : checkEntryChange(change as EntryChange, { tillId: e.tillId, seq: e.seq, hash: toHex(hash) as EntryHash, signer: e.signer })
      if (wrong !== null) {
        refuse(i, 'MALFORMED', wrong)
        hash.fill(0)
        continue
      }
    }
    status[i] = job.check[i] !== 1
      ? OPEN_UNCHECKED
      : verifyOne(sig, signedMessage(kind, body), signer) ? OPEN_CHECKED_GOOD : OPEN_CHECKED_BAD
  }
  return { id: job.id, buf: job.buf, status, hashes, spans, refused }
}

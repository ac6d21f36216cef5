/**
 * Worker thread body. Two jobs:
 * - `open`: a packed batch of envelopes (or changes of till logs that carry them: the
 *   entry is read out of each, and the change held to it) is checked (`acceptRecordEnvelope`, one walk that
 *   builds nothing; where it is not sure, `openRecordUnverified`: the checks and answers of
 *   `openEntry`), hashed, and its signatures
 *   verified natively; the main thread gets back one status byte and the 32-byte entry
 *   hash per envelope, the reasons of the refused ones, and its own buffer (transferred
 *   both ways, never copied).
 * - `verify`: bare signatures (rebuild checks and callers of `Verifier.verify`).
 * Signatures are checked by `verifySignature` (libsodium), on the raw key: nothing to parse or cache.
 */
import { parentPort } from 'node:worker_threads'
import { openBatch, verifyOne } from './openBatch.ts'
import type { VerifyJob, WorkerJob } from './workerProtocol.ts'

parentPort?.on('message', (job: WorkerJob) => {
  try {
    if (job.type === 'open') {
      const reply = openBatch(job)
      parentPort?.postMessage(reply, [reply.buf, reply.status.buffer, reply.hashes.buffer, reply.spans.buffer])
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

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
import { VERIFY_ITEM_HEAD, type VerifyJob, type WorkerJob } from './workerProtocol.ts'

parentPort?.on('message', (job: WorkerJob) => {
  try {
    if (job.type === 'open') {
      const reply = openBatch(job)
      parentPort?.postMessage(reply, [reply.buf, reply.status.buffer, reply.hashes.buffer, reply.spans.buffer])
    } else {
      const v = job as VerifyJob
      const ok = new Uint8Array(v.ends.length)
      const bytes = new Uint8Array(v.buf)
      let start = 0
      for (let i = 0; i < ok.length; i++) {
        const end = v.ends[i] as number
        if (end - start < VERIFY_ITEM_HEAD || end > bytes.length) throw new Error(`bug: verify item ${i} spans ${start}..${end} of ${bytes.length} bytes`)
        ok[i] = verifyOne(bytes.subarray(start, start + 64), bytes.subarray(start + VERIFY_ITEM_HEAD, end), bytes.subarray(start + 64, start + VERIFY_ITEM_HEAD)) ? 1 : 0
        start = end
      }
      parentPort?.postMessage({ id: v.id, ok }, [ok.buffer])
    }
  } catch (err) {
    // A bug (openOne rethrows what is not bad input): fail the job, not the thread.
    parentPort?.postMessage({ id: job.id, error: (err as Error).stack ?? String(err) })
  }
})

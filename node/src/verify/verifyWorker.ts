/** Worker thread body: verifies batches of Ed25519 signatures natively. */
import { parentPort } from 'node:worker_threads'
import { native, type PublicKey } from '@tillbooks/protocol'

interface Job { id: number, signatures: Uint8Array[], messages: Uint8Array[], keys: Uint8Array[] }

parentPort?.on('message', (job: Job) => {
  const ok = new Uint8Array(job.signatures.length)
  for (let i = 0; i < ok.length; i++) {
    ok[i] = native.verify(job.signatures[i] as Uint8Array, job.messages[i] as Uint8Array, job.keys[i] as PublicKey) ? 1 : 0
  }
  parentPort?.postMessage({ id: job.id, ok }, [ok.buffer])
})

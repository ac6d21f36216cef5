/**
 * Verifies on a pool of worker threads. A batch is split into one slice per worker so
 * all cores work on it at once; slices are posted with structured clone (the entries are
 * small: ~64 B signature + ~300 B message + 32 B key).
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { Verifier, VerifyItem } from './Verifier.ts'

/** Below this many items a batch is verified inline: a worker round trip costs more. */
export const INLINE_BATCH_MAX = 4

interface Pending { resolve: (ok: Uint8Array) => void, reject: (err: Error) => void }

export class WorkerVerifier implements Verifier {
  readonly threads: number
  readonly #workers: Worker[] = []
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #next = 0

  constructor (opts: { threads?: number } = {}) {
    this.threads = Math.max(1, opts.threads ?? availableParallelism())
    for (let i = 0; i < this.threads; i++) {
      const w = new Worker(new URL('./verifyWorker.ts', import.meta.url))
      w.on('message', (msg: { id: number, ok: Uint8Array }) => {
        const p = this.#pending.get(msg.id)
        this.#pending.delete(msg.id)
        p?.resolve(msg.ok)
      })
      w.on('error', (err) => {
        for (const p of this.#pending.values()) p.reject(err)
        this.#pending.clear()
      })

      this.#workers.push(w)
    }
  }

  async verify (items: VerifyItem[]): Promise<boolean[]> {
    if (items.length === 0) return []
    const slices = Math.min(this.threads, Math.ceil(items.length / INLINE_BATCH_MAX))
    const per = Math.ceil(items.length / slices)
    const parts: Promise<Uint8Array>[] = []
    for (let s = 0; s < slices; s++) {
      const slice = items.slice(s * per, (s + 1) * per)
      const id = this.#nextId++
      const worker = this.#workers[this.#next++ % this.#workers.length] as Worker
      parts.push(new Promise<Uint8Array>((resolve, reject) => {
        this.#pending.set(id, { resolve, reject })
        worker.postMessage({ id, signatures: slice.map(i => i.signature), messages: slice.map(i => i.message), keys: slice.map(i => i.publicKey) })
      }))
    }
    const results = await Promise.all(parts)
    const out: boolean[] = []
    for (const r of results) for (const b of r) out.push(b === 1)
    return out
  }

  async close (): Promise<void> {
    await Promise.all(this.#workers.map(async w => await w.terminate()))
    this.#workers.length = 0
  }
}

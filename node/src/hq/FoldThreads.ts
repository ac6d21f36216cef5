/**
 * A whole-log rebuild on threads: HQ's thread reads the log (in key order, so each till's
 * entries come together, by seq) and hands each till's entries to one of a few fold threads
 * (foldWorker.ts) in turn; each thread checks and folds its tills into books of its own and
 * sends them back as a base checkpoint's segments, which HQ's thread restores as it restores a
 * checkpoint (`restore`): blocks, held entries, sums. The fold is a sum over tills (a till's
 * chain never looks at another's), so the books restored from the threads' bases are the books
 * the whole log folded on one thread gives (tested, for random logs).
 *
 * HQ's thread is left the disk, the hand-off and restoring blocks; decoding, summarising and
 * folding each record — and, re-verifying, its signature — run on the threads.
 */
import { Worker } from 'node:worker_threads'
import type { BusinessDay } from '@tillbooks/protocol'
import { BlockTable } from '@tillbooks/ledger'
import { FOLD_BATCHES_IN_FLIGHT, FOLD_FLUSH_ENTRIES, FOLD_SEGMENT_BYTES } from './constants.ts'
import { tillOfEntryKey } from './keys.ts'
import type { FoldJob, FoldReply } from './foldProtocol.ts'

export interface FoldThreadsOptions {
  threads: number
  /** Re-verify every signature (else trust the log). */
  verify: boolean
  rootKey: Uint8Array
  /** Every certificate of the log, checked already. */
  certificates: readonly Uint8Array[]
  /** The cost of a sku on a day (undefined: none that day), as HQ's books cost it. */
  costCents: (sku: string, day: BusinessDay) => number | undefined
  /** Restore a thread's base segments, in the order sent; `table` is that thread's block table. A throw fails the rebuild. */
  restore: (segments: readonly Uint8Array[], table: BlockTable) => void
  /** Entries HQ's thread folds itself (they name a sku with no cost on their day). A throw fails the rebuild. */
  own: (entries: ReadonlyArray<[string, Uint8Array]>) => void
  /** Entries folded before a thread sends its books (default FOLD_FLUSH_ENTRIES; small in tests). */
  flushEntries?: number
}

/** Fold the entries of `batches` (the whole log's, in key order) on threads; returns how many entries the threads took. */
export async function foldOnThreads (batches: AsyncIterable<Array<[string, Uint8Array]>>, opts: FoldThreadsOptions): Promise<{ entries: number }> {
  const n = opts.threads
  if (!(Number.isSafeInteger(n) && n >= 1)) throw new Error('foldOnThreads: threads must be a positive integer')
  const workers: Worker[] = []
  const tables = Array.from({ length: n }, () => new BlockTable())
  const inFlight = new Array<number>(n).fill(0)
  const ended = new Array<boolean>(n).fill(false)
  let entries = 0
  let failure: Error | null = null
  let wake: (() => void) | null = null
  const notify = (): void => {
    const w = wake
    wake = null
    w?.()
  }
  const fail = (err: unknown): void => {
    failure ??= err instanceof Error ? err : new Error(String(err))
    notify()
  }
  /** Until `ready`, or a thread fails. */
  const until = async (ready: () => boolean): Promise<void> => {
    for (;;) {
      if (failure !== null) throw failure
      if (ready()) return
      await new Promise<void>(resolve => { wake = resolve })
    }
  }
  const send = (i: number, job: FoldJob, transfer: ArrayBuffer[] = []): void => { (workers[i] as Worker).postMessage(job, transfer) }
  try {
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL('./foldWorker.ts', import.meta.url))
      workers.push(w)
      w.on('message', (m: FoldReply) => {
        try {
          if (m.type === 'ask') {
            send(i, { type: 'costs', costs: m.pairs.map(([day, sku]) => opts.costCents(sku, day as BusinessDay) ?? null) })
          } else if (m.type === 'done') {
            if (m.segments.length > 0) opts.restore(m.segments, tables[i] as BlockTable)
            if (m.own.length > 0) opts.own(m.own)
            if (m.id === 0) {
              ended[i] = true
              entries += m.entries
            } else {
              inFlight[i] = (inFlight[i] as number) - 1
            }
          } else {
            fail(new Error(m.error))
          }
        } catch (err) {
          fail(err)
        }
        notify()
      })
      w.on('error', fail)
      w.on('exit', code => { if (!ended[i]) fail(new Error(`a fold thread exited (code ${code}) before its end`)) })
      send(i, {
        type: 'init',
        verify: opts.verify,
        rootKey: opts.rootKey,
        certificates: [...opts.certificates],
        flushEntries: opts.flushEntries ?? FOLD_FLUSH_ENTRIES,
        segmentBytes: FOLD_SEGMENT_BYTES
      })
    }
    let till: string | null = null
    let thread = n - 1
    let nextId = 1
    for await (const batch of batches) {
      // Consecutive runs of one thread's tills, sent as one job each.
      const parts: Array<Array<[string, Uint8Array]>> = Array.from({ length: n }, () => [])
      for (const kv of batch) {
        const t = tillOfEntryKey(kv[0])
        if (t !== till) {
          till = t
          thread = (thread + 1) % n
        }
        ;(parts[thread] as Array<[string, Uint8Array]>).push(kv)
      }
      for (let i = 0; i < n; i++) {
        const part = parts[i] as Array<[string, Uint8Array]>
        if (part.length === 0) continue
        await until(() => (inFlight[i] as number) < FOLD_BATCHES_IN_FLIGHT)
        let total = 0
        for (const [, v] of part) total += v.length
        const buf = new ArrayBuffer(total)
        const bytes = new Uint8Array(buf)
        const ends = new Uint32Array(part.length)
        let at = 0
        part.forEach(([, v], j) => {
          bytes.set(v, at)
          at += v.length
          ends[j] = at
        })
        inFlight[i] = (inFlight[i] as number) + 1
        send(i, { type: 'batch', id: nextId++, keys: part.map(([k]) => k), buf, ends }, [buf])
      }
    }
    for (let i = 0; i < n; i++) send(i, { type: 'end' })
    await until(() => ended.every(Boolean))
    return { entries }
  } finally {
    await Promise.all(workers.map(async w => await w.terminate()))
  }
}

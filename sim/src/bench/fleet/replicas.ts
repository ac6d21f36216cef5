/**
 * The benchmark's figures for issue 20: how far the SQL projection of the books is behind at
 * the end of the wave and how fast it catches up (PGlite, as HQ runs by default), a whole
 * log projected from nothing into PGlite and into a PostgreSQL server (records/s), and a
 * replica's catch-up after missing the whole wave (records/s, its books equal byte for byte).
 */
import { chmod, copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'

export interface ProjectionStatus { target: string | null, projectedRecords: number, lagRecords: number, rebuilds: number, error: string | null, lastRowsPerSec: number | null }
export interface Digest { records: number, setDigest: string, booksHash: string }

async function getJson<T> (url: string): Promise<T> {
  const r = await fetch(url)
  if (!r.ok) throw new Error(`${url}: ${r.status}`)
  return await r.json() as T
}

/** Poll `ok` every `everyMs` until it holds (its time from the call) or `maxMs` passes (null). */
async function timeUntil (ok: () => Promise<boolean>, maxMs: number, everyMs = 50): Promise<number | null> {
  const t0 = performance.now()
  while (performance.now() - t0 < maxMs) {
    if (await ok()) return performance.now() - t0
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
  return null
}

/**
 * Right after a wave: the projection's lag (records of the books not in SQL yet), the time
 * until it has them all, and its rate over the wave and the catch-up together.
 */
export async function projectionAfterWave (http: string, before: ProjectionStatus, waveMs: number, maxMs: number): Promise<{ lagAtWaveEnd: number, catchUpMs: number | null, recordsPerSec: number | null, target: string | null, error: string | null }> {
  const atEnd = await getJson<ProjectionStatus>(`${http}/books/projection`)
  let last = atEnd
  const catchUpMs = await timeUntil(async () => {
    last = await getJson<ProjectionStatus>(`${http}/books/projection`)
    return last.error === null && last.lagRecords === 0
  }, maxMs)
  const added = last.projectedRecords - before.projectedRecords
  return {
    lagAtWaveEnd: atEnd.lagRecords,
    catchUpMs,
    recordsPerSec: catchUpMs === null ? null : added / ((waveMs + catchUpMs) / 1000),
    target: atEnd.target,
    error: last.error
  }
}

/**
 * Time from now until the projection at `http` holds every record of the books (null past
 * maxMs), opening the database included (PGlite's wasm and its first initdb); `appendMs` from
 * the first record seen projected.
 */
export async function projectionFromNothing (http: string, maxMs: number): Promise<{ records: number, ms: number | null, appendMs: number | null, recordsPerSec: number | null, error: string | null }> {
  const digest = await getJson<Digest>(`${http}/books/digest`)
  let last: ProjectionStatus | null = null
  const t0 = performance.now()
  let first: { atMs: number, records: number } | null = null
  const ms = await timeUntil(async () => {
    last = await getJson<ProjectionStatus>(`${http}/books/projection`)
    if (first === null && last.projectedRecords > 0) first = { atMs: performance.now() - t0, records: last.projectedRecords }
    return last.error === null && last.lagRecords === 0 && last.projectedRecords >= digest.records
  }, maxMs, 20)
  const f = first as { atMs: number, records: number } | null
  const appendMs = ms === null || f === null ? null : ms - f.atMs
  // Over the whole time, opening the database included (polls wait while PGlite holds HQ's thread: finer cuts would mislead).
  return { records: digest.records, ms, appendMs, recordsPerSec: ms === null ? null : digest.records / (ms / 1000), error: (last as ProjectionStatus | null)?.error ?? null }
}

/** Copy HQ's root and member keys into a new replica's directory (what an operator does). */
export async function replicaDir (fromHqDir: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  for (const f of ['root.key', 'member.key']) {
    await copyFile(join(fromHqDir, f), join(dir, f))
    await chmod(join(dir, f), 0o600)
  }
}

/**
 * Time until the replica at `replicaHttp` folded the same set of records as HQ at `hqHttp` and
 * computed the same books. `afterRound`: a replica catching up is asked for its digest only
 * once it says (`GET /replicas`) that a round with HQ ended (well or not) since the start — the digest is
 * made from the whole books (its journal as hledger reads it, and more), and asking it four
 * times a second while a replica takes in a whole log had that replica spend much of its time
 * making digests for the bench.
 */
export async function converged (hqHttp: string, replicaHttp: string, maxMs: number, opts: { afterRound?: boolean } = {}): Promise<{ ms: number | null, records: number, booksHashEqual: boolean }> {
  const target = await getJson<Digest>(`${hqHttp}/books/digest`)
  let last: Digest | null = null
  const ms = await timeUntil(async () => {
    if (opts.afterRound === true) {
      const status = await getJson<{ counters: { rounds: number, roundsFailed: number } }>(`${replicaHttp}/replicas`)
      if (status.counters.rounds + status.counters.roundsFailed === 0) return false
    }
    last = await getJson<Digest>(`${replicaHttp}/books/digest`)
    return last.setDigest === target.setDigest
  }, maxMs, 250)
  return { ms, records: target.records, booksHashEqual: (last as Digest | null)?.booksHash === target.booksHash }
}

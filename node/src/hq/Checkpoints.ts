/**
 * Checkpoints of HQ's books in its own store, so that a start folds compact summaries and
 * the log after a watermark instead of every signed record since the first day.
 *
 * Layout (keys.ts):
 *   x!s!<segment id>   a segment: items of @tillbooks/ledger's checkpointCodec, ≤ ~4 MiB
 *   x!m!<watermark>    a manifest: { v, watermark, segments: [{ id, sha256, items, bytes }],
 *                      baseSegments, writtenAtMs, orders?, certificates? }, signed by HQ's root key
 * The watermark is an arrival number of HQ's log (`j!<n>`, written in the same fsync'd batch
 * as each entry): a manifest at W covers every entry that arrived at or before W; what came
 * after is read from the log at start. Segments are written without fsync, then the manifest
 * with one, so a crash at any point leaves the previous manifest whole and the new one absent
 * (LevelDB syncs its one write-ahead log in order: a synced write makes every earlier one
 * durable too). Old manifests and segments no kept manifest names are deleted afterwards.
 *
 * A manifest is used only if its root signature verifies, its watermark is an arrival the log
 * holds (not a record it claims but the log lacks), and every segment is there with its
 * SHA-256; otherwise the next older one is tried, and with none the whole log is folded.
 * Items are facts ("this entry, this summary"); the books are a function of the set of
 * entries, so replaying segments then the tail is the books of the whole log (tested).
 *
 * Replenishment orders (HQ's own, one a store a day) are in the segments too (ORDER items):
 * `orders` is the last order arrival number (`w!<n>`) they hold, and a start reads from the log
 * only the orders after it. A manifest without it (written before orders were kept) holds no
 * order: a start then reads every order, and the next checkpoint is a base. (An HQ of a version
 * before this one writes orders with no arrival number, and no record sums: after running one on
 * this store, start this version once with `--rebuild full`, which reads every order and counts
 * the records again.)
 *
 * Certificates are read from the log at every start (each till's enrolment), but one whose
 * SHA-256 is in the checkpoint's certificate segment (`certificates`: the sorted 32-byte hashes
 * of every certificate logged when it was written) is not re-verified: the root-signed manifest
 * vouches for those bytes as for the rest of the books (at 100,000 tills about 4 s of a start, by the cost of a check here).
 */
import { hash } from 'node:crypto'
import { canonicalDecode, canonicalEncode, toHex, verifySignature, type PublicKey, type Signer } from '@tillbooks/protocol'
import { prefixEnd, type KvOp, type KvStore } from '../storage/KvStore.ts'
import { ARRIVAL_PREFIX, arrivalKey, CHECKPOINT_MANIFEST_PREFIX, CHECKPOINT_SEGMENT_PREFIX, checkpointManifestKey, checkpointSegmentKey, ORDER_ARRIVAL_PREFIX, orderArrivalKey } from './keys.ts'

const DOMAIN = new TextEncoder().encode('tillbooks/checkpoint/v1\u0000')

export interface SegmentRef {
  id: string
  /** Hex SHA-256 of the segment's bytes. */
  sha256: string
  items: number
  bytes: number
}

export interface Manifest {
  v: 1
  /** Every entry with an arrival number ≤ this is in the segments. */
  watermark: number
  segments: SegmentRef[]
  /** How many of `segments` (the first ones) were written as one base of every entry. */
  baseSegments: number
  writtenAtMs: number
  /** Every order with an order arrival number ≤ this is in the segments; absent: no order is. */
  orders?: number
  /** A segment of the SHA-256 of every certificate logged (32 bytes each, sorted), not replayed; absent: none vouched for. */
  certificates?: SegmentRef
}

/** A checkpoint read back and checked, ready to replay. */
export interface LoadedCheckpoint {
  manifest: Manifest
  segments: Uint8Array[]
  /** The hex SHA-256 of the certificates the checkpoint vouches for (empty: none). */
  certificates: ReadonlySet<string>
}

/** A certificate's digest as a checkpoint's certificate segment holds it (hex here). */
export function certificateDigest (bytes: Uint8Array): string {
  return sha256Hex(bytes)
}

/** The certificate segment for these digests (hex): their bytes, sorted. */
export function certificateSegment (digests: Iterable<string>): Uint8Array {
  const sorted = [...digests].sort()
  const out = new Uint8Array(sorted.length * 32)
  sorted.forEach((d, i) => { out.set(Buffer.from(d, 'hex'), i * 32) })
  return out
}

function signingBytes (body: Uint8Array): Uint8Array {
  const out = new Uint8Array(DOMAIN.length + body.length)
  out.set(DOMAIN, 0)
  out.set(body, DOMAIN.length)
  return out
}

function sha256Hex (b: Uint8Array): string {
  return hash('sha256', b, 'hex')
}

function manifestCanonical (m: Manifest): Uint8Array {
  return canonicalEncode({
    v: m.v, watermark: m.watermark, baseSegments: m.baseSegments, writtenAtMs: m.writtenAtMs,
    segments: m.segments.map(s => ({ id: s.id, sha256: s.sha256, items: s.items, bytes: s.bytes })),
    ...(m.orders !== undefined ? { orders: m.orders } : {}),
    ...(m.certificates !== undefined ? { certificates: { id: m.certificates.id, sha256: m.certificates.sha256, items: m.certificates.items, bytes: m.certificates.bytes } } : {})
  })
}

/** The ops that write a checkpoint: its new segments (no fsync needed), then the signed manifest (the caller syncs that batch). */
export function checkpointOps (root: Signer, manifest: Manifest, newSegments: ReadonlyArray<{ ref: SegmentRef, bytes: Uint8Array }>): { segmentOps: KvOp[], manifestOp: KvOp } {
  const body = manifestCanonical(manifest)
  const sig = root.sign(signingBytes(body))
  return {
    segmentOps: newSegments.map(s => ({ type: 'put' as const, key: checkpointSegmentKey(s.ref.id), value: s.bytes })),
    manifestOp: { type: 'put', key: checkpointManifestKey(manifest.watermark), value: canonicalEncode({ body, sig }) }
  }
}

/** A segment's reference, with its hash. */
export function segmentRef (id: string, bytes: Uint8Array, items: number): SegmentRef {
  return { id, sha256: sha256Hex(bytes), items, bytes: bytes.length }
}

function readManifest (value: Uint8Array, rootKey: PublicKey): Manifest {
  const o = canonicalDecode(value) as { body?: unknown, sig?: unknown }
  if (!(o.body instanceof Uint8Array) || !(o.sig instanceof Uint8Array)) throw new Error('not a signed manifest')
  if (!verifySignature(o.sig, signingBytes(o.body), rootKey)) throw new Error('its signature is not this HQ\'s root key\'s')
  const m = canonicalDecode(o.body) as unknown as Manifest
  if (m.v !== 1 || !Number.isSafeInteger(m.watermark) || m.watermark < 0 || !Array.isArray(m.segments) || !Number.isSafeInteger(m.baseSegments)) throw new Error('malformed manifest')
  if (m.orders !== undefined && !(Number.isSafeInteger(m.orders) && m.orders >= 0)) throw new Error('malformed manifest: orders')
  const c = m.certificates
  if (c !== undefined && (typeof c !== 'object' || c === null || typeof c.id !== 'string' || typeof c.sha256 !== 'string' || !Number.isSafeInteger(c.bytes) || c.bytes % 32 !== 0)) throw new Error('malformed manifest: certificates')
  return m
}

/** Manifest keys, newest watermark first. */
async function manifestKeys (store: KvStore): Promise<string[]> {
  const keys: string[] = []
  for await (const [k] of store.entries({ gte: CHECKPOINT_MANIFEST_PREFIX, lt: prefixEnd(CHECKPOINT_MANIFEST_PREFIX) })) keys.push(k)
  return keys.reverse()
}

/**
 * The newest checkpoint that passes every check (null: none does), and why newer ones were
 * passed over. `nextArrival` is the arrival number the log will give next: a watermark at or
 * past it claims records the log lacks.
 */
export async function loadCheckpoint (store: KvStore, rootKey: PublicKey, nextArrival: number, nextOrderArrival: number): Promise<{ loaded: LoadedCheckpoint | null, skipped: string[] }> {
  const skipped: string[] = []
  for (const key of await manifestKeys(store)) {
    try {
      const value = await store.get(key)
      if (value === undefined) throw new Error('gone')
      const manifest = readManifest(value, rootKey)
      if (manifest.watermark >= nextArrival) throw new Error(`its watermark ${manifest.watermark} is past the log's last arrival ${nextArrival - 1}`)
      if (manifest.watermark > 0 && await store.get(arrivalKey(manifest.watermark)) === undefined) throw new Error(`the log lacks arrival ${manifest.watermark}`)
      if (manifest.orders !== undefined && manifest.orders >= nextOrderArrival) throw new Error(`its orders ${manifest.orders} are past the log's last order arrival ${nextOrderArrival - 1}`)
      // (Not that the log holds order arrival `orders` itself: numbers a failed write took are
      // left unused, and the write after it deletes what that failed write may have left.)
      const segments: Uint8Array[] = []
      for (const ref of manifest.segments) {
        const bytes = await store.get(checkpointSegmentKey(ref.id))
        if (bytes === undefined) throw new Error(`segment ${ref.id} is missing`)
        if (bytes.length !== ref.bytes || sha256Hex(bytes) !== ref.sha256) throw new Error(`segment ${ref.id} fails its hash`)
        segments.push(bytes)
      }
      const certificates = new Set<string>()
      if (manifest.certificates !== undefined) {
        const ref = manifest.certificates
        const bytes = await store.get(checkpointSegmentKey(ref.id))
        if (bytes === undefined) throw new Error(`certificate segment ${ref.id} is missing`)
        if (bytes.length !== ref.bytes || sha256Hex(bytes) !== ref.sha256) throw new Error(`certificate segment ${ref.id} fails its hash`)
        for (let i = 0; i < bytes.length; i += 32) certificates.add(toHex(bytes.subarray(i, i + 32)))
      }
      return { loaded: { manifest, segments, certificates }, skipped }
    } catch (err) {
      skipped.push(`${key}: ${(err as Error).message}`)
    }
  }
  return { loaded: null, skipped }
}

/**
 * Delete manifests older than the newest `keep`, and segments none of the kept ones names.
 * Run after a new manifest is durable; a crash midway leaves only garbage the next run deletes.
 */
export async function pruneCheckpoints (store: KvStore, keep: number): Promise<{ manifests: number, segments: number }> {
  const keys = await manifestKeys(store)
  const kept = new Set<string>()
  for (const key of keys.slice(0, keep)) {
    const value = await store.get(key)
    if (value === undefined) continue
    try {
      const m = (canonicalDecode((canonicalDecode(value) as { body: Uint8Array }).body) as unknown as Manifest)
      for (const s of m.segments) kept.add(checkpointSegmentKey(s.id))
      if (m.certificates !== undefined) kept.add(checkpointSegmentKey(m.certificates.id))
    } catch {
      // Unreadable: it will be passed over at start; deleted with the old ones below once newer ones exist.
    }
  }
  const ops: KvOp[] = keys.slice(keep).map(key => ({ type: 'del' as const, key }))
  let segments = 0
  for await (const [k] of store.entries({ gte: CHECKPOINT_SEGMENT_PREFIX, lt: prefixEnd(CHECKPOINT_SEGMENT_PREFIX) })) {
    if (!kept.has(k)) {
      ops.push({ type: 'del', key: k })
      segments++
    }
  }
  if (ops.length > 0) await store.batch(ops, { sync: false })
  return { manifests: Math.max(0, keys.length - keep), segments }
}

/** The entry keys of the arrivals after `watermark` (or, `orders`, the order keys of the order arrivals after it), in arrival order. */
export async function * arrivalsAfter (store: KvStore, watermark: number, size: number, opts: { orders?: boolean } = {}): AsyncIterable<string[]> {
  let batch: string[] = []
  const dec = new TextDecoder()
  const range = opts.orders === true
    ? { gte: orderArrivalKey(watermark + 1), lt: prefixEnd(ORDER_ARRIVAL_PREFIX) }
    : { gte: arrivalKey(watermark + 1), lt: prefixEnd(ARRIVAL_PREFIX) }
  for await (const [, v] of store.entries(range)) {
    batch.push(dec.decode(v))
    if (batch.length >= size) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}

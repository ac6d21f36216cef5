/**
 * HQ's durable log layout in the key-value store. Keys sort so that a scan reads each
 * till's entries in seq order; the hash in the key keeps both sides of a fork.
 */
import type { EntryHash, TillId } from '@tillbooks/protocol'

export const ENTRY_PREFIX = 'e!'
export const CERT_PREFIX = 'c!'
export const REPLENISHMENT_PREFIX = 'r!'
export const OPENING_PREFIX = 'o!'
/** An imported settlement file, by its SHA-256: `s!<hex>`. */
export const SETTLEMENT_PREFIX = 's!'

/**
 * Arrival numbers of till entries, in the order HQ logged them: `j!<n>` → the entry's key,
 * written in the entry's own fsync'd batch, with `jn` → the next number. A checkpoint's
 * watermark is one of them (Checkpoints.ts).
 */
export const ARRIVAL_PREFIX = 'j!'
export const ARRIVAL_NEXT_KEY = 'jn'
/**
 * Arrival numbers of replenishment orders, in the order HQ logged them (dispatched, or taken
 * from another replica): `w!<n>` → the order's key, in the order's own fsync'd batch, with `wn`
 * → the next number. A checkpoint's manifest names the last one its segments hold (`orders`).
 * Orders logged before these numbers existed have none: a base checkpoint holds every order.
 */
export const ORDER_ARRIVAL_PREFIX = 'w!'
export const ORDER_ARRIVAL_NEXT_KEY = 'wn'
/** Checkpoints of the books (Checkpoints.ts): signed manifests by watermark, and their segments. */
export const CHECKPOINT_MANIFEST_PREFIX = 'x!m!'
export const CHECKPOINT_SEGMENT_PREFIX = 'x!s!'

const pad = (n: number): string => String(n).padStart(12, '0')

export function arrivalKey (n: number): string {
  return `${ARRIVAL_PREFIX}${pad(n)}`
}

export function orderArrivalKey (n: number): string {
  return `${ORDER_ARRIVAL_PREFIX}${pad(n)}`
}

export function checkpointManifestKey (watermark: number): string {
  return `${CHECKPOINT_MANIFEST_PREFIX}${pad(watermark)}`
}

export function checkpointSegmentKey (id: string): string {
  return `${CHECKPOINT_SEGMENT_PREFIX}${id}`
}

export function entryKey (tillId: TillId, seq: number, hash: EntryHash): string {
  return `${ENTRY_PREFIX}${tillId}!${pad(seq)}!${hash}`
}

/** The till an entry key names (the inverse of entryKey's first part). */
export function tillOfEntryKey (key: string): TillId {
  const end = key.indexOf('!', ENTRY_PREFIX.length)
  if (!key.startsWith(ENTRY_PREFIX) || end < 0) throw new Error(`HQ log corrupt: ${key} is not an entry key`)
  return key.slice(ENTRY_PREFIX.length, end) as TillId
}

/** The key range of a till's entries with seq in (afterSeq, throughSeq]. */
export function entryRange (tillId: TillId, afterSeq: number, throughSeq: number): { gte: string, lt: string } {
  return { gte: `${ENTRY_PREFIX}${tillId}!${pad(afterSeq + 1)}`, lt: `${ENTRY_PREFIX}${tillId}!${pad(throughSeq + 1)}` }
}

export function certKey (tillId: TillId, fromSeq: number, keyHex: string): string {
  return `${CERT_PREFIX}${tillId}!${pad(fromSeq)}!${keyHex}`
}

export function replenishmentKey (id: string): string {
  return `${REPLENISHMENT_PREFIX}${id}`
}

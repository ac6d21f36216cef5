/** Messages between WorkerVerifier and its threads (verifyWorker.ts). */
import type { RejectionCode } from '@tillbooks/protocol'

/** Per-envelope status of an open job. */
export const OPEN_CHECKED_GOOD = 0
export const OPEN_CHECKED_BAD = 1
export const OPEN_UNCHECKED = 2
export const OPEN_REFUSED = 3

export interface OpenJob {
  type: 'open'
  id: number
  /** The envelopes, back to back; envelope i ends at ends[i]. Transferred, and returned. */
  buf: ArrayBuffer
  ends: Uint32Array
  /** 1: verify envelope i's signature. */
  check: Uint8Array
}

export interface OpenReply {
  id: number
  buf: ArrayBuffer
  status: Uint8Array<ArrayBuffer>
  /** 32 bytes per envelope: its entry hash (zeros when refused). */
  hashes: Uint8Array<ArrayBuffer>
  /** Per item: where its entry's envelope starts and ends within it (0 and its length for a bare envelope; inside a change otherwise). */
  spans: Uint32Array<ArrayBuffer>
  /** [index, code, reason] of each envelope refused before its signature. */
  refused: Array<[number, RejectionCode, string]>
}

/**
 * Bare signatures, packed into one buffer that is transferred, not cloned (a rebuild checks
 * HQ's certificates and orders by the thousand; three cloned arrays a job made a backing
 * store per signature, key and message on both sides): item i is `buf` from `ends[i - 1]`
 * (0 for the first) to `ends[i]`: its signature (64 bytes), its key (32), then its message.
 */
export interface VerifyJob {
  type: 'verify'
  id: number
  buf: ArrayBuffer
  ends: Uint32Array
}

/** Bytes of a packed VerifyJob item before its message: the signature, then the key. */
export const VERIFY_ITEM_HEAD = 64 + 32

export type WorkerJob = OpenJob | VerifyJob

/**
 * Expected failures of a TillLog: bad input from the till's caller or from a peer. Each
 * carries a `code` (protocol's RejectionCode), so callers count rejections by reason.
 * Bugs of our own are assertions (protocol's `invariant`) instead.
 */
import { rejectionOf, type Rejection, type RejectionCode } from '@tillbooks/protocol'

/** The entry, log or change belongs to another till. */
export class WrongTillError extends Error {
  static readonly code: RejectionCode = 'INVALID'
  override name = 'WrongTillError'
}

/** append: the entry's seq is not the verified head's seq + 1. */
export class OutOfOrderError extends Error {
  static readonly code: RejectionCode = 'CHAIN'
  override name = 'OutOfOrderError'
}

/** append: the entry's prevHash is not the verified head's hash. */
export class ChainBrokenError extends Error {
  static readonly code: RejectionCode = 'CHAIN'
  override name = 'ChainBrokenError'
}

/** append: the next seq already holds another validly-signed entry, so appending would equivocate. */
export class ForkDetectedError extends Error {
  static readonly code: RejectionCode = 'FORK'
  override name = 'ForkDetectedError'
}

/** append: the entry's signer is not the key enrolled for its seq. */
export class UnenrolledError extends Error {
  static readonly code: RejectionCode = 'UNENROLLED'
  override name = 'UnenrolledError'
}

/**
 * head/append: the log holds entries this object did not append itself and no `keyFor`
 * is known yet, so there is no verified head. Call `verify(keyFor)` (or pass `keyFor`).
 */
export class NotVerifiedError extends Error {
  static readonly code: RejectionCode = 'CHAIN'
  override name = 'NotVerifiedError'
}

/** A limit of constants.ts would be exceeded (entries, changes, bytes). */
export class LogFullError extends Error {
  static readonly code: RejectionCode = 'OVERSIZED'
  override name = 'LogFullError'
}

/**
 * A peer's sync message refused whole: undecodable, over a limit, or carrying a change no
 * honest TillLog writes (screen.ts). Nothing of it was applied; the session is to be dropped.
 */
export class SyncRefusedError extends Error {
  static readonly code: RejectionCode = 'MALFORMED'
  override name = 'SyncRefusedError'
}

const OURS = [WrongTillError, OutOfOrderError, ChainBrokenError, ForkDetectedError, UnenrolledError, NotVerifiedError, LogFullError, SyncRefusedError]

/** Like protocol's `rejectionOf`, knowing this package's errors too. Rethrows anything else (a bug). */
export function logRejectionOf (err: unknown): Rejection {
  for (const E of OURS) if (err instanceof E) return { code: E.code, reason: err.message }
  return rejectionOf(err)
}


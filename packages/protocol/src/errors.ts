/** Expected failures of untrusted input. Bugs of our own are assertions instead. */

/** Bytes that are not a canonical, well-formed encoding of what was expected. */
export class MalformedError extends Error {
  static readonly code = 'MALFORMED'
  override name = 'MalformedError'
}

/** Well-formed, but a field breaks the record's rules (negative qty, bad day, ...). */
export class InvalidRecordError extends Error {
  static readonly code = 'INVALID'
  override name = 'InvalidRecordError'
}

/** The signature does not verify, or the signer is not allowed to sign this. */
export class ForgedError extends Error {
  static readonly code = 'FORGED'
  override name = 'ForgedError'
}

/** Larger than the wire format allows. */
export class OversizedError extends Error {
  static readonly code = 'OVERSIZED'
  override name = 'OversizedError'
}

/** Every rejection carries one of these codes, so callers can count by reason. */
export type RejectionCode = 'MALFORMED' | 'INVALID' | 'FORGED' | 'OVERSIZED' | 'UNENROLLED' | 'FORK' | 'CHAIN'

/** A reason for rejecting input, as returned to peers and logged. */
export interface Rejection {
  code: RejectionCode
  reason: string
}

export function rejectionOf (err: unknown): Rejection {
  if (err instanceof OversizedError) return { code: 'OVERSIZED', reason: err.message }
  if (err instanceof ForgedError) return { code: 'FORGED', reason: err.message }
  if (err instanceof InvalidRecordError) return { code: 'INVALID', reason: err.message }
  if (err instanceof MalformedError) return { code: 'MALFORMED', reason: err.message }
  throw err
}

/** A programmer error: an invariant of our own is broken. Crash loudly. */
export function invariant (condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`invariant broken: ${message}`)
}

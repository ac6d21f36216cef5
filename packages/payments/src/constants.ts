/** Limits of the payments package. Each is a default; callers may pass lower ones. */

/** Bytes of one settlement file (CSV) read whole; larger ones are streamed (`reconcileStream`). */
export const SETTLEMENT_CSV_BYTES_MAX = 64 * 1024 * 1024
/**
 * Bytes of one bank statement (camt.053) read: its elements are held as a tree while it is
 * checked (~18 bytes of memory per byte of XML, measured), so a statement is read whole up to
 * this and refused beyond it.
 */
export const CAMT_BYTES_MAX = 16 * 1024 * 1024
/** Errors a refused file reports (all are counted). */
export const FILE_ERRORS_MAX = 100
/** Digits of an amount's whole part: more is not a payment amount. */
export const AMOUNT_WHOLE_DIGITS_MAX = 13
/** Characters of a payment id, a processor reference, a batch or payout id. */
export const REF_CHARS_MAX = 64

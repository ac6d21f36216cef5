/** Limits of the wire format. Every one is a hard bound checked before use. */

/** A signed entry (envelope + record) larger than this is rejected unread. */
export const ENTRY_BYTES_MAX = 64 * 1024
/** Lines in one StockIn or consumed-stock list. With MEMBERS_MAX, sized so a full Close stays under ENTRY_BYTES_MAX. */
export const LINES_MAX = 500
/** Members in one Close's points list. */
export const MEMBERS_MAX = 1_000
/** Tax rates in one Close. */
export const TAX_RATES_MAX = 16
/** A till's sequence numbers start at 1 and never exceed this. */
export const SEQ_MAX = 2 ** 40
/** Document numbers per till never exceed this. */
export const DOC_N_MAX = 2 ** 48
/** Length of a SHA-256 hash. */
export const HASH_BYTES = 32
/** The prevHash of a till's first entry. */
export const GENESIS_HASH: Uint8Array = new Uint8Array(HASH_BYTES)

/**
 * Expected failures of @tillbooks/ledger's input. Each is refused with nothing changed, so
 * the caller can count it and carry on. Bugs of our own (an unbalanced transaction, an
 * overflowing sum) are assertions instead (`bug`, `invariant`): they crash.
 */

/** A till has more held (unfolded) entries than BooksOptions.heldEntriesPerTillMax allows. */
export class HeldLimitError extends Error {
  static readonly code = 'HELD_LIMIT'
  override name = 'HeldLimitError'
}

/**
 * An id (replenishment order, opening balance) already folded with different content.
 * HQ signs one order per id; two different orders under one id mean its id allocation is
 * broken, and folding either would make the books depend on which arrived first.
 */
export class IdReusedError extends Error {
  static readonly code = 'ID_REUSED'
  override name = 'IdReusedError'
}

/** A settlement file that says another thing about a line (or payout) than a file already folded: refused whole. */
export class SettlementConflictError extends Error {
  static readonly code = 'SETTLEMENT_CONFLICT'
  override name = 'SettlementConflictError'
}

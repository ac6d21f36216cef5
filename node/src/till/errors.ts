/** A request the till cannot honour in its current state (sell while closed, open twice). */
export class TillStateError extends Error {
  override name = 'TillStateError'
}

/** A sale or refund that is not valid (unknown sku, bad quantity, tenders short). */
export class SaleRejectedError extends Error {
  override name = 'SaleRejectedError'
}

/** Points asked beyond the rights this till holds, and HQ could not (or would not) grant more: no sale. */
export class RedemptionRefusedError extends Error {
  override name = 'RedemptionRefusedError'
}

/** A return of another till's receipt refused: that till refused it, or it is out of reach and the return is beyond what may be done without it. */
export class ReturnRefusedError extends Error {
  override name = 'ReturnRefusedError'
}

/**
 * The till's disk refused the write that would have made a sale (or another document) durable:
 * the sale is not made, no receipt is given, and the till's numbering, day and stock are as they
 * were. The next sale once the disk works takes the number this one would have had.
 */
export class TillDiskError extends Error {
  override name = 'TillDiskError'
  /** The disk's error code (EIO, ENOSPC, LEVEL_IO_ERROR…), or UNKNOWN. */
  readonly code: string
  constructor (message: string, code: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

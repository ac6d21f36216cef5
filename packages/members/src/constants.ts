/** Points in one event (a grant, a transfer, a redemption): far beyond any basket. */
export const POINTS_PER_EVENT_MAX = 100_000_000
/** Events one fold keeps ids of (duplicates are recognised by id): a till's log of many years. */
export const EVENT_IDS_MAX = 10_000_000
/** E.164: at most 15 digits after the +. */
export const E164_DIGITS_MAX = 15
export const E164_DIGITS_MIN = 7
/**
 * Days after a sale within which it may be returned at the till that made it: a refund within
 * them takes the sale's points back (they are still pending); after them the points vest.
 */
export const RETURN_WINDOW_DAYS = 30

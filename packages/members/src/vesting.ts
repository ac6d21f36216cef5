/**
 * When points vest. Points earned on a sale vest at the end of the return window: until then a
 * refund at the till that made the sale may take them back. HQ hears of such a refund only when
 * that till's Close of the refund's day arrives, so it counts the points vested only once the
 * window has passed *and* it holds that till's Closes through the window's last day: a refund
 * it has not heard of yet can then no longer exist, and vested points never go down, but for
 * one case no rule can rule out: a till found forked (two Closes signed at one seq, the second
 * side arriving after HQ vested and granted points of the first). HQ then folds none of that
 * till's Closes from the fork on, their points with them; a member who already spent them has
 * a balance below zero, repaid from their next points (HQ's view says what the fork holds).
 */
import { RETURN_WINDOW_DAYS } from './constants.ts'
import { MembersError } from './errors.ts'

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/
/** A day after every day: points of a till whose Closes have not come in yet. */
export const NEVER = '9999-12-31'

/** `day` plus `n` days (UTC calendar days). */
export function addDays (day: string, n: number): string {
  if (!DAY_RE.test(day)) throw new MembersError(`${JSON.stringify(day)} is not a day (YYYY-MM-DD)`)
  const d = new Date(`${day}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + n)
  return d.toISOString().slice(0, 10)
}

/** The last day on which a sale of `saleDay` may be refunded with its points taken back (`windowDays`: the retailer's return window). */
export function lastReturnDay (saleDay: string, windowDays = RETURN_WINDOW_DAYS): string {
  if (!Number.isSafeInteger(windowDays) || windowDays < 1) throw new MembersError('the return window is a whole number of days, at least 1')
  return addDays(saleDay, windowDays - 1)
}

/**
 * The day points earned on `saleDay` at a till vest, given the last day that till has closed
 * as HQ knows it: the day after the window, or NEVER while HQ lacks its Closes through the window.
 */
export function vestsOn (saleDay: string, tillLastClosedDay: string | null, windowDays = RETURN_WINDOW_DAYS): string {
  if (tillLastClosedDay === null || tillLastClosedDay < lastReturnDay(saleDay, windowDays)) return NEVER
  return addDays(saleDay, windowDays)
}

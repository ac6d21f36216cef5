/** Defaults and limits of @tillbooks/ledger. Every one can be overridden through BooksOptions. */

/**
 * The commodity the hledger export declares. The books themselves are currency-free
 * integer cents; this only labels them.
 */
export const CURRENCY_DEFAULT = 'EUR'

/**
 * Entries Books holds for one till without folding them (waiting for a missing
 * predecessor, or after a fork). Normal operation holds a handful while a relay's batch
 * arrives out of order; this bound stops one misbehaving or long-cut-off till from
 * growing HQ's memory without limit. At two entries a day it is over 13 years of gap.
 */
export const HELD_ENTRIES_PER_TILL_MAX = 10_000

/** Initial room, in entries, of a till's packed hash buffer (grows by doubling). */
export const TILL_HASHES_INITIAL = 4

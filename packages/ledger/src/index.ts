/**
 * @tillbooks/ledger: HQ's double-entry books, rebuilt to the cent from the tills' signed
 * records. Books = fold(records): the same set of records, in any order, with any
 * duplicates, gives the same books, journal and exports.
 *
 * @example
 * ```ts
 * import { openEntry, openReplenishment } from '@tillbooks/protocol'
 * import { Books } from '@tillbooks/ledger'
 *
 * const books = new Books({ costCents: sku => standardCostCents[sku] })
 * books.addOpeningStock([{ sku: 'BEAN', qty: 5000 }], '2026-11-01')   // Dr warehouse / Cr equity:opening
 * books.addReplenishment(openReplenishment(orderBytes, rootKey))      // Dr in transit / Cr warehouse
 * for (const bytes of received) {
 *   const entry = openEntry(bytes)                                    // signature checked, record validated
 *   enrolment.check(entry.tillId, entry.record.seq, entry.signer)     // signed by an enrolled till
 *   books.add(entry)                                                  // 'folded' | 'duplicate' | 'pending' | 'fork'
 * }
 * const { accounts, stores, tills, forks } = books.snapshot()         // plain JSON, integer cents
 * await writeFile('books.journal', books.toHledger())                 // `hledger -f books.journal check -s` passes
 * ```
 */
export * from './accounts.ts'
export * from './Books.ts'
export { BlockTable, CheckpointFormatError, CheckpointWriter, decodeSummaries, encodeSummaries, readCheckpointItems, type CheckpointItem, type CodecNames } from './checkpointCodec.ts'
export * from './constants.ts'
export * from './errors.ts'
export * from './exports.ts'
export * from './journal.ts'
export * from './money.ts'
export { Interner, StringPool, summarise, summaryTransaction, type CloseSummary, type StockInSummary, type Summary, type SummaryContext } from './summary.ts'
export { TillChain, type AddOutcome, type ChainSink, type ForkEvidence, type TillChainOptions } from './TillChain.ts'

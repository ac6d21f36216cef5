/**
 * @tillbooks/payments: card and e-wallet payments, as pure parts the till, the processor and HQ
 * share: amounts in minor units parsed exactly, store-and-forward profiles as data, the
 * processor's settlement report, and reconciliation as a pure function.
 *
 * @example
 * ```ts
 * const file = parseSettlementCsv(csvText, 'EUR')           // refused whole (SettlementFileError) if it does not add up
 * const r = reconcile({ payments, lines: file.lines, throughDay: '2026-03-03', settlementLagDays: 1, nowMs })
 * r.matched       // approvals settled as approved
 * r.exceptions    // [{ kind: 'amount_mismatch', paymentId: 'S1-1-P17', expectedCents: 1250, settledCents: 1251, … }, …]
 * storeAndForward(PROFILES.default, { count: 3, totalCents: 4_000, oldestTakenAtMs }, { amountCents: 2_500, entryMode: 'chip', refund: false }, now)
 * // { store: true, forwardByMs } or { store: false, reason: '…' }
 * ```
 */
export { parseCamt053, toCamt053, type BankEntry, type BankStatement, type BankTransaction, type CamtVersion } from './camt053.ts'
export { CURRENCY_EXPONENTS, exponentOf, formatMinorUnits, parseMinorUnits } from './amount.ts'
export { AMOUNT_WHOLE_DIGITS_MAX, CAMT_BYTES_MAX, FILE_ERRORS_MAX, REF_CHARS_MAX, SETTLEMENT_CSV_BYTES_MAX } from './constants.ts'
export { PaymentsError, SettlementFileError, type FileProblem } from './errors.ts'
export { ENTRY_MODES, PROFILES, profileNamed, storeAndForward, type EntryMode, type OfflineAttempt, type StoreAndForwardProfile, type StoreDecision, type StoredState } from './profiles.ts'
export { compareExceptions, dueThrough, EXCEPTION_KINDS, reconcile, Reconciler, type ExceptionKind, type ReconcileException, type ReconcileInput, type Reconciliation, type TillPayment } from './reconcile.ts'
export { batchesOf, parseSettlementCsv, readSettlementCsv, SETTLEMENT_COLUMNS, SettlementReader, toSettlementCsv, type SettlementBatch, type SettlementFile, type SettlementLine, type SettlementType } from './settlementCsv.ts'
export { authorise, DEFAULT_TEST_TOKEN, DEFAULT_WALLET_TOKEN, TEST_CARDS, type Authorisation, type TestCard } from './testCards.ts'
export { fileIdOf, lineKeys, openCents, readSettlementFile, type ImportedFile, type Payout } from './settlementFile.ts'
export { feeOf, payoutEntries, settleDay, type Booked } from './settle.ts'
export { ProcessorUnreachableError, type AuthoriseRequest, type ProcessorAdapter, type ProcessorAnswer, type RefundRequest } from './adapter.ts'

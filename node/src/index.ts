/**
 * @tillbooks/node: the till and head-office nodes, transport-agnostic, with their storage.
 *
 * @example
 * ```ts
 * const hq = new HqNode({ store: new LevelStore('hq-data'), clock: systemClock, logger }, { root, costCents })
 * await hq.start()                                   // rebuilds the books from the log
 * const cert = await hq.enrol({ store, till: 1, tillKey: signer.publicKey })
 * const till = new TillNode({ store: new LevelStore('till-data'), clock: systemClock, logger }, { store, till: 1, signer, catalogue, hqRootKey: root.publicKey })
 * await till.start(); await till.openDay(day); await till.sell({ lines: [{ sku: 'latte', qty: 1 }] })
 * await till.closeDay()
 * const answers = await hq.submit(till.outbox())    // accepted only once durable
 * await till.acknowledge(answers.map(a => ({ seq: a.seq!, status: a.status })))
 * ```
 */
export * from './components.ts'
export * from './storage/KvStore.ts'
export { LevelStore } from './storage/LevelStore.ts'
export { MemoryStore } from './storage/MemoryStore.ts'
export { DiskFaultError, FaultyKvStore, type DiskFaultCode, type FaultyKvStoreInit, type FaultyCounters } from './storage/FaultyKvStore.ts'
export { HqSettlements, totalsAgree, type ApprovalSource, type ReconcileAnswer, type ReconcileOptions, type TillCards } from './hq/HqSettlements.ts'
export { EnrolmentConflictError, HqNode, type HqInit, type HqCounters, type SubmitOutcome, type SubmitStatus } from './hq/HqNode.ts'
export { TillNode, REFUNDS_WITHOUT_CONSENT_CENTS_PER_DAY, type CatalogueSource, type DayState, type FlaggedReturn, type ReturnOfElsewhere, type RightsSource, type SaleDoc, type SaleReceipt, type TenderIn, type TillInit } from './till/TillNode.ts'
export { PaymentDeclinedError, reversalIdOf, reversedBy, TillPayments, type PaymentAttempt, type PaymentOutcome, type PaymentState, type TillPaymentsInit } from './till/TillPayments.ts'
export { EmbeddedProcessorAdapter, ProcessorAnswerError } from './payments/EmbeddedProcessorAdapter.ts'
export { GtinInUseError, TillCatalogue, type CatalogueOnDay, type InventInput, type SellableProduct, type TillCatalogueInit } from './till/TillCatalogue.ts'
export { HqReplication, hqRecordKinds, type HqReplicationInit, type ReplicaTransport, type ReplicatedKind, type ReplicationCounters } from './hq/HqReplication.ts'
export { pullTillLog } from './hq/pullTillLog.ts'
export { submitAll } from './hq/submitAll.ts'
export { booksDigest, type BooksDigest } from './hq/booksDigest.ts'
export { dayAfter, EffectiveDayError, HqCatalogue, ResolutionError, type CatalogueView, type ImportResult } from './hq/HqCatalogue.ts'
export { RedemptionRefusedError, ReturnRefusedError, SaleRejectedError, TillDiskError, TillStateError } from './till/errors.ts'
export { HqMembers, type MemberAnswer } from './hq/HqMembers.ts'
export { InlineVerifier, type Verifier, type VerifyItem } from './verify/Verifier.ts'
export { WorkerVerifier } from './verify/WorkerVerifier.ts'
export * from './mail/index.ts'
export * from './net/index.ts'
export { DocSync, type AmSyncTransport, type DocSyncInit, type PullResult, type ServedDoc, type SyncCounters, type SyncDoc, type SyncDocs } from './sync/DocSync.ts'
export { CATALOGUE_DOC } from './sync/constants.ts'
export { ReplicaDocs, type ReplicaOutcome } from './sync/ReplicaDocs.ts'
export {
  ANNOUNCEMENT_BYTES_MAX, decodeAnnouncement, encodeAnnouncement, judgeAnnouncementData, TopicValidatorResult,
  type Announcement, type JudgeContext, type Verdict
} from './net/gossip.ts'
export { VerifiedCertificates } from './net/VerifiedCertificates.ts'

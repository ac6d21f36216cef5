/**
 * @tillbooks/crdt: a till's signed, append-only log as an Automerge document. Entries are
 * opaque signed envelopes; forks survive merges as evidence; `verify` judges them.
 *
 * @example
 * ```ts
 * const log = TillLog.create(tillId, { actorId: actorIdFor(tillId, 'till'), keyFor: (t, s) => enrolment.keyFor(t, s) })
 * log.append(signEntry(stockIn, till))            // seq 1, prevHash = GENESIS_HASH
 * log.append(signEntry(close, till))              // seq 2, prevHash = hash of seq 1
 *
 * const hq = TillLog.load(hqStorage)              // HQ's own replica, from its own storage
 * hq.applyChanges(log.getChangesSince(hq.getHeads()))  // what HQ lacks; screened at the boundary
 * const report = hq.verify((t, s) => enrolment.keyFor(t, s))
 * report.chain    // the clean, verified prefix 1..k
 * report.forks    // seqs where the till signed two different records
 * report.invalid  // forgeries and other junk a relay stored, with reasons
 * ```
 */
export * from './CatalogueDoc.ts'
export * from './constants.ts'
export * from './entryChange.ts'
export * from './entryKey.ts'
export { actorBytesFrom, actorFrom, ENTRIES_OBJ_COUNTER, genesisActorBytesOf, genesisActorOf, tillActorBytesOf, tillActorOf } from './genesis.ts'
export * from './errors.ts'
export { screenChange, type ScreenContext } from './screen.ts'
export { servingStateFor } from './screenedSync.ts'
export { cloneSyncState, decodeSyncState, encodeSyncState, initSyncState } from './syncState.ts'
export * from './TillLog.ts'
export * from './verify.ts'

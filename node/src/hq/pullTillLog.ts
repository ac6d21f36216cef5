/**
 * One till's log brought over from another HQ replica (HqReplication's `pullTill`): into a
 * copy made of the till's own changes this HQ holds, by Automerge's sync protocol (`sync`, a
 * DocSync whose `replicaFor` answers from `pulling`); every change this HQ did not hold is then
 * submitted like anything a till sends (verified, logged, folded). An entry the other HQ took
 * in bare (a relay, an email backup) sits in its document under that HQ's actor: it travels as
 * its envelope, never as that change. Shared by the daemon and the simulator.
 */
import * as A from '@automerge/automerge'
import { actorIdFor, TillLog } from '@tillbooks/crdt'
import type { TillId } from '@tillbooks/protocol'
import { UnsettledError, type DocSync } from '../sync/DocSync.ts'
import { RefusedError } from '../net/TillbooksPeer.ts'
import type { HqNode } from './HqNode.ts'
import { envelopeOf } from './loggedEntry.ts'
import { submitAll } from './submitAll.ts'

/**
 * Pull `tillId`'s log from the replica at `addr` (peer `peerId`) into `hq`; answers the entries
 * it took in. Where Automerge cannot bring it (the document refuses the other HQ's: a till change
 * whose earlier changes that HQ holds only as bare entries, a clash of HQ actors), the entries
 * themselves (`fetchEntries`: the other HQ's envelopes for the till), and `onEntries` is told why.
 */
export async function pullTillLog (hq: HqNode, sync: DocSync, pulling: Map<string, TillLog>, addr: string, peerId: string, tillId: TillId,
  fallback: { fetchEntries: () => Promise<Uint8Array[]>, onEntries: (reason: string) => void }): Promise<number> {
  const log = TillLog.create(tillId, { actorId: actorIdFor(tillId, 'replica') })
  try {
    log.applyChanges(await hq.tillChanges(tillId))
    const before = log.getHeads()
    pulling.set(tillId, log)
    try {
      await sync.pull(addr, peerId, tillId)
    } catch (err) {
      // Only what Automerge refused or could not settle; a peer out of reach is tried again next round.
      if (!(err instanceof UnsettledError) && !(err instanceof RefusedError) && (err as { code?: string }).code !== 'REFUSED') throw err
      fallback.onEntries((err as Error).message)
      return await submitAll(hq, await fallback.fetchEntries())
    } finally {
      // Another pull of the same till may have started meanwhile: only this pull's copy is removed.
      if (pulling.get(tillId) === log) pulling.delete(tillId)
    }
    const hqActor = actorIdFor(tillId, 'hq')
    return await submitAll(hq, log.getChangesSince(before).map(c => A.decodeChange(c).actor === hqActor ? envelopeOf(c) : c))
  } finally {
    log.free()
  }
}

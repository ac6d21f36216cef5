/**
 * A till's log as an Automerge document, made from what HQ's log holds for it (HqDocs loads
 * this module, and with it Automerge, at the first ask).
 */
import { actorIdFor, APPLY_CHANGES_MAX, isAutomergeChunk, readEntryChange, TillLog } from '@tillbooks/crdt'
import type { TillId } from '@tillbooks/protocol'

/**
 * A till's document from HQ's log values: the till's own changes, screened as any peer's
 * (TillLog.applyChanges), then every entry that is not in the document by now (it came
 * bare, or its change depends on a change HQ does not hold) put by HQ's own actor.
 */
export function documentOf (tillId: TillId, values: Uint8Array[]): TillLog {
  const doc = TillLog.create(tillId, { actorId: actorIdFor(tillId, 'hq') })
  const changes = values.filter(isAutomergeChunk)
  for (let i = 0; i < changes.length; i += APPLY_CHANGES_MAX) doc.applyChanges(changes.slice(i, i + APPLY_CHANGES_MAX))
  for (const v of values) {
    const bytes = isAutomergeChunk(v) ? readEntryChange(v).entry : v
    doc.ingest({ bytes })
  }
  return doc
}

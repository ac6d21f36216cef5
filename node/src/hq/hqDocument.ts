/**
 * A till's log as an Automerge document, made from what HQ's log holds for it (HqDocs loads
 * this module, and with it Automerge, at the first ask).
 */
import { actorIdFor, APPLY_CHANGES_MAX, isAutomergeChunk, readEntryChange, TillLog } from '@tillbooks/crdt'
import type { TillId } from '@tillbooks/protocol'

/**
 * A till's document from HQ's log values: the till's own changes, screened as any peer's
 * (TillLog.applyChanges), then every entry that is not in the document by now (it came
 * bare, or its change depends on a change HQ does not hold, or Automerge refused it) put by
 * HQ's own actor. A change Automerge refuses (a header no honest till writes that got past
 * intake's checks) costs that change its place in the till's history, never the document:
 * it is tried alone, after the batch it was in failed.
 */
export function documentOf (tillId: TillId, values: Uint8Array[]): TillLog {
  const doc = TillLog.create(tillId, { actorId: actorIdFor(tillId, 'hq') })
  const changes = values.filter(isAutomergeChunk)
  for (let i = 0; i < changes.length; i += APPLY_CHANGES_MAX) {
    const batch = changes.slice(i, i + APPLY_CHANGES_MAX)
    try {
      doc.applyChanges(batch)
    } catch {
      for (const c of batch) {
        try { doc.applyChanges([c]) } catch { /* its entry is put below */ }
      }
    }
  }
  for (const v of values) {
    let bytes = v
    if (isAutomergeChunk(v)) {
      try { bytes = readEntryChange(v).entry } catch { continue } // intake read it: not reached
    }
    doc.ingest({ bytes })
  }
  return doc
}

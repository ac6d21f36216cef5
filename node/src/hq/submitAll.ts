/**
 * Entries a replica brought over from another, submitted to its own HQ like anything a till
 * sends (verified, logged, folded), in chunks of SUBMIT_CHUNK: one group commit each.
 */
import { EntriesBusyError, type HqNode } from './HqNode.ts'

/** Entries a replica submits to its own HQ at once. */
const SUBMIT_CHUNK = 1_024

/**
 * Submit `items` to `hq` in chunks; answers how many it accepted (new to it). A chunk answered
 * busy for some of its entries alone (EntriesBusyError: a till's pile at the held limit, entries
 * that would wait for a full catalogue queue) is sent again without them, so they hold up
 * neither the other tills' entries nor the till's own that can go in: they are left for the
 * next round. Busy for HQ's own state (the disk) is thrown.
 */
export async function submitAll (hq: HqNode, items: Uint8Array[]): Promise<number> {
  let accepted = 0
  for (let i = 0; i < items.length; i += SUBMIT_CHUNK) {
    let chunk = items.slice(i, i + SUBMIT_CHUNK)
    while (chunk.length > 0) {
      try {
        for (const a of await hq.submit(chunk)) if (a.status === 'accepted') accepted++
        break
      } catch (err) {
        if (!(err instanceof EntriesBusyError) || err.busy.length === 0) throw err
        // Each pass takes out at least one entry: at most as many passes as the chunk's entries, most often one.
        const busy = new Set(err.busy)
        chunk = chunk.filter((_, k) => !busy.has(k))
      }
    }
  }
  return accepted
}

/**
 * Entries a replica brought over from another, submitted to its own HQ like anything a till
 * sends (verified, logged, folded), in chunks of SUBMIT_CHUNK: one group commit each.
 */
import { HeldLimitBusyError, type HqNode } from './HqNode.ts'

/** Entries a replica submits to its own HQ at once. */
const SUBMIT_CHUNK = 1_024

/**
 * Submit `items` to `hq` in chunks; answers how many it accepted (new to it). A chunk answered
 * busy because a till holds the most entries HQ cannot fold yet (HeldLimitBusyError) is split
 * in halves and each submitted again, down to the entries that are busy alone: so one till's
 * pile holds up neither the other tills' entries nor that till's own that can still fold. Those
 * are left for the next round. Busy for any other reason (the disk, the catalogue) is thrown.
 */
export async function submitAll (hq: HqNode, items: Uint8Array[]): Promise<number> {
  let accepted = 0
  const submit = async (list: Uint8Array[]): Promise<void> => {
    try {
      for (const a of await hq.submit(list)) if (a.status === 'accepted') accepted++
    } catch (err) {
      if (!(err instanceof HeldLimitBusyError)) throw err
      if (list.length === 1) return
      const half = Math.ceil(list.length / 2)
      await submit(list.slice(0, half))
      await submit(list.slice(half))
    }
  }
  for (let i = 0; i < items.length; i += SUBMIT_CHUNK) await submit(items.slice(i, i + SUBMIT_CHUNK))
  return accepted
}

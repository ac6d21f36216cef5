/**
 * Entries a replica brought over from another, submitted to its own HQ like anything a till
 * sends (verified, logged, folded), in chunks of SUBMIT_CHUNK: one group commit each.
 */
import type { HqNode } from './HqNode.ts'

/** Entries a replica submits to its own HQ at once. */
const SUBMIT_CHUNK = 1_024

/** Submit `items` to `hq` in chunks; answers how many it accepted (new to it). */
export async function submitAll (hq: HqNode, items: Uint8Array[]): Promise<number> {
  let accepted = 0
  for (let i = 0; i < items.length; i += SUBMIT_CHUNK) {
    for (const a of await hq.submit(items.slice(i, i + SUBMIT_CHUNK))) if (a.status === 'accepted') accepted++
  }
  return accepted
}

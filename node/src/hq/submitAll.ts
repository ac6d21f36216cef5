/**
 * Entries a replica brought over from another, submitted to its own HQ like anything a till
 * sends (verified, logged, folded), in chunks of SUBMIT_CHUNK: one group commit each.
 */
import { HqBusyError, type HqNode } from './HqNode.ts'

/** Entries a replica submits to its own HQ at once. */
const SUBMIT_CHUNK = 1_024

/**
 * Submit `items` to `hq` in chunks; answers how many it accepted (new to it). With `tills` (the
 * till of each item), a chunk HQ answers busy is submitted again till by till, so that one
 * till's pile (HQ holding the most of it it cannot fold yet) does not hold up every other
 * till's: the busy tills' entries are left to the next round, and only if every till of the
 * chunk is busy (the disk, the catalogue) is it thrown.
 */
export async function submitAll (hq: HqNode, items: Uint8Array[], tills?: readonly string[]): Promise<number> {
  let accepted = 0
  const count = (answers: ReadonlyArray<{ status: string }>): void => { for (const a of answers) if (a.status === 'accepted') accepted++ }
  for (let i = 0; i < items.length; i += SUBMIT_CHUNK) {
    const chunk = items.slice(i, i + SUBMIT_CHUNK)
    try {
      count(await hq.submit(chunk))
    } catch (err) {
      if (!(err instanceof HqBusyError) || tills === undefined) throw err
      const byTill = new Map<string, Uint8Array[]>()
      for (const [k, b] of chunk.entries()) {
        const t = tills[i + k] ?? ''
        const list = byTill.get(t)
        if (list === undefined) byTill.set(t, [b])
        else list.push(b)
      }
      let busy = 0
      for (const list of byTill.values()) {
        try {
          count(await hq.submit(list))
        } catch (e) {
          if (!(e instanceof HqBusyError)) throw e
          busy++
        }
      }
      if (busy === byTill.size) throw err
    }
  }
  return accepted
}

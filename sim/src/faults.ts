/** The faults a simulated run can inject, by name (`--faults all|none|a,b,c`). `all` is these. */
export const FAULTS = [
  'loss', // messages dropped
  'duplicate', // messages delivered twice
  'reorder', // large latency jitter, so messages overtake each other
  'partition', // stores cut off from HQ for hours to days
  'hqCrash', // HQ loses power in the middle of a close wave and restarts from its log
  'fire', // a store burns overnight; its last close comes back from a neighbour's replica
  'skew', // till clocks off by up to a day and a half
  'forgery', // forged, tampered, malformed and oversized entries sent to HQ
  'replay', // old valid entries sent to HQ again
  'equivocation' // a till signs two different closes for one seq
] as const

/**
 * Faults named one by one (`--faults all,catalogueClash`), left out of `all`: each would change
 * every seed `all` has recorded (sim/README.md replays some). catalogueClash puts a replica of
 * the catalogue on every till and syncs it all day, which makes a run several times longer;
 * cardPayments sends card tenders through the production TillPayments to a simulated processor.
 */
export const NAMED_FAULTS = [
  'catalogueClash', // two stores cut off from each other and HQ make up one product (one GTIN); HQ resolves the clash `same`
  // Card tenders paid through the processor across the simulated WAN (cards drawn from the seed: approvals,
  // declines, declines when forwarded, answers that never arrive, a share of answers lost); the processor
  // down for a stretch of one day (store and forward); its settlement files with a line dropped, one changed
  // by a cent and one duplicated. Checks P1-P3 (cardPayments.ts).
  'cardPayments',
  // Two more HQ replicas syncing with HQ and each other (HqReplication): one loses power in a close wave and
  // restarts from its log, one is cut off for hours and healed; at the end every replica's books hash is HQ's.
  'hqReplicas',
  // Disks that fail (EIO, ENOSPC): HQ's through a stretch of each close wave (its commits answered busy,
  // resent once it heals); a till's under a sale or a close now and then (refused, nothing changed).
  // Checks D1-D2 (diskFaults.ts) beside B4/B5: nothing acked lost, nothing folded twice.
  'diskFaults'
] as const

export type Fault = typeof FAULTS[number] | typeof NAMED_FAULTS[number]

/** Every fault, in the order a result lists them. */
export const ALL_FAULT_NAMES: readonly Fault[] = [...FAULTS, ...NAMED_FAULTS]

export function parseFaults (spec: string): Set<Fault> {
  const s = spec.trim()
  if (s === 'none' || s === '') return new Set()
  const out = new Set<Fault>()
  for (const name of s.split(',').map(x => x.trim())) {
    if (name === 'all') { for (const f of FAULTS) out.add(f); continue }
    if (!(ALL_FAULT_NAMES as readonly string[]).includes(name)) throw new Error(`unknown fault "${name}"; known: ${ALL_FAULT_NAMES.join(', ')}, or all (${FAULTS.length} of them), none`)
    out.add(name as Fault)
  }
  return out
}

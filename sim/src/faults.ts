/** The faults a simulated run can inject, by name (`--faults all|none|a,b,c`). */
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

export type Fault = typeof FAULTS[number]

export function parseFaults (spec: string): Set<Fault> {
  const s = spec.trim()
  if (s === 'all') return new Set(FAULTS)
  if (s === 'none' || s === '') return new Set()
  const out = new Set<Fault>()
  for (const name of s.split(',').map(x => x.trim())) {
    if (!(FAULTS as readonly string[]).includes(name)) throw new Error(`unknown fault "${name}"; known: ${FAULTS.join(', ')}, or all, none`)
    out.add(name as Fault)
  }
  return out
}

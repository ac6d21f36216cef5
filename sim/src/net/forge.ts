/**
 * Forged and broken records the launcher throws at HQ and plants at a neighbour's replica.
 * Each is built from a real entry (as HQ or a neighbour served it), so a check that only
 * looks at the shape would let it through: only the signature, the enrolment and the chain
 * can tell.
 */
import {
  asStoreId, canonicalEncode, keyPairFromSeed, openEntry, signEntry, Signer,
  type Entry
} from '@tillbooks/protocol'
import type { Prng } from '../Prng.ts'

export interface Forgery { kind: string, bytes: Uint8Array }

/** A signer HQ never enrolled, from the run's seed. */
export function forgerKey (p: Prng): Signer {
  return new Signer(keyPairFromSeed(p.bytes(32)))
}

/** Forgeries for HQ's /admin/entries, derived from one real entry of an enrolled till. */
export function forgeriesFrom (realBytes: Uint8Array, p: Prng): Forgery[] {
  const real: Entry = openEntry(realBytes, { verify: false })
  const attacker = forgerKey(p)
  const out: Forgery[] = []
  // 1. The real record with its takings raised, signed by a key HQ never enrolled.
  if (real.record.kind === 'close') {
    const r = real.record
    out.push({ kind: 'tampered copy, unenrolled key', bytes: signEntry({ ...r, takingsCents: { ...r.takingsCents, card: r.takingsCents.card + 100_000 }, tax: [...r.tax, { rateBp: 9_999, netCents: 100_000, taxCents: 0 }] }, attacker).bytes })
  } else {
    out.push({ kind: 'tampered copy, unenrolled key', bytes: signEntry({ ...real.record, seq: real.record.seq + 1, prevHash: real.hashBytes }, attacker).bytes })
  }
  // 2. The next record of the till's chain, signed by the attacker.
  out.push({ kind: 'chain extension, unenrolled key', bytes: signEntry({ ...real.record, seq: real.record.seq + 1000, prevHash: real.hashBytes }, attacker).bytes })
  // 3. The real entry with one bit of its signature flipped.
  const sig = new Uint8Array(real.sig)
  const at = p.int(0, 63)
  sig[at] = (sig[at] as number) ^ (1 << p.int(0, 7))
  out.push({ kind: 'bad signature', bytes: canonicalEncode({ v: 1, kind: real.record.kind, body: real.body, signer: real.signer, sig }) })
  // 4. The real signature over a body with one byte changed.
  const body = new Uint8Array(real.body)
  const bi = p.int(0, body.length - 1)
  body[bi] = (body[bi] as number) ^ 0x01
  out.push({ kind: 'tampered body', bytes: canonicalEncode({ v: 1, kind: real.record.kind, body, signer: real.signer, sig: real.sig }) })
  // 5. A till HQ never enrolled.
  out.push({ kind: 'unenrolled till', bytes: signEntry({ ...real.record, store: asStoreId('ZZZ'), seq: 1, prevHash: new Uint8Array(32) }, attacker).bytes })
  // 6. Noise and a truncated entry.
  out.push({ kind: 'malformed', bytes: p.bytes(p.int(1, 300)) })
  out.push({ kind: 'truncated', bytes: realBytes.slice(0, realBytes.length - 7) })
  return out
}

/**
 * A forged next entry for a till's log: it extends the real head (right seq, right prevHash,
 * a plausible record), carries a valid signature of its own, but by a key HQ never enrolled
 * for the slot. A replica that checks only self-signatures keeps it; recovery must not.
 */
export function forgedSuccessor (headBytes: Uint8Array, p: Prng): Entry {
  const head = openEntry(headBytes, { verify: false })
  const r = head.record
  return signEntry({ ...r, seq: r.seq + 1, prevHash: head.hashBytes }, forgerKey(p))
}

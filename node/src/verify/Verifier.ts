/**
 * Signature verification behind an interface, because it is HQ's hottest path
 * (~110 µs per native Ed25519 verify here): production spreads it over worker threads,
 * the simulator verifies inline so a run replays exactly from its seed.
 */
import { native, type PublicKey } from '@tillbooks/protocol'

export interface VerifyItem {
  signature: Uint8Array
  message: Uint8Array
  publicKey: PublicKey
}

export interface Verifier {
  verify (items: VerifyItem[]): Promise<boolean[]>
  close (): Promise<void>
}

export class InlineVerifier implements Verifier {
  async verify (items: VerifyItem[]): Promise<boolean[]> {
    return items.map(i => native.verify(i.signature, i.message, i.publicKey))
  }

  async close (): Promise<void> {}
}

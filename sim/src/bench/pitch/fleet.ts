/**
 * The fleet's keys and signatures (the load generator's side; the relay only needs ops.ts):
 * till i's Ed25519 key from a deterministic seed, through the repo's keyPairFromSeed/Signer.
 */
import { createHash } from 'node:crypto'
import { keyPairFromSeed, Signer, type KeyPair } from '@tillbooks/protocol'
import { signedBytes, type PitchOp } from './ops.ts'

export * from './ops.ts'

/** The till's key seed: deterministic, so a run replays. */
export function tillSeed (i: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`tillbooks/pitch/till/${i}`).digest())
}

export function tillKeyPair (i: number): KeyPair {
  return keyPairFromSeed(tillSeed(i))
}

/** A key no till owns, for the forgery check. */
export function forgerSigner (): Signer {
  return new Signer(keyPairFromSeed(new Uint8Array(createHash('sha256').update('tillbooks/pitch/forger').digest())))
}

export function signOp (op: PitchOp, signer: Signer): PitchOp {
  return { ...op, sig: Buffer.from(signer.sign(signedBytes(op))).toString('base64') }
}


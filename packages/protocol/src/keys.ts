/**
 * Ed25519 keys and signatures, three byte-compatible implementations:
 * - `sodium`: libsodium through sodium-native; verifies in ~70 µs on this machine, twice as fast
 *   as OpenSSL (~140 µs, key parsed and cached), with no key to parse. It decides acceptance.
 * - `native`: node:crypto (OpenSSL); signs (tills, HQ) and derives keys.
 * - `noble`: @noble/ed25519, pure JS, the reference the other two are cross-checked against.
 * All follow RFC 8032 (noble with zip215 off): byte-identical signatures, and the same answer on
 * every honestly made signature, on S >= L and on small-order keys; the tests prove it on RFC 8032
 * vectors and random keys. They are not identical on crafted input: noble checks the cofactored
 * equation, OpenSSL and libsodium the cofactorless one (libsodium also refuses a small-order R),
 * so a key's owner can make signatures with a small-order component that noble accepts and they
 * refuse. The tests pin the direction: sodium accepts only what OpenSSL accepts, which accepts
 * only what noble accepts. Decide acceptance with one verifier (`verifySignature`) everywhere.
 */
import { createHash, createPrivateKey, createPublicKey, hash, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import * as ed from '@noble/ed25519'
import sodiumNative from 'sodium-native'
import { bytesEqual } from './canonical.ts'
import { MalformedError } from './errors.ts'

ed.hashes.sha512 = (message: Uint8Array) => new Uint8Array(createHash('sha512').update(message).digest())

export type PublicKey = Uint8Array & { readonly __brand: 'PublicKey' }
export type SecretKey = Uint8Array & { readonly __brand: 'SecretKey' }

export interface KeyPair {
  publicKey: PublicKey
  secretKey: SecretKey
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const PUBLIC_KEY_CACHE_MAX = 200_000

export function asPublicKey (bytes: Uint8Array): PublicKey {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) throw new MalformedError('a public key is 32 bytes')
  return bytes as PublicKey
}

export function asSecretKey (bytes: Uint8Array): SecretKey {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) throw new MalformedError('a secret key is 32 bytes')
  return bytes as SecretKey
}

/** A key pair from a 32-byte seed (the secret key). Deterministic: the simulator derives keys from its seed. */
export function keyPairFromSeed (seed: Uint8Array): KeyPair {
  const secretKey = asSecretKey(new Uint8Array(seed))
  // Derived natively (~20x faster than noble: a 10,000-till fleet enrols in well under a second).
  const der = createPublicKey(createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' })
  const publicKey = asPublicKey(new Uint8Array(der.subarray(SPKI_PREFIX.length)))
  return { publicKey, secretKey }
}

/** The reference derivation (pure JS), which the tests hold keyPairFromSeed to. */
export function noblePublicKey (secretKey: SecretKey): PublicKey {
  return asPublicKey(ed.getPublicKey(secretKey))
}

export function sha256 (...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/**
 * From this many bytes on, `sha256Into` hashes through OpenSSL: its assembly (SHA-NI where the
 * CPU has it, as this VM's EPYC does) beats libsodium's portable C per byte (600 bytes: 1.7
 * against 3.8 µs), while below it node:crypto's fixed cost of a Buffer per call loses (300
 * bytes: 2.4 against 1.5 µs). Measured 2026-12-07 on this 2-core VM.
 */
export const SHA256_OPENSSL_FROM_BYTES = 512

/**
 * SHA-256 of `data` written into `out` at `offset`: for what HQ's verify threads hash on
 * every item. Short data by libsodium straight into `out` (nothing allocated but a view),
 * longer through OpenSSL (SHA256_OPENSSL_FROM_BYTES). Held equal to `sha256` by the tests.
 */
export function sha256Into (data: Uint8Array, out: Uint8Array, offset = 0): void {
  if (offset < 0 || offset + 32 > out.length) throw new RangeError('sha256Into: no room for 32 bytes at offset')
  if (data.length >= SHA256_OPENSSL_FROM_BYTES) out.set(hash('sha256', data, 'buffer'), offset)
  else sodiumNative.crypto_hash_sha256(out.subarray(offset, offset + 32), data)
}

/** The reference implementation (pure JS). */
export const noble = {
  sign (message: Uint8Array, secretKey: SecretKey): Uint8Array {
    return ed.sign(message, secretKey)
  },
  verify (signature: Uint8Array, message: Uint8Array, publicKey: PublicKey): boolean {
    try {
      return ed.verify(signature, message, publicKey, { zip215: false })
    } catch {
      return false
    }
  }
}

const publicKeyObjects = new Map<string, KeyObject>()

function publicKeyObject (publicKey: PublicKey): KeyObject {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64')
  let key = publicKeyObjects.get(id)
  if (key === undefined) {
    // Parsing the key costs ~25% of a verify; tills sign many records, so keep them.
    if (publicKeyObjects.size >= PUBLIC_KEY_CACHE_MAX) publicKeyObjects.clear()
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    publicKeyObjects.set(id, key)
  }
  return key
}

/** The fast path (OpenSSL through node:crypto). */
export const native = {
  sign (message: Uint8Array, secretKey: SecretKey): Uint8Array {
    const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' })
    return new Uint8Array(cryptoSign(null, message, key))
  },
  verify (signature: Uint8Array, message: Uint8Array, publicKey: PublicKey): boolean {
    if (signature.length !== 64) return false
    try {
      return cryptoVerify(null, message, publicKeyObject(publicKey), signature)
    } catch {
      return false
    }
  }
}

/**
 * A signer holds a secret key (tills, HQ root). It signs with libsodium: 28–30 µs a signature
 * against OpenSSL's 51–71 (node:crypto, a parsed key kept; this VM, 2026-12-07), the same bytes
 * (Ed25519 is deterministic), which the tests hold to noble's and to RFC 8032's vectors.
 */
export class Signer {
  readonly publicKey: PublicKey
  /** libsodium's form of the secret key: the seed, then the public key. */
  readonly #secret: Uint8Array

  constructor (pair: KeyPair) {
    if (pair.secretKey.length !== 32 || pair.publicKey.length !== 32) throw new MalformedError('a key pair is two 32-byte keys')
    // libsodium signs with the public half as given: derived from the seed here, never taken on
    // trust (one message signed under two public keys for one seed gives the secret key away).
    const publicKey = new Uint8Array(32)
    this.#secret = new Uint8Array(64)
    sodiumNative.crypto_sign_seed_keypair(publicKey, this.#secret, pair.secretKey)
    if (!bytesEqual(publicKey, pair.publicKey)) throw new MalformedError('the public key is not the secret key\'s')
    this.publicKey = pair.publicKey
  }

  sign (message: Uint8Array): Uint8Array {
    const signature = new Uint8Array(64)
    sodiumNative.crypto_sign_detached(signature, message, this.#secret)
    return signature
  }
}

/**
 * The production verifier (libsodium). It takes the raw 32-byte key: no parse, no cache, so a
 * till seen for the first time (a 100,000-till fleet, a rebuild) costs no more than a known one.
 */
export const sodium = {
  verify (signature: Uint8Array, message: Uint8Array, publicKey: PublicKey): boolean {
    // libsodium reads the first 64 bytes of a longer signature; a signature is exactly 64 bytes.
    if (signature.length !== 64 || publicKey.length !== 32) return false
    return sodiumNative.crypto_sign_verify_detached(signature, message, publicKey)
  }
}

export const verifySignature = sodium.verify

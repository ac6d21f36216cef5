/**
 * Certificates already verified under HQ's root key, by their exact bytes. A till announces
 * every new head with the same certificate, and each neighbour judges every announcement it
 * hears (gossip.ts): the root signature over those bytes need be checked once, not at every
 * head. Only a certificate that opened is kept; bytes that differ by a bit are another key and
 * are opened as new (a forger's varied certificates cost a check each, as before). At most
 * `max` are kept, the one least recently used dropped first.
 */
import { bytesEqual, openCertificate, type PublicKey, type SignedCertificate } from '@tillbooks/protocol'
import { CERTIFICATES_VERIFIED_MAX } from './limits.ts'

export class VerifiedCertificates {
  readonly rootKey: PublicKey
  readonly #max: number
  /** By the certificate's bytes as text (latin1: one char a byte, the exact bytes, no digest to trust). */
  readonly #opened = new Map<string, SignedCertificate>()
  /** Opens served from what was kept (counted for the tests and /metrics). */
  hits = 0

  constructor (rootKey: PublicKey, max = CERTIFICATES_VERIFIED_MAX) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`keep at least one certificate, not ${max}`)
    this.rootKey = rootKey
    this.#max = max
  }

  get size (): number {
    return this.#opened.size
  }

  /** Whether these are the certificates of `rootKey` (a context must not judge under another root with them). */
  isFor (rootKey: PublicKey): boolean {
    return bytesEqual(this.rootKey, rootKey)
  }

  /** `openCertificate(bytes, rootKey)`, verified once per exact bytes: throws as it does. */
  open (bytes: Uint8Array): SignedCertificate {
    const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
    const kept = this.#opened.get(key)
    if (kept !== undefined) {
      // The most recently used last: the oldest first out.
      this.#opened.delete(key)
      this.#opened.set(key, kept)
      this.hits++
      return kept
    }
    // A copy: the certificate kept must not be a view of a message's buffer the caller reuses.
    const cert = openCertificate(Uint8Array.from(bytes), this.rootKey)
    this.#opened.set(key, cert)
    if (this.#opened.size > this.#max) this.#opened.delete(this.#opened.keys().next().value as string)
    return cert
  }
}

/**
 * Enrolment: HQ's root key signs a certificate binding a till key to a till slot
 * (store, till number) from a sequence number on. A replacement till after a fire gets
 * a new key and a certificate with `fromSeq` = the recovered log's next seq; the old
 * key may sign only below that. Records signed by keys HQ never enrolled are refused.
 */
import { bytesEqual, canonicalEncode, toHex, type Canonical } from './canonical.ts'
import { SEQ_MAX } from './constants.ts'
import { ForgedError, InvalidRecordError } from './errors.ts'
import { seal } from './envelope.ts'
import { asStoreId, asTillNo, tillIdOf, type StoreId, type TillId } from './ids.ts'
import { asPublicKey, type PublicKey, type Signer } from './keys.ts'
import { openSealed } from './trusted.ts'
import { bytes, int, obj } from './validate.ts'

export interface Certificate {
  v: 1
  kind: 'cert'
  store: StoreId
  till: number
  tillKey: PublicKey
  fromSeq: number
  issuedAtMs: number
}

export interface SignedCertificate { cert: Certificate, bytes: Uint8Array, tillId: TillId }

export function issueCertificate (root: Signer, c: Omit<Certificate, 'v' | 'kind'>): SignedCertificate {
  const cert: Certificate = { v: 1, kind: 'cert', ...c }
  const bytes = seal('cert', encodeCert(cert), root)
  return { cert, bytes, tillId: tillIdOf(cert.store, cert.till) }
}

function encodeCert (cert: Certificate): Uint8Array {
  return canonicalEncode({ v: 1, kind: 'cert', store: cert.store, till: cert.till, tillKey: cert.tillKey, fromSeq: cert.fromSeq, issuedAtMs: cert.issuedAtMs })
}

/**
 * How much of a certificate to check: `verify: false` skips the signature (checked before,
 * e.g. on worker threads); `checked: true` also reads the CBOR without re-checking that it
 * is canonical (bytes that passed `openCertificate` before: HQ's own fsync'd log).
 * The fields are validated in every case.
 */
export interface OpenCertificateOptions { verify: boolean, checked?: boolean }

/** Check a certificate is signed by `rootKey` and well-formed. */
export function openCertificate (bytesIn: Uint8Array, rootKey: PublicKey, opts: OpenCertificateOptions = { verify: true }): SignedCertificate {
  const { kind, signer, value } = openSealed(bytesIn, opts)
  if (kind !== 'cert') throw new InvalidRecordError('not a certificate')
  if (!bytesEqual(signer, rootKey)) throw new ForgedError('certificate not signed by the HQ root key')
  const o = obj(value as Canonical, 'cert', ['v', 'kind', 'store', 'till', 'tillKey', 'fromSeq', 'issuedAtMs'])
  if (o.v !== 1) throw new InvalidRecordError('unsupported certificate version')
  const cert: Certificate = {
    v: 1,
    kind: 'cert',
    store: asStoreId(o.store),
    till: asTillNo(o.till),
    // A copy: not a view that would keep the whole certificate's buffer alive (or be a Buffer).
    tillKey: asPublicKey(Uint8Array.from(bytes(o.tillKey, 'tillKey', 32))),
    fromSeq: int(o.fromSeq, 'fromSeq', 1, SEQ_MAX),
    issuedAtMs: int(o.issuedAtMs, 'issuedAtMs', 0)
  }
  return { cert, bytes: bytesIn, tillId: tillIdOf(cert.store, cert.till) }
}

/**
 * The set of enrolled till keys. Which key may sign seq s of a till: the certificate with
 * the greatest fromSeq ≤ s (ties broken by key bytes, so the answer is order-independent).
 */
export class Enrolment {
  readonly rootKey: PublicKey
  readonly #byTill = new Map<TillId, Certificate[]>()
  /** Every key ever enrolled (hex): who may write to what HQ shares with its tills (the catalogue). */
  readonly #keys = new Set<string>()

  constructor (rootKey: PublicKey) {
    this.rootKey = rootKey
  }

  /** Add a signed certificate (verifies it unless told it was checked: see OpenCertificateOptions). Idempotent. */
  add (bytesIn: Uint8Array, opts: OpenCertificateOptions = { verify: true }): Certificate {
    const { cert, tillId } = openCertificate(bytesIn, this.rootKey, opts)
    const list = this.#byTill.get(tillId) ?? []
    if (!list.some(c => c.fromSeq === cert.fromSeq && bytesEqual(c.tillKey, cert.tillKey))) {
      list.push(cert)
      list.sort((a, b) => a.fromSeq - b.fromSeq || Buffer.compare(a.tillKey, b.tillKey))
      this.#byTill.set(tillId, list)
      this.#keys.add(toHex(cert.tillKey))
    }
    return cert
  }

  has (tillId: TillId): boolean {
    return this.#byTill.has(tillId)
  }

  /** Whether `key` was ever enrolled for some till. */
  hasKey (key: Uint8Array): boolean {
    return this.#keys.has(toHex(key))
  }

  /** Every key ever enrolled for `tillId` (a till restored after a fire has more than one). */
  keysOf (tillId: TillId): PublicKey[] {
    return (this.#byTill.get(tillId) ?? []).map(c => c.tillKey)
  }

  tills (): TillId[] {
    return [...this.#byTill.keys()]
  }

  /** The key allowed to sign seq `seq` of `tillId`, or undefined if none. */
  keyFor (tillId: TillId, seq: number): PublicKey | undefined {
    const list = this.#byTill.get(tillId)
    if (list === undefined) return undefined
    let key: PublicKey | undefined
    for (const c of list) if (c.fromSeq <= seq) key = c.tillKey
    return key
  }

  /** Throws ForgedError unless `signer` may sign `seq` of `tillId`. */
  check (tillId: TillId, seq: number, signer: PublicKey): void {
    const key = this.keyFor(tillId, seq)
    if (key === undefined) throw new ForgedError(`till ${tillId} is not enrolled`)
    if (!bytesEqual(key, signer)) throw new ForgedError(`key ${toHex(signer).slice(0, 16)}… is not enrolled for ${tillId} at seq ${seq}`)
  }
}

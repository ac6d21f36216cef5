/**
 * A signed envelope: `{ v, kind, body, signer, sig }` in canonical CBOR, where `sig` is
 * Ed25519 over `"tillbooks/<kind>/v1" ‖ 0x00 ‖ body`. The kind is inside the signed
 * domain, so a signature on a certificate can never be replayed as a record.
 */
import { canonicalDecode, canonicalEncode, type Canonical } from './canonical.ts'
import { ENTRY_BYTES_MAX } from './constants.ts'
import { ForgedError, InvalidRecordError, MalformedError, OversizedError } from './errors.ts'
import { asPublicKey, verifySignature, type PublicKey, type Signer } from './keys.ts'
import { bytes as bytesField, obj, str } from './validate.ts'

export type EnvelopeKind = 'stockIn' | 'close' | 'cert' | 'replenishment' | 'catalogue' | 'approval' | 'member' | 'grant'
const KINDS: readonly EnvelopeKind[] = ['stockIn', 'close', 'cert', 'replenishment', 'catalogue', 'approval', 'member', 'grant']

export interface Opened {
  kind: EnvelopeKind
  /** The canonical bytes that were signed (after the domain tag). */
  body: Uint8Array
  value: Canonical
  signer: PublicKey
  sig: Uint8Array
}

const domainTags = new Map(KINDS.map(k => [k, new TextEncoder().encode(`tillbooks/${k}/v1\u0000`)]))

export function signingBytes (kind: EnvelopeKind, body: Uint8Array): Uint8Array {
  const tag = domainTags.get(kind)
  if (tag === undefined) throw new MalformedError(`unknown kind ${kind}`)
  const out = new Uint8Array(tag.length + body.length)
  out.set(tag, 0)
  out.set(body, tag.length)
  return out
}

export function seal (kind: EnvelopeKind, body: Uint8Array, signer: Signer): Uint8Array {
  const sig = signer.sign(signingBytes(kind, body))
  const bytes = canonicalEncode({ v: 1, kind, body, signer: signer.publicKey, sig })
  // Never sign what every peer refuses unread: a record within LINES_MAX / MEMBERS_MAX can still exceed this.
  if (bytes.length > ENTRY_BYTES_MAX) throw new OversizedError(`envelope would be ${bytes.length} bytes, at most ${ENTRY_BYTES_MAX}`)
  return bytes
}

/**
 * Decode an envelope and its body. `verify: false` skips the signature (only for bytes
 * read back from our own log, which were verified before they were written).
 */
export function unseal (bytes: Uint8Array, opts: { verify: boolean, verifier?: typeof verifySignature } = { verify: true }): Opened {
  if (!(bytes instanceof Uint8Array)) throw new MalformedError('an envelope is bytes')
  if (bytes.length > ENTRY_BYTES_MAX) throw new OversizedError(`envelope is ${bytes.length} bytes, at most ${ENTRY_BYTES_MAX}`)
  const { kind, body, signer, sig } = envelopeFields(canonicalDecode(bytes))
  if (opts.verify && !(opts.verifier ?? verifySignature)(sig, signingBytes(kind, body), signer)) throw new ForgedError(`bad ${kind} signature`)
  const value = canonicalDecode(body)
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array || value.kind !== kind) {
    throw new MalformedError('envelope kind does not match its body')
  }
  return { kind, body, value, signer, sig }
}

/** The envelope's own fields. Nothing is signed at this level, so a bad field is a malformed envelope, not an invalid record. */
export function envelopeFields (value: Canonical): { kind: EnvelopeKind, body: Uint8Array, signer: PublicKey, sig: Uint8Array } {
  try {
    const o = obj(value, 'envelope', ['v', 'kind', 'body', 'signer', 'sig'])
    if (o.v !== 1) throw new MalformedError('unsupported envelope version')
    const kind = str(o.kind, 'kind', /^[a-zA-Z]+$/, 20) as EnvelopeKind
    if (!KINDS.includes(kind)) throw new MalformedError(`unknown envelope kind ${kind}`)
    if (!(o.body instanceof Uint8Array)) throw new MalformedError('envelope body must be bytes')
    return { kind, body: o.body, signer: asPublicKey(bytesField(o.signer, 'signer', 32)), sig: bytesField(o.sig, 'sig', 64) }
  } catch (err) {
    if (err instanceof InvalidRecordError) throw new MalformedError(`malformed envelope: ${err.message}`)
    throw err
  }
}

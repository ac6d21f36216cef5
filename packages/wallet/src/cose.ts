/**
 * COSE_Sign1 (RFC 9052 §4.2), EdDSA (alg −8), written and read by hand over cborg: four
 * fields under CBOR tag 18 — protected header (a bstr holding `{1: −8}`), unprotected header
 * (`{4: kid, "tbcert": certificate}`: the till's key and its certificate from HQ), payload
 * (bstr), signature (64 bytes) — the signature over the Sig_structure
 * `["Signature1", protected, h'' (no external data), payload]` encoded as CBOR (§4.4).
 */
import { decode, encode } from 'cborg'
import { WalletError } from './errors.ts'

export const COSE_SIGN1_TAG = 18
export const ALG_EDDSA = -8
const HEADER_ALG = 1
const HEADER_KID = 4
/** A text label (RFC 9052 allows them): the tillbooks certificate of the signing till. */
export const HEADER_TB_CERT = 'tbcert'
const PROTECTED = encode(new Map([[HEADER_ALG, ALG_EDDSA]]))

export interface Sign1 { protectedBytes: Uint8Array, kid: Uint8Array, certificate: Uint8Array, payload: Uint8Array, signature: Uint8Array }

/** The bytes an EdDSA key signs for a COSE_Sign1 with this protected header and payload. */
export function sigStructure (protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encode(['Signature1', protectedBytes, new Uint8Array(0), payload])
}

/** A COSE_Sign1 of `payload`, signed by `sign` (Ed25519 over the Sig_structure). */
export function sign1 (payload: Uint8Array, o: { kid: Uint8Array, certificate: Uint8Array, sign: (message: Uint8Array) => Uint8Array }): Uint8Array {
  const signature = o.sign(sigStructure(PROTECTED, payload))
  if (signature.length !== 64) throw new WalletError('an Ed25519 signature is 64 bytes')
  const body = encode([PROTECTED, new Map<number | string, Uint8Array>([[HEADER_KID, o.kid], [HEADER_TB_CERT, o.certificate]]), payload, signature])
  const out = new Uint8Array(body.length + 1)
  out[0] = 0xc0 | COSE_SIGN1_TAG // major type 6 (tag), value 18: one byte
  out.set(body, 1)
  return out
}

/** Read a COSE_Sign1 (its structure checked; the signature is the caller's to verify). */
export function readSign1 (bytes: Uint8Array): Sign1 {
  if (!(bytes instanceof Uint8Array) || bytes.length < 2) throw new WalletError('not a COSE_Sign1: too short')
  if (bytes[0] !== (0xc0 | COSE_SIGN1_TAG)) throw new WalletError(`not a COSE_Sign1: tag byte ${bytes[0]}, not 0xd2 (tag 18)`)
  let v: unknown
  try {
    v = decode(bytes.subarray(1), { useMaps: true, rejectDuplicateMapKeys: true })
  } catch (err) {
    throw new WalletError(`not a COSE_Sign1: ${(err as Error).message}`)
  }
  if (!Array.isArray(v) || v.length !== 4) throw new WalletError('a COSE_Sign1 is an array of four')
  const [protectedBytes, unprotected, payload, signature] = v as [unknown, unknown, unknown, unknown]
  if (!(protectedBytes instanceof Uint8Array) || !(payload instanceof Uint8Array) || !(signature instanceof Uint8Array)) throw new WalletError('a COSE_Sign1 has a bstr protected header, payload and signature')
  let header: unknown
  try { header = decode(protectedBytes, { useMaps: true }) } catch { throw new WalletError('the protected header is not CBOR') }
  if (!(header instanceof Map) || header.size !== 1 || header.get(HEADER_ALG) !== ALG_EDDSA) throw new WalletError('the protected header must be exactly {1: -8} (EdDSA)')
  if (!(unprotected instanceof Map)) throw new WalletError('the unprotected header is a map')
  const kid = unprotected.get(HEADER_KID)
  const certificate = unprotected.get(HEADER_TB_CERT)
  if (!(kid instanceof Uint8Array) || kid.length !== 32) throw new WalletError('the unprotected header carries the signing key (4: 32 bytes)')
  if (!(certificate instanceof Uint8Array)) throw new WalletError(`the unprotected header carries the till's certificate ("${HEADER_TB_CERT}")`)
  if (signature.length !== 64) throw new WalletError('an EdDSA signature is 64 bytes')
  return { protectedBytes, kid, certificate, payload, signature }
}

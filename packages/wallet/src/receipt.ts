/**
 * A receipt signed by the till that made the sale: a COSE_Sign1 (cose.ts) over the receipt's
 * canonical CBOR (protocol's canonicalEncode: text keys in order, no floats), carrying the till's
 * certificate, so anyone holding HQ's root key alone verifies it, offline. Its QR text is `TB1:`
 * and the Base45 of the COSE bytes; the lines travel in the receipt file beside it, tied to it by
 * `linesDigest`. The map keys are written down in README.md.
 */
import { createHash } from 'node:crypto'
import {
  canonicalDecode, canonicalEncode, openCertificate, tillIdOf, toHex, verifySignature,
  type Canonical, type PublicKey, type Signer
} from '@tillbooks/protocol'
import { fromBase45, toBase45 } from './base45.ts'
import { readSign1, sign1, sigStructure } from './cose.ts'
import { WalletError } from './errors.ts'

export const QR_PREFIX = 'TB1:'

export interface ReceiptTender {
  type: 'cash' | 'card' | 'wallet' | 'points'
  amountCents: number
  /** A card or wallet payment's signed approval line (protocol's approval envelope, base64url). */
  approval?: string
}

export interface Receipt {
  v: 1
  docNo: string
  kind: 'sale' | 'refund'
  atMs: number
  businessDay: string
  currency: string
  /** Gross, tax included: negative for a refund. */
  totalCents: number
  tax: Array<{ rateBp: number, netCents: number, taxCents: number }>
  tenders: ReceiptTender[]
  member?: string
  points?: number
  /** SHA-256 of the canonical CBOR of the lines (`linesDigest`). */
  linesDigest: Uint8Array
}

export interface ReceiptLine { sku: string, qty: number, priceCents: number }

export function linesDigest (lines: readonly ReceiptLine[]): Uint8Array {
  return new Uint8Array(createHash('sha256').update(canonicalEncode(lines.map(l => ({ sku: l.sku, qty: l.qty, priceCents: l.priceCents })) as unknown as Canonical)).digest())
}

/** Sign a receipt as the till: its COSE bytes and QR text. */
export function signReceipt (r: Omit<Receipt, 'v'>, signer: Signer, certificate: Uint8Array): { cose: Uint8Array, qr: string } {
  const receipt = checkReceipt({ v: 1, ...r })
  const payload = canonicalEncode(receipt as unknown as Canonical)
  const cose = sign1(payload, { kid: signer.publicKey, certificate, sign: m => signer.sign(m) })
  return { cose, qr: `${QR_PREFIX}${toBase45(cose)}` }
}

export interface VerifiedReceipt {
  receipt: Receipt
  tillId: string
  /** The signing till's key, hex. */
  tillKey: string
  cose: Uint8Array
}

/**
 * Verify a receipt from its QR text (or its COSE bytes) with HQ's root key alone: the
 * certificate signed by HQ, the key it certifies the one that signed, the signature over the
 * Sig_structure, the payload a receipt of that till. Throws WalletError (or the protocol's
 * ForgedError / InvalidRecordError for the certificate) with the reason.
 */
export function verifyReceipt (qrOrCose: string | Uint8Array, rootKey: PublicKey): VerifiedReceipt {
  let cose: Uint8Array
  if (typeof qrOrCose === 'string') {
    if (!qrOrCose.startsWith(QR_PREFIX)) throw new WalletError(`a receipt's QR text starts with ${QR_PREFIX}`)
    cose = fromBase45(qrOrCose.slice(QR_PREFIX.length))
  } else {
    cose = qrOrCose
  }
  const s = readSign1(cose)
  const cert = openCertificate(s.certificate, rootKey)
  if (toHex(cert.cert.tillKey) !== toHex(s.kid)) throw new WalletError('signed by a key its certificate does not certify')
  if (!verifySignature(s.signature, sigStructure(s.protectedBytes, s.payload), s.kid as PublicKey)) throw new WalletError('the signature does not hold: the receipt was changed, or not signed by this till')
  let value: Canonical
  try {
    value = canonicalDecode(s.payload)
  } catch (err) {
    throw new WalletError(`the receipt is not canonical CBOR: ${(err as Error).message}`)
  }
  const receipt = checkReceipt(value as unknown as Receipt)
  const tillId = tillIdOf(cert.cert.store, cert.cert.till)
  if (!receipt.docNo.startsWith(`${tillId}-`)) throw new WalletError(`document ${receipt.docNo} is not of till ${tillId}, whose certificate it carries`)
  return { receipt, tillId, tillKey: toHex(s.kid), cose }
}

/** Whether these lines are the receipt's (their digest). */
export function linesMatch (r: Receipt, lines: readonly ReceiptLine[]): boolean {
  return Buffer.from(linesDigest(lines)).equals(Buffer.from(r.linesDigest))
}

const KEYS = ['v', 'docNo', 'kind', 'atMs', 'businessDay', 'currency', 'totalCents', 'tax', 'tenders', 'member', 'points', 'linesDigest']

/** A receipt's fields checked (the same rules signing and reading). */
export function checkReceipt (r: Receipt): Receipt {
  const bad = (why: string): never => { throw new WalletError(`receipt: ${why}`) }
  if (r === null || typeof r !== 'object' || Array.isArray(r)) bad('not a map')
  for (const k of Object.keys(r)) if (!KEYS.includes(k)) bad(`${k} is not a receipt field`)
  const int = (v: unknown, what: string, min = Number.MIN_SAFE_INTEGER): number => Number.isSafeInteger(v) && (v as number) >= min ? v as number : bad(`${what} must be an integer`)
  if (r.v !== 1) bad('version 1 only')
  if (typeof r.docNo !== 'string' || !/^[A-Z][A-Z0-9]{0,15}-\d{1,3}-\d{1,12}$/.test(r.docNo)) bad('docNo')
  if (r.kind !== 'sale' && r.kind !== 'refund') bad('kind is sale or refund')
  int(r.atMs, 'atMs', 0)
  if (typeof r.businessDay !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(r.businessDay)) bad('businessDay')
  if (typeof r.currency !== 'string' || !/^[A-Z]{3}$/.test(r.currency)) bad('currency')
  int(r.totalCents, 'totalCents')
  if (!Array.isArray(r.tax) || r.tax.length > 16) bad('tax lines')
  for (const t of r.tax) { int(t.rateBp, 'tax rateBp', 0); int(t.netCents, 'tax netCents'); int(t.taxCents, 'tax taxCents') }
  if (!Array.isArray(r.tenders) || r.tenders.length > 16) bad('tenders')
  for (const t of r.tenders) {
    if (!['cash', 'card', 'wallet', 'points'].includes(t.type)) bad(`tender type ${String(t.type)}`)
    int(t.amountCents, 'tender amountCents')
    if (t.approval !== undefined && (typeof t.approval !== 'string' || !/^[A-Za-z0-9_-]{1,2048}$/.test(t.approval))) bad('tender approval')
  }
  if (r.member !== undefined && (typeof r.member !== 'string' || !/^m-[A-Za-z0-9_-]{22}$/.test(r.member))) bad('member is a member id (never a phone number)')
  if (r.points !== undefined) int(r.points, 'points')
  if (!(r.linesDigest instanceof Uint8Array) || r.linesDigest.length !== 32) bad('linesDigest is 32 bytes')
  return r
}

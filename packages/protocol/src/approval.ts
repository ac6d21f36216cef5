/**
 * A card or wallet payment's approval, signed by the till that took it: the line on the
 * customer's receipt (`signedLine`, its envelope in base64url) and the detail that stays at the
 * store, in its signed log and its neighbours' replicas. Anyone holding HQ's root key and the
 * till's certificate can check it. It carries what a receipt shows (processor, processor
 * reference, auth code, brand, last 4, AID, entry mode, online or offline), never the full card
 * number nor the expiry: a `last4` is four digits, and nothing else about the card is a field.
 *
 *   body = { v: 1, kind: 'approval', paymentId, till, docNo, processor, type, amountCents, status,
 *            mode, processorRef, authCode, brand, last4, aid, entryMode, atMs }
 *
 * `status` is `approved` (the processor said so), or `stored` (taken offline under the
 * processor's store-and-forward rules, to be forwarded); absent values are null.
 */
import { canonicalEncode, type Canonical } from './canonical.ts'
import { InvalidRecordError } from './errors.ts'
import { seal, unseal } from './envelope.ts'
import type { PublicKey, Signer } from './keys.ts'
import { ID_RE, int, obj, str } from './validate.ts'

export interface Approval {
  paymentId: string
  till: string
  docNo: string | null
  processor: string
  type: 'card' | 'wallet'
  amountCents: number
  status: 'approved' | 'stored'
  mode: 'online' | 'offline'
  processorRef: string | null
  authCode: string | null
  brand: string | null
  last4: string | null
  aid: string | null
  entryMode: string | null
  atMs: number
}

const FIELDS = ['v', 'kind', 'paymentId', 'till', 'docNo', 'processor', 'type', 'amountCents', 'status', 'mode', 'processorRef', 'authCode', 'brand', 'last4', 'aid', 'entryMode', 'atMs'] as const
const NAME_RE = /^[a-z][a-z0-9_-]{0,31}$/
const REF_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/

function checked (value: Canonical): Approval {
  const o = obj(value, 'approval', FIELDS)
  if (o.v !== 1) throw new InvalidRecordError('unsupported approval version')
  const opt = (v: Canonical | undefined, path: string, re: RegExp): string | null => v === null ? null : str(v, path, re)
  const type = o.type
  if (type !== 'card' && type !== 'wallet') throw new InvalidRecordError('approval.type must be card or wallet')
  if (o.status !== 'approved' && o.status !== 'stored') throw new InvalidRecordError('approval.status must be approved or stored')
  if (o.mode !== 'online' && o.mode !== 'offline') throw new InvalidRecordError('approval.mode must be online or offline')
  return {
    paymentId: str(o.paymentId, 'approval.paymentId', ID_RE),
    till: str(o.till, 'approval.till', ID_RE),
    docNo: opt(o.docNo, 'approval.docNo', ID_RE),
    processor: str(o.processor, 'approval.processor', NAME_RE),
    type,
    amountCents: int(o.amountCents, 'approval.amountCents', -100_000_000_00, 100_000_000_00),
    status: o.status,
    mode: o.mode,
    processorRef: opt(o.processorRef, 'approval.processorRef', REF_RE),
    authCode: opt(o.authCode, 'approval.authCode', /^[A-Za-z0-9]{1,12}$/),
    brand: opt(o.brand, 'approval.brand', NAME_RE),
    // Four digits, never more: a receipt never carries the card number.
    last4: opt(o.last4, 'approval.last4', /^\d{4}$/),
    aid: opt(o.aid, 'approval.aid', /^[0-9A-F]{10,32}$/),
    entryMode: opt(o.entryMode, 'approval.entryMode', NAME_RE),
    atMs: int(o.atMs, 'approval.atMs', 0)
  }
}

/** Sign an approval with the till's key: its envelope bytes. */
export function signApproval (signer: Signer, a: Approval): Uint8Array {
  const value = { v: 1, kind: 'approval', ...a }
  checked(value as unknown as Canonical)
  return seal('approval', canonicalEncode(value as unknown as Canonical), signer)
}

/** Open an approval's envelope, its signature checked: the approval and the key that signed it. */
export function openApproval (bytes: Uint8Array): { approval: Approval, signer: PublicKey } {
  const o = unseal(bytes, { verify: true })
  if (o.kind !== 'approval') throw new InvalidRecordError(`not an approval: ${o.kind}`)
  return { approval: checked(o.value), signer: o.signer }
}

/** The line on the receipt: the approval's envelope in base64url. */
export function signedLineOf (envelope: Uint8Array): string {
  return Buffer.from(envelope).toString('base64url')
}

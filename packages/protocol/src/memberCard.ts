/**
 * A member's card: the member id signed by HQ's root key, shown as a QR on the member's phone
 * (`TBM1:` and the envelope in base64url). A till reads it offline (checked against the root key
 * it was enrolled with) and writes the member id, never a phone number, into its log.
 */
import { canonicalEncode, type Canonical } from './canonical.ts'
import { seal, unseal } from './envelope.ts'
import { ForgedError, InvalidRecordError } from './errors.ts'
import type { PublicKey, Signer } from './keys.ts'
import { MEMBER_ID_RE } from './records.ts'
import { int, obj, str } from './validate.ts'

export const MEMBER_QR_PREFIX = 'TBM1:'

export interface MemberCard { member: string, issuedAtMs: number }

/** HQ signs a member's card: its QR text. */
export function signMemberCard (root: Signer, c: MemberCard): string {
  if (!MEMBER_ID_RE.test(c.member)) throw new InvalidRecordError(`${JSON.stringify(c.member)} is not a member id`)
  const body = canonicalEncode({ v: 1, kind: 'member', member: c.member, issuedAtMs: c.issuedAtMs } as unknown as Canonical)
  return `${MEMBER_QR_PREFIX}${Buffer.from(seal('member', body, root)).toString('base64url')}`
}

/** Read a member's card from its QR text, signed by `rootKey`: the member id. Throws with the reason. */
export function openMemberCard (qr: string, rootKey: PublicKey): MemberCard {
  if (typeof qr !== 'string' || !qr.startsWith(MEMBER_QR_PREFIX) || qr.length > 1024) throw new InvalidRecordError(`a member card's QR text starts with ${MEMBER_QR_PREFIX}`)
  const o = unseal(new Uint8Array(Buffer.from(qr.slice(MEMBER_QR_PREFIX.length), 'base64url')), { verify: true })
  if (o.kind !== 'member') throw new InvalidRecordError(`not a member card: ${o.kind}`)
  if (!Buffer.from(o.signer).equals(Buffer.from(rootKey))) throw new ForgedError('a member card not signed by HQ')
  const v = obj(o.value, 'member', ['v', 'kind', 'member', 'issuedAtMs'])
  if (v.v !== 1) throw new InvalidRecordError('unsupported member card version')
  return { member: str(v.member, 'member.member', MEMBER_ID_RE), issuedAtMs: int(v.issuedAtMs, 'member.issuedAtMs', 0) }
}

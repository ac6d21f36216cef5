/**
 * HQ's grant of a member's points to one till instance: the escrow the till may redeem against
 * offline (the bounded counter's transfer from HQ). Signed by HQ's root key, so a till accepts
 * only what HQ granted; named by the till instance (`<tillId>:<key hex>`), so a grant to one
 * till (or to a till's earlier key, before a fire) credits no other; numbered by an id, so a
 * replayed grant credits nothing twice.
 */
import { canonicalEncode, type Canonical } from './canonical.ts'
import { seal, unseal } from './envelope.ts'
import { ForgedError, InvalidRecordError } from './errors.ts'
import type { PublicKey, Signer } from './keys.ts'
import { MEMBER_ID_RE, QTY_MAX } from './records.ts'
import { int, obj, str } from './validate.ts'

export interface RightsGrant {
  /** Chosen by the till that asked (so a retry after a lost answer gets the same grant back). */
  id: string
  member: string
  /** The till instance it credits: `<tillId>:<first 16 hex of its key>`. */
  till: string
  points: number
  issuedAtMs: number
}

export const GRANT_ID_RE = /^[A-Za-z0-9._:-]{1,96}$/
export const TILL_INSTANCE_RE = /^[A-Za-z0-9._-]{1,40}:[0-9a-f]{8,64}$/
/** A signed grant is small; anything larger is refused unread. */
export const GRANT_BYTES_MAX = 1024

function check (g: RightsGrant): RightsGrant {
  return {
    id: str(g.id, 'grant.id', GRANT_ID_RE, 96),
    member: str(g.member, 'grant.member', MEMBER_ID_RE, 24),
    till: str(g.till, 'grant.till', TILL_INSTANCE_RE, 105),
    points: int(g.points, 'grant.points', 1, QTY_MAX),
    issuedAtMs: int(g.issuedAtMs, 'grant.issuedAtMs', 0)
  }
}

/** HQ signs a grant: the envelope's bytes. */
export function signRightsGrant (root: Signer, g: RightsGrant): Uint8Array {
  const c = check(g)
  return seal('grant', canonicalEncode({ v: 1, kind: 'grant', ...c } as unknown as Canonical), root)
}

/** Read a grant signed by `rootKey`. Throws with the reason (ForgedError: not HQ's). */
export function openRightsGrant (bytes: Uint8Array, rootKey: PublicKey): RightsGrant {
  if (!(bytes instanceof Uint8Array) || bytes.length > GRANT_BYTES_MAX) throw new InvalidRecordError(`a grant is at most ${GRANT_BYTES_MAX} bytes`)
  const o = unseal(bytes, { verify: true })
  if (o.kind !== 'grant') throw new InvalidRecordError(`not a grant: ${o.kind}`)
  if (!Buffer.from(o.signer).equals(Buffer.from(rootKey))) throw new ForgedError('a grant not signed by HQ')
  const v = obj(o.value, 'grant', ['v', 'kind', 'id', 'member', 'till', 'points', 'issuedAtMs'])
  if (v.v !== 1) throw new InvalidRecordError('unsupported grant version')
  return check(v as unknown as RightsGrant)
}

/**
 * Head announcements over the simulated network, judged by the production validator. A till
 * builds its announcement as the daemon does (`encodeAnnouncement` with its HQ certificate)
 * and signs the message with its own key, as gossipsub's StrictSign signs every message with
 * the publisher's libp2p key (which is the till's enrolled key). A receiver first checks that
 * signature (gossipsub's part: no valid signature, no source key), then runs
 * `judgeAnnouncementData` (node/src/net/gossip.ts), the same function gossipsub's topic
 * validator runs in the daemon: reject forged, unenrolled and malformed; ignore stale.
 *
 * The simulator delivers an announcement straight to each store of the till's ring (its
 * neighbours), not through a mesh of relays: what is simulated is what reaches the
 * validator, and what the validator lets through.
 */
import { encodeAnnouncement, judgeAnnouncementData, type Announcement, type JudgeContext, type Verdict } from '@tillbooks/node'
import { verifySignature, type PublicKey, type Signer } from '@tillbooks/protocol'

/** Domain of the simulated gossip signature (gossipsub signs `libp2p-pubsub:` ‖ its message). */
const SIGN_DOMAIN = new TextEncoder().encode('tillbooks/sim-gossip/v1')

/** One gossip message as it reaches a subscriber: the data, the key it claims, the signature. */
export interface AnnounceMsg { t: 'announce', data: Uint8Array, key: Uint8Array, sig: Uint8Array }

export function signedBytes (data: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIGN_DOMAIN.length + data.length)
  out.set(SIGN_DOMAIN, 0)
  out.set(data, SIGN_DOMAIN.length)
  return out
}

/** A gossip message of `data`, signed by `signer` (a publisher signs whatever it publishes). */
export function signGossip (data: Uint8Array, signer: Signer): AnnounceMsg {
  return { t: 'announce', data, key: signer.publicKey, sig: signer.sign(signedBytes(data)) }
}

/** The till's announcement of its head, as the daemon publishes it. */
export function announce (a: Announcement, signer: Signer): AnnounceMsg {
  return signGossip(encodeAnnouncement(a), signer)
}

/** The subscriber's side: gossipsub's signature check, then the production validator. */
export function judgeGossip (m: AnnounceMsg, ctx: JudgeContext): Verdict {
  const signed = m.key.length === 32 && verifySignature(m.sig, signedBytes(m.data), m.key as PublicKey)
  return judgeAnnouncementData(m.data, signed ? m.key : undefined, ctx)
}

/**
 * New heads announced by gossip (gossipsub, @libp2p/gossipsub: the one made for libp2p 3),
 * on one topic per ring of neighbouring stores: `tillbooks/heads/1/<ring>`. An announcement
 * says "till T has entry (seq, hash)"; it carries the till's HQ certificate, and gossipsub
 * signs every message with the publisher's libp2p key (StrictSign) — which *is* the till's
 * enrolled key — so any peer holding only HQ's root key can check it, however many relays
 * it crossed. An accepted announcement starts a sync with the till it came from
 * (tillDaemon.ts); the validator decides what is propagated at all:
 *
 *   reject  undecodable, oversized, unsigned, not signed by the certificate's key, the
 *           certificate not HQ's, or for another till or an earlier seq than it covers
 *   ignore  stale: the very entry is held already (nothing to pull, nothing to forward)
 *   accept  everything else
 *
 * Settings chosen for a fleet, not a DHT (GOSSIP_OPTIONS below), each with its reason.
 */
import { gossipsub, TopicValidatorResult, type GossipSub, type GossipsubOpts } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import { canonicalDecode, canonicalEncode, openCertificate, parseTillId, rejectionOf, SEQ_MAX, tillIdOf, type Canonical, type PublicKey } from '@tillbooks/protocol'
import type { VerifiedCertificates } from './VerifiedCertificates.ts'

/** Bytes of one announcement: a certificate (~200 B) and a head, with room. */
export const ANNOUNCEMENT_BYTES_MAX = 2_048
/** Topic names: a ring is a short word. */
export const RING_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export function headsTopic (ring: string): string {
  if (!RING_RE.test(ring)) throw new TypeError(`a gossip ring is 1..64 letters, digits, . _ -, not ${JSON.stringify(ring)}`)
  return `tillbooks/heads/1/${ring}`
}

export interface Announcement { tillId: string, seq: number, hash: string, cert: Uint8Array }

export function encodeAnnouncement (a: Announcement): Uint8Array {
  return canonicalEncode({ v: 1, tillId: a.tillId, seq: a.seq, hash: a.hash, cert: a.cert })
}

/** The announcement in `data`, or why it is not one. */
export function decodeAnnouncement (data: Uint8Array): Announcement | { reason: string } {
  if (data.length > ANNOUNCEMENT_BYTES_MAX) return { reason: `announcement of ${data.length} bytes, at most ${ANNOUNCEMENT_BYTES_MAX}` }
  let v: Canonical
  try {
    v = canonicalDecode(data)
  } catch (err) {
    return { reason: `undecodable announcement: ${(err as Error).message}` }
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return { reason: 'an announcement is a map' }
  const o = v as { [k: string]: Canonical }
  const keys = Object.keys(o).sort().join()
  if (keys !== 'cert,hash,seq,tillId,v') return { reason: `announcement fields are v, tillId, seq, hash, cert; not ${keys.slice(0, 80)}` }
  if (o.v !== 1) return { reason: 'unknown announcement version' }
  if (typeof o.tillId !== 'string') return { reason: 'tillId must be text' }
  try { parseTillId(o.tillId) } catch (err) { return { reason: `tillId: ${(err as Error).message}` } }
  if (typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq) || o.seq < 1 || o.seq > SEQ_MAX) return { reason: 'seq must be a positive integer' }
  if (typeof o.hash !== 'string' || !/^[0-9a-f]{64}$/.test(o.hash)) return { reason: 'hash must be 64 hex digits' }
  if (!(o.cert instanceof Uint8Array)) return { reason: 'cert must be bytes' }
  return { tillId: o.tillId, seq: o.seq, hash: o.hash, cert: o.cert }
}

export interface Verdict { result: TopicValidatorResult, reason: string, announcement?: Announcement }

/**
 * The validator's judgement of one gossip message (pure but for `holds`): `sourceKey` is the
 * raw Ed25519 key of the message's signer (the `from` peer id's key).
 */
export function judgeAnnouncement (msg: Message, sourceKey: Uint8Array | undefined, ctx: JudgeContext): Verdict {
  if (msg.type !== 'signed') return { result: TopicValidatorResult.Reject, reason: 'unsigned announcement' }
  return judgeAnnouncementData(msg.data, sourceKey, ctx)
}

/**
 * What judging an announcement needs: HQ's root key, and whether an announced entry is held
 * already; and, kept by the node across announcements, the certificates it verified under that
 * key (each till's root signature checked once, not at every head it announces).
 */
export interface JudgeContext { hqRootKey: PublicKey, holds: (tillId: string, seq: number, hash: string) => boolean, certificates?: VerifiedCertificates }

/**
 * The same judgement of an announcement's bytes, whatever carried them (pure but for
 * `holds`): `sourceKey` is the key whose signature over the message the transport checked
 * (undefined: none held). gossipsub's validator calls it through judgeAnnouncement; the
 * simulator, over its simulated network, directly.
 */
export function judgeAnnouncementData (data: Uint8Array, sourceKey: Uint8Array | undefined, ctx: JudgeContext): Verdict {
  if (sourceKey === undefined) return { result: TopicValidatorResult.Reject, reason: 'unsigned announcement' }
  const a = decodeAnnouncement(data)
  if ('reason' in a) return { result: TopicValidatorResult.Reject, reason: a.reason }
  const kept = ctx.certificates
  if (kept !== undefined && !kept.isFor(ctx.hqRootKey)) throw new Error('bug: certificates verified under another root key judge this announcement')
  let cert
  try {
    cert = kept !== undefined ? kept.open(a.cert) : openCertificate(a.cert, ctx.hqRootKey)
  } catch (err) {
    return { result: TopicValidatorResult.Reject, reason: `certificate: ${rejectionOf(err).reason}` }
  }
  if (tillIdOf(cert.cert.store, cert.cert.till) !== a.tillId) return { result: TopicValidatorResult.Reject, reason: `the certificate is for ${cert.tillId}, not ${a.tillId}` }
  if (!Buffer.from(cert.cert.tillKey).equals(Buffer.from(sourceKey))) return { result: TopicValidatorResult.Reject, reason: `${a.tillId}'s announcement not signed by its enrolled key` }
  if (a.seq < cert.cert.fromSeq) return { result: TopicValidatorResult.Reject, reason: `seq ${a.seq} is below the key's first seq ${cert.cert.fromSeq}` }
  if (ctx.holds(a.tillId, a.seq, a.hash)) return { result: TopicValidatorResult.Ignore, reason: 'stale: that entry is held already', announcement: a }
  return { result: TopicValidatorResult.Accept, reason: 'accepted', announcement: a }
}

/**
 * gossipsub's settings for tills on a fleet's network (passed to TillbooksPeer). Defaults
 * that would hurt, and why each is changed:
 * - `scoreParams.IPColocationFactorWeight: 0`: gossipsub penalises more than 10 peers on
 *   one IP address (a Sybil defence for open networks); a store's tills behind one NAT,
 *   and every test and launcher on 127.0.0.1, would be graylisted. Here every message is
 *   signed by an enrolled key, checked against HQ's certificate: numbers of peers buy nothing.
 * - `allowPublishToZeroTopicPeers`: a till whose neighbours are all down goes on selling;
 *   its announcement is simply not heard (the direct announcement and the next sync catch up).
 * - `fallbackToFloodsub: false`, `doPX: false`: no floodsub peers exist; peers are never
 *   exchanged (a till talks to its configured neighbours and HQ, and nobody else dials it in).
 * - `maxInboundDataLength`, `allowedTopics`: an announcement is small and on one topic;
 *   anything else is dropped before it is decoded.
 */
export function gossipOptions (topic: string): Partial<GossipsubOpts> {
  return {
    allowPublishToZeroTopicPeers: true,
    fallbackToFloodsub: false,
    doPX: false,
    emitSelf: false,
    maxInboundDataLength: ANNOUNCEMENT_BYTES_MAX,
    allowedTopics: [topic],
    scoreParams: { IPColocationFactorWeight: 0 }
  }
}

export { gossipsub, TopicValidatorResult, type GossipSub }

/**
 * The deterministic names every replica of a till's log shares: the genesis change's actor
 * (derived from the till id) and so the id of the entries map it makes. Kept apart from
 * TillLog so that code reading changes without a document (HQ's verify threads) names the
 * entries map without making a genesis change (~0.1 ms each through Automerge).
 */
import { sha256, toHex, type TillId } from '@tillbooks/protocol'

/**
 * The counter of the entries map's id (`<counter>@<genesis actor>`): the genesis change's
 * third op (tillId, v, entries). TillLog asserts it when it makes a genesis change.
 */
export const ENTRIES_OBJ_COUNTER = 3

export function actorFrom (tag: string, ...parts: string[]): string {
  const enc = new TextEncoder()
  return toHex(sha256(enc.encode(`tillbooks/tilllog/${tag}/v1\u0000`), enc.encode(parts.join('\u0000')))).slice(0, 32)
}

/**
 * The actor a till writes its own log under (hex): derived from its key, so a replacement
 * till (a new key) never reuses its predecessor's, and so that whoever holds a change and
 * the entry it puts can tell the change was written by the entry's signer's log (HQ does).
 */
export function tillActorOf (tillId: TillId, key: Uint8Array): string {
  return actorFrom('actor', tillId, `till:${toHex(key).slice(0, 32)}`)
}

/** The actor of `tillId`'s genesis change (hex): no other change may be written under it. */
export function genesisActorOf (tillId: TillId): string {
  return actorFrom('genesis', tillId)
}

/**
 * The deterministic names every replica of a till's log shares: the genesis change's actor
 * (derived from the till id) and so the id of the entries map it makes. Kept apart from
 * TillLog so that code reading changes without a document (HQ's verify threads) names the
 * entries map without making a genesis change (~0.1 ms each through Automerge).
 */
import { sha256Into, toHex, type TillId } from '@tillbooks/protocol'

/**
 * The counter of the entries map's id (`<counter>@<genesis actor>`): the genesis change's
 * third op (tillId, v, entries). TillLog asserts it when it makes a genesis change.
 */
export const ENTRIES_OBJ_COUNTER = 3

const encoder = new TextEncoder()
/** Each tag's prefix, encoded once. */
const tagBytes = new Map<string, Uint8Array>()
/** `prefix ‖ parts` is built here and hashed in one call (no allocation but the answer). */
let scratch = new Uint8Array(512)
const digest = new Uint8Array(32)

/**
 * An actor id (16 bytes): the first half of SHA-256(`tillbooks/tilllog/<tag>/v1\0` ‖ the
 * parts, UTF-8, joined by \0). HQ's verify threads name a till's actors for every change
 * they check: built in a scratch buffer, hashed by libsodium.
 */
export function actorBytesFrom (tag: string, ...parts: string[]): Uint8Array {
  let prefix = tagBytes.get(tag)
  if (prefix === undefined) {
    prefix = encoder.encode(`tillbooks/tilllog/${tag}/v1\u0000`)
    tagBytes.set(tag, prefix)
  }
  const text = parts.join('\u0000')
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  if (prefix.length + 3 * text.length > scratch.length) scratch = new Uint8Array(prefix.length + 3 * text.length)
  scratch.set(prefix, 0)
  const { written } = encoder.encodeInto(text, scratch.subarray(prefix.length))
  sha256Into(scratch.subarray(0, prefix.length + written), digest)
  return digest.slice(0, 16)
}

/** `actorBytesFrom`, as Automerge names actors: hex. */
export function actorFrom (tag: string, ...parts: string[]): string {
  return toHex(actorBytesFrom(tag, ...parts))
}

/**
 * The actor a till writes its own log under (hex): derived from its key, so a replacement
 * till (a new key) never reuses its predecessor's, and so that whoever holds a change and
 * the entry it puts can tell the change was written by the entry's signer's log (HQ does).
 */
export function tillActorOf (tillId: TillId, key: Uint8Array): string {
  return toHex(tillActorBytesOf(tillId, key))
}

/** `tillActorOf`, as bytes. */
export function tillActorBytesOf (tillId: TillId, key: Uint8Array): Uint8Array {
  return actorBytesFrom('actor', tillId, `till:${toHex(key.subarray(0, 16))}`)
}

/** The actor of `tillId`'s genesis change (hex): no other change may be written under it. */
export function genesisActorOf (tillId: TillId): string {
  return toHex(genesisActorBytesOf(tillId))
}

/** `genesisActorOf`, as bytes. */
export function genesisActorBytesOf (tillId: TillId): Uint8Array {
  return actorBytesFrom('genesis', tillId)
}

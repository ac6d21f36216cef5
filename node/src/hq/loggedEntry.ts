/**
 * What a value of HQ's log holds: the envelope of a till's entry, or the change of the
 * till's log that carried it. Read back by a rebuild (on HQ's thread or a fold thread).
 */
import { bytesEqual, checkedEntry, toHex, type Entry } from '@tillbooks/protocol'
import { entryChangeLayout, isAutomergeChunk, readEntryChange } from '@tillbooks/crdt/entryChange'

/** Hex digit values by char code (lower case only, as keys are written); -1: not a digit. */
const HEX_VALUE = new Int8Array(128).fill(-1)
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i
for (let i = 0; i < 6; i++) HEX_VALUE[97 + i] = 10 + i

/**
 * The Entry logged under `key` (entryKey), trusted: with the hash its key ends with. Read
 * from the key in place (a rebuild reads millions: making the hex text again, and a Buffer
 * per entry to parse it, cost more than the rest of the envelope's reading).
 */
export function loggedEntry (key: string, bytes: Uint8Array): Entry {
  const at = key.length - 64
  const hashBytes = new Uint8Array(32)
  for (let i = 0; i < 64; i += 2) {
    const c1 = key.charCodeAt(at + i)
    const c2 = key.charCodeAt(at + i + 1)
    // NaN (before the key's start) and any code past ASCII are no digit.
    const hi = c1 < 128 ? HEX_VALUE[c1] as number : -1
    const lo = c2 < 128 ? HEX_VALUE[c2] as number : -1
    if ((hi | lo) < 0) throw new Error(`HQ log corrupt: entry key ${key} does not end with a hash`)
    hashBytes[i >> 1] = (hi << 4) | lo
  }
  // The hash's text is the key's own tail (a slice: only an entry held unfolded keeps it, and its key, alive).
  return checkedEntry(envelopeOf(bytes), hashBytes, key.slice(at))
}

/**
 * The Entry logged under `key`, held to what re-verifying it found (`ok`: true, or why not;
 * `hash`: the hash it has). A log entry that no longer opens or verifies, or whose hash is not
 * the one its key names, means the disk was tampered with or is corrupt: not bad input from a
 * peer, our own state broken. Fail loudly (HQ's thread and the fold threads alike).
 */
export function reverifiedLoggedEntry (key: string, bytes: Uint8Array, ok: true | string, hash: Uint8Array): Entry {
  if (ok !== true) throw new Error(`HQ log corrupt: the entry under ${key}: ${ok}`)
  const e = loggedEntry(key, bytes)
  if (!bytesEqual(e.hashBytes, hash)) throw new Error(`HQ log corrupt: the entry under ${key} hashes to ${toHex(hash)}`)
  return e
}

/**
 * The envelope in a value of HQ's log: the value itself, or the entry inside the change of
 * the till's log that carried it (checked when it was taken in; read here by the one-put
 * walk, or Automerge where the walk is not sure).
 */
export function envelopeOf (logged: Uint8Array): Uint8Array {
  if (!isAutomergeChunk(logged)) return logged
  const layout = entryChangeLayout(logged)
  return layout !== null ? logged.subarray(layout.entryStart, layout.entryEnd) : readEntryChange(logged).entry
}

/**
 * Signature verification behind an interface, because it is HQ's hottest path
 * (~70 µs per libsodium Ed25519 verify here): production spreads it over worker threads,
 * the simulator verifies inline so a run replays exactly from its seed.
 *
 * `open` is the whole per-entry check HQ needs before its own bookkeeping: decode, validate
 * and (when asked) verify the signature. A Verifier without `open` is still usable: HQ then
 * decodes on its own thread and calls `verify` (see `openVia`).
 */
// The change reader alone: the verify threads load this module, and Automerge's wasm only if ever needed.
import { checkEntryChange, isAutomergeChunk, readEntryChange, type EntryChange } from '@tillbooks/crdt/entryChange'
import { openEntry, rejectionOf, signingBytes, verifySignature, type Entry, type PublicKey, type Rejection } from '@tillbooks/protocol'

export interface VerifyItem {
  signature: Uint8Array
  message: Uint8Array
  publicKey: PublicKey
}

/**
 * One submitted item, opened: either refused before any signature check (malformed,
 * invalid, oversized), or the entry with the verdict on its signature (`null` when the
 * caller asked not to check it). An item is an entry's envelope, or the Automerge change of
 * the till's log that put it (crdt's entryChange.ts): then `change` is that change's bytes
 * and `entry.bytes` the envelope inside it.
 */
export type Opened =
  | { entry: Entry, signature: boolean | null, change?: Uint8Array, rejection?: undefined }
  | { rejection: Rejection, entry?: undefined, signature?: undefined, change?: undefined }

/**
 * What a re-verifying rebuild needs of each item read back from HQ's own log: whether it still
 * opens and its signature holds, and its entry's hash (which the caller holds to the log's key),
 * with no entry built: the caller folds the bytes it then trusts as a trusting rebuild does.
 */
export interface LoggedCheck {
  /** Per item: `true` opened and its signature verified; else why not. */
  ok: (i: number) => true | string
  /** 32 bytes per item: its entry's hash (zeros when it did not open). */
  hashes: Uint8Array
}

export interface Verifier {
  verify (items: VerifyItem[]): Promise<boolean[]>
  /** Decode and validate each envelope, and verify its signature where `check[i]`. Throws only on a bug. */
  open? (envelopes: readonly Uint8Array[], check: readonly boolean[]): Promise<Opened[]>
  /** Open and verify each item, answering only the verdicts and hashes (see LoggedCheck). */
  checkLogged? (items: readonly Uint8Array[]): Promise<LoggedCheck>
  close (): Promise<void>
}

/**
 * Open one item as HQ always has: `openEntry` without the signature, then the signature;
 * a change is read first (`openChange`). The verify workers do the same in one pass
 * (verifyWorker.ts, `openRecordUnverified`).
 */
export function openOne (bytes: Uint8Array, check: boolean): Opened {
  if (bytes instanceof Uint8Array && isAutomergeChunk(bytes)) return openChange(bytes, check)
  return openEnvelope(bytes, check)
}

/**
 * A change of a till's log: read (the one-put walk, or Automerge's decode), its entry opened
 * as any envelope, then held to what an honest TillLog writes for that entry
 * (`checkEntryChange`: the till's own entries map, the key the entry's bytes give).
 */
export function openChange (bytes: Uint8Array, check: boolean): Opened {
  let c: EntryChange
  try {
    c = readEntryChange(bytes)
  } catch (err) {
    return { rejection: rejectionOf(err) }
  }
  const why = changeRefusal(c)
  if (why !== null) return { rejection: { code: 'MALFORMED', reason: why } }
  const o = openEnvelope(c.entry, check)
  if (o.rejection !== undefined) return o
  const wrong = checkEntryChange(c, o.entry)
  if (wrong !== null) return { rejection: { code: 'MALFORMED', reason: wrong } }
  return { ...o, change: bytes }
}

/** What HQ refuses of a change before opening its entry: one whose envelope is not in it verbatim (compressed), or is a chunk itself. */
export function changeRefusal (c: EntryChange): string | null {
  if (c.entryStart === null) return 'the entry does not lie verbatim in the change (a compressed change?): send it uncompressed'
  if (isAutomergeChunk(c.entry)) return 'the change puts a chunk, not an entry'
  return null
}

function openEnvelope (bytes: Uint8Array, check: boolean): Opened {
  let entry: Entry
  try {
    entry = openEntry(bytes, { verify: false })
  } catch (err) {
    // rejectionOf rethrows anything that is not bad input: a bug must not pass as a rejection.
    return { rejection: rejectionOf(err) }
  }
  return { entry, signature: check ? verifySignature(entry.sig, signingBytes(entry.record.kind, entry.body), entry.signer) : null }
}

/** `verifier.open`, or the same result from decoding here and `verifier.verify`. */
export async function openVia (verifier: Verifier, envelopes: readonly Uint8Array[], check: readonly boolean[]): Promise<Opened[]> {
  if (verifier.open !== undefined) return await verifier.open(envelopes, check)
  const opened = envelopes.map(b => openOne(b, false))
  const items: VerifyItem[] = []
  const at: number[] = []
  opened.forEach((o, i) => {
    if (o.entry !== undefined && check[i] === true) {
      items.push({ signature: o.entry.sig, message: signingBytes(o.entry.record.kind, o.entry.body), publicKey: o.entry.signer })
      at.push(i)
    }
  })
  const ok = await verifier.verify(items)
  at.forEach((i, k) => {
    const o = opened[i]
    if (o?.entry !== undefined) opened[i] = { ...o, signature: ok[k] === true }
  })
  return opened
}

/** `verifier.checkLogged`, or the same verdicts from `openVia`. */
export async function checkLoggedVia (verifier: Verifier, items: readonly Uint8Array[]): Promise<LoggedCheck> {
  if (verifier.checkLogged !== undefined) return await verifier.checkLogged(items)
  return loggedCheckOf(await openVia(verifier, items, items.map(() => true)))
}

function loggedCheckOf (opened: readonly Opened[]): LoggedCheck {
  const hashes = new Uint8Array(opened.length * 32)
  opened.forEach((o, i) => { if (o.entry !== undefined) hashes.set(o.entry.hashBytes, i * 32) })
  return {
    hashes,
    ok: i => {
      const o = opened[i]
      if (o === undefined) return 'no such item'
      if (o.rejection !== undefined) return `${o.rejection.code} ${o.rejection.reason}`
      return o.signature === true ? true : 'its signature fails'
    }
  }
}

export class InlineVerifier implements Verifier {
  async verify (items: VerifyItem[]): Promise<boolean[]> {
    return items.map(i => verifySignature(i.signature, i.message, i.publicKey))
  }

  async open (envelopes: readonly Uint8Array[], check: readonly boolean[]): Promise<Opened[]> {
    // A copy: what is verified (and then logged) is what the caller passed, whatever it does with its buffers later.
    return envelopes.map((b, i) => openOne(b instanceof Uint8Array ? b.slice() : b, check[i] === true))
  }

  async close (): Promise<void> {}
}

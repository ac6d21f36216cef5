/**
 * Automerge's sync protocol, screened before Automerge sees anything: the part every
 * document of ours shares (TillLog, CatalogueDoc). Each change a message carries, and each
 * change inside a whole-document chunk (what Automerge sends a peer that has nothing), is
 * checked by the document's own screen; one refused change refuses the whole message
 * (SyncRefusedError) and nothing of it is applied.
 *
 * A chunk is loaded into a copy of the replica so its changes resolve against ours (loaded
 * alone, a chunk of only what we lack yields no changes at all); a chunk whose changes depend
 * on changes neither side holds is refused. A single change whose dependencies have not come
 * waits, screened, in Automerge's queue, which then asks for them (a change lost on the
 * wire, or a Bloom filter false positive, which Automerge's protocol repairs this way); that
 * queue is bounded (`pendingChangesMax`).
 */
import * as A from '@automerge/automerge'
import { SyncRefusedError } from './errors.ts'
import { inFlight, initSyncState, notInFlight, type SyncState } from './syncState.ts'

/** Automerge's document handle (the wasm object `A.getBackend` returns). */
export type Handle = ReturnType<typeof A.getBackend>

/** A change as `A.decodeChange` reads it. */
export type DecodedChange = ReturnType<typeof A.decodeChange>

export interface SyncLimits {
  /** Items (and changes) one message may carry. */
  applyChangesMax: number
  /** Bytes of one change (an item may be up to 16 times this: a document chunk). */
  changeBytesMax: number
  /** Changes waiting for their dependencies, at most. */
  pendingChangesMax: number
}

/** What a document says of one change: its hash, dependencies and the keys it puts, or why it is refused. */
export type Verdict = { hash: string, deps: string[], keys: string[] } | { reason: string }

/** A screened change Automerge holds until its dependencies come. */
export interface PendingChange { deps: string[], keys: number, bytes: number }

export interface ScreenedMessage {
  /** Every change the message would apply, screened. */
  changes: Uint8Array[]
  /** Keys the message would add that the replica does not hold (those of changes that will wait included). */
  newKeys: Set<string>
  /** The message's changes, by hash. */
  screened: Map<string, PendingChange>
  /** Bytes of the changes that apply now (the message's and the waiting ones they free). */
  appliedBytes: number
  /** Keys the waiting changes hold, now and after the message. */
  pendingKeysAfter: number
}

/**
 * Decode and screen a sync message against a replica (`am`), applying nothing. Throws
 * SyncRefusedError with the reason; `pending` is the replica's set of changes waiting for
 * their dependencies (read, not changed).
 */
export function screenSyncMessage (am: Handle, message: Uint8Array, limits: SyncLimits, screen: (change: Uint8Array, decoded?: DecodedChange) => Verdict, has: (key: string) => boolean, pending: ReadonlyMap<string, PendingChange>): ScreenedMessage {
  if (!(message instanceof Uint8Array)) throw new SyncRefusedError('a sync message is bytes')
  let decoded: ReturnType<typeof A.decodeSyncMessage>
  try {
    decoded = A.decodeSyncMessage(message)
  } catch (err) {
    throw new SyncRefusedError(`not an Automerge sync message: ${(err as Error).message}`)
  }
  // Bounded before any item is looked at: a message of many cheap items must not cost a
  // replica its event loop.
  if (decoded.changes.length > limits.applyChangesMax) throw new SyncRefusedError(`${decoded.changes.length} items in one message, at most ${limits.applyChangesMax}`)
  const changes: Uint8Array[] = []
  // What telling changes from a document decoded already: the screen does not decode those again.
  const decodedAt: Array<DecodedChange | undefined> = []
  let chunks = 0
  for (const item of decoded.changes) {
    const found = changesIn(am, item, limits)
    if (found.chunk && ++chunks > 1) throw new SyncRefusedError('more than one document chunk in one message')
    for (const [j, c] of found.changes.entries()) {
      changes.push(c)
      decodedAt.push(found.decoded?.[j])
    }
  }
  if (changes.length > limits.applyChangesMax) throw new SyncRefusedError(`${changes.length} changes in one message, at most ${limits.applyChangesMax}`)
  const newKeys = new Set<string>()
  const screened = new Map<string, PendingChange>()
  for (const [i, change] of changes.entries()) {
    const verdict = screen(change, decodedAt[i])
    if ('reason' in verdict) throw new SyncRefusedError(`change ${i} refused: ${verdict.reason}`)
    let fresh = 0
    for (const key of verdict.keys) if (!has(key) && !newKeys.has(key)) { newKeys.add(key); fresh++ }
    if (!screened.has(verdict.hash) && am.getChangeByHash(verdict.hash) === null) screened.set(verdict.hash, { deps: verdict.deps, keys: fresh, bytes: change.length })
  }
  // What will apply: a change whose dependencies are all held, or will apply (a chain hanging
  // off a missing change waits as a whole); the rest waits with what waited before.
  const candidates = new Map([...pending, ...screened])
  // Kahn's walk: each change counts the candidates it waits for; one missing from both the
  // replica and the candidates blocks it for good (linear in the changes and their deps).
  const unmet = new Map<string, number>()
  const dependents = new Map<string, string[]>()
  const ready: string[] = []
  for (const [h, c] of candidates) {
    let n = 0
    for (const d of c.deps) {
      if (candidates.has(d)) {
        n++
        const list = dependents.get(d)
        if (list === undefined) dependents.set(d, [h])
        else list.push(h)
      } else if (am.getChangeByHash(d) === null) {
        n = Number.POSITIVE_INFINITY
      }
    }
    unmet.set(h, n)
    if (n === 0) ready.push(h)
  }
  const applies = new Set<string>()
  for (let h = ready.pop(); h !== undefined; h = ready.pop()) {
    applies.add(h)
    for (const next of dependents.get(h) ?? []) {
      const n = (unmet.get(next) as number) - 1
      unmet.set(next, n)
      if (n === 0) ready.push(next)
    }
  }
  const waitingAfter = candidates.size - applies.size
  // Refused only if the queue would grow past its bound: a message that frees what waits is always taken.
  if (waitingAfter > limits.pendingChangesMax && waitingAfter > pending.size) throw new SyncRefusedError(`${waitingAfter} changes would wait for changes this replica lacks, at most ${limits.pendingChangesMax}`)
  let appliedBytes = 0
  let pendingKeysAfter = 0
  for (const [h, c] of candidates) {
    if (applies.has(h)) appliedBytes += c.bytes
    else pendingKeysAfter += c.keys
  }
  return { changes, newKeys, screened, appliedBytes, pendingKeysAfter }
}

/** Entries the waiting changes will put. */
export function pendingKeys (pending: ReadonlyMap<string, PendingChange>): number {
  let n = 0
  for (const c of pending.values()) n += c.keys
  return n
}

/** After Automerge took a screened message: what still waits for its dependencies, updated in place. */
export function updatePending (am: Handle, pending: Map<string, PendingChange>, screened: Map<string, PendingChange>): void {
  for (const [h, c] of screened) pending.set(h, c)
  for (const h of pending.keys()) if (am.getChangeByHash(h) !== null) pending.delete(h)
}

/**
 * An item that is change chunks back to back (as a peer may send several changes in one item),
 * split into its changes; null if it is anything else (a document, or not chunks). Split, each
 * is screened and waits for its dependencies like any change sent alone: loaded whole, one
 * whose dependency this replica lacks (a change the peer's Bloom filter of ours wrongly said we
 * hold) refused the whole item, every time the peer sent it, and the replica stayed behind.
 */
function changeChunks (item: Uint8Array, max: number): Uint8Array[] | null {
  const out: Uint8Array[] = []
  let at = 0
  while (at < item.length) {
    // magic (4) ‖ checksum (4) ‖ type (1) ‖ length (ULEB128) ‖ bytes
    if (at + 9 > item.length || item[at] !== 0x85 || item[at + 1] !== 0x6f || item[at + 2] !== 0x4a || item[at + 3] !== 0x83) return null
    const type = item[at + 8] as number
    if (type !== 1 && type !== 2) return null
    let p = at + 9
    let length = 0
    let shift = 0
    for (;;) {
      if (p >= item.length || shift > 28) return null
      const b = item[p++] as number
      length += (b & 0x7f) * 2 ** shift
      shift += 7
      if ((b & 0x80) === 0) break
    }
    const end = p + length
    if (end > item.length || out.length >= max) return null
    out.push(item.subarray(at, end))
    at = end
  }
  return out.length > 1 ? out : null
}

/** The changes in one item of a sync message: a change, changes back to back, or a whole-document chunk (bounded). */
function changesIn (am: Handle, item: Uint8Array, limits: SyncLimits): { chunk: boolean, changes: Uint8Array[], decoded?: DecodedChange[] } {
  if (!(item instanceof Uint8Array) || item.length > limits.changeBytesMax * 16) throw new SyncRefusedError(`an item of ${item.length} bytes in a sync message`)
  try {
    return { chunk: false, changes: [item], decoded: [A.decodeChange(item)] }
  } catch { /* not a single change: several, or a document chunk? */ }
  const several = changeChunks(item, limits.applyChangesMax)
  if (several !== null) {
    try {
      return { chunk: false, changes: several, decoded: several.map(c => A.decodeChange(c)) }
    } catch { /* not changes after all: read as a document below */ }
  }
  const scratch = am.clone()
  try {
    try {
      scratch.loadIncremental(item)
    } catch (err) {
      throw new SyncRefusedError(`an item that is neither a change nor a document: ${(err as Error).message}`)
    }
    if (scratch.getMissingDeps([]).length > 0) throw new SyncRefusedError('a document chunk whose changes depend on changes this replica lacks')
    return { chunk: true, changes: am.getChangesAdded(scratch) }
  } finally {
    scratch.free()
  }
}

/**
 * The state to answer a puller's next request with, on the serving side of a request/response
 * sync (DocSync):
 * - Less Automerge's record of the changes it sent (`sentHashes`, `inFlight`). Each request
 *   comes after the puller took in our last answer, so what it holds is in its message (heads,
 *   Bloom filter) and is not sent again anyway; what it does not hold was lost on the wire and
 *   must be sent again. Kept, that record would keep a lost change from ever being resent.
 * - Afresh when the puller starts afresh (its message says it last synced nothing with us: a
 *   session it dropped after a failure, or a restart without its state): what this side
 *   believed they shared no longer holds, and answering from it sends nothing the puller lacks.
 * Either way a replica could otherwise stop behind its till for good. `state` is changed in
 * place (the caller passes a copy it may keep or drop).
 */
export function servingStateFor (state: SyncState, message: Uint8Array | null): SyncState {
  if (message !== null) {
    let have: Array<{ lastSync: string[] }> | undefined
    try {
      have = A.decodeSyncMessage(message).have
    } catch { /* the screen refuses it */ }
    if (have !== undefined && (have.length === 0 || have.every(h => h.lastSync.length === 0))) return initSyncState({ readOnly: state.readOnly })
  }
  state.sentHashes = []
  // Receiving a message clears Automerge's `inFlight`; a request that says nothing does not.
  return message === null && inFlight(state) ? notInFlight(state) : state
}

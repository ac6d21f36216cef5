/**
 * One TillLog change read without a document: the signed entry inside the Automerge change
 * that put it. HQ takes a till's entries this way (as the changes the till's own log holds,
 * so HQ can serve the till's document with the till's own heads) without loading a
 * document on its hot path: Automerge's `decodeChange` costs ~65 µs a change here, against
 * a few µs for the walk below.
 *
 * A change TillLog writes is one put of an entry's bytes into the till's entries map. In
 * Automerge's binary format (automerge.org, "Binary Document Format", change chunks):
 *
 *   85 6f 4a 83 | checksum (4) | type 01 | uLEB length | deps (uLEB n, n × 32 bytes)
 *   | actor (uLEB len, bytes) | seq uLEB | startOp uLEB | time sLEB | message (uLEB len, bytes)
 *   | other actors (uLEB n, each uLEB len + bytes) | columns (uLEB n, n × (spec uLEB, len uLEB))
 *   | column data | extra bytes
 *
 * with exactly these columns, each holding one value as a literal run (sLEB -1 = 0x7f):
 * objActor (1) = 1, the genesis actor; objCtr (2) = 3; keyStr (0x15) = the entry's key;
 * insert (0x34) = one false; action (0x42) = 1 (set); valLen (0x56) = len << 4 | 7 (bytes);
 * valRaw (0x57) = the envelope; predGroup (0x70) = 0. The change's hash is SHA-256 of
 * everything from the type byte on; its first 4 bytes are the checksum.
 *
 * `entryChangeLayout` is that one walk, and says only yes or "not sure": anything else
 * (another encoder's choice of runs, a compressed chunk, a change of many ops) goes to
 * `readEntryChange`'s second path, Automerge's own `decodeChange`, which stays the
 * definition (the walk is tested against it on honest, random and mutated changes).
 */
import { createRequire } from 'node:module'
import { ENTRY_BYTES_MAX, MalformedError, OversizedError, bytesEqual, sha256Into, toHex, type EntryHash, type TillId } from '@tillbooks/protocol'
import { ENTRY_CHANGE_BYTES_MAX, SEQ_KEY_DIGITS } from './constants.ts'
import { entryKey } from './entryKey.ts'
import { ENTRIES_OBJ_COUNTER, genesisActorBytesOf, genesisActorOf, tillActorBytesOf, tillActorOf } from './genesis.ts'

/**
 * Automerge's decodeChange, loaded the first time the walk is not sure: HQ's verify threads
 * import this module alone (`@tillbooks/crdt/entryChange`) and, on honest changes, never load
 * Automerge's wasm (~10 MB of each thread's memory).
 */
let decodeChangeLoaded: typeof import('@automerge/automerge').decodeChange | undefined
function decodeChange (change: Uint8Array): ReturnType<typeof import('@automerge/automerge').decodeChange> {
  decodeChangeLoaded ??= (createRequire(import.meta.url)('@automerge/automerge') as typeof import('@automerge/automerge')).decodeChange
  return decodeChangeLoaded(change)
}

/** The first bytes of every Automerge chunk (document, change, compressed change). */
export const AUTOMERGE_MAGIC = Uint8Array.of(0x85, 0x6f, 0x4a, 0x83)

const CHUNK_CHANGE = 1
const ACTION_SET = 1
const VALUE_TYPE_BYTES = 7
/** Column specs and the order TillLog's changes carry them in. */
const COLUMNS = [0x01, 0x02, 0x15, 0x34, 0x42, 0x56, 0x57, 0x70] as const
/** Dependencies a TillLog change may name (a till's own log is one line: one). */
const DEPS_MAX = 64
const ACTOR_BYTES_MAX = 64

/** Whether `bytes` open like an Automerge chunk (a change, rather than a bare entry envelope). */
export function isAutomergeChunk (bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x85 && bytes[1] === 0x6f && bytes[2] === 0x4a && bytes[3] === 0x83
}

/** Where the parts of a one-put change lie (offsets into its bytes). */
export interface EntryChangeLayout {
  /** The put value: the entry's envelope. */
  entryStart: number
  entryEnd: number
  /** The key it is put under (ASCII). */
  keyStart: number
  keyEnd: number
  /** The change's own actor. */
  actorStart: number
  actorEnd: number
  /** The actor of the map it puts into (the change's one "other actor"). */
  objActorStart: number
  objActorEnd: number
  objCounter: number
  deps: number
  /** The change's seq for its actor, and the counter of its op. */
  seq: number
  startOp: number
}

/** A change that puts one entry, read: its pieces, and the change's hash. */
export interface EntryChange {
  /** The entry's envelope: a view into the change where it lies there verbatim. */
  entry: Uint8Array
  /** Offsets of `entry` in the change, or null when it was not found there verbatim. */
  entryStart: number | null
  key: string
  /** The map it puts into, as Automerge writes object ids: `<counter>@<actor hex>`. */
  obj: string
  /** The change's actor (hex). */
  actor: string
  /** Its op's counter. */
  startOp: number
  /** The change's hash (Automerge's, 32 bytes). */
  hash: Uint8Array
}

/** A cursor over bytes: LEB128 as Automerge writes it (at most 64-bit values; here safe integers). */
class Reader {
  pos: number
  readonly end: number
  readonly b: Uint8Array
  constructor (b: Uint8Array, pos: number, end: number) {
    this.b = b
    this.pos = pos
    this.end = end
  }

  /** An unsigned LEB128 in the shortest form, at most 2^49 - 1 (7 bytes: exact in a double, and within what Automerge reads); -1 if not. */
  uleb (): number {
    let value = 0
    let scale = 1
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) return -1
      const byte = this.b[this.pos++] as number
      value += (byte & 0x7f) * scale
      if ((byte & 0x80) === 0) {
        // Shortest form: no trailing zero group (Automerge refuses overlong LEB128).
        if (byte === 0 && i > 0) return -1
        return value
      }
      scale *= 128
    }
    return -1
  }

  /** `n` bytes; their start, or -1 past the end. */
  take (n: number): number {
    if (n < 0 || this.pos + n > this.end) return -1
    const at = this.pos
    this.pos += n
    return at
  }

  /** One byte equal to `v`. */
  byte (v: number): boolean {
    if (this.pos >= this.end || this.b[this.pos] !== v) return false
    this.pos++
    return true
  }
}

/**
 * The one walk: the layout of a change that is, to the letter, one put of bytes under a
 * string key as Automerge writes TillLog's changes; null when it is anything else, or not
 * sure (then ask `decodeChange`). Checks structure only: not the checksum, not what the
 * key, map or bytes are (see `readEntryChange` and `checkEntryChange`).
 */
export function entryChangeLayout (change: Uint8Array): EntryChangeLayout | null {
  if (change.length < 16 || change.length > ENTRY_CHANGE_BYTES_MAX || !isAutomergeChunk(change) || change[8] !== CHUNK_CHANGE) return null
  const head = new Reader(change, 9, change.length)
  const length = head.uleb()
  if (length < 0 || head.pos + length !== change.length) return null
  const r = new Reader(change, head.pos, change.length)
  const deps = r.uleb()
  if (deps < 0 || deps > DEPS_MAX || r.take(deps * 32) < 0) return null
  const actorLen = r.uleb()
  if (actorLen < 1 || actorLen > ACTOR_BYTES_MAX) return null
  const actorStart = r.take(actorLen)
  if (actorStart < 0) return null
  // seq and startOp (Automerge's are non-zero), then time: 0, one byte, as every TillLog
  // change carries (a longer encoding is left to Automerge, which refuses overlong ones).
  const seq = r.uleb()
  const startOp = r.uleb()
  if (seq < 1 || startOp < 1 || !r.byte(0)) return null
  if (!r.byte(0)) return null // no message
  if (!r.byte(1)) return null // one other actor: the entries map's
  const objActorLen = r.uleb()
  if (objActorLen < 1 || objActorLen > ACTOR_BYTES_MAX) return null
  const objActorStart = r.take(objActorLen)
  if (objActorStart < 0) return null
  if (!r.byte(COLUMNS.length)) return null
  const lengths: number[] = []
  for (const spec of COLUMNS) {
    if (!r.byte(spec)) return null
    const len = r.uleb()
    if (len < 0) return null
    lengths.push(len)
  }
  const columnsEnd = r.pos + lengths.reduce((a, b) => a + b, 0)
  // No extra bytes after the columns.
  if (columnsEnd !== change.length) return null
  const col = (i: number): Reader => {
    const start = r.pos
    r.pos += lengths[i] as number
    return new Reader(change, start, r.pos)
  }
  // objActor: one literal value, actor index 1 (the one other actor).
  let c = col(0)
  if (!c.byte(0x7f) || !c.byte(1) || c.pos !== c.end) return null
  c = col(1)
  if (!c.byte(0x7f)) return null
  const objCounter = c.uleb()
  if (objCounter < 1 || c.pos !== c.end) return null
  // keyStr: one literal string.
  c = col(2)
  if (!c.byte(0x7f)) return null
  const keyLen = c.uleb()
  if (keyLen < 1) return null
  const keyStart = c.take(keyLen)
  if (keyStart < 0 || c.pos !== c.end) return null
  // An entry key is ASCII (entryKey.ts): any other byte is left to Automerge's UTF-8 checks.
  for (let i = keyStart; i < keyStart + keyLen; i++) if ((change[i] as number) >= 0x80) return null
  // insert: one false. action: one set.
  c = col(3)
  if (!c.byte(1) || c.pos !== c.end) return null
  c = col(4)
  if (!c.byte(0x7f) || !c.byte(ACTION_SET) || c.pos !== c.end) return null
  // valLen: one bytes value of n bytes; valRaw: those n bytes exactly.
  c = col(5)
  if (!c.byte(0x7f)) return null
  const meta = c.uleb()
  if (meta < 0 || meta % 16 !== VALUE_TYPE_BYTES || c.pos !== c.end) return null
  const valueLen = Math.floor(meta / 16)
  c = col(6)
  if (c.end - c.pos !== valueLen) return null
  const entryStart = c.pos
  // predGroup: overwrites nothing.
  c = col(7)
  if (!c.byte(0x7f) || !c.byte(0) || c.pos !== c.end) return null
  return {
    entryStart,
    entryEnd: entryStart + valueLen,
    keyStart,
    keyEnd: keyStart + keyLen,
    actorStart,
    actorEnd: actorStart + actorLen,
    objActorStart,
    objActorEnd: objActorStart + objActorLen,
    objCounter,
    deps,
    seq,
    startOp
  }
}

/** The change's hash as Automerge computes it: SHA-256 from the chunk type byte on. */
export function changeHashOf (change: Uint8Array): Uint8Array {
  const out = new Uint8Array(32)
  sha256Into(change.subarray(8), out)
  return out
}

/** One hash at a time on a thread: checked in place, then let go. */
const digestScratch = new Uint8Array(32)

function ascii (b: Uint8Array, start: number, end: number): string {
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1')
}

/**
 * Read a change that puts one entry: by the walk, with its checksum checked; where the walk
 * is not sure, by Automerge's `decodeChange`. Throws MalformedError/OversizedError with the
 * reason for anything else. Says nothing yet of whether the key, the map and the actor are
 * right for the entry: `checkEntryChange`, once the entry is opened.
 */
export function readEntryChange (change: Uint8Array): EntryChange {
  if (!(change instanceof Uint8Array)) throw new MalformedError('a change is bytes')
  if (change.length > ENTRY_CHANGE_BYTES_MAX) throw new OversizedError(`a change of one entry is ${change.length} bytes, at most ${ENTRY_CHANGE_BYTES_MAX}`)
  if (!isAutomergeChunk(change)) throw new MalformedError('not an Automerge chunk')
  const layout = entryChangeLayout(change)
  if (layout !== null) {
    const hash = changeHashOf(change)
    if (!bytesEqual(hash.subarray(0, 4), change.subarray(4, 8))) throw new MalformedError('the change\'s checksum does not match its bytes')
    return {
      entry: change.subarray(layout.entryStart, layout.entryEnd),
      entryStart: layout.entryStart,
      key: ascii(change, layout.keyStart, layout.keyEnd),
      obj: `${layout.objCounter}@${toHex(change.subarray(layout.objActorStart, layout.objActorEnd))}`,
      actor: toHex(change.subarray(layout.actorStart, layout.actorEnd)),
      startOp: layout.startOp,
      hash
    }
  }
  // decodeChange does not check the checksum: a change Automerge would refuse to apply.
  if (change.length < 8 || !checksumHolds(change)) throw new MalformedError('the change\'s checksum does not match its bytes')
  let d: ReturnType<typeof decodeChange>
  try {
    d = decodeChange(change)
  } catch (err) {
    throw new MalformedError(`not an Automerge change: ${(err as Error).message}`)
  }
  const op = d.ops[0] as (typeof d.ops)[number] & { insert?: boolean, value?: unknown, pred?: unknown[] } | undefined
  if (d.ops.length !== 1 || op === undefined) throw new MalformedError(`a till's change puts one entry; this one has ${d.ops.length} ops`)
  // decodeChange gives a bytes value as an array of numbers with no datatype (screen.ts too).
  if (op.action !== 'set' || op.insert === true || typeof op.key !== 'string' || (op.datatype !== undefined && op.datatype !== 'bytes')) throw new MalformedError(`the change's op is ${op.action}${op.datatype !== undefined ? ` of ${op.datatype}` : ''}, not a put of entry bytes under a key`)
  if (Array.isArray(op.pred) && op.pred.length > 0) throw new MalformedError('the change overwrites a value')
  const value: unknown = op.value
  if (!Array.isArray(value) && !(value instanceof Uint8Array)) throw new MalformedError('the change puts no bytes')
  if (value.length > ENTRY_BYTES_MAX) throw new OversizedError(`the change puts ${value.length} bytes, at most ${ENTRY_BYTES_MAX}`)
  const entry = Uint8Array.from(value as ArrayLike<number>)
  if (entry.some((b, i) => b !== (value as ArrayLike<number>)[i])) throw new MalformedError('the change puts values that are not bytes')
  const at = Buffer.from(change.buffer, change.byteOffset, change.byteLength).indexOf(entry)
  return {
    entry: at >= 0 ? change.subarray(at, at + entry.length) : entry,
    entryStart: at >= 0 ? at : null,
    key: op.key,
    obj: op.obj,
    actor: d.actor,
    startOp: d.startOp,
    hash: Uint8Array.from(Buffer.from(d.hash, 'hex'))
  }
}

const HEX = Uint8Array.from('0123456789abcdef', c => c.charCodeAt(0))
const genesisActorBytes = new Map<string, Uint8Array>()

/**
 * `checkEntryChange` for a change the walk read, compared in place (no string built): HQ's
 * verify threads run this on every record. `entryHash` is the entry's 32-byte hash. Null if
 * the change is what an honest TillLog of `tillId` writes for that entry, else why not.
 */
export function checkEntryChangeAt (change: Uint8Array, layout: EntryChangeLayout, entry: { tillId: TillId, seq: number, hash: Uint8Array, signer: Uint8Array }): string | null {
  let actor = genesisActorBytes.get(entry.tillId)
  if (actor === undefined) {
    actor = genesisActorBytesOf(entry.tillId)
    if (genesisActorBytes.size >= GENESIS_ACTORS_MAX) genesisActorBytes.clear()
    genesisActorBytes.set(entry.tillId, actor)
  }
  const objActor = change.subarray(layout.objActorStart, layout.objActorEnd)
  if (layout.objCounter !== ENTRIES_OBJ_COUNTER || !bytesEqual(objActor, actor)) return `the change puts into another map, not ${entry.tillId}'s entries map`
  if (bytesEqual(change.subarray(layout.actorStart, layout.actorEnd), actor)) return 'the change is written under the genesis actor'
  // The key: <seq, 12 digits>:<entry hash, 64 hex>:<envelope digest, 32 hex> (entryKey.ts).
  const k = layout.keyStart
  if (layout.keyEnd - k !== SEQ_KEY_DIGITS + 1 + 64 + 1 + 32) return 'the change puts the entry under a key its bytes do not give'
  const seq = String(entry.seq).padStart(SEQ_KEY_DIGITS, '0')
  let ok = seq.length === SEQ_KEY_DIGITS && change[k + SEQ_KEY_DIGITS] === 0x3a && change[k + SEQ_KEY_DIGITS + 65] === 0x3a
  for (let i = 0; ok && i < SEQ_KEY_DIGITS; i++) ok = change[k + i] === seq.charCodeAt(i)
  const hexAt = (at: number, bytes: Uint8Array, n: number): boolean => {
    for (let i = 0; i < n; i++) {
      const b = bytes[i] as number
      if (change[at + 2 * i] !== HEX[b >> 4] || change[at + 2 * i + 1] !== HEX[b & 15]) return false
    }
    return true
  }
  ok = ok && hexAt(k + SEQ_KEY_DIGITS + 1, entry.hash, 32)
  if (ok) sha256Into(change.subarray(layout.entryStart, layout.entryEnd), digestScratch)
  ok = ok && hexAt(k + SEQ_KEY_DIGITS + 66, digestScratch, 16)
  if (!ok) return 'the change puts the entry under a key its bytes do not give'
  // The header, compared in place too: the signer's log's actor (cached per till and key).
  let known = signerActors.get(entry.tillId)
  if (known === undefined || !bytesEqual(known.key, entry.signer)) {
    known = { key: Uint8Array.from(entry.signer), actor: tillActorBytesOf(entry.tillId, entry.signer) }
    if (signerActors.size >= GENESIS_ACTORS_MAX) signerActors.clear()
    signerActors.set(entry.tillId, known)
  }
  if (!bytesEqual(change.subarray(layout.actorStart, layout.actorEnd), known.actor)) return 'the change is not written by the log of the entry\'s signer'
  if (layout.startOp !== entry.seq + ENTRIES_OBJ_COUNTER) return `the change's op counter is ${layout.startOp}, not seq + ${ENTRIES_OBJ_COUNTER} (one op per record)`
  return null
}

/** The last signer's key and its log's actor, per till. */
const signerActors = new Map<string, { key: Uint8Array, actor: Uint8Array }>()

/** Whether the walked change's checksum (its first 4 bytes after the magic) is that of its bytes. */
export function checksumHolds (change: Uint8Array): boolean {
  if (change.length < 8) return false
  sha256Into(change.subarray(8), digestScratch)
  return digestScratch[0] === change[4] && digestScratch[1] === change[5] && digestScratch[2] === change[6] && digestScratch[3] === change[7]
}

/** Genesis actors by till (bounded: recomputing one costs a SHA-256). */
const genesisActors = new Map<string, string>()
const GENESIS_ACTORS_MAX = 65_536

function genesisActor (tillId: TillId): string {
  let actor = genesisActors.get(tillId)
  if (actor === undefined) {
    actor = genesisActorOf(tillId)
    if (genesisActors.size >= GENESIS_ACTORS_MAX) genesisActors.clear()
    genesisActors.set(tillId, actor)
  }
  return actor
}

/**
 * Whether a change read by `readEntryChange` is what an honest TillLog of `entry.tillId`
 * writes for that entry: a put into that till's entries map, under the key the entry's bytes
 * give (entryKey.ts), by an actor other than the genesis one. Null if so, else why not.
 * `entry` is the envelope already opened (its seq and hash come from the record).
 */
export function checkEntryChange (c: EntryChange, entry: { tillId: TillId, seq: number, hash: EntryHash, signer: Uint8Array }): string | null {
  const actor = genesisActor(entry.tillId)
  if (c.obj !== `${ENTRIES_OBJ_COUNTER}@${actor}`) return `the change puts into ${c.obj.slice(0, 80)}, not ${entry.tillId}'s entries map`
  if (c.actor === actor) return 'the change is written under the genesis actor'
  let key: string
  try {
    key = entryKey(entry.seq, entry.hash, c.entry)
  } catch (err) {
    return (err as Error).message
  }
  if (c.key !== key) return 'the change puts the entry under a key its bytes do not give'
  return headerRefusal(c.actor, c.startOp, entry)
}

/**
 * What a till's own change for an entry carries beyond the put (not signed, so checked): its
 * actor is the log of the entry's signer (tillActorOf), and its op is the entry's seq plus the
 * genesis change's three (one op per record, one line of records). A relay cannot re-label
 * a genuine entry's change (another actor or op counter) and have HQ keep that one instead.
 */
function headerRefusal (actorHex: string, startOp: number, entry: { tillId: TillId, seq: number, signer: Uint8Array }): string | null {
  if (actorHex !== tillActorFor(entry.tillId, entry.signer)) return 'the change is not written by the log of the entry\'s signer'
  if (startOp !== entry.seq + ENTRIES_OBJ_COUNTER) return `the change's op counter is ${startOp}, not seq + ${ENTRIES_OBJ_COUNTER} (one op per record)`
  return null
}

/** Till actors by (till, key) (bounded: recomputing one costs a SHA-256). */
const tillActors = new Map<string, string>()

function tillActorFor (tillId: TillId, key: Uint8Array): string {
  const k = `${tillId}:${toHex(key)}`
  let actor = tillActors.get(k)
  if (actor === undefined) {
    actor = tillActorOf(tillId, key)
    if (tillActors.size >= GENESIS_ACTORS_MAX) tillActors.clear()
    tillActors.set(k, actor)
  }
  return actor
}

/**
 * The boundary check on Automerge changes from peers (applyChanges, merge).
 *
 * Entries are never judged here: a forged, unenrolled or forking entry is stored as
 * evidence and judged by `verify`. What is refused is a change that is not something an
 * honest TillLog writes: honest writers only ever *put* an entry's bytes under the key
 * those bytes give (entryKey.ts) into this till's entries map. Anything else (deleting or
 * overwriting an entry, touching the document's root, another till's map or entries,
 * values that are not entry bytes) would let a relay hide or corrupt evidence, so the
 * whole change is refused. The check is a pure function of the change, so every honest
 * replica refuses the same changes and they still converge (on the closure of honest changes).
 */
import { decodeChange, type Change } from '@automerge/automerge'
import { ENTRY_BYTES_MAX, type TillId } from '@tillbooks/protocol'
import { keyOfBytes } from './entryKey.ts'

export interface ScreenContext {
  tillId: TillId
  /** Automerge object id of the entries map (made by the till's genesis change). */
  entriesObj: string
  /** Hash of the till's genesis change: the one change allowed to touch the root. */
  genesisHash: string
  changeBytesMax: number
  changeEntriesMax: number
}

/** The change's hash, its dependencies and the entry keys it puts if it may be applied, else why not. */
export function screenChange (change: Change, ctx: ScreenContext, decodedAlready?: ReturnType<typeof decodeChange>): { hash: string, deps: string[], keys: string[] } | { reason: string } {
  if (!(change instanceof Uint8Array)) return { reason: 'a change is bytes' }
  if (change.length > ctx.changeBytesMax) return { reason: `change is ${change.length} bytes, at most ${ctx.changeBytesMax}` }
  let decoded: ReturnType<typeof decodeChange>
  try {
    // `decodedAlready`: these very bytes decoded by the caller (screenSyncMessage), read as they are.
    decoded = decodedAlready ?? decodeChange(change)
  } catch (err) {
    return { reason: `not an Automerge change: ${(err as Error).message}` }
  }
  if (decoded.hash === ctx.genesisHash) return { hash: decoded.hash, deps: decoded.deps, keys: [] }
  const keys: string[] = []
  if (decoded.ops.length > ctx.changeEntriesMax) return { reason: `change puts ${decoded.ops.length} values, at most ${ctx.changeEntriesMax}` }
  for (const [i, op] of decoded.ops.entries()) {
    const o = op as typeof op & { insert?: boolean, value?: unknown }
    if (o.action !== 'set' || o.obj !== ctx.entriesObj || o.insert === true || typeof o.key !== 'string') {
      return { reason: `op ${i} is ${o.action} on ${o.obj}: only puts into the entries map are allowed` }
    }
    if (o.datatype !== undefined && o.datatype !== 'bytes') return { reason: `op ${i} puts a ${o.datatype}, not entry bytes` }
    const bytes = bytesOf(o.value)
    if (bytes === undefined) return { reason: `op ${i} does not put entry bytes` }
    let derived: ReturnType<typeof keyOfBytes>
    try {
      derived = keyOfBytes(bytes)
    } catch (err) {
      return { reason: `op ${i} puts bytes that are not an entry: ${(err as Error).message}` }
    }
    if (derived.tillId !== ctx.tillId) return { reason: `op ${i} puts an entry of till ${derived.tillId}` }
    if (derived.key !== o.key) return { reason: `op ${i} puts an entry under a key its bytes do not give` }
    keys.push(derived.key)
  }
  return { hash: decoded.hash, deps: decoded.deps, keys }
}

/** decodeChange gives a bytes value as an array of numbers. */
function bytesOf (value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value
  // One byte over the limit is enough for keyOfBytes to refuse it as oversized.
  if (!Array.isArray(value) || value.length > ENTRY_BYTES_MAX + 1) return undefined
  const out = new Uint8Array(value.length)
  for (let i = 0; i < value.length; i++) {
    const b: unknown = value[i]
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) return undefined
    out[i] = b
  }
  return out
}

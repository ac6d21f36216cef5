/**
 * Automerge sync states kept as Automerge's own objects (the wasm `SyncState`), driven through
 * the document handle (`A.getBackend(doc).generateSyncMessage(state)`).
 *
 * Why not `A.generateSyncMessage(doc, state)`: the JS API keeps a sync state as a plain object
 * and converts it into Automerge's and back at every call (`importSyncState` and
 * `exportSyncState`, ~75 µs a call here, against ~50 µs for the message itself), and a received
 * message also brings the document's JS view up to date (materialising it). Profiled, those
 * conversions were 12 % of a simulated world's CPU and a fifth of one whose tills sync the
 * catalogue all day; an in-sync pull costs a third as much without them.
 *
 * The functions that make, encode and decode these objects are the bindings `@automerge/automerge`
 * itself loads (its Node entry point imports them by this path), so they are the same module
 * and the same wasm memory as the documents' handles: a state made here is one the handles take
 * (a test fails if a release moves them, or loads another copy).
 */
import { getBackend, init } from '@automerge/automerge'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Handle } from './screenedSync.ts'

/** Automerge's sync state for one peer (its wasm object): generate and receive change it in place. */
export type SyncState = Parameters<Handle['generateSyncMessage']>[0]

interface Bindings {
  initSyncState: () => SyncState
  decodeSyncState: (bytes: Uint8Array) => SyncState
  encodeSyncState: (state: SyncState) => Uint8Array
  exportSyncState: (state: SyncState) => Record<string, unknown>
  importSyncState: (state: Record<string, unknown>) => SyncState
}

const bindings = await (async (): Promise<Bindings> => {
  // The package's `require` entry is dist/cjs/…; its Node `import` entry loads dist/mjs/wasm_bindgen_output/nodejs/automerge_wasm.cjs.
  const entry = createRequire(import.meta.url).resolve('@automerge/automerge')
  const path = join(dirname(entry), '..', 'mjs', 'wasm_bindgen_output', 'nodejs', 'automerge_wasm.cjs')
  const mod = await import(pathToFileURL(path).href) as { default?: Partial<Bindings> } & Partial<Bindings>
  const m = mod.default ?? mod
  for (const f of ['initSyncState', 'decodeSyncState', 'encodeSyncState', 'exportSyncState', 'importSyncState'] as const) {
    if (typeof m[f] !== 'function') throw new Error(`@automerge/automerge's bindings at ${path} lack ${f}: the sync states need another way in`)
  }
  return m as Bindings
})()

// The states made here must be the ones the documents' handles take (the same module, the same
// wasm memory): checked once, at load, rather than found at a first sync.
try {
  getBackend(init()).generateSyncMessage(bindings.initSyncState())
} catch (err) {
  throw new Error(`@automerge/automerge's documents refuse the sync states of its bindings (another copy of the module?): ${(err as Error).message}`)
}

/** A state for a peer nothing is shared with yet; `readOnly`: serve without ever taking the peer's changes. */
export function initSyncState (opts: { readOnly?: boolean } = {}): SyncState {
  const s = bindings.initSyncState()
  if (opts.readOnly === true) s.readOnly = true
  return s
}

/** What `encodeSyncState` kept (Automerge keeps the heads both sides shared, nothing of a session). */
export function decodeSyncState (bytes: Uint8Array): SyncState {
  return bindings.decodeSyncState(bytes)
}

export function encodeSyncState (state: SyncState): Uint8Array {
  return bindings.encodeSyncState(state)
}

/**
 * States whose last message is unanswered: Automerge's `inFlight` (set when generate returns a
 * message, cleared when one is received), mirrored here because reading Automerge's own
 * converts the whole state (1.7 % of a simulated world's CPU, asked at every request that says
 * nothing). Kept by driving every state through `generate` and `receive` below. It may say "in
 * flight" where Automerge does not (the reset message Automerge sends a peer whose last sync
 * names changes it lacks sets no flag), never the other way: the one use of it, clearing the
 * flag before an answer (servingStateFor), then costs a conversion, never a lost resend.
 */
const unanswered = new WeakSet<SyncState>()

/** The handle's next sync message for the peer of `state` (null: nothing to say); `state` moves on. */
export function generate (handle: Handle, state: SyncState): Uint8Array | null {
  const message = handle.generateSyncMessage(state)
  if (message !== null) unanswered.add(state)
  return message
}

/**
 * Apply a peer's sync message (screened before: the caller's job) to the handle; `state` moves
 * on. The mirror is cleared only once Automerge took the message (a message it refuses may
 * leave its own flag set); a caller drops the state after a refusal anyway.
 */
export function receive (handle: Handle, state: SyncState, message: Uint8Array): void {
  handle.receiveSyncMessage(state, message)
  unanswered.delete(state)
}

/** A copy to work on: a session that fails leaves the state it started from as it was. */
export function cloneSyncState (state: SyncState): SyncState {
  const copy = state.clone()
  if (unanswered.has(state)) unanswered.add(copy)
  return copy
}

/** Whether Automerge thinks a message of ours is unanswered (it then says nothing new until one comes). */
export function inFlight (state: SyncState): boolean {
  return unanswered.has(state)
}

/** Automerge's own `inFlight`, read from the state (a conversion of all of it): what the tests hold `inFlight` to. */
export function automergeInFlight (state: SyncState): boolean {
  return bindings.exportSyncState(state).inFlight === true
}

/**
 * The state less its record of a message in flight: the conversion (rare: a request that says
 * nothing after an answer that was lost) the handle's API offers no other way to.
 */
export function notInFlight (state: SyncState): SyncState {
  const readOnly = state.readOnly
  const s = bindings.importSyncState({ ...bindings.exportSyncState(state), inFlight: false })
  s.readOnly = readOnly
  return s
}

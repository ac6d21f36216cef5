/**
 * The catalogue as one Automerge document that HQ and every store write offline and every
 * replica (each till, HQ) holds the same:
 *
 *   { v: 1, root: "<HQ root key, hex>", statements: { "<statement id>": <signed statement bytes>, ... } }
 *
 * - A statement (protocol's catalogueStatement.ts) is opaque signed bytes under the key its
 *   own bytes give (their digest): two writers never overwrite each other, so nothing is
 *   lost by merging and a clash is found by reading (catalogue's `foldCatalogue`).
 * - Every replica starts from one genesis change made from HQ's root key (a fixed actor, time
 *   0), so independently created replicas share the one `statements` map.
 * - The boundary (`applyChanges`, `receiveSyncMessage`, `merge`) refuses any change that is
 *   not puts of statements under their own ids, or that carries a statement whose signer may
 *   not make it (a store saying what only HQ may, a till of another store, a forgery), or whose
 *   content breaks the catalogue's rules: a pure check of the change and HQ's root key, so
 *   every honest replica refuses the same changes and they still converge.
 */
import * as A from '@automerge/automerge'
import { CatalogueError, checkStatement, statementOf, type Statement } from '@tillbooks/catalogue'
import { bytesEqual, MalformedError, openStatement, rejectionOf, statementIdOf, toHex, type PublicKey } from '@tillbooks/protocol'
import { APPLY_CHANGES_MAX, CATALOGUE_BYTES_MAX, CATALOGUE_STATEMENTS_MAX, CHANGE_BYTES_MAX, CHANGE_ENTRIES_MAX, PENDING_CHANGES_MAX } from './constants.ts'
import { LogFullError, SyncRefusedError } from './errors.ts'
import { actorFrom } from './genesis.ts'
import { pendingKeys, screenSyncMessage, updatePending, type DecodedChange, type Handle, type PendingChange, type Verdict } from './screenedSync.ts'
import { generate, receive, type SyncState } from './syncState.ts'

export interface CatalogueDocInit {
  /** This replica's actor id (hex); default random. Two live replicas must never share one. */
  actorId?: string
  statementsMax?: number
  bytesMax?: number
  applyChangesMax?: number
  changeBytesMax?: number
  pendingChangesMax?: number
}

/** What `add` and `applyChanges` did. */
export interface CatalogueApplyReport { accepted: number, rejected: Array<{ index: number, reason: string }> }

interface Genesis { change: Uint8Array, hash: string, statementsObj: string, actor: string }

const genesisByRoot = new Map<string, Genesis>()
const DOC_VERSION = 1

function genesisOf (rootHex: string): Genesis {
  const hit = genesisByRoot.get(rootHex)
  if (hit !== undefined) return hit
  const actor = actorFrom('catalogue-genesis', rootHex)
  const doc = A.change(A.init<{ v: number, root: A.ImmutableString, statements: Record<string, Uint8Array> }>({ actor }), { time: 0 }, d => {
    d.v = DOC_VERSION
    d.root = new A.ImmutableString(rootHex)
    d.statements = {}
  })
  const change = A.getLastLocalChange(doc) as Uint8Array
  const g = { change, hash: A.getHeads(doc)[0] as string, statementsObj: A.getObjectId(doc, 'statements') as string, actor }
  if (genesisByRoot.size > 64) genesisByRoot.clear()
  genesisByRoot.set(rootHex, g)
  return g
}

/** A statement's bytes opened and checked against HQ's root key and the catalogue's rules: the statement, or why not. */
export function readStatement (bytes: Uint8Array, rootKey: PublicKey): Statement | { reason: string } {
  try {
    const o = openStatement(bytes, rootKey)
    const author = o.author.kind === 'hq' ? { kind: 'hq' as const } : { kind: 'store' as const, store: o.author.store as string }
    checkStatement(o.content, author)
    const s = statementOf({ id: o.id, author, atMs: o.atMs, content: o.content })
    // A till numbers its inventions in a range of its own: two tills of a store never make up one sku.
    if (s.type === 'invent' && o.till !== undefined && !s.sku.startsWith(`${o.author.kind === 'store' ? o.author.store : ''}.${o.till}.`)) {
      return { reason: `till ${o.till} of store ${s.author.kind === 'store' ? s.author.store : ''} invents skus ${s.author.kind === 'store' ? s.author.store : ''}.${o.till}.<n>, not ${s.sku}` }
    }
    return s
  } catch (err) {
    // The catalogue's rules (CatalogueError) or the envelope's (protocol's errors); anything else is a bug.
    if (err instanceof CatalogueError) return { reason: err.message }
    return { reason: rejectionOf(err).reason }
  }
}

export class CatalogueDoc {
  readonly rootKey: PublicKey
  readonly #am: Handle
  readonly #genesis: Genesis
  readonly #limits: { statementsMax: number, bytesMax: number, applyChangesMax: number, changeBytesMax: number, pendingChangesMax: number }
  /** Statements read so far, by id: each is verified once. */
  readonly #read = new Map<string, Statement>()
  readonly #pending = new Map<string, PendingChange>()
  #bytes = 0
  #size = 0

  private constructor (rootKey: PublicKey, view: A.Doc<unknown>, genesis: Genesis, init: CatalogueDocInit) {
    this.rootKey = rootKey
    this.#am = A.getBackend(view)
    this.#genesis = genesis
    this.#limits = {
      statementsMax: init.statementsMax ?? CATALOGUE_STATEMENTS_MAX,
      bytesMax: init.bytesMax ?? CATALOGUE_BYTES_MAX,
      applyChangesMax: init.applyChangesMax ?? APPLY_CHANGES_MAX,
      changeBytesMax: init.changeBytesMax ?? CHANGE_BYTES_MAX,
      pendingChangesMax: init.pendingChangesMax ?? PENDING_CHANGES_MAX
    }
    this.#bytes = this.#am.getChanges([]).reduce((n, c) => n + c.length, 0)
    this.#recount()
  }

  /** A new, empty replica of the catalogue of the HQ whose root key is `rootKey`. */
  static create (rootKey: PublicKey, init: CatalogueDocInit = {}): CatalogueDoc {
    const genesis = genesisOf(toHex(rootKey))
    const view = A.init(init.actorId === undefined ? undefined : { actor: init.actorId })
    A.getBackend(view).applyChanges([genesis.change])
    return new CatalogueDoc(rootKey, view, genesis, init)
  }

  /** A replica from `save()`'s bytes (one's own storage: its history is trusted, every statement is still verified on reading). */
  static load (bytes: Uint8Array, rootKey: PublicKey, init: CatalogueDocInit = {}): CatalogueDoc {
    const limit = init.bytesMax ?? CATALOGUE_BYTES_MAX
    if (bytes.length > limit) throw new LogFullError(`saved catalogue is ${bytes.length} bytes, at most ${limit}`)
    const genesis = genesisOf(toHex(rootKey))
    let view: A.Doc<unknown>
    try {
      view = A.load(bytes, init.actorId === undefined ? undefined : { actor: init.actorId })
    } catch (err) {
      throw new MalformedError(`not a saved Automerge document: ${(err as Error).message}`)
    }
    const am = A.getBackend(view)
    if (am.getChangeByHash(genesis.hash) === null) throw new MalformedError('not this HQ\'s catalogue: no genesis change for its root key')
    const maps = am.getAll('_root', 'statements')
    if (maps.length !== 1 || maps[0]?.[1] !== genesis.statementsObj) throw new MalformedError('not a catalogue: the statements map is not the genesis one')
    return new CatalogueDoc(rootKey, view, genesis, init)
  }

  save (): Uint8Array { return this.#am.save() }
  saveIncremental (): Uint8Array { return this.#am.saveIncremental() }
  free (): void { this.#am.free() }
  getHeads (): string[] { return this.#am.getHeads() }
  /** Whether this replica holds the change with this hash. */
  hasChange (hash: string): boolean { return this.#am.getChangeByHash(hash) !== null }
  lastLocalChange (): Uint8Array | undefined { return this.#am.getLastLocalChange() ?? undefined }
  /** Statements held (counted when they change: Automerge's keys() walks the whole map). */
  get size (): number { return this.#size }

  #recount (): void {
    this.#size = this.#am.keys(this.#genesis.statementsObj).length
  }

  /** Add a signed statement (this replica's own writer: HQ, or a till of a store). Throws with the reason if it may not be added. */
  add (bytes: Uint8Array): 'added' | 'duplicate' {
    const s = readStatement(bytes, this.rootKey)
    if ('reason' in s) throw new MalformedError(`statement refused: ${s.reason}`)
    if (this.#am.get(this.#genesis.statementsObj, s.id) !== undefined) return 'duplicate'
    if (this.size >= this.#limits.statementsMax) throw new LogFullError(`the catalogue holds ${this.size} statements, at most ${this.#limits.statementsMax}`)
    this.#am.put(this.#genesis.statementsObj, s.id, new Uint8Array(bytes), 'bytes')
    this.#am.commit(null, 0)
    this.#read.set(s.id, s)
    this.#bytes += bytes.length
    this.#size++
    return 'added'
  }

  /**
   * Every statement, verified (each once): a replica only ever holds statements that passed
   * the boundary, but one loaded from doctored storage might not; those are left out.
   */
  statements (): Statement[] {
    const map = this.#am.materialize(this.#genesis.statementsObj) as Record<string, unknown>
    const out: Statement[] = []
    for (const [id, bytes] of Object.entries(map)) {
      let s = this.#read.get(id)
      if (s === undefined) {
        if (!(bytes instanceof Uint8Array) || statementIdOf(bytes) !== id) continue
        const r = readStatement(bytes, this.rootKey)
        if ('reason' in r) continue
        s = r
        this.#read.set(id, s)
      }
      out.push(s)
    }
    return out
  }

  /** The boundary check of one change (see the file's comment). */
  screen (change: Uint8Array, decodedAlready?: DecodedChange): Verdict {
    if (!(change instanceof Uint8Array) || change.length > this.#limits.changeBytesMax) return { reason: `a change of at most ${this.#limits.changeBytesMax} bytes` }
    let d: DecodedChange
    try {
      // `decodedAlready`: these very bytes decoded by the caller (screenSyncMessage).
      d = decodedAlready ?? A.decodeChange(change)
    } catch (err) {
      return { reason: `not an Automerge change: ${(err as Error).message}` }
    }
    if (d.hash === this.#genesis.hash) return { hash: d.hash, deps: d.deps, keys: [] }
    if (d.ops.length > CHANGE_ENTRIES_MAX) return { reason: `change puts ${d.ops.length} values, at most ${CHANGE_ENTRIES_MAX}` }
    // Every change says something: an empty one (or one carrying a message) only takes room on every replica.
    if (d.ops.length === 0) return { reason: 'a change that puts no statement' }
    if (d.message !== null && d.message !== undefined && d.message !== '') return { reason: 'a change with a message: statements say everything' }
    const keys: string[] = []
    for (const [i, op] of d.ops.entries()) {
      const o = op as typeof op & { insert?: boolean, value?: unknown, pred?: unknown[] }
      if (o.action !== 'set' || o.obj !== this.#genesis.statementsObj || o.insert === true || typeof o.key !== 'string' || (o.datatype !== undefined && o.datatype !== 'bytes') || !Array.isArray(o.value)) {
        return { reason: `op ${i} is ${o.action} on ${o.obj}: only puts of statements into the statements map are allowed` }
      }
      if (Array.isArray(o.pred) && o.pred.length > 0) return { reason: `op ${i} overwrites a statement` }
      const bytes = Uint8Array.from(o.value as number[])
      if (statementIdOf(bytes) !== o.key) return { reason: `op ${i} puts a statement under a key its bytes do not give` }
      const s = readStatement(bytes, this.rootKey)
      if ('reason' in s) return { reason: `op ${i}: ${s.reason}` }
      keys.push(o.key)
    }
    return { hash: d.hash, deps: d.deps, keys }
  }

  /** Apply a peer's changes, each screened; the refused ones are reported and left out. */
  applyChanges (changes: Uint8Array[]): CatalogueApplyReport {
    if (!Array.isArray(changes) || changes.length > this.#limits.applyChangesMax) throw new LogFullError(`at most ${this.#limits.applyChangesMax} changes at once`)
    const accepted: Uint8Array[] = []
    const rejected: CatalogueApplyReport['rejected'] = []
    let added = 0
    changes.forEach((c, index) => {
      const v = this.screen(c)
      if ('reason' in v) rejected.push({ index, reason: v.reason })
      else { accepted.push(c); added += v.keys.filter(k => this.#am.get(this.#genesis.statementsObj, k) === undefined).length }
    })
    if (this.size + added > this.#limits.statementsMax) throw new LogFullError(`the catalogue would hold ${this.size + added} statements, at most ${this.#limits.statementsMax}`)
    if (accepted.length > 0) {
      this.#am.applyChanges(accepted)
      this.#bytes += accepted.reduce((n, c) => n + c.length, 0)
      this.#recount()
    }
    return { accepted: accepted.length, rejected }
  }

  /** Take in every change of another replica (screened). */
  merge (other: CatalogueDoc): CatalogueApplyReport {
    if (!bytesEqual(other.rootKey, this.rootKey)) throw new MalformedError('another HQ\'s catalogue')
    return this.applyChanges(this.#am.getChangesAdded(other.#am))
  }

  /** Automerge's sync protocol (see TillLog.generateSyncMessage). */
  generateSyncMessage (state: SyncState): { state: SyncState, message: Uint8Array | null } {
    return { state, message: generate(this.#am, state) }
  }

  /** A peer's sync message, screened first (screenedSync.ts): SyncRefusedError, nothing applied. */
  receiveSyncMessage (state: SyncState, message: Uint8Array): { state: SyncState, added: number } {
    const m = screenSyncMessage(this.#am, message, this.#limits, (c, decoded) => this.screen(c, decoded), k => this.#am.get(this.#genesis.statementsObj, k) !== undefined, this.#pending)
    const total = this.size + m.newKeys.size + pendingKeys(this.#pending)
    if (total > this.#limits.statementsMax) throw new SyncRefusedError(`the catalogue would hold ${total} statements, at most ${this.#limits.statementsMax}`)
    if (this.#bytes + m.appliedBytes > this.#limits.bytesMax) throw new SyncRefusedError(`the catalogue would pass ${this.#limits.bytesMax} bytes`)
    const before = this.size
    try {
      receive(this.#am, state, message)
    } catch (err) {
      throw new SyncRefusedError(`Automerge refused the message: ${(err as Error).message}`)
    }
    this.#bytes += m.appliedBytes
    updatePending(this.#am, this.#pending, m.screened)
    this.#recount()
    return { state, added: this.size - before }
  }
}

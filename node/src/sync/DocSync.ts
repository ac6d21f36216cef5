/**
 * Sessions of Automerge's sync protocol over `/tillbooks/am-sync/1.0.0`: one sync state per
 * (peer, document), live in a bounded memory cache (a session needs all of it: what the
 * peer said it has and needs), and, for the peers this node works with (its neighbours,
 * HQ), persisted as Automerge encodes it (the heads both sides share), so that after a
 * restart a one-record delta takes at most two round trips. Each request carries one sync message and its answer
 * the other side's next one, on the one long-lived stream TillbooksPeer keeps per peer.
 *
 *   pull (client):  our message ──▶  their answer (changes we lack) ──▶ our ack ──▶ null: settled
 *   answer (server): their message ──▶ screened, never applied (served read-only) ──▶ our next message
 *
 * Every message is screened before Automerge sees it (TillLog.receiveSyncMessage): one bad
 * change refuses the whole message, the session's state is dropped (so the next session
 * starts clean), nothing is persisted, and the refusal is counted and logged. Everything is
 * served with a read-only state: nothing a peer sends ever changes a till's own log, and a
 * replica changes only when this node pulls it.
 */
import * as A from '@automerge/automerge'
import { cloneSyncState, decodeSyncState, encodeSyncState, initSyncState, servingStateFor, SyncRefusedError, type SyncState } from '@tillbooks/crdt'
import type { Logger } from '../components.ts'
import type { KvStore } from '../storage/KvStore.ts'
import { RefusedError, type CallOptions } from '../net/TillbooksPeer.ts'
import { CATALOGUE_DOC, SYNC_REFUSALS_KEPT_MAX, SYNC_ROUNDS_MAX, SYNC_STATES_MEMORY_MAX } from './constants.ts'

const STATE_PREFIX = 'y!'
type Role = 'serve' | 'pull'

/** What sync needs of a document: a till's log (TillLog), the catalogue (CatalogueDoc). Each screens what it receives. */
export interface SyncDoc {
  generateSyncMessage (state: SyncState): { state: SyncState, message: Uint8Array | null }
  /** Throws SyncRefusedError (nothing applied) for a message it refuses. */
  receiveSyncMessage (state: SyncState, message: Uint8Array): { state: SyncState, added: number }
}

/** A document served: whether it is this node's own (never pulled into), and whether peers may write to it by sync. */
export interface ServedDoc {
  log: SyncDoc
  own: boolean
  /**
   * Whether a peer's changes are taken in when it syncs with us (screened by the document):
   * the catalogue, which every store and HQ write. A till's log never is: it is served read-only.
   */
  writable?: boolean
}

/** What a node serves and keeps: its own log, the replicas it holds, the catalogue. */
export interface SyncDocs {
  /**
   * The document served as `doc` (a till id, or `catalogue`) to the peer `from` (absent: this
   * node's own pull), writable or not for that peer. May be loaded on demand (HQ's documents
   * come from its log).
   */
  served (doc: string, from?: string): ServedDoc | undefined | Promise<ServedDoc | undefined>
  /** The replica to pull `doc` into, made if this node may keep one; undefined if not. */
  replicaFor (doc: string): SyncDoc | undefined
  /** A document took changes by sync (pulled, or written by a peer): persist it. */
  changed (doc: string): Promise<void>
}

/**
 * What a pull needs of the network: one request about `doc` to the peer at `addr`, and its
 * answer. TillbooksPeer is one (over libp2p); the simulator's is another (sim/src/SimSync.ts).
 * A refusal rejects (TillbooksPeer: NetError with code REFUSED), as does a timeout.
 */
export interface AmSyncTransport {
  amSync (addr: string, doc: string, msg: Uint8Array | null, opts?: CallOptions): Promise<Uint8Array | null>
}

export interface DocSyncInit {
  peer: AmSyncTransport
  /** Where persisted sync states live. */
  store: KvStore
  docs: SyncDocs
  logger: Logger
  /** Whether sessions with this peer are persisted (default: none). */
  persistFor?: (peerId: string) => boolean
  roundsMax?: number
  callTimeoutMs?: number
  /** Live sync states kept in memory (SYNC_STATES_MEMORY_MAX). */
  statesMax?: number
  /** Dates refusals (default: the system clock; the simulator's is virtual). */
  clock?: { nowMs: () => number }
}

export interface SyncCounters {
  /** Pull sessions (a pull that opened again afresh counts two). */
  pulls: number
  /** Requests made by pulls (each a round trip: our message, their answer). */
  roundTrips: number
  answered: number
  messagesIn: number
  messagesOut: number
  entriesAdded: number
  refused: number
  /** Pulls that opened again with our heads: the peer's session believed we held what it announced. */
  handshakes: number
}

export interface PullResult { trips: number, added: number }

/** A pull session that did not settle within its round trips. */
export class UnsettledError extends Error {
  override name = 'UnsettledError'
  readonly trips: number
  constructor (message: string, trips: number) {
    super(message)
    this.trips = trips
  }
}

export class DocSync {
  readonly #o: DocSyncInit
  /** Live sync states by `<peer>!<doc>!<role>`, least recently used first. */
  readonly #live = new Map<string, SyncState>()
  /** One exchange at a time per (peer, document, role): interleaved ones would fork the sync state. */
  readonly #locks = new Map<string, Promise<unknown>>()
  readonly counters: SyncCounters = { pulls: 0, roundTrips: 0, answered: 0, messagesIn: 0, messagesOut: 0, entriesAdded: 0, refused: 0, handshakes: 0 }
  readonly refusals: Array<{ atMs: number, peer: string, doc: string, reason: string }> = []
  /** The last pull of a till's log that settled: for /replicas and the figures. */
  lastPull: { doc: string, peer: string, trips: number, added: number } | null = null
  /** The last pull of the catalogue that settled. */
  lastCataloguePull: { doc: string, peer: string, trips: number, added: number } | null = null

  constructor (init: DocSyncInit) {
    this.#o = init
  }

  /** The server side: a peer's message about `doc`, answered with our next one. */
  async answer (from: string, doc: string, msg: Uint8Array | null): Promise<Uint8Array | null> {
    const d = await this.#o.docs.served(doc, from)
    if (d === undefined) {
      this.#refused(from, doc, `this peer serves no document for ${doc}`)
      throw new RefusedError(`this peer serves no document for ${doc}`)
    }
    const writable = d.writable === true
    return await this.#locked(from, doc, 'serve', async () => {
      // Served read-only, our own log and replicas alike: a replica changes only by our own
      // pulls (from the till's neighbours, or for tills we keep), never by whoever calls. A
      // document both sides write (the catalogue) takes the peer's changes, screened by itself.
      // Forgetting what an earlier answer sent (servingStateFor): an answer lost on the wire is sent again.
      let state = servingStateFor(await this.#load(from, doc, 'serve', !writable), msg)
      this.counters.answered++
      if (msg !== null) {
        this.counters.messagesIn++
        let added = 0
        try {
          // A read-only peer is never sent changes by an honest one (Automerge tells it we
          // are read-only): a message that carries any is refused unread, which also keeps
          // whoever calls from making us screen a message's worth of changes for nothing.
          if (!writable) {
            let changes: number
            try {
              changes = A.decodeSyncMessage(msg).changes.length
            } catch (err) {
              throw new SyncRefusedError(`not an Automerge sync message: ${(err as Error).message}`)
            }
            if (changes > 0) throw new SyncRefusedError(`${doc} is served read-only here: a message carrying ${changes} change(s) is refused`)
          }
          const r = d.log.receiveSyncMessage(state, msg)
          state = r.state
          added = r.added
        } catch (err) {
          if (!(err instanceof SyncRefusedError)) throw err
          await this.#drop(from, doc, 'serve')
          this.#refused(from, doc, err.message)
          throw new RefusedError(err.message)
        }
        if (writable && added > 0) {
          this.counters.entriesAdded += added
          await this.#o.docs.changed(doc)
        }
      }
      const next = d.log.generateSyncMessage(state)
      await this.#save(from, doc, 'serve', next.state)
      if (next.message !== null) this.counters.messagesOut++
      return next.message
    })
  }

  /**
   * The client side: bring our replica of `doc` up to date from the peer at `addr` (whose
   * peer id is `peerId`), until both sides have nothing to say. A refusal either way drops
   * the session's state and throws.
   *
   * `until`: what the pull is for (a replica holding an entry the peer announced). A session
   * that opened with nothing to say (our state says we are in sync), heard nothing and added
   * nothing while `until` is still false means the peer's session believes we hold more than
   * we do (a stale or duplicated message of ours, a replica lost to a crash or a fire): one more
   * session then opens afresh. Only then: in sync, a pull stays one null message each way.
   */
  async pull (addr: string, peerId: string, doc: string, opts: { until?: () => boolean } = {}): Promise<PullResult> {
    const own = await this.#o.docs.served(doc)
    if (own?.own === true) throw new Error(`${doc} is this node's own log: it is never pulled into`)
    const log = own?.log ?? this.#o.docs.replicaFor(doc)
    if (log === undefined) throw new RefusedError(`no replica of ${doc} may be kept here`)
    return await this.#locked(peerId, doc, 'pull', async () => {
      let first: PullResult & { silent: boolean }
      try {
        first = await this.#session(addr, peerId, doc, log, false)
      } catch (err) {
        // A session that would not settle (our state believed the peer holds what it no longer
        // does: it restarted and lost what it had not persisted) opens once more afresh.
        if (!(err instanceof UnsettledError)) throw err
        this.counters.handshakes++
        const again = await this.#session(addr, peerId, doc, log, true)
        return { trips: err.trips + again.trips, added: again.added }
      }
      if (first.added > 0 || !first.silent || opts.until === undefined || opts.until()) return { trips: first.trips, added: first.added }
      this.counters.handshakes++
      const second = await this.#session(addr, peerId, doc, log, true)
      return { trips: first.trips + second.trips, added: second.added }
    })
  }

  /**
   * One session of a pull. `handshake`: open as a peer with nothing shared (our heads, and a
   * Bloom filter of all we hold), which the serving side takes as a new session
   * (servingStateFor): whatever it believed of us is forgotten, and it sends what we lack.
   */
  async #session (addr: string, peerId: string, doc: string, log: SyncDoc, handshake: boolean): Promise<PullResult & { silent: boolean }> {
    this.counters.pulls++
    let state = handshake ? initSyncState() : await this.#load(peerId, doc, 'pull', false)
    let added = 0
    let trips = 0
    let silent = true
    let out = log.generateSyncMessage(state)
    state = out.state
    const roundsMax = this.#o.roundsMax ?? SYNC_ROUNDS_MAX
    for (;;) {
      if (trips >= roundsMax) {
        // Whatever it took in is kept (persisted, counted); the next session starts from nothing shared.
        await this.#drop(peerId, doc, 'pull')
        if (added > 0) {
          this.counters.entriesAdded += added
          await this.#o.docs.changed(doc)
        }
        throw new UnsettledError(`sync of ${doc} with ${peerId} did not settle in ${roundsMax} round trips`, trips)
      }
      if (out.message !== null) {
        this.counters.messagesOut++
        silent = false
      }
      let reply: Uint8Array | null
      try {
        reply = await this.#o.peer.amSync(addr, doc, out.message, { ...(this.#o.callTimeoutMs !== undefined ? { timeoutMs: this.#o.callTimeoutMs } : {}) })
      } catch (err) {
        // Whatever they said or failed to say, the next session starts from nothing shared;
        // what earlier round trips of this one took in is kept (persisted, counted).
        await this.#drop(peerId, doc, 'pull')
        if (added > 0) {
          this.counters.entriesAdded += added
          await this.#o.docs.changed(doc)
        }
        throw err
      }
      trips++
      this.counters.roundTrips++
      if (reply !== null) {
        this.counters.messagesIn++
        silent = false
        try {
          const r = log.receiveSyncMessage(state, reply)
          state = r.state
          added += r.added
        } catch (err) {
          if (!(err instanceof SyncRefusedError)) throw err
          await this.#drop(peerId, doc, 'pull')
          this.#refused(peerId, doc, err.message)
          if (added > 0) await this.#o.docs.changed(doc)
          throw new RefusedError(`${doc} from ${peerId}: ${err.message}`)
        }
      }
      out = log.generateSyncMessage(state)
      state = out.state
      if (out.message === null && reply === null) break
    }
    if (added > 0) {
      this.counters.entriesAdded += added
      await this.#o.docs.changed(doc)
    }
    await this.#save(peerId, doc, 'pull', state)
    if (doc === CATALOGUE_DOC) this.lastCataloguePull = { doc, peer: peerId, trips, added }
    else this.lastPull = { doc, peer: peerId, trips, added }
    return { trips, added, silent }
  }

  /**
   * One exchange at a time per (peer, document, role): the role's state is its own (#load), and
   * one lock for both roles would deadlock two nodes pulling one document from each other at
   * once (each one's pull waiting for the other's answer, which waits for that pull).
   */
  async #locked<T> (peer: string, doc: string, role: Role, fn: () => Promise<T>): Promise<T> {
    const key = `${peer}!${doc}!${role}`
    const before = this.#locks.get(key) ?? Promise.resolve()
    const run = before.then(fn, fn)
    const tail = run.then(() => {}, () => {})
    this.#locks.set(key, tail)
    try {
      return await run
    } finally {
      if (this.#locks.get(key) === tail) this.#locks.delete(key)
    }
  }

  #persisted (peer: string): boolean {
    return this.#o.persistFor?.(peer) ?? false
  }

  /**
   * One state per (peer, document, role): serving (read-only) and pulling are two sessions,
   * even with the same peer about the same document (two neighbours both keeping a third's
   * replica), and one state shared between them would carry the read-only flag into a pull.
   */
  async #load (peer: string, doc: string, role: Role, readOnly: boolean): Promise<SyncState> {
    const key = `${peer}!${doc}!${role}`
    const live = this.#live.get(key)
    let state: SyncState
    if (live !== undefined) {
      // A copy: generate and receive change a state in place, and a session that fails part-way
      // must leave the one kept as it was (#save puts the session's in its place).
      state = cloneSyncState(live)
    } else {
      const bytes = this.#persisted(peer) ? await this.#o.store.get(STATE_PREFIX + key) : undefined
      state = bytes === undefined ? initSyncState() : decodeSyncState(bytes)
    }
    // Serving read-only: nothing the peer sends is ever applied.
    if (readOnly) state.readOnly = true
    return state
  }

  async #save (peer: string, doc: string, role: Role, state: SyncState): Promise<void> {
    const key = `${peer}!${doc}!${role}`
    this.#live.delete(key)
    this.#live.set(key, state)
    if (this.#live.size > (this.#o.statesMax ?? SYNC_STATES_MEMORY_MAX)) this.#live.delete(this.#live.keys().next().value as string)
    // Not fsync'd: a state lost in a crash costs one more round trip, nothing else.
    if (this.#persisted(peer)) await this.#o.store.batch([{ type: 'put', key: STATE_PREFIX + key, value: encodeSyncState(state) }], { sync: false })
  }

  async #drop (peer: string, doc: string, role: Role): Promise<void> {
    const key = `${peer}!${doc}!${role}`
    this.#live.delete(key)
    if (this.#persisted(peer)) await this.#o.store.batch([{ type: 'del', key: STATE_PREFIX + key }], { sync: false })
  }

  #refused (peer: string, doc: string, reason: string): void {
    this.counters.refused++
    this.refusals.push({ atMs: this.#o.clock?.nowMs() ?? Date.now(), peer, doc, reason })
    if (this.refusals.length > SYNC_REFUSALS_KEPT_MAX) this.refusals.shift()
    this.#o.logger.warn({ peer, doc, reason }, 'sync message refused')
  }
}

/**
 * HQ replicas in the simulator (fault `hqReplicas`): two more HQs, B and C, made of the
 * production parts (HqNode, HqCatalogue, HqReplication, DocSync, pullTillLog), each with its
 * own store, syncing with HQ (A) and each other every ROUND_MS of virtual time over links with
 * latency that the simulator can cut. B loses power in the middle of a close wave and restarts
 * from its log; C is cut off from A and B for hours and healed. Tills send to A alone (dual
 * homing is the daemons', tested with real processes): the replicas must reach A's books by
 * themselves. At the end, after a few rounds with every link up, every replica's books hash
 * (booksDigest) must be A's, whose books the simulator checks against its oracle.
 */
import {
  CATALOGUE_DOC, DocSync, HqCatalogue, HqNode, HqReplication, MemoryStore, booksDigest, pullTillLog, silentLogger,
  type AmSyncTransport, type BooksDigest, type Clock, type ReplicaTransport
} from '@tillbooks/node'
import type { TillLog } from '@tillbooks/crdt'
import type { Signer, TillId } from '@tillbooks/protocol'
import type { Scheduler } from './Scheduler.ts'

/** How often each replica syncs with the others (virtual time). */
export const ROUND_MS = 30 * 60_000
/** One way of a request between replicas (virtual). */
const LINK_MS = 30
/** Rounds at the end, every link up, for the replicas to converge. */
const FINAL_ROUNDS_MAX = 12

interface ReplicaNode {
  name: string
  kv: MemoryStore
  hq: HqNode
  catalogue: HqCatalogue
  replication: HqReplication
  /** Serves the catalogue (writable) and till logs (read-only) to the other replicas, and pulls into `pulling`. */
  sync: DocSync
  pulling: Map<string, TillLog>
  up: boolean
  syncing: boolean
}

export interface SimReplicasInit {
  scheduler: Scheduler
  root: Signer
  clock: Clock
  /** HQ (A) as it is now: its node, catalogue and store, and whether it is up; replaced at each restart. */
  primary: () => { hq: HqNode, catalogue: HqCatalogue, kv: MemoryStore, up: boolean }
  /** A fresh actor id for a catalogue replica (from the seed). */
  actor: (label: string) => string
}

export class SimReplicas {
  readonly #o: SimReplicasInit
  readonly #nodes = new Map<string, ReplicaNode>()
  /** Per replica, until when its links to the others are cut (virtual ms). */
  readonly #cutUntil = new Map<string, number>()
  #primaryOf: HqNode | null = null
  readonly counts = { rounds: 0, roundsFailed: 0, crashes: 0, cuts: 0 }
  readonly #incarnations = new Map<string, number>()

  constructor (o: SimReplicasInit) {
    this.#o = o
  }

  async start (): Promise<void> {
    for (const name of ['hq-b', 'hq-c']) {
      await this.#startNode(name, new MemoryStore())
    }
    this.#primaryNode()
    this.#o.scheduler.after(ROUND_MS, () => { this.#tick() })
  }

  /** A's node, made again when A restarted (a new HqNode on its log). */
  #primaryNode (): ReplicaNode | null {
    const p = this.#o.primary()
    if (!p.up) return null
    if (this.#primaryOf !== p.hq) {
      this.#primaryOf = p.hq
      const node = this.#makeNode('hq', p.kv, p.hq, p.catalogue)
      this.#nodes.set('hq', node)
    }
    const node = this.#nodes.get('hq') as ReplicaNode
    node.up = true
    return node
  }

  #makeNode (name: string, kv: MemoryStore, hq: HqNode, catalogue: HqCatalogue): ReplicaNode {
    const pulling = new Map<string, TillLog>()
    const transport: AmSyncTransport = {
      amSync: async (addr, doc, msg) => await this.#call(name, addr, async to => await to.sync.answer(name, doc, msg))
    }
    const sync = new DocSync({
      peer: transport,
      store: kv,
      logger: silentLogger,
      clock: this.#o.clock,
      docs: {
        served: async (id, from) => {
          if (id === CATALOGUE_DOC) return { log: catalogue.doc, own: false, writable: true }
          if (from === undefined) return undefined
          const log = await hq.tillDoc(id as TillId, { wait: true })
          return log === undefined ? undefined : { log, own: true }
        },
        replicaFor: id => pulling.get(id),
        changed: async id => { if (id === CATALOGUE_DOC) await catalogue.changed() }
      }
    })
    const replicaTransport: ReplicaTransport = {
      askReplica: async (addr, op, body) => await this.#call(name, addr, async to => await to.replication.serve(op, body, name))
    }
    const replication = new HqReplication({
      hq,
      store: kv,
      root: this.#o.root,
      peerId: name,
      multiaddrs: () => [`/sim/p2p/${name}`],
      transport: replicaTransport,
      logger: silentLogger,
      nowMs: () => this.#o.scheduler.nowMs,
      pullCatalogue: async (addr, peerId) => { await sync.pull(addr, peerId, CATALOGUE_DOC) },
      catalogueHeads: () => catalogue.doc.getHeads(),
      pullTill: async (addr, peerId, tillId) => await pullTillLog(hq, sync, pulling, addr, peerId, tillId, {
        fetchEntries: async () => await this.#call(name, addr, async to => await to.hq.tillLog(tillId)),
        onEntries: () => { replication.counters.tillsPulledAsEntries++ }
      })
    })
    for (const other of ['hq', 'hq-b', 'hq-c']) if (other !== name) replication.addPeer(`/sim/p2p/${other}`)
    return { name, kv, hq, catalogue, replication, sync, pulling, up: true, syncing: false }
  }

  async #startNode (name: string, kv: MemoryStore): Promise<void> {
    await kv.open()
    // A new actor at each start: changes written before a crash and lost with it must not share (actor, seq) with new ones.
    const incarnation = (this.#incarnations.get(name) ?? 0) + 1
    this.#incarnations.set(name, incarnation)
    const catalogue = new HqCatalogue({ store: kv, root: this.#o.root, actorId: this.#o.actor(`${name}-catalogue:${incarnation}`) })
    await catalogue.load()
    const hq = new HqNode({ store: kv, clock: this.#o.clock, logger: silentLogger }, { root: this.#o.root, costCents: (sku, day) => catalogue.costForBooks(sku, day), rebuildVerify: true })
    await hq.start()
    catalogue.onChange(() => { hq.catalogueChanged() })
    this.#nodes.set(name, this.#makeNode(name, kv, hq, catalogue))
  }

  #linkUp (a: string, b: string): boolean {
    const now = this.#o.scheduler.nowMs
    return (this.#cutUntil.get(a) ?? 0) <= now && (this.#cutUntil.get(b) ?? 0) <= now
  }

  /** A request from `from` to the replica at `addr`, one way and back over the simulated link. */
  async #call<T> (from: string, addr: string, fn: (to: ReplicaNode) => Promise<T>): Promise<T> {
    const name = addr.split('/p2p/')[1] as string
    const to = name === 'hq' ? this.#primaryNode() : this.#nodes.get(name)
    if (to === undefined || to === null || !to.up || !this.#linkUp(from, name)) throw new Error(`${name} unreachable from ${from}`)
    await this.#o.scheduler.sleep(LINK_MS)
    const answer = await fn(to)
    await this.#o.scheduler.sleep(LINK_MS)
    if (!to.up || !this.#linkUp(from, name) || this.#nodes.get(from)?.up === false) throw new Error(`the answer from ${name} was lost`)
    return answer
  }

  #tick (): void {
    this.#primaryNode()
    for (const node of this.#nodes.values()) {
      if (!node.up || node.syncing) continue
      node.syncing = true
      void node.replication.syncAll().then(() => {
        this.counts.rounds++
        this.counts.roundsFailed = [...this.#nodes.values()].reduce((s, n) => s + n.replication.counters.roundsFailed, 0)
      }).finally(() => { node.syncing = false })
    }
    this.#o.scheduler.after(ROUND_MS, () => { this.#tick() })
  }

  /** B loses power: its store keeps what was synced; after `downMs` it starts again from its log. */
  crash (name: string, downMs: number): void {
    const node = this.#nodes.get(name)
    if (node === undefined || !node.up) return
    node.up = false
    this.counts.crashes++
    node.kv.crash()
    this.#o.scheduler.after(downMs, async () => { await this.#startNode(name, node.kv) })
  }

  /** Cut every link of `name` to the other replicas until `untilMs`. */
  cut (name: string, untilMs: number): void {
    this.counts.cuts++
    this.#cutUntil.set(name, Math.max(this.#cutUntil.get(name) ?? 0, untilMs))
  }

  /** Every link up, rounds until every replica's digest is A's (at most FINAL_ROUNDS_MAX). */
  async converge (runFor: (ms: number) => Promise<void>): Promise<{ equal: boolean, rounds: number, digests: Record<string, BooksDigest> }> {
    this.#cutUntil.clear()
    let rounds = 0
    let digests: Record<string, BooksDigest> = {}
    for (; rounds < FINAL_ROUNDS_MAX; rounds++) {
      await runFor(ROUND_MS)
      digests = this.digests()
      const a = digests.hq
      if (a !== undefined && Object.values(digests).every(d => d.booksHash === a.booksHash && d.setDigest === a.setDigest)) return { equal: true, rounds, digests }
    }
    return { equal: false, rounds, digests }
  }

  digests (): Record<string, BooksDigest> {
    this.#primaryNode()
    return Object.fromEntries([...this.#nodes.values()].filter(n => n.up).map(n => [n.name, booksDigest(n.hq.books)]))
  }

  /** Per replica: its replication counters, each peer's last round or error, and what its HQ refused. */
  counters (): Record<string, unknown> {
    return Object.fromEntries([...this.#nodes.values()].map(n => [n.name, {
      ...n.replication.counters,
      // A round's `ms` is real time, not virtual: left out, so that a result replays from its seed byte for byte.
      peers: n.replication.status().peers.map(p => ({ peer: p.peerId, lastError: p.lastError, lastRound: p.lastRound === null ? null : virtualOnly(p.lastRound) })),
      hqRejected: n.hq.counters.rejectedByCode,
      handshakes: n.sync.counters.handshakes
    }]))
  }

  async stop (): Promise<void> {
    for (const n of this.#nodes.values()) {
      if (n.name === 'hq' || !n.up) continue
      n.up = false
      n.catalogue.close()
      await n.hq.stop()
    }
  }
}

/** A round's figures without its real-time `ms`. */
function virtualOnly (round: { records: number, entries: number, tills: number, ms: number }): { records: number, entries: number, tills: number } {
  const { ms: _, ...rest } = round
  return rest
}

/**
 * TillbooksPeer: one node's libp2p endpoint (TCP + noise + yamux) speaking the four tillbooks
 * protocols (messages.ts). Its libp2p identity is the node's own Ed25519 key, so a till's
 * peer id *is* its enrolled key and HQ's is its root key.
 *
 * Client side: one long-lived stream per (remote, protocol), opened on first use over the
 * one connection kept to that remote, reopened if it dies. Requests carry ids and are
 * pipelined (up to CLIENT_IN_FLIGHT_MAX in flight), answers matched by id in any order.
 * Every protocol is idempotent (HQ answers a resent entry `duplicate`), so requests cut off
 * by a dying stream are retried on a fresh one within the same deadline.
 *
 * Server side: every frame is size-checked before buffering, decoded and validated field by
 * field before a handler sees it; bad input gets an error answer (or the stream is closed),
 * is logged with its reason and counted in `stats().rejectedFrames`. Handler failures and
 * timeouts become error answers.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Stream, StreamMessageEvent } from '@libp2p/interface'
import { keyPairFromSeed, type Canonical } from '@tillbooks/protocol'
import { identify } from '@libp2p/identify'
import { gossipOptions, gossipsub, type GossipSub } from './gossip.ts'
import type { Logger } from '../components.ts'
import { approvalsPage, logPage, NoHandlerError, replenishmentPage } from './paging.ts'
import { encodeFrame as frame, FrameDecoder, FrameWriter, FramingError, varintLength } from './framing.ts'
import {
  BAD_FRAMES_PER_STREAM_MAX, CALL_TIMEOUT_MS, CLIENT_IN_FLIGHT_BYTES_MAX, CLIENT_IN_FLIGHT_MAX, CONNECTION_MANAGER, OPEN_RETRY_PAUSE_MS,
  FRAME_BYTES_MAX, HANDLER_TIMEOUT_MS, PAGES_MAX, SERVER_IN_FLIGHT_BYTES_MAX,
  SERVER_IN_FLIGHT_MAX, SERVER_TOTAL_IN_FLIGHT_BYTES_MAX, SERVER_TOTAL_IN_FLIGHT_MAX, SERVER_WRITE_BUFFER_MAX, STREAMS_PER_PROTOCOL_MAX, SUBMIT_ENTRIES_MAX
} from './limits.ts'
import {
  checkHeads, checkOrderId, checkStore, clipReason, decodeAmSyncAnswer, decodeAmSyncRequest, decodeErrorIfAny, encodeAmSyncAnswer, encodeAmSyncRequest, decodeFrame, decodeHeadsAnswer, decodeHeadsRequest,
  decodeLogAnswer, decodeLogRequest, decodeReplenishmentAnswer, decodeReplenishmentRequest, decodeSubmitAnswer,
  decodeSubmitRequest, encodeError, encodeHeadsAnswer, encodeHeadsRequest, encodeLogAnswer, encodeLogRequest,
  encodeReplenishmentAnswer, encodeReplenishmentRequest, encodeRightsAnswer, encodeRightsRequest, decodeRightsAnswer, decodeRightsRequest, decodeMemberLookupAnswer, encodeMemberLookupAnswer, encodeMemberLookupRequest, decodeReturnAnswer, decodeReturnRequest, encodeReturnAnswer, encodeReturnRequest, decodeOkAnswer, encodeOkAnswer, encodeRightsReturnRequest, encodeSubmitAnswer, encodeSubmitRequest, idOf, ProtocolError,
  PROTOCOLS, type LogHead, type ProtocolName, type SubmitAnswer,
  decodeReplicaAnswer, decodeReplicaRequest, encodeReplicaAnswer, encodeReplicaRequest, type ReplicaOp
} from './messages.ts'

export type { LogHead, SubmitAnswer }

type Obj = { [key: string]: Canonical }

export interface PeerInit {
  /** 32-byte Ed25519 seed: the libp2p identity IS the node's Ed25519 key (a till's enrolled key; HQ's root key). */
  seed: Uint8Array
  /** e.g. ['/ip4/127.0.0.1/tcp/0'] */
  listen: string[]
  logger: Logger
  /** Default timeout of client calls (CALL_TIMEOUT_MS). */
  callTimeoutMs?: number
  /** Time a handler may take before the server answers TIMEOUT (HANDLER_TIMEOUT_MS). */
  handlerTimeoutMs?: number
  /**
   * Time to open a stream to a peer (dial and protocol negotiation) before that attempt is given
   * up and, within the call's own deadline, made again (default: the larger of callTimeoutMs and
   * the connection manager's dialTimeout).
   */
  openTimeoutMs?: number
  /** Requests in handlers across all streams before new ones are answered BUSY (SERVER_TOTAL_IN_FLIGHT_MAX). */
  servingMax?: number
  /** Request bytes in handlers across all streams before new ones are answered BUSY (SERVER_TOTAL_IN_FLIGHT_BYTES_MAX). */
  servingBytesMax?: number
  /** Overrides of the connection-manager settings in limits.ts (CONNECTION_MANAGER). */
  connectionManager?: Partial<Record<keyof typeof CONNECTION_MANAGER, number>>
  /**
   * Heads gossip on this topic (gossip.ts): gossipsub and identify (which gossipsub needs to
   * learn who speaks it) are started only then. Tills gossip; HQ does not (identify on
   * thousands of connections would cost it CPU for announcements it has no use for).
   */
  gossip?: { topic: string }
}

export interface CallOptions { timeoutMs?: number }

export type SubmitHandler = (entries: Uint8Array[], from: string) => Promise<SubmitAnswer[]>
export type LogHandler = (tillId: string, afterSeq: number) => Promise<Uint8Array[]>
/** Every signed approval of `tillId` this peer serves to `from`, in a stable order (throw RefusedError to refuse). */
export type ApprovalsHandler = (tillId: string, from: string) => Promise<readonly Uint8Array[]>
export type HeadsHandler = (heads: LogHead[], from: string) => void | Promise<void>
export type ReplenishmentHandler = (store: string, afterId: string | null) => Promise<Uint8Array[]>
/** One Automerge sync message in about `doc` from peer `from`; the answer (null: nothing to say). Throw RefusedError to refuse it. */
export type AmSyncHandler = (doc: string, msg: Uint8Array | null, from: string) => Promise<Uint8Array | null>
/** A signed grant of rights for the asking till (`from`); throw RefusedError to refuse (beyond what is spendable, not that till). */
/** An HQ replica's request (`op`, its canonical body), answered with a body; `from` is the asking peer's id. */
export type ReplicaHandler = (op: ReplicaOp, body: Uint8Array, from: string) => Promise<Uint8Array>
export type RightsHandler = (req: { grantId: string, member: string, till: string, points: number }, from: string) => Promise<Uint8Array>
/** A return of a receipt's lines at another till: consent (resolve) or refuse (throw RefusedError with the reason). */
export type ReturnsHandler = (req: { refund: string, receipt: Uint8Array, lines: Array<{ sku: string, qty: number }>, made: boolean, cert: Uint8Array }, from: string) => Promise<void>
/** Rights given back by the asking till (`from`); throw RefusedError to refuse. */
export type RightsReturnHandler = (req: { returnId: string, member: string, till: string, points: number }, from: string) => Promise<void>
/** The member id of a phone number, for the asking till (`from`); throw RefusedError to refuse. */
export type MemberLookupHandler = (phone: string, from: string) => Promise<string>

/** A handler's refusal of bad input (answered with code REFUSED and the reason), not a failure of its own. */
export class RefusedError extends Error {
  override name = 'RefusedError'
}

/**
 * A handler that cannot take the request now, though nothing is wrong with it (HQ's disk
 * refused the write that would have made it durable): answered BUSY with the reason, as load
 * shedding is; the client keeps what it sent and sends it again later.
 */
export class BusyError extends Error {
  override name = 'BusyError'
}

export interface PeerStats {
  connections: number
  streams: number
  framesIn: number
  framesOut: number
  bytesIn: number
  bytesOut: number
  rejectedFrames: number
}

/** A failed client call: `code` is TIMEOUT, CLOSED, STOPPED, DIAL, MALFORMED (bad answer) or the server's error code. */
export class NetError extends Error {
  override name = 'NetError'
  readonly code: string
  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/**
 * An error that is a deadline passing, at any depth of `cause`: AbortSignal.timeout's own, or
 * what libp2p wraps it in (a noise handshake cut by the address's dial timeout is an
 * EncryptionFailedError saying "The operation was aborted due to timeout": CI's tiny sweep).
 */
function timedOut (err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.name === 'TimeoutError' || /aborted due to timeout|timed out/i.test(e.message)) return true
  }
  return false
}

/** Attempts per call when the stream dies before answering (every protocol is idempotent). */
const CALL_ATTEMPTS = 3

interface Pending {
  resolve: (o: Obj) => void
  reject: (err: Error) => void
  size: number
}

/** One long-lived outbound stream to one remote for one protocol. */
class Channel {
  readonly stream: Stream
  readonly key: string
  readonly pending = new Map<number, Pending>()
  readonly decoder = new FrameDecoder(FRAME_BYTES_MAX)
  nextId = 1
  inFlight = 0
  inFlightBytes = 0
  dead = false
  lastError = ''
  #waiters: Array<{ size: number, wake: () => void }> = []

  readonly writer: FrameWriter

  constructor (key: string, stream: Stream, onSendError: (err: Error) => void) {
    this.key = key
    this.stream = stream
    this.writer = new FrameWriter(bytes => { stream.send(bytes) }, onSendError)
  }

  /** Wait for room in the in-flight window (a single oversized request always fits an empty window). */
  async acquire (size: number, signal: AbortSignal): Promise<void> {
    if (this.#fits(size) && this.#waiters.length === 0) { this.#take(size); return }
    await new Promise<void>((resolve, reject) => {
      const w = { size, wake: () => { signal.removeEventListener('abort', onAbort); resolve() } }
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(w)
        if (i >= 0) this.#waiters.splice(i, 1)
        reject(signal.reason as Error)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#waiters.push(w)
    })
  }

  release (size: number): void {
    this.inFlight--
    this.inFlightBytes -= size
    this.#wakeWaiters()
  }

  #fits (size: number): boolean {
    return this.dead || this.inFlight === 0 || (this.inFlight < CLIENT_IN_FLIGHT_MAX && this.inFlightBytes + size <= CLIENT_IN_FLIGHT_BYTES_MAX)
  }

  #take (size: number): void {
    this.inFlight++
    this.inFlightBytes += size
  }

  #wakeWaiters (): void {
    while (this.#waiters.length > 0 && this.#fits((this.#waiters[0] as { size: number }).size)) {
      const w = this.#waiters.shift() as { size: number, wake: () => void }
      this.#take(w.size)
      w.wake()
    }
  }

  /** The stream is gone: fail every request in flight (callers retry on a new stream) and wake the queue. */
  kill (reason: string): void {
    if (this.dead) return
    this.dead = true
    this.writer.discard()
    const err = new NetError('CLOSED', `stream ${this.key} closed: ${reason}${this.lastError !== '' ? ` (remote said: ${this.lastError})` : ''}`)
    const pending = [...this.pending.values()]
    this.pending.clear()
    for (const p of pending) p.reject(err)
    this.#wakeWaiters()
  }
}

/** Per inbound stream state on the serving side. */
interface Served {
  stream: Stream
  writer: FrameWriter
  protocol: ProtocolName
  from: string
  decoder: FrameDecoder
  inFlight: number
  inFlightBytes: number
  badFrames: number
  paused: boolean
  ended: boolean
  failed: boolean
}

export class TillbooksPeer {
  readonly #node: Libp2p
  readonly #logger: Logger
  readonly #publicKey: Uint8Array
  readonly #callTimeoutMs: number
  readonly #openTimeoutMs: number
  readonly #handlerTimeoutMs: number
  readonly #servingMax: number
  readonly #servingBytesMax: number
  /** Open client streams, by `<protocol> <remote peer>`. */
  readonly #channels = new Map<string, Channel>()
  /** Streams being opened: concurrent first calls share one dial and one stream. */
  readonly #opening = new Map<string, Promise<Channel>>()
  readonly #stopCtl = new AbortController()
  readonly #served = new Set<Served>()
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  #stopped = false
  #submitHandler: SubmitHandler | null = null
  #logHandler: LogHandler | null = null
  #approvalsHandler: ApprovalsHandler | null = null
  #headsHandler: HeadsHandler | null = null
  #replenishmentHandler: ReplenishmentHandler | null = null
  #amSyncHandler: AmSyncHandler | null = null
  #rightsHandler: RightsHandler | null = null
  #replicaHandler: ReplicaHandler | null = null
  #lookupHandler: MemberLookupHandler | null = null
  #rightsReturnHandler: RightsReturnHandler | null = null
  #returnsHandler: ReturnsHandler | null = null
  readonly #stats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, rejectedFrames: 0 }
  /** Requests (and their bytes) in handlers across all served streams. */
  #serving = 0
  #servingBytes = 0

  private constructor (node: Libp2p, init: PeerInit, publicKey: Uint8Array) {
    this.#node = node
    this.#logger = init.logger
    this.#publicKey = publicKey
    this.#callTimeoutMs = init.callTimeoutMs ?? CALL_TIMEOUT_MS
    this.#openTimeoutMs = init.openTimeoutMs ?? Math.max(this.#callTimeoutMs, init.connectionManager?.dialTimeout ?? CONNECTION_MANAGER.dialTimeout)
    this.#handlerTimeoutMs = init.handlerTimeoutMs ?? HANDLER_TIMEOUT_MS
    this.#servingMax = init.servingMax ?? SERVER_TOTAL_IN_FLIGHT_MAX
    this.#servingBytesMax = init.servingBytesMax ?? SERVER_TOTAL_IN_FLIGHT_BYTES_MAX
  }

  static async create (init: PeerInit): Promise<TillbooksPeer> {
    if (!(init.seed instanceof Uint8Array) || init.seed.length !== 32) throw new TypeError('seed must be 32 bytes')
    const { publicKey } = keyPairFromSeed(init.seed)
    // libp2p's raw Ed25519 private key is seed ‖ public key (64 bytes).
    const raw = new Uint8Array(64)
    raw.set(init.seed, 0)
    raw.set(publicKey, 32)
    const node = await createLibp2p({
      privateKey: privateKeyFromRaw(raw),
      addresses: { listen: init.listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { ...CONNECTION_MANAGER, ...(init.connectionManager ?? {}) },
      ...(init.gossip !== undefined ? { services: { identify: identify(), pubsub: gossipsub(gossipOptions(init.gossip.topic)) } } : {}),
      start: false
    }) as Libp2p
    const peer = new TillbooksPeer(node, init, publicKey)
    const opts = { maxInboundStreams: STREAMS_PER_PROTOCOL_MAX, maxOutboundStreams: STREAMS_PER_PROTOCOL_MAX }
    for (const name of Object.keys(PROTOCOLS) as ProtocolName[]) {
      await node.handle(PROTOCOLS[name], (stream, connection) => { peer.#serve(name, stream, connection) }, opts)
    }
    await node.start()
    return peer
  }

  get peerId (): string { return this.#node.peerId.toString() }

  /** The gossipsub service, when the peer was created with `gossip`. */
  get pubsub (): GossipSub | null {
    return (this.#node as Libp2p<{ pubsub?: GossipSub }>).services.pubsub ?? null
  }

  /** The node's Ed25519 public key (32 bytes): the key its peer id encodes. */
  get publicKey (): Uint8Array { return this.#publicKey }

  /** Full multiaddrs, each ending in /p2p/<peerId>. */
  multiaddrs (): string[] {
    return this.#node.getMultiaddrs().map(m => m.toString())
  }

  /** Make sure a connection to `addr` is open (gossip needs one to a neighbour before anything is sent to it). */
  async connect (addr: string, opts: CallOptions = {}): Promise<void> {
    let target
    try {
      target = multiaddr(addr)
    } catch (err) {
      throw new NetError('DIAL', `not a multiaddr: ${String(addr).slice(0, 200)}: ${(err as Error).message}`)
    }
    try {
      await this.#node.dial(target, { signal: AbortSignal.any([this.#stopCtl.signal, AbortSignal.timeout(opts.timeoutMs ?? this.#callTimeoutMs)]) })
    } catch (err) {
      throw new NetError('DIAL', `dial ${addr}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** Close every connection to a peer (a multiaddr or a peer id); its streams die and calls in flight are retried. */
  async hangUp (peer: string): Promise<void> {
    let target
    try {
      target = peer.startsWith('/') ? multiaddr(peer) : peerIdFromString(peer)
    } catch (err) {
      throw new NetError('DIAL', `not a multiaddr or peer id: ${String(peer).slice(0, 200)}: ${(err as Error).message}`)
    }
    await this.#node.hangUp(target)
  }

  handleSubmit (fn: SubmitHandler): void { this.#submitHandler = fn }
  handleLog (fn: LogHandler): void { this.#logHandler = fn }
  handleApprovals (fn: ApprovalsHandler): void { this.#approvalsHandler = fn }
  handleHeads (fn: HeadsHandler): void { this.#headsHandler = fn }
  handleReplenishment (fn: ReplenishmentHandler): void { this.#replenishmentHandler = fn }
  handleAmSync (fn: AmSyncHandler): void { this.#amSyncHandler = fn }
  handleRights (fn: RightsHandler): void { this.#rightsHandler = fn }
  handleReplica (fn: ReplicaHandler): void { this.#replicaHandler = fn }
  handleMemberLookup (fn: MemberLookupHandler): void { this.#lookupHandler = fn }
  handleRightsReturn (fn: RightsReturnHandler): void { this.#rightsReturnHandler = fn }
  handleReturns (fn: ReturnsHandler): void { this.#returnsHandler = fn }

  stats (): PeerStats {
    return { connections: this.#node.getConnections().length, streams: this.#served.size + this.#channels.size, ...this.#stats }
  }

  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#stopCtl.abort(new NetError('STOPPED', 'peer is stopped'))
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    await Promise.allSettled([...this.#opening.values()])
    for (const ch of [...this.#channels.values()]) {
      ch.kill('peer stopped')
      ch.stream.abort(new Error('peer stopped'))
    }
    this.#channels.clear()
    for (const s of [...this.#served]) s.stream.abort(new Error('peer stopped'))
    this.#served.clear()
    await this.#node.stop()
  }

  // ------------------------------------------------------------------ client calls

  /**
   * Submit signed entries; one outcome per entry, in order. Batches larger than
   * SUBMIT_ENTRIES_MAX (or than a frame) are split into requests pipelined on the one stream.
   */
  async submit (addr: string, entries: Uint8Array[], opts: CallOptions = {}): Promise<SubmitAnswer[]> {
    if (!Array.isArray(entries)) throw new TypeError('entries must be a list')
    const timeoutMs = opts.timeoutMs ?? this.#callTimeoutMs
    const budget = FRAME_BYTES_MAX - 1024
    const chunks: Uint8Array[][] = []
    const local: Array<{ at: number, answer: SubmitAnswer }> = []
    let cur: Uint8Array[] = []
    let curBytes = 0
    entries.forEach((e, i) => {
      if (!(e instanceof Uint8Array)) throw new TypeError(`entries[${i}] must be bytes`)
      const size = e.length + 9 // a CBOR byte-string head is at most 9 bytes
      if (size > budget) {
        local.push({ at: i, answer: { status: 'rejected', code: 'OVERSIZED', reason: `entry of ${e.length} bytes does not fit a frame (${FRAME_BYTES_MAX} bytes)` } })
        return
      }
      if (cur.length === SUBMIT_ENTRIES_MAX || curBytes + size > budget) {
        chunks.push(cur)
        cur = []
        curBytes = 0
      }
      cur.push(e)
      curBytes += size
    })
    if (cur.length > 0) chunks.push(cur)
    const answers = await Promise.all(chunks.map(async c => await this.#call(addr, 'submit', timeoutMs, c.reduce((n, e) => n + e.length, 0),
      id => encodeSubmitRequest({ id, entries: c }), o => decodeSubmitAnswer(o, c.length))))
    // Chunks hold the other entries in input order: fill the gaps around the local answers.
    const out: SubmitAnswer[] = new Array(entries.length)
    for (const l of local) out[l.at] = l.answer
    let k = 0
    for (const a of answers.flat()) {
      while (out[k] !== undefined) k++
      out[k++] = a
    }
    return out
  }

  /** A replica of a till's log from a peer: entries with seq > afterSeq, in seq order, every page followed. */
  async fetchLog (addr: string, tillId: string, afterSeq: number, opts: CallOptions = {}): Promise<Uint8Array[]> {
    const timeoutMs = opts.timeoutMs ?? this.#callTimeoutMs
    const deadline = Date.now() + timeoutMs
    const out: Uint8Array[] = []
    let after = afterSeq
    for (let page = 0; page < PAGES_MAX; page++) {
      const from = after
      const p = await this.#call(addr, 'log', Math.max(1, deadline - Date.now()), 64,
        id => encodeLogRequest({ id, tillId, afterSeq: from }), o => decodeLogAnswer(o, from))
      out.push(...p.entries)
      if (!p.more) return out
      after = p.lastSeq
    }
    throw new NetError('OVERSIZED', `log of ${tillId} from ${addr}: more than ${PAGES_MAX} pages`)
  }

  /** A till's signed card approvals from a peer (the till itself), every page followed. */
  async fetchApprovals (addr: string, tillId: string, opts: CallOptions = {}): Promise<Uint8Array[]> {
    const timeoutMs = opts.timeoutMs ?? this.#callTimeoutMs
    const deadline = Date.now() + timeoutMs
    const out: Uint8Array[] = []
    for (let page = 0; page < PAGES_MAX; page++) {
      const from = out.length
      const p = await this.#call(addr, 'log', Math.max(1, deadline - Date.now()), 64,
        id => encodeLogRequest({ id, tillId, afterSeq: from, stream: 'approvals' }), o => decodeLogAnswer(o, from))
      if (p.lastSeq !== from + p.entries.length) throw new NetError('MALFORMED', `approvals of ${tillId} from ${addr}: a page of ${p.entries.length} that ends at ${p.lastSeq}, not ${from + p.entries.length}`)
      out.push(...p.entries)
      if (!p.more) return out
    }
    throw new NetError('OVERSIZED', `approvals of ${tillId} from ${addr}: more than ${PAGES_MAX} pages`)
  }

  /**
   * Send one Automerge sync message about `doc` (null: we have nothing to say, but want the
   * peer's) and get the peer's answer (null: it has nothing to say). The session around it
   * is DocSync's (../sync/DocSync.ts). A refusal is NetError with code REFUSED.
   */
  async amSync (addr: string, doc: string, msg: Uint8Array | null, opts: CallOptions = {}): Promise<Uint8Array | null> {
    return await this.#call(addr, 'amSync', opts.timeoutMs ?? this.#callTimeoutMs, (msg?.length ?? 0) + 64,
      id => encodeAmSyncRequest({ id, doc, msg }), o => decodeAmSyncAnswer(o))
  }

  /** Tell a peer about new heads; resolves once the peer has taken them. */
  async announceHeads (addr: string, heads: LogHead[], opts: CallOptions = {}): Promise<void> {
    checkHeads(heads)
    await this.#call(addr, 'heads', opts.timeoutMs ?? this.#callTimeoutMs, heads.length * 100,
      id => encodeHeadsRequest({ id, heads }), o => { decodeHeadsAnswer(o) })
  }

  /** Ask HQ for a grant of rights (its signed bytes); a refusal is NetError with code REFUSED and HQ's reason. */
  async askRights (addr: string, req: { grantId: string, member: string, till: string, points: number }, opts: CallOptions = {}): Promise<Uint8Array> {
    return await this.#call(addr, 'rights', opts.timeoutMs ?? this.#callTimeoutMs, 256,
      id => encodeRightsRequest({ id, ...req }), o => decodeRightsAnswer(o))
  }

  /**
   * Ask the till that issued a receipt to consent to a return of its lines (`made` false), or
   * tell it of one made without its consent (`made` true). A refusal is NetError code REFUSED.
   */
  async askReturn (addr: string, req: { refund: string, receipt: Uint8Array, lines: Array<{ sku: string, qty: number }>, made: boolean, cert: Uint8Array }, opts: CallOptions = {}): Promise<void> {
    await this.#call(addr, 'returns', opts.timeoutMs ?? this.#callTimeoutMs, req.receipt.length + req.cert.length + req.lines.length * 64 + 128,
      id => encodeReturnRequest({ id, ...req }), o => { decodeReturnAnswer(o) })
  }

  /** Ask another HQ replica (`op` with its canonical body); its answer's body. A refusal is NetError code REFUSED. */
  async askReplica (addr: string, op: ReplicaOp, body: Uint8Array, opts: CallOptions = {}): Promise<Uint8Array> {
    return await this.#call(addr, 'replica', opts.timeoutMs ?? this.#callTimeoutMs, body.length + 256,
      id => encodeReplicaRequest({ id, op, body }), o => decodeReplicaAnswer(o))
  }

  /** Tell HQ of rights given back (a refusal is NetError code REFUSED). */
  async giveBackRights (addr: string, req: { returnId: string, member: string, till: string, points: number }, opts: CallOptions = {}): Promise<void> {
    await this.#call(addr, 'rights', opts.timeoutMs ?? this.#callTimeoutMs, 256,
      id => encodeRightsReturnRequest({ id, ...req }), o => { decodeOkAnswer(o) })
  }

  /** Ask HQ for the member id of a phone number (HQ enrols the number if new; it keeps only its keyed hash). */
  async lookupMember (addr: string, phone: string, opts: CallOptions = {}): Promise<string> {
    return await this.#call(addr, 'rights', opts.timeoutMs ?? this.#callTimeoutMs, 128,
      id => encodeMemberLookupRequest({ id, phone }), o => decodeMemberLookupAnswer(o))
  }

  /** HQ-signed replenishment orders for a store after `afterId` (null: from the start), every page followed. */
  async fetchReplenishment (addr: string, store: string, afterId: string | null, opts: CallOptions = {}): Promise<Uint8Array[]> {
    checkStore(store)
    checkOrderId(afterId)
    const timeoutMs = opts.timeoutMs ?? this.#callTimeoutMs
    const deadline = Date.now() + timeoutMs
    const out: Uint8Array[] = []
    let after = afterId
    for (let page = 0; page < PAGES_MAX; page++) {
      const from = after
      const p = await this.#call(addr, 'replenishment', Math.max(1, deadline - Date.now()), 64,
        id => encodeReplenishmentRequest({ id, store, afterId: from }), o => decodeReplenishmentAnswer(o, from))
      out.push(...p.orders)
      if (!p.more) return out
      after = p.lastId
    }
    throw new NetError('OVERSIZED', `replenishment for ${store} from ${addr}: more than ${PAGES_MAX} pages`)
  }

  /**
   * One request/answer on the long-lived stream for (addr, protocol), bounded by timeoutMs
   * overall (dial, stream, queueing, answer). A stream that dies before answering is
   * replaced and the request sent again (all protocols are idempotent).
   */
  async #call<T> (addr: string, protocol: ProtocolName, timeoutMs: number, size: number, build: (id: number) => Uint8Array, decode: (o: Obj) => T): Promise<T> {
    if (this.#stopped) throw new NetError('STOPPED', 'peer is stopped')
    const ctl = new AbortController()
    const timer = setTimeout(() => { ctl.abort(new NetError('TIMEOUT', `${protocol} to ${addr}: no answer within ${timeoutMs} ms`)) }, timeoutMs)
    try {
      for (let attempt = 1; ; attempt++) {
        let ch: Channel
        try {
          ch = await raceSignal(this.#channel(addr, protocol), ctl.signal)
        } catch (err) {
          if (ctl.signal.aborted) throw ctl.signal.reason as Error
          // The stream could not be opened in time (a peer too busy to finish the handshake, a
          // connection half dead): tried again, after a pause, for as long as the call's own
          // deadline allows (not counted against CALL_ATTEMPTS, which is for streams that die
          // under a request).
          if (err instanceof NetError && err.code === 'TIMEOUT' && !this.#stopped) {
            attempt--
            await raceSignal(new Promise(resolve => { setTimeout(resolve, OPEN_RETRY_PAUSE_MS).unref() }), ctl.signal).catch(() => {})
            if (ctl.signal.aborted) throw ctl.signal.reason as Error
            continue
          }
          throw err
        }
        await ch.acquire(size, ctl.signal)
        if (ch.dead) {
          ch.release(size)
          if (attempt < CALL_ATTEMPTS) continue
          throw new NetError('CLOSED', `${protocol} to ${addr}: stream closed`)
        }
        const id = ch.nextId++
        let bytes: Uint8Array
        try {
          bytes = frame(build(id))
        } catch (err) {
          ch.release(size)
          throw err
        }
        let answer: Obj
        try {
          answer = await new Promise<Obj>((resolve, reject) => {
            const onAbort = (): void => {
              if (ch.pending.delete(id)) ch.release(size)
              reject(ctl.signal.reason as Error)
            }
            ctl.signal.addEventListener('abort', onAbort, { once: true })
            ch.pending.set(id, {
              size,
              resolve: o => { ctl.signal.removeEventListener('abort', onAbort); ch.release(size); resolve(o) },
              reject: e => { ctl.signal.removeEventListener('abort', onAbort); ch.release(size); reject(e) }
            })
            ch.writer.write(bytes)
            this.#stats.framesOut++
            this.#stats.bytesOut += bytes.length
          })
        } catch (err) {
          if (err instanceof NetError && err.code === 'CLOSED' && attempt < CALL_ATTEMPTS && !this.#stopped && !ctl.signal.aborted) continue
          throw err
        }
        const error = (() => {
          try {
            return decodeErrorIfAny(answer)
          } catch (err) {
            return this.#badAnswer(addr, protocol, err)
          }
        })()
        if (error !== null) throw new NetError(error.code, `${protocol} to ${addr}: ${error.code}: ${error.reason}`)
        try {
          return decode(answer)
        } catch (err) {
          throw this.#badAnswer(addr, protocol, err)
        }
      }
    } finally {
      clearTimeout(timer)
    }
  }

  #badAnswer (addr: string, protocol: ProtocolName, err: unknown): never {
    this.#stats.rejectedFrames++
    const reason = (err as Error).message
    this.#logger.warn({ remote: addr, protocol }, `rejected answer: ${reason}`)
    throw new NetError('MALFORMED', `${protocol} to ${addr}: bad answer: ${reason}`)
  }

  /** Remote of an address: its /p2p/ peer id, or the address itself (parsing a multiaddr per call cost ~3 % of CPU). */
  readonly #remoteOf = new Map<string, string>()

  #channelKey (addr: string, protocol: ProtocolName): string {
    let peer = this.#remoteOf.get(addr)
    if (peer === undefined) {
      try {
        peer = multiaddr(addr).getComponents().findLast(c => c.name === 'p2p')?.value ?? addr
      } catch (err) {
        throw new NetError('DIAL', `not a multiaddr: ${String(addr).slice(0, 200)}: ${(err as Error).message}`)
      }
      if (this.#remoteOf.size >= 10_000) this.#remoteOf.clear()
      this.#remoteOf.set(addr, peer)
    }
    return `${PROTOCOLS[protocol]} ${peer}`
  }

  #channel (addr: string, protocol: ProtocolName): Promise<Channel> {
    const key = this.#channelKey(addr, protocol)
    const open = this.#channels.get(key)
    if (open !== undefined && !open.dead) return Promise.resolve(open)
    const existing = this.#opening.get(key)
    if (existing !== undefined) return existing
    // Bounded by its own deadline, not the first caller's: callers that join it race their own.
    const signal = AbortSignal.any([this.#stopCtl.signal, AbortSignal.timeout(this.#openTimeoutMs)])
    const opening = this.#openChannel(key, addr, protocol, signal)
    this.#opening.set(key, opening)
    opening.then(ch => {
      if (this.#opening.get(key) === opening) this.#opening.delete(key)
      if (!ch.dead) this.#channels.set(key, ch)
    }, () => {
      if (this.#opening.get(key) === opening) this.#opening.delete(key)
    })
    return opening
  }

  async #openChannel (key: string, addr: string, protocol: ProtocolName, signal: AbortSignal): Promise<Channel> {
    let stream: Stream
    try {
      // dial() returns the connection already open to that peer, if any: one connection per remote.
      const conn = await this.#node.dial(multiaddr(addr), { signal })
      stream = await conn.newStream(PROTOCOLS[protocol], { signal })
    } catch (err) {
      if (this.#stopped) throw new NetError('STOPPED', 'peer is stopped', { cause: err })
      if (signal.aborted) throw new NetError('TIMEOUT', `${protocol} to ${addr}: no stream opened within ${this.#openTimeoutMs} ms`, { cause: err })
      // libp2p's own deadlines (an address's dial, a negotiation) end in an abort of their own.
      if (timedOut(err)) throw new NetError('TIMEOUT', `${protocol} to ${addr}: ${(err as Error).message}`, { cause: err })
      throw new NetError('DIAL', `${protocol} to ${addr}: ${(err as Error).message}`, { cause: err })
    }
    if (this.#stopped) {
      stream.abort(new Error('peer stopped'))
      throw new NetError('STOPPED', 'peer is stopped')
    }
    const ch: Channel = new Channel(key, stream, err => {
      // The stream is closing under us: kill() fails what is in flight as CLOSED (retried on a new stream).
      ch.kill(`send failed: ${err.message}`)
      this.#dropChannel(ch)
    })
    const onMessage = (evt: StreamMessageEvent): void => {
      const data = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
      try {
        for (const payload of ch.decoder.push(data)) this.#onAnswer(ch, addr, protocol, payload)
      } catch (err) {
        // Framing broken by the server, or a frame that is not an answer: nothing more on this stream can be trusted.
        this.#stats.rejectedFrames++
        this.#logger.warn({ remote: addr, protocol }, `rejected answer, closing the stream: ${(err as Error).message}`)
        ch.kill((err as Error).message)
        this.#dropChannel(ch)
        stream.abort(err as Error)
      }
    }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('remoteCloseWrite', () => {
      // The server will answer nothing more: retire the stream (in-flight requests are retried).
      ch.kill('remote closed its end')
      this.#dropChannel(ch)
      stream.close().catch(() => { stream.abort(new Error('close failed')) })
    })
    stream.addEventListener('close', evt => {
      ch.kill(evt.error?.message ?? 'closed')
      this.#dropChannel(ch)
    }, { once: true })
    return ch
  }

  #dropChannel (ch: Channel): void {
    if (this.#channels.get(ch.key) === ch) this.#channels.delete(ch.key)
  }

  #onAnswer (ch: Channel, addr: string, protocol: ProtocolName, payload: Uint8Array): void {
    this.#stats.framesIn++
    this.#stats.bytesIn += payload.length + varintLength(payload.length)
    // A frame that is not even a map with an id: the server is broken, and so is this stream
    // (throwing here retires it; the requests in flight are retried on a new one).
    const o = decodeFrame(payload)
    const id = idOf(o)
    if (id === null) throw new ProtocolError('MALFORMED', 'an answer without a request id')
    if (id === 0) {
      // The server's complaint about the stream itself (it closes the stream next).
      try {
        const e = decodeErrorIfAny(o)
        ch.lastError = e !== null ? `${e.code}: ${e.reason}` : 'stream error'
      } catch { ch.lastError = 'stream error' }
      this.#logger.warn({ remote: addr, protocol }, `remote reported a stream error: ${ch.lastError}`)
      return
    }
    const p = ch.pending.get(id)
    if (p === undefined) return // answer to a request that already timed out
    ch.pending.delete(id)
    p.resolve(o)
  }

  // ------------------------------------------------------------------ serving

  #serve (protocol: ProtocolName, stream: Stream, connection: Connection): void {
    const s: Served = {
      stream,
      writer: new FrameWriter(bytes => { stream.send(bytes) }, err => {
        this.#logger.warn({ remote: connection.remotePeer.toString(), protocol: PROTOCOLS[protocol] }, `answers not sent: ${err.message}`)
      }),
      protocol,
      from: connection.remotePeer.toString(),
      decoder: new FrameDecoder(FRAME_BYTES_MAX),
      inFlight: 0,
      inFlightBytes: 0,
      badFrames: 0,
      paused: false,
      ended: false,
      failed: false
    }
    if (this.#stopped) { stream.abort(new Error('peer stopped')); return }
    this.#served.add(s)
    // A peer that sends requests but never reads its answers is reset, not buffered for.
    stream.maxWriteBufferLength = SERVER_WRITE_BUFFER_MAX
    stream.addEventListener('message', (evt: StreamMessageEvent) => {
      if (s.failed) return
      const data = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
      try {
        for (const payload of s.decoder.push(data)) {
          this.#stats.framesIn++
          this.#stats.bytesIn += payload.length + varintLength(payload.length)
          this.#onRequest(s, payload)
          if (s.failed) return
        }
      } catch (err) {
        if (err instanceof FramingError) {
          this.#rejectStream(s, err.code, err.message)
          return
        }
        // Our own bug: still never crash the node over one stream.
        this.#logger.error({ remote: s.from, protocol, err: (err as Error).message }, 'request stream failed')
        this.#rejectStream(s, 'MALFORMED', 'internal error')
      }
    })
    stream.addEventListener('remoteCloseWrite', () => {
      s.ended = true
      if (s.decoder.pendingBytes > 0 && !s.failed) {
        this.#rejected(s, 'MALFORMED', `stream ended inside a frame (${s.decoder.pendingBytes} bytes)`)
      }
      this.#maybeFinish(s)
    })
    stream.addEventListener('close', () => { s.writer.discard(); this.#served.delete(s) }, { once: true })
  }

  #rejected (s: Served, code: string, reason: string): void {
    this.#stats.rejectedFrames++
    this.#logger.warn({ remote: s.from, protocol: PROTOCOLS[s.protocol], code }, `rejected frame: ${reason}`)
  }

  /** Answer a stream-level error (id 0) and close the stream: framing is lost or the peer keeps sending garbage. */
  #rejectStream (s: Served, code: string, reason: string): void {
    this.#rejected(s, code, reason)
    s.failed = true
    this.#send(s, encodeError(0, { code, reason: `${reason}; closing the stream` }))
    const stream = s.stream
    s.writer.flush()
    stream.close().catch(() => {})
    // If the remote does not close its end at once, reset the stream (it counts against the
    // connection's stream limit until both ends are closed).
    const t = setTimeout(() => { this.#timers.delete(t); if (stream.status !== 'closed') stream.abort(new Error(`${code}: ${reason}`)) }, 250)
    t.unref()
    this.#timers.add(t)
  }

  #send (s: Served, payload: Uint8Array): void {
    if (s.stream.writeStatus !== 'writable') return
    const bytes = frame(payload)
    s.writer.write(bytes)
    this.#stats.framesOut++
    this.#stats.bytesOut += bytes.length
  }

  #maybeFinish (s: Served): void {
    if (s.ended && s.inFlight === 0 && s.stream.writeStatus === 'writable') {
      s.writer.flush()
      s.stream.close().catch(() => {})
    }
  }

  #onRequest (s: Served, payload: Uint8Array): void {
    let o: Obj
    try {
      o = decodeFrame(payload)
    } catch (err) {
      this.#badRequest(s, 0, err)
      return
    }
    const id = idOf(o)
    if (id === null || id === 0) {
      this.#badRequest(s, 0, new ProtocolError('MALFORMED', 'id must be an integer from 1'))
      return
    }
    let run: () => Promise<Uint8Array>
    try {
      run = this.#prepare(s, id, o)
    } catch (err) {
      this.#badRequest(s, id, err)
      return
    }
    if (this.#serving >= this.#servingMax || this.#servingBytes + payload.length > this.#servingBytesMax) {
      this.#send(s, encodeError(id, { code: 'BUSY', reason: `${this.#serving} requests (${this.#servingBytes} bytes) in hand; try again later` }))
      return
    }
    this.#serving++
    this.#servingBytes += payload.length
    s.inFlight++
    s.inFlightBytes += payload.length
    if (!s.paused && (s.inFlight >= SERVER_IN_FLIGHT_MAX || s.inFlightBytes >= SERVER_IN_FLIGHT_BYTES_MAX)) {
      s.paused = true
      try { s.stream.pause() } catch {}
    }
    const size = payload.length
    this.#withTimeout(run(), s, id).then(answer => {
      this.#send(s, answer)
    }, (err: unknown) => {
      const code = err instanceof NetError && err.code === 'TIMEOUT' ? 'TIMEOUT' : err instanceof NoHandlerError ? 'NO_HANDLER' : err instanceof RefusedError ? 'REFUSED' : err instanceof BusyError ? 'BUSY' : 'HANDLER_FAILED'
      const reason = (err as Error)?.message ?? String(err)
      this.#logger.warn({ remote: s.from, protocol: PROTOCOLS[s.protocol], id, code }, `request not served: ${reason}`)
      this.#send(s, encodeError(id, { code, reason: clipReason(reason) }))
    }).finally(() => {
      this.#serving--
      this.#servingBytes -= size
      s.inFlight--
      s.inFlightBytes -= size
      if (s.paused && s.inFlight < SERVER_IN_FLIGHT_MAX / 2 && s.inFlightBytes < SERVER_IN_FLIGHT_BYTES_MAX / 2) {
        s.paused = false
        try { s.stream.resume() } catch {}
      }
      this.#maybeFinish(s)
    }).catch(err => { this.#logger.error({ err: (err as Error).message }, 'answer failed') })
  }

  #badRequest (s: Served, id: number, err: unknown): void {
    const code = err instanceof ProtocolError ? err.code : 'MALFORMED'
    const reason = (err as Error).message
    s.badFrames++
    if (s.badFrames > BAD_FRAMES_PER_STREAM_MAX) {
      this.#rejectStream(s, code, `${reason} (more than ${BAD_FRAMES_PER_STREAM_MAX} bad frames on this stream)`)
      return
    }
    this.#rejected(s, code, reason)
    this.#send(s, encodeError(id, { code, reason }))
  }

  async #withTimeout<T> (p: Promise<T>, s: Served, id: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new NetError('TIMEOUT', `no answer from the ${s.protocol} handler within ${this.#handlerTimeoutMs} ms (request ${id})`)) }, this.#handlerTimeoutMs)
    })
    try {
      return await Promise.race([p, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Validate a request and bind it to its handler; throws ProtocolError for bad input. */
  #prepare (s: Served, id: number, o: Obj): () => Promise<Uint8Array> {
    switch (s.protocol) {
      case 'submit': {
        const req = decodeSubmitRequest(o)
        const fn = this.#submitHandler
        return async () => {
          if (fn === null) throw new NoHandlerError('this peer serves no submit')
          const outcomes = await fn(req.entries, s.from)
          if (!Array.isArray(outcomes) || outcomes.length !== req.entries.length) throw new Error(`submit handler gave ${Array.isArray(outcomes) ? outcomes.length : 'no'} outcomes for ${req.entries.length} entries`)
          return encodeSubmitAnswer(id, outcomes)
        }
      }
      case 'log': {
        const req = decodeLogRequest(o)
        if (req.stream === 'approvals') {
          const serve = this.#approvalsHandler
          return async () => {
            if (serve === null) throw new NoHandlerError('this peer serves no approvals')
            return encodeLogAnswer(id, approvalsPage(await serve(req.tillId, s.from), req.afterSeq))
          }
        }
        const fn = this.#logHandler
        return async () => {
          if (fn === null) throw new NoHandlerError('this peer serves no log')
          return encodeLogAnswer(id, logPage(await fn(req.tillId, req.afterSeq), req.afterSeq))
        }
      }
      case 'heads': {
        const req = decodeHeadsRequest(o)
        const fn = this.#headsHandler
        return async () => {
          if (fn === null) throw new NoHandlerError('this peer serves no heads')
          await fn(req.heads, s.from)
          return encodeHeadsAnswer(id)
        }
      }
      case 'amSync': {
        const req = decodeAmSyncRequest(o)
        const fn = this.#amSyncHandler
        return async () => {
          if (fn === null) throw new NoHandlerError('this peer serves no am-sync')
          return encodeAmSyncAnswer(id, await fn(req.doc, req.msg, s.from))
        }
      }
      case 'returns': {
        const req = decodeReturnRequest(o)
        const fn = this.#returnsHandler
        return async () => {
          if (fn === null) throw new NoHandlerError('this peer takes no returns')
          await fn({ refund: req.refund, receipt: req.receipt, lines: req.lines, made: req.made, cert: req.cert }, s.from)
          return encodeReturnAnswer(id)
        }
      }
      case 'rights': {
        const req = decodeRightsRequest(o)
        if ('returnId' in req) {
          const back = this.#rightsReturnHandler
          return async () => {
            if (back === null) throw new NoHandlerError('this peer takes no rights back')
            await back({ returnId: req.returnId, member: req.member, till: req.till, points: req.points }, s.from)
            return encodeOkAnswer(id)
          }
        }
        if ('phone' in req) {
          const lookup = this.#lookupHandler
          return async () => {
            if (lookup === null) throw new NoHandlerError('this peer looks up no members')
            return encodeMemberLookupAnswer(id, await lookup(req.phone, s.from))
          }
        }
        const fn = this.#rightsHandler
        return async () => {
          if (fn === null) throw new NoHandlerError('this peer grants no rights')
          return encodeRightsAnswer(id, await fn({ grantId: req.grantId, member: req.member, till: req.till, points: req.points }, s.from))
        }
      }
      case 'replica': {
        const req = decodeReplicaRequest(o)
        const fn = this.#replicaHandler
        return async () => {
          if (fn === null) throw new NoHandlerError('this peer is no HQ replica')
          return encodeReplicaAnswer(id, await fn(req.op, req.body, s.from))
        }
      }
      case 'replenishment': {
        const req = decodeReplenishmentRequest(o)
        const fn = this.#replenishmentHandler
        return async () => {
          if (fn === null) throw new NoHandlerError('this peer serves no replenishment')
          return encodeReplenishmentAnswer(id, replenishmentPage(await fn(req.store, req.afterId), req.afterId))
        }
      }
    }
  }
}

/** `p`, or the signal's reason if it aborts first. */
async function raceSignal<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw signal.reason as Error
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(signal.reason as Error) }
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

/**
 * HQ replicas (`tillbooks hq --replica-of MA[,MA]`): every replica holds HQ's root key, takes
 * in what tills send it, and brings every other replica it knows up to what it holds, by
 * pulling: each round (REPLICA_SYNC_INTERVAL_MS) it
 *
 *   1. says hello, signed with the root key and bound to both peer ids (so a peer without the
 *      root key, or with another one, is refused and counted, either way round);
 *   2. compares summaries: per kind of HQ record (certificates, orders, opening stock,
 *      settlement files) a count and a sum of their digests, and one digest over every till's
 *      (entries logged, sum of their hashes);
 *   3. fetches the HQ records it lacks, each signed on the wire by the root key over its key
 *      and bytes, and adopts them as if decided here (HqNode.adoptRecord: verified, written
 *      durably, folded), certificates first;
 *   4. syncs the catalogue document (Automerge sync; HQ statements are root-signed inside);
 *   5. for each till whose (count, sum) differs, pulls the till's log with Automerge's sync
 *      protocol and submits every new change through HqNode.submit: verified like anything
 *      a till sends (signature, enrolment, chain). A replica that is wrong (a bug, a damaged
 *      disk) can withhold records, never slip in one that does not verify; a replica is HQ,
 *      though: it holds the root key, and one in an attacker's hands can enrol keys (HQ's own
 *      power), which is why the root key is copied to replicas only.
 *
 * A peer's hello makes it a replica here too (it is pulled from in turn), so a link named on
 * one side is used both ways. Nothing is shared that is numbered: each decision's key comes
 * from its content or its caller (an order's id, a certificate's till, seq and key).
 */
import { createHash } from 'node:crypto'
import { canonicalDecode, canonicalEncode, toHex, verifySignature, type Canonical, type PublicKey, type Signer, type TillId } from '@tillbooks/protocol'
import type { Logger } from '../components.ts'
import { prefixEnd, type KvStore } from '../storage/KvStore.ts'
import type { ReplicaOp } from '../net/messages.ts'
import { RefusedError } from '../net/TillbooksPeer.ts'
import { MembersError } from '@tillbooks/members'
import { recordDigest48 } from './SummedStore.ts'
import { Periodic } from '../Periodic.ts'
import { HqBusyError, REPLICATED_PREFIXES, ReplicaRecordError, type HqNode } from './HqNode.ts'
import { submitAll } from './submitAll.ts'
import { REPLICA_ANSWER_BYTES_MAX, REPLICA_CALLS_IN_FLIGHT, REPLICA_DEFER_MAX_MS, REPLICA_REFUSED_KEPT_MAX, REPLICA_REFUSED_RETRY_MS, REPLICA_HELLO_SKEW_MS, REPLICA_LOGGED_TILLS_PER_CALL, REPLICA_PULLS_IN_FLIGHT, REPLICA_PAGE_MAX, REPLICA_PEERS_MAX, REPLICA_RECORDS_PER_CALL, REPLICA_SYNC_INTERVAL_MS } from './constants.ts'

const HELLO_CONTEXT = 'tillbooks/hq-replica-hello/1'
const RECORD_CONTEXT = 'tillbooks/hq-record/1'
const MOD48 = 2 ** 48

export interface ReplicaTransport {
  askReplica (addr: string, op: ReplicaOp, body: Uint8Array, opts?: { timeoutMs?: number }): Promise<Uint8Array>
}

/** A kind of HQ record replicas share: its key prefix, how a replica takes one in, and keys under the prefix that are not of the kind. */
export interface ReplicatedKind {
  prefix: string
  adopt: (key: string, value: Uint8Array) => Promise<'adopted' | 'duplicate'>
  /** A page at once (one fsync); each outcome, or the error that refused it. */
  adoptMany?: (items: Array<{ key: string, value: Uint8Array }>) => Promise<Array<'adopted' | 'duplicate' | Error>>
  excludes?: string
  /**
   * Two replicas may hold different values under one key of this kind (decided at each while
   * they were cut off), and `adopt` settles which stands, the same way at every replica: the
   * listing then carries each record's digest, and a key held with another value is fetched too.
   */
  settlesConflicts?: true
}

/** HQ's own records (HqNode.adoptRecord, adoptRecords), certificates first: a till's entries need its enrolment. */
export function hqRecordKinds (hq: HqNode): ReplicatedKind[] {
  return REPLICATED_PREFIXES.map(prefix => ({ prefix, adopt: async (key, value) => await hq.adoptRecord(key, value), adoptMany: async items => await hq.adoptRecords(items) }))
}

export interface HqReplicationInit {
  hq: HqNode
  /** The records replicas share, in the order they are brought over (default: hqRecordKinds). */
  kinds?: ReplicatedKind[]
  store: KvStore
  root: Signer
  /** This replica's libp2p peer id, and the addresses peers reach it at. */
  peerId: string
  multiaddrs: () => string[]
  transport: ReplicaTransport
  /** Bring this HQ's copy of a till's log up to a peer replica's (Automerge sync); answers the entries it took in. */
  pullTill: (addr: string, peerId: string, tillId: TillId) => Promise<number>
  /** Sync the catalogue document with a peer replica. */
  pullCatalogue: (addr: string, peerId: string) => Promise<void>
  /** Per kind, the count and sum of its records kept as they are written (SummedStore); default: a scan each summary. */
  recordSums?: () => Record<string, { count: number, sum: number }> | null
  /**
   * Whether this HQ is taking records in now (a close wave): its summary says so, and a replica
   * then leaves till logs for a later round (up to REPLICA_DEFER_MAX_MS), so that intake runs at
   * full speed. Default: never busy.
   */
  busy?: () => boolean
  /** The catalogue document's heads: when both replicas' are the same, it is not synced (default: always synced). */
  catalogueHeads?: () => string[]
  logger: Logger
  nowMs: () => number
  intervalMs?: number
  callTimeoutMs?: number
  /** Bytes of till logs in one `logged` answer (default REPLICA_ANSWER_BYTES_MAX; small in tests). */
  answerBytesMax?: number
}

/** Codes of a failed call (NetError) that mean the peer is gone or not answering: the round stops there. */
const PEER_GONE: ReadonlySet<string> = new Set(['TIMEOUT', 'CLOSED', 'STOPPED', 'DIAL'])

export interface ReplicationCounters {
  rounds: number
  roundsFailed: number
  recordsAdopted: number
  recordsDuplicate: number
  entriesAdded: number
  tillsPulled: number
  /** Of those, pulled as bare entries over the log protocol because Automerge's sync could not bring them (see the daemon's pullTill). */
  tillsPulledAsEntries: number
  /** Of those, tills this replica held nothing of, brought over whole in bulk (`logged`: many tills a request, no Automerge sync). */
  tillsPulledInBulk: number
  /** Till pulls that failed (tried again next round). */
  tillPullsFailed: number
  /** Rounds that left till logs for later: the other HQ's intake was busy. */
  tillsDeferred: number
  /** Refused, by reason: a hello without our root key, a record whose signature fails, a record that contradicts ours, a request from a peer that never said hello, a malformed body. */
  refused: { rootKey: number, signature: number, record: number, notReplica: number, malformed: number }
}

interface PeerState {
  addr: string
  configured: boolean
  lastOkMs: number | null
  lastError: string | null
  lastRound: { records: number, entries: number, tills: number, ms: number } | null
}

type Summary = { tills: { count: number, digest: string }, records: Record<string, { count: number, sum: number }>, catalogue: string, busy: boolean }

function helloMessage (from: string, to: string, atMs: number): Uint8Array {
  return new TextEncoder().encode(`${HELLO_CONTEXT}\n${from}\n${to}\n${atMs}`)
}

function recordMessage (key: string, value: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(`${RECORD_CONTEXT}\n${key}\n`)
  const out = new Uint8Array(head.length + value.length)
  out.set(head, 0)
  out.set(value, head.length)
  return out
}

/** A malformed body from a peer. */
class MalformedBody extends Error {}

function obj (bytes: Uint8Array): Record<string, Canonical> {
  let v: Canonical
  try {
    v = canonicalDecode(bytes)
  } catch (err) {
    throw new MalformedBody(`not canonical CBOR: ${(err as Error).message}`)
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) throw new MalformedBody('a body is a map')
  return v as Record<string, Canonical>
}

function str (v: Canonical | undefined, what: string, max = 200): string {
  if (typeof v !== 'string' || v.length > max) throw new MalformedBody(`${what} must be text of at most ${max} characters`)
  return v
}

function num (v: Canonical | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new MalformedBody(`${what} must be a whole number ≥ 0`)
  return v
}

export class HqReplication {
  readonly #o: HqReplicationInit
  readonly #peers = new Map<string, PeerState>()
  /** Peers that said a valid hello to us (we serve them) */
  readonly #replicas = new Set<string>()
  readonly counters: ReplicationCounters = { rounds: 0, roundsFailed: 0, recordsAdopted: 0, recordsDuplicate: 0, entriesAdded: 0, tillsPulled: 0, tillsPulledAsEntries: 0, tillsPulledInBulk: 0, tillPullsFailed: 0, tillsDeferred: 0, refused: { rootKey: 0, signature: 0, record: 0, notReplica: 0, malformed: 0 } }
  readonly refusals: Array<{ atMs: number, peer: string, reason: string }> = []
  /** Records refused lately, by peer and key (the newest REPLICA_REFUSED_KEPT_MAX): asked for again after REPLICA_REFUSED_RETRY_MS. */
  readonly #refusedKeys = new Map<string, number>()
  /** Per peer, since when its till logs wait for its intake to quiet down. */
  readonly #deferredSince = new Map<string, number>()
  /** Per peer, when it last refused `logged` (an HQ from before it): till by till until REPLICA_REFUSED_RETRY_MS later. */
  readonly #bulkRefusedAt = new Map<string, number>()
  readonly #periodic = new Periodic(async () => {
    await this.syncAll().catch(() => {})
    return this.#o.intervalMs ?? REPLICA_SYNC_INTERVAL_MS
  })

  readonly #kinds: ReplicatedKind[]

  constructor (init: HqReplicationInit) {
    this.#o = init
    this.#kinds = init.kinds ?? hqRecordKinds(init.hq)
  }

  #kindOf (key: string): ReplicatedKind | undefined {
    return this.#kinds.find(k => key.startsWith(k.prefix) && (k.excludes === undefined || !key.startsWith(k.excludes)))
  }

  get rootKey (): PublicKey { return this.#o.root.publicKey }

  /** A replica to pull from, by its multiaddr with /p2p/<peer id> (from --replica-of, or a hello). */
  addPeer (addr: string, configured = true): void {
    const peerId = addr.split('/p2p/')[1]
    if (peerId === undefined || peerId === '') throw new Error(`replica ${addr} needs its /p2p/<peer id>`)
    if (peerId === this.#o.peerId) return
    const known = this.#peers.get(peerId)
    if (known !== undefined) {
      // The operator's address wins over one learnt from a hello (which may have come first).
      if (configured && !known.configured) {
        known.configured = true
        known.addr = addr
      }
      return
    }
    if (this.#peers.size >= REPLICA_PEERS_MAX) throw new RefusedError(`${REPLICA_PEERS_MAX} replicas known already`)
    this.#peers.set(peerId, { addr, configured, lastOkMs: null, lastError: null, lastRound: null })
  }

  /** Whether `peerId` is a replica of this HQ (it said a valid hello, or is configured). */
  isReplica (peerId: string): boolean {
    return this.#replicas.has(peerId) || this.#peers.has(peerId)
  }

  status (): { peerId: string, peers: Array<{ peerId: string } & PeerState>, counters: ReplicationCounters, refusals: Array<{ atMs: number, peer: string, reason: string }> } {
    return { peerId: this.#o.peerId, peers: [...this.#peers].map(([peerId, p]) => ({ peerId, ...p })), counters: this.counters, refusals: this.refusals.slice(-20) }
  }

  #refuse (kind: keyof ReplicationCounters['refused'], peer: string, reason: string): RefusedError {
    this.counters.refused[kind]++
    this.refusals.push({ atMs: this.#o.nowMs(), peer, reason })
    if (this.refusals.length > 100) this.refusals.shift()
    this.#o.logger.warn({ peer, kind, reason }, 'replica refused')
    return new RefusedError(reason)
  }

  #hello (to: string): Uint8Array {
    const atMs = this.#o.nowMs()
    return canonicalEncode({ rootKey: toHex(this.rootKey), peerId: this.#o.peerId, multiaddrs: this.#o.multiaddrs().slice(0, 8), atMs, sig: this.#o.root.sign(helloMessage(this.#o.peerId, to, atMs)) })
  }

  /** A hello from `from` (to us): signed by our root key, for this pair of peers, recent. Answers its addresses. */
  #checkHello (body: Uint8Array, from: string): string[] {
    const o = obj(body)
    const rootKey = str(o.rootKey, 'rootKey', 64)
    if (rootKey !== toHex(this.rootKey)) throw this.#refuse('rootKey', from, `a replica of another HQ: root key ${rootKey.slice(0, 16)}…, ours is ${toHex(this.rootKey).slice(0, 16)}…`)
    if (str(o.peerId, 'peerId', 100) !== from) throw this.#refuse('rootKey', from, 'a hello for another peer id than the one that sent it')
    const atMs = num(o.atMs, 'atMs')
    if (Math.abs(this.#o.nowMs() - atMs) > REPLICA_HELLO_SKEW_MS) throw this.#refuse('rootKey', from, 'a hello too old or from the future (replayed?)')
    if (!(o.sig instanceof Uint8Array) || !verifySignature(o.sig, helloMessage(from, this.#o.peerId, atMs), this.rootKey)) throw this.#refuse('rootKey', from, 'a hello not signed by our root key')
    const addrs = Array.isArray(o.multiaddrs) ? o.multiaddrs.slice(0, 8).map((a, i) => str(a, `multiaddrs[${i}]`, 300)) : []
    return addrs
  }

  /** The server side: a peer replica's request. */
  async serve (op: ReplicaOp, body: Uint8Array, from: string): Promise<Uint8Array> {
    try {
      if (op === 'hello') {
        const addrs = this.#checkHello(body, from)
        this.#replicas.add(from)
        // Pulled from in turn: a link named on one side works both ways.
        const addr = addrs.find(a => a.includes('/ip4/127.0.0.1/') || a.includes('/ip4/')) ?? addrs[0]
        // Its own address only: a hello never makes a third peer a replica here.
        if (addr !== undefined && (!addr.includes('/p2p/') || addr.endsWith(`/p2p/${from}`))) {
          try {
            this.addPeer(addr.includes('/p2p/') ? addr : `${addr}/p2p/${from}`, false)
          } catch (err) {
            this.#o.logger.warn({ from, err: (err as Error).message }, 'replica not added')
          }
        }
        return this.#hello(from)
      }
      if (!this.isReplica(from)) throw this.#refuse('notReplica', from, 'say hello first: HQ records are served to replicas of this HQ only')
      if (op === 'summary') return canonicalEncode(await this.summary() as unknown as Canonical)
      if (op === 'tills') {
        const o = obj(body)
        const after = str(o.after, 'after', 40)
        const page = [...this.#o.hq.tillSums].filter(([t]) => t > after).sort((a, b) => a[0] < b[0] ? -1 : 1).slice(0, REPLICA_PAGE_MAX)
        return canonicalEncode({ tills: page.map(([t, s]) => [t, s.count, s.sum]) })
      }
      if (op === 'keys') {
        const o = obj(body)
        const prefix = str(o.prefix, 'prefix', 4)
        const kind = this.#kinds.find(k => k.prefix === prefix)
        if (kind === undefined) throw new MalformedBody(`${prefix} is not a replicated prefix`)
        const after = str(o.after, 'after', 300)
        const keys: string[] = []
        // From `after` on (a key sorts before every key that extends it: `after\0` is the next).
        const range = { gte: after === '' ? prefix : `${after}\u0000`, lt: prefixEnd(prefix), limit: REPLICA_PAGE_MAX }
        let last = after
        const digests: number[] = []
        for await (const [key, value] of this.#o.store.entries(range)) {
          last = key
          if (this.#kindOf(key) !== kind) continue
          keys.push(key)
          if (kind.settlesConflicts === true) digests.push(recordDigest48(key, value))
        }
        return canonicalEncode(kind.settlesConflicts === true ? { keys, last, digests } : { keys, last })
      }
      if (op === 'logged') {
        const o = obj(body)
        if (!Array.isArray(o.tills) || o.tills.length > REPLICA_LOGGED_TILLS_PER_CALL) throw new MalformedBody(`tills: a list of at most ${REPLICA_LOGGED_TILLS_PER_CALL}`)
        const asked = o.tills.map((t, i) => str(t, `tills[${i}]`, 40) as TillId)
        // Whole tills, in the order asked, as many as fit a frame; the rest are asked again (a
        // till too large for one answer alone is sent as nothing: it is pulled by Automerge sync).
        const tills: Canonical[] = []
        const budget = this.#o.answerBytesMax ?? REPLICA_ANSWER_BYTES_MAX
        let bytes = 0
        for (const tillId of asked) {
          // Read no further than the room left: a till that does not fit is not read whole.
          const values = await this.#o.hq.tillLogged(tillId, { bytesMax: budget - bytes })
          if (values === null) {
            if (tills.length === 0) tills.push([tillId, []])
            break
          }
          for (const v of values) bytes += v.length + 8
          tills.push([tillId, values])
        }
        return canonicalEncode({ tills })
      }
      // records
      const o = obj(body)
      if (!Array.isArray(o.keys) || o.keys.length > REPLICA_RECORDS_PER_CALL) throw new MalformedBody(`keys: a list of at most ${REPLICA_RECORDS_PER_CALL}`)
      const records: Canonical[] = []
      const tooLarge: string[] = []
      let bytes = 0
      for (const [i, k] of o.keys.entries()) {
        const key = str(k, `keys[${i}]`, 300)
        if (this.#kindOf(key) === undefined) throw new MalformedBody(`${key} is not a replicated record`)
        const value = await this.#o.store.get(key)
        if (value === undefined) continue
        // A frame holds so much: the rest is asked for again; a record larger than a frame never travels (said, and logged).
        if (value.length > REPLICA_ANSWER_BYTES_MAX) {
          tooLarge.push(key)
          this.#o.logger.warn({ key, bytes: value.length }, 'an HQ record too large for a replica frame: not replicated')
          continue
        }
        if (bytes + value.length > REPLICA_ANSWER_BYTES_MAX) break
        bytes += value.length
        records.push({ key, value, sig: this.#o.root.sign(recordMessage(key, value)) })
      }
      return canonicalEncode({ records, tooLarge })
    } catch (err) {
      if (err instanceof MalformedBody) throw this.#refuse('malformed', from, err.message)
      throw err
    }
  }

  /** What this replica holds, in short: per kind of HQ record a count and sum, one digest over every till's. */
  async summary (): Promise<Summary> {
    const kept = this.#o.recordSums?.() ?? null
    const records: Record<string, { count: number, sum: number }> = {}
    for (const kind of this.#kinds) {
      if (kept !== null) {
        records[kind.prefix] = kept[kind.prefix] ?? { count: 0, sum: 0 }
        continue
      }
      const prefix = kind.prefix
      let count = 0
      let sum = 0
      for await (const [key, value] of this.#o.store.entries({ gte: prefix, lt: prefixEnd(prefix) })) {
        if (this.#kindOf(key) !== kind) continue
        count++
        sum = (sum + recordDigest48(key, value)) % MOD48
      }
      records[prefix] = { count, sum }
    }
    const h = createHash('sha256')
    const tills = [...this.#o.hq.tillSums].sort((a, b) => a[0] < b[0] ? -1 : 1)
    for (const [t, s] of tills) h.update(`${t}:${s.count}:${s.sum}\n`)
    return { tills: { count: tills.length, digest: h.digest('hex') }, records, catalogue: [...this.#o.catalogueHeads?.() ?? []].sort().join(','), busy: this.#o.busy?.() === true }
  }

  /** Start the rounds (every intervalMs, each peer in turn). */
  start (): void {
    this.#periodic.start()
  }

  async stop (): Promise<void> {
    await this.#periodic.stop()
  }

  /** One round with every known replica. */
  async syncAll (): Promise<void> {
    for (const [peerId, p] of [...this.#peers]) {
      if (this.#periodic.stopped) return
      const t0 = performance.now()
      try {
        const r = await this.syncWith(p.addr, peerId)
        p.lastOkMs = this.#o.nowMs()
        if (p.lastError !== null) this.#o.logger.info({ peer: peerId }, 'replica reachable again')
        p.lastError = null
        p.lastRound = { ...r, ms: Math.round(performance.now() - t0) }
        this.counters.rounds++
      } catch (err) {
        const message = (err as Error).message
        if (p.lastError !== message) this.#o.logger.warn({ peer: peerId, err: message }, 'replica round failed; tried again')
        p.lastError = message
        this.counters.roundsFailed++
      }
    }
  }

  async #ask (addr: string, op: ReplicaOp, body: Canonical): Promise<Record<string, Canonical>> {
    const answer = await this.#o.transport.askReplica(addr, op, canonicalEncode(body), { timeoutMs: this.#o.callTimeoutMs ?? 10_000 })
    try {
      return obj(answer)
    } catch (err) {
      throw this.#refuse('malformed', addr, `${op} answer: ${(err as Error).message}`)
    }
  }

  /** Bring this replica up to what the one at `addr` holds. */
  async syncWith (addr: string, peerId: string): Promise<{ records: number, entries: number, tills: number }> {
    // 1. Hello both ways: each proves it holds our root key, for this pair of peers.
    const answer = await this.#o.transport.askReplica(addr, 'hello', this.#hello(peerId), { timeoutMs: this.#o.callTimeoutMs ?? 10_000 })
    try {
      this.#checkHello(answer, peerId)
    } catch (err) {
      if (err instanceof MalformedBody) throw this.#refuse('malformed', peerId, `hello answer: ${err.message}`)
      throw err
    }
    this.#replicas.add(peerId)
    // 2. Summaries.
    const t0 = performance.now()
    const theirs = await this.#ask(addr, 'summary', {}) as unknown as Summary
    const ours = await this.summary()
    let records = 0
    // 3. HQ records: certificates first (a till's entries need its enrolment).
    for (const { prefix } of this.#kinds) {
      const t = theirs.records?.[prefix]
      const o = ours.records[prefix]
      if (t === undefined || o === undefined || (t.count === o.count && t.sum === o.sum)) continue
      records += await this.#fetchRecords(addr, peerId, prefix)
    }
    const t1 = performance.now()
    // 4. The catalogue: costs the books need, and every statement HQ and the stores made.
    if (this.#o.catalogueHeads === undefined || theirs.catalogue !== ours.catalogue) await this.#o.pullCatalogue(addr, peerId)
    const t2 = performance.now()
    // 5. Till logs whose summaries differ.
    let entries = 0
    let tills = 0
    // Their intake busy (a close wave): till logs wait for a later round, up to REPLICA_DEFER_MAX_MS.
    const now = this.#o.nowMs()
    const deferred = this.#deferredSince.get(peerId)
    if (theirs.busy === true && theirs.tills?.digest !== ours.tills.digest && (deferred === undefined || now - deferred < REPLICA_DEFER_MAX_MS)) {
      if (deferred === undefined) this.#deferredSince.set(peerId, now)
      this.counters.tillsDeferred++
      if (records > 0) this.#o.logger.info({ peer: peerId, records, entries, tills, ms: { records: Math.round(t1 - t0), catalogue: Math.round(t2 - t1) }, tillsDeferred: true }, 'replica: brought up to a peer (its till logs left for a later round: its intake is busy)')
      return { records, entries, tills }
    }
    this.#deferredSince.delete(peerId)
    if (theirs.tills?.digest !== ours.tills.digest) {
      const mine = this.#o.hq.tillSums
      let after = ''
      for (;;) {
        const page = (await this.#ask(addr, 'tills', { after })).tills
        if (!Array.isArray(page) || page.length === 0) break
        let differing: TillId[] = []
        const listed = new Map<TillId, { count: number, sum: number }>()
        for (const row of page) {
          if (!Array.isArray(row) || row.length !== 3) throw this.#refuse('malformed', peerId, 'a till summary is [tillId, count, sum]')
          const tillId = str(row[0], 'tillId', 40) as TillId
          const count = num(row[1], 'count')
          const sum = num(row[2], 'sum')
          after = tillId
          const m = mine.get(tillId)
          // Different sets (theirs may hold what ours lacks; if only ours holds more, they gain by their own pull).
          if (m === undefined || m.count !== count || m.sum !== sum) {
            differing.push(tillId)
            listed.set(tillId, { count, sum })
          }
        }
        // Tills this HQ holds nothing of (a fresh replica, a new store): their logs whole, in bulk.
        const fresh = differing.filter(t => !mine.has(t))
        const refusedAt = this.#bulkRefusedAt.get(peerId)
        if (fresh.length > 0 && (refusedAt === undefined || this.#o.nowMs() - refusedAt >= REPLICA_REFUSED_RETRY_MS)) {
          const bulk = await this.#pullLogged(addr, peerId, fresh, listed)
          entries += bulk.entries
          tills += bulk.tills.size
          differing = differing.filter(t => !bulk.tills.has(t))
        }
        // A few tills at once: each pull is a few round trips, mostly waiting. A till that fails
        // is counted and tried again next round; every worker is waited for before the round ends.
        let next = 0
        let failed: Error | null = null
        await Promise.all(Array.from({ length: Math.min(REPLICA_PULLS_IN_FLIGHT, differing.length) }, async () => {
          while (next < differing.length && failed === null) {
            const tillId = differing[next++] as TillId
            try {
              // Awaited first, then added: `entries += await …` would add to the total read before the wait.
              const added = await this.#o.pullTill(addr, peerId, tillId)
              entries += added
              tills++
              // Counted as it happens: a round that fails later has still brought this till.
              this.counters.entriesAdded += added
              this.counters.tillsPulled++
            } catch (err) {
              this.counters.tillPullsFailed++
              // The peer gone (or stopping): the rest of the page waits for the next round.
              const code = (err as { code?: unknown }).code
              // (Our own HQ busy is not the peer gone, whatever a till id in its reason spells.)
              if (this.#periodic.stopped || PEER_GONE.has(code as string) || (!(err instanceof HqBusyError) && /unreachable|STOPPED|DIAL|CLOSED|TIMEOUT/.test((err as Error).message))) failed = err as Error
            }
          }
        }))
        if (failed !== null) throw failed
        if (page.length < REPLICA_PAGE_MAX) break
      }
    }
    if (records + entries > 0) {
      const t3 = performance.now()
      this.#o.logger.info({ peer: peerId, records, entries, tills, ms: { records: Math.round(t1 - t0), catalogue: Math.round(t2 - t1), tills: Math.round(t3 - t2) } }, 'replica: brought up to a peer')
    }
    return { records, entries, tills }
  }

  /**
   * Tills this HQ holds nothing of, their logs fetched whole (`logged`: the other HQ's log values
   * as they are, many tills a request) and submitted like anything a till sends: verified,
   * logged, folded. Answers the tills brought over; any other (too large for one answer, or a
   * peer that does not serve `logged`) is left to Automerge sync, till by till.
   */
  async #pullLogged (addr: string, peerId: string, fresh: readonly TillId[], listed: ReadonlyMap<TillId, { count: number, sum: number }>): Promise<{ tills: Set<TillId>, entries: number }> {
    const done = new Set<TillId>()
    let entries = 0
    // Requests of REPLICA_LOGGED_TILLS_PER_CALL tills, REPLICA_CALLS_IN_FLIGHT at once; the tills
    // an answer had no room for are asked again. A till's values all come in one answer, in seq
    // order, so each is submitted whole whatever order the answers come in.
    const queue: TillId[][] = []
    for (let i = 0; i < fresh.length; i += REPLICA_LOGGED_TILLS_PER_CALL) queue.push(fresh.slice(i, i + REPLICA_LOGGED_TILLS_PER_CALL))
    let stop = false
    let failed: Error | null = null
    const worker = async (): Promise<void> => {
      for (let asked = queue.shift(); asked !== undefined && !stop; asked = queue.shift()) {
        let answer: Record<string, Canonical>
        try {
          answer = await this.#ask(addr, 'logged', { tills: asked })
        } catch (err) {
          // An HQ from before `logged` answers MALFORMED (or this one found its answer malformed):
          // these tills, and its next rounds' for a while, by Automerge sync. Anything else (the
          // peer gone, busy, slow) is the round's failure, tried again next round.
          const code = (err as { code?: unknown }).code
          if (err instanceof RefusedError || code === 'MALFORMED' || code === 'REFUSED' || code === 'NO_HANDLER') {
            if (!stop) this.#o.logger.warn({ peer: peerId, err: (err as Error).message }, 'replica: till logs not served in bulk; pulled till by till')
            this.#bulkRefusedAt.set(peerId, this.#o.nowMs())
            stop = true
            return
          }
          throw err
        }
        const rows = answer.tills
        if (!Array.isArray(rows) || rows.length === 0 || rows.length > asked.length) throw this.#refuse('malformed', peerId, 'logged: a list of the tills asked, in order')
        const values: Uint8Array[] = []
        const took: TillId[] = []
        for (const [i, row] of rows.entries()) {
          if (!Array.isArray(row) || row.length !== 2 || row[0] !== asked[i] || !Array.isArray(row[1]) || !row[1].every(v => v instanceof Uint8Array)) {
            throw this.#refuse('malformed', peerId, 'logged: each row is [the till asked, [its log values]]')
          }
          // Nothing sent for a till: too large for one answer (Automerge sync brings it).
          if (row[1].length === 0) continue
          for (const v of row[1]) values.push(v as Uint8Array)
          took.push(row[0] as TillId)
        }
        if (rows.length < asked.length) queue.push(asked.slice(rows.length))
        // Each value is checked as a till's own would be: a forged or altered one is refused and counted there.
        // Awaited first, then added (`entries += await …` would add to the total read before the wait).
        const added = await submitAll(this.#o.hq, values)
        entries += added
        this.counters.entriesAdded += added
        // Brought over only if this HQ now holds what the peer listed for the till: values refused,
        // or not the till's, leave it to Automerge sync, till by till, in this round.
        for (const t of took) {
          const m = this.#o.hq.tillSums.get(t)
          const l = listed.get(t)
          if (m !== undefined && l !== undefined && m.count === l.count && m.sum === l.sum) {
            done.add(t)
            this.counters.tillsPulled++
            this.counters.tillsPulledInBulk++
          }
        }
      }
    }
    // Every worker is waited for before the round goes on (or fails): none submits after it.
    await Promise.all(Array.from({ length: Math.min(REPLICA_CALLS_IN_FLIGHT, queue.length) }, async () => {
      try {
        await worker()
      } catch (err) {
        stop = true
        failed ??= err as Error
      }
    }))
    if (failed !== null) throw failed
    return { tills: done, entries }
  }

  /** Every record under `prefix` the peer holds and we do not, fetched, checked and adopted. */
  async #fetchRecords (addr: string, peerId: string, prefix: string): Promise<number> {
    let adopted = 0
    let after = ''
    for (;;) {
      const answer = await this.#ask(addr, 'keys', { prefix, after })
      const keys = answer.keys
      if (!Array.isArray(keys)) throw this.#refuse('malformed', peerId, 'keys must be a list')
      const page = keys.map((k, i) => str(k, `keys[${i}]`, 300))
      const last = str(answer.last, 'last', 300)
      if (page.some(k => !k.startsWith(prefix))) throw this.#refuse('malformed', peerId, `a key outside ${prefix}`)
      const missing: string[] = []
      const now = this.#o.nowMs()
      // A kind that settles conflicts lists each record's digest (an older replica's listing has none).
      const digests = Array.isArray(answer.digests) && answer.digests.length === page.length ? answer.digests : null
      for (const [i, k] of page.entries()) {
        // A record refused lately (it contradicts ours) is not fetched again every round.
        const refusedAt = this.#refusedKeys.get(`${peerId}\u0000${k}`)
        if (refusedAt !== undefined && now - refusedAt < REPLICA_REFUSED_RETRY_MS) continue
        const ours = await this.#o.store.get(k)
        if (ours === undefined) missing.push(k)
        else if (digests !== null && digests[i] !== recordDigest48(k, ours)) missing.push(k)
      }
      // REPLICA_RECORDS_PER_CALL keys a request; up to REPLICA_CALLS_IN_FLIGHT asked ahead while one
      // is taken in, but taken in one after another, in key order, as before (a record may need
      // one before it). Each chunk is asked again for what its answer left out.
      const chunks: string[][] = []
      for (let i = 0; i < missing.length; i += REPLICA_RECORDS_PER_CALL) chunks.push(missing.slice(i, i + REPLICA_RECORDS_PER_CALL))
      // Asked ahead, by chunk; an answer is let go once taken in.
      const ahead = new Map<number, Promise<Record<string, Canonical>>>()
      for (let c = 0; c < chunks.length; c++) {
        for (let j = c; j < Math.min(chunks.length, c + REPLICA_CALLS_IN_FLIGHT); j++) {
          if (ahead.has(j)) continue
          const p = this.#ask(addr, 'records', { keys: chunks[j] as string[] })
          // Awaited in its turn; until then a failure must not count as unhandled.
          p.catch(() => {})
          ahead.set(j, p)
        }
        let pending = ahead.get(c)
        ahead.delete(c)
        let chunk = chunks[c] as string[]
        while (chunk.length > 0) {
          const wanted = chunk
          const answer = await (pending ?? this.#ask(addr, 'records', { keys: wanted }))
          pending = undefined
          const got = answer.records
          if (!Array.isArray(got) || !Array.isArray(answer.tooLarge)) throw this.#refuse('malformed', peerId, 'records and tooLarge must be lists')
          const settled = new Set<string>([...answer.tooLarge.map(k => String(k))])
          const checked: Array<{ key: string, value: Uint8Array }> = []
          const kind = this.#kinds.find(k => k.prefix === prefix) as ReplicatedKind
          for (const r of got) {
            if (r === null || typeof r !== 'object' || Array.isArray(r) || r instanceof Uint8Array) throw this.#refuse('malformed', peerId, 'a record is { key, value, sig }')
            const rec = r as Record<string, Canonical>
            const key = str(rec.key, 'key', 300)
            const value = rec.value
            const sig = rec.sig
            if (!wanted.includes(key) || !(value instanceof Uint8Array) || !(sig instanceof Uint8Array)) { this.#refuse('malformed', peerId, `record ${key}: not one asked for, or without value and signature`); continue }
            settled.add(key)
            if (!verifySignature(sig, recordMessage(key, value), this.rootKey)) { this.#refuse('signature', peerId, `record ${key}: not signed by our root key (forged or altered)`); continue }
            if (this.#kindOf(key) !== kind) { this.#refuse('malformed', peerId, `record ${key}: not a ${prefix} record`); continue }
            checked.push({ key, value })
          }
          // Not fetched (nor read whole again) every round: asked for again after REPLICA_REFUSED_RETRY_MS.
          const later = (key: string): void => {
            this.#refusedKeys.set(`${peerId}\u0000${key}`, this.#o.nowMs())
            if (this.#refusedKeys.size > REPLICA_REFUSED_KEPT_MAX) this.#refusedKeys.delete(this.#refusedKeys.keys().next().value as string)
          }
          const outcome = async (key: string, o: 'adopted' | 'duplicate' | Error): Promise<void> => {
            if (o === 'adopted') { adopted++; this.counters.recordsAdopted++ } else if (o === 'duplicate') this.counters.recordsDuplicate++
            else if (o instanceof ReplicaRecordError || o instanceof MembersError) {
              this.#refuse('record', peerId, o.message)
              later(key)
            } else throw o
          }
          if (kind.adoptMany !== undefined && checked.length > 0) {
            const outcomes = await kind.adoptMany(checked)
            for (const [k, o] of outcomes.entries()) await outcome((checked[k] as { key: string }).key, o)
          } else {
            for (const { key, value } of checked) {
              let o: 'adopted' | 'duplicate' | Error
              try {
                o = await kind.adopt(key, value)
              } catch (err) {
                o = err as Error
              }
              await outcome(key, o)
            }
          }
          // Progress or stop: a peer answering nothing of what was asked (it holds it no more, or answers other keys) is not asked for this chunk again this round.
          if (!wanted.some(k => settled.has(k))) break
          chunk = chunk.filter(k => !settled.has(k))
        }
      }
      // A page scans REPLICA_PAGE_MAX keys of the prefix (some maybe of another kind): on from the last scanned.
      if (last === after || last <= after) break
      after = last
    }
    return adopted
  }
}


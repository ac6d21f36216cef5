/**
 * `tillbooks enrol`: give a till directory its key and HQ's certificate for it. For a
 * replacement till after a fire, first recover the slot's log from whoever holds a copy
 * (neighbour stores over libp2p, HQ over its admin API), keep the longest chain that
 * verifies against HQ's certificates, make sure HQ has all of it, and enrol the new key
 * from the next seq: the replacement continues the numbering and can never reuse a number.
 */
import { randomBytes } from 'node:crypto'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { fromHex, toHex, type Entry, type PublicKey, type StoreId, type TillId, tillIdOf, Signer } from '@tillbooks/protocol'
import type { CandidateRejection, LogCandidate } from '../recovery/chooseChain.ts'
import { systemClock, type Logger } from '../components.ts'
import { readTillIdentity, tillDbDir, tillKey, writeTillIdentity } from './dataDir.ts'
import { HqClient } from './HqClient.ts'
import type { ClientAuth } from '../access/client.ts'

export interface EnrolOptions {
  hqUrl: string
  dataDir: string
  store: StoreId
  till: number
  /** Multiaddrs of peers holding a replica of this till's log (neighbour stores' tills). */
  recoverFrom?: string[]
  /** The credential for HQ: an enrolment code for this slot, or the admin token; and a private CA. */
  auth: ClientAuth
  logger: Logger
  timeoutMs?: number
}

export interface EnrolResult {
  tillId: TillId
  publicKey: string
  /** The till's libp2p peer id (its key): neighbours can be configured before it first starts. */
  peerId: string
  fromSeq: number
  /** withHistory: the replacement took the recovered document's own changes over (not the entries re-appended). */
  recovered: { seq: number, hash: string, from: string, docLast: number | null, withHistory?: boolean } | null
  rejected: CandidateRejection[]
  offered: Record<string, number>
}

export async function enrolTill (o: EnrolOptions): Promise<EnrolResult> {
  const timeoutMs = o.timeoutMs ?? 15_000
  const hq = new HqClient(o.hqUrl, { timeoutMs, auth: o.auth })
  const tillId = tillIdOf(o.store, o.till)
  const pair = await tillKey(o.dataDir)
  const publicKey = toHex(pair.publicKey)
  const peerId = peerIdFromPublicKey(publicKeyFromRaw(pair.publicKey)).toString()
  const existing = await readTillIdentity(o.dataDir)
  const recoverFrom = o.recoverFrom ?? []
  if (existing !== null) {
    if (existing.tillId !== tillId || existing.publicKey !== publicKey) throw new Error(`${o.dataDir} is already enrolled as ${existing.tillId} with another key`)
    if (recoverFrom.length === 0) return { tillId, publicKey, peerId, fromSeq: existing.fromSeq, recovered: null, rejected: [], offered: {} }
    throw new Error(`${o.dataDir} is already enrolled: a replacement starts from an empty directory`)
  }

  let fromSeq = 1
  let recovered: EnrolResult['recovered'] = null
  let rejected: CandidateRejection[] = []
  let offered: Record<string, number> = {}
  let chain: Entry[] = []
  /** The recovered documents, to take the chain over with its history. */
  const docs: Array<import('@tillbooks/crdt').TillLog> = []
  if (recoverFrom.length > 0) {
    // Loaded only for a replacement: a plain enrolment of a fleet stays quick (no libp2p, no Automerge).
    const { chooseChain, enrolmentOf } = await import('../recovery/chooseChain.ts')
    const { NetError, RefusedError, TillbooksPeer } = await import('../net/TillbooksPeer.ts')
    const certs = await hq.certificates(tillId)
    const enrolment = enrolmentOf(certs.rootKey, certs.certificates)
    const candidates: LogCandidate[] = []
    const unreachable: CandidateRejection[] = []
    const { TillLog, actorIdFor } = await import('@tillbooks/crdt')
    // HQ's copy as a document (the till's own changes HQ took in), merged into one of ours,
    // which screens it: a candidate like any, and history to take over when it has the chain.
    const fromHq = TillLog.create(tillId, { actorId: actorIdFor(tillId, 'recovery:hq') })
    const hqCopy = TillLog.load(await hq.logDocument(tillId))
    try {
      fromHq.merge(hqCopy)
    } finally {
      hqCopy.free()
    }
    candidates.push({ source: 'hq', entries: fromHq.entryBytes() })
    docs.push(fromHq)
    // A throwaway identity: fetching a replica needs no trust either way. Each peer's copy is
    // synced into a document of its own (Automerge's sync protocol, screened), so each is a
    // candidate on its own; a peer that does not speak am-sync is asked for entries instead.
    const { DocSync } = await import('../sync/DocSync.ts')
    const { MemoryStore } = await import('../storage/MemoryStore.ts')
    const peer = await TillbooksPeer.create({ seed: randomBytes(32), listen: [], logger: o.logger })
    const states = new MemoryStore()
    await states.open()
    try {
      for (const [i, addr] of recoverFrom.entries()) {
        const source = `peer:${addr}`
        const log = TillLog.create(tillId, { actorId: actorIdFor(tillId, `recovery:${i}`) })
        const sync = new DocSync({ peer, store: states, logger: o.logger, callTimeoutMs: timeoutMs, docs: { served: () => undefined, replicaFor: id => id === tillId ? log : undefined, changed: async () => {} } })
        try {
          await sync.pull(addr, addr.split('/p2p/')[1] ?? addr, tillId)
          candidates.push({ source, entries: log.entryBytes() })
          docs.push(log)
        } catch (err) {
          if (err instanceof NetError && err.code === 'NO_HANDLER') {
            try {
              candidates.push({ source, entries: await peer.fetchLog(addr, tillId, 0, { timeoutMs }) })
            } catch (e) {
              unreachable.push({ source, reason: `unreachable: ${(e as Error).message}` })
            }
          } else {
            unreachable.push({ source, reason: err instanceof RefusedError || (err instanceof NetError && err.code === 'REFUSED') ? `refused: ${(err as Error).message}` : `unreachable: ${(err as Error).message}` })
          }
        }
      }
    } finally {
      await peer.stop()
      await states.close()
    }
    const choice = chooseChain(tillId, enrolment, candidates)
    rejected = [...unreachable, ...choice.rejected]
    offered = choice.offered
    chain = choice.entries
    if (choice.head !== null && choice.from !== null) {
      const last = [...chain].reverse().find(e => e.record.kind === 'close')
      recovered = { seq: choice.head.seq, hash: choice.head.hash, from: choice.from, docLast: last === undefined ? null : (last.record as { docLast: number }).docLast }
      fromSeq = choice.head.seq + 1
      // HQ gets the whole chain: what it lacked is folded once, what it had is a duplicate.
      const refused = (await hq.submit(chain.map(e => e.bytes))).filter(x => x.status === 'rejected')
      if (refused.length > 0) throw new Error(`HQ refused the recovered chain: ${refused[0]?.reason ?? ''}`)
    }
  }

  const cert = await hq.enrol({ store: o.store, till: o.till, tillKey: pair.publicKey, fromSeq })
  if (chain.length > 0) {
    const { TillNode } = await import('../till/TillNode.ts')
    const { LevelStore } = await import('../storage/LevelStore.ts')
    const { demoCatalogue } = await import('@tillbooks/catalogue')
    const node = new TillNode({ store: new LevelStore(tillDbDir(o.dataDir)), clock: systemClock, logger: o.logger }, {
      store: o.store, till: o.till, signer: new Signer(pair), catalogue: demoCatalogue(), hqRootKey: fromHex(cert.hqRootKey) as PublicKey
    })
    await node.start()
    // The chain with its history when a recovered document carries exactly it (its heads then
    // equal the neighbours' replicas'), else appended anew.
    const { keyOfBytes } = await import('@tillbooks/crdt')
    const keys = chain.map(e => keyOfBytes(e.bytes).key)
    let changes: Uint8Array[] | null = null
    for (const d of docs) if ((changes = d.changesPutting(keys)) !== null) break
    try {
      const adopted = await node.adoptRecoveredLog(chain, changes)
      if (recovered !== null) recovered.withHistory = adopted.withHistory
    } finally {
      await node.stop()
    }
  }
  // Written last: a directory with till.json is a till that may start.
  await writeTillIdentity(o.dataDir, { store: o.store, till: o.till, tillId, publicKey, certificate: cert.certificate, hqRootKey: cert.hqRootKey, fromSeq })
  return { tillId, publicKey, peerId, fromSeq, recovered, rejected, offered }
}

/**
 * Putting a recovered chain onto a replacement till: its data dir (node/src/daemon/dataDir.ts
 * layout) gets a key if it has none, the chain adopted into its TillNode log on LevelDB, so
 * it continues the document numbering after the last recovered Close, and (with HQ) its key
 * enrolled from the next seq, written to till.json.
 */
import { parseTillId, Signer, toHex, type PublicKey, type TillId } from '@tillbooks/protocol'
import { demoCatalogue } from '@tillbooks/catalogue'
import { silentLogger, systemClock } from '../components.ts'
import { readTillIdentity, tillDbDir, tillKey, writeTillIdentity } from '../daemon/dataDir.ts'
import { LevelStore } from '../storage/LevelStore.ts'
import { TillNode } from '../till/TillNode.ts'
import type { HqClient } from '../daemon/HqClient.ts'
import type { RestoredTill } from './recover.ts'

export interface TillDirState { tillId: TillId, headSeq: number, publicKey: PublicKey }

async function openTill (dir: string, tillId: TillId, rootKey: PublicKey): Promise<{ node: TillNode, signer: Signer }> {
  const { store, till } = parseTillId(tillId)
  const id = await readTillIdentity(dir)
  if (id !== null && id.tillId !== tillId) throw new Error(`${dir} belongs to till ${id.tillId}, not ${tillId}`)
  const signer = new Signer(await tillKey(dir))
  const node = new TillNode({ store: new LevelStore(tillDbDir(dir)), clock: systemClock, logger: silentLogger }, { store, till, signer, catalogue: demoCatalogue(), hqRootKey: rootKey })
  await node.start()
  return { node, signer }
}

/** What the till dir already holds (its log's head seq), creating its key if absent. */
export async function tillDirState (dir: string, tillId: TillId, rootKey: PublicKey): Promise<TillDirState> {
  const { node, signer } = await openTill(dir, tillId, rootKey)
  try {
    return { tillId, headSeq: node.head?.record.seq ?? 0, publicKey: signer.publicKey }
  } finally {
    await node.stop()
  }
}

export interface TillDirRestore {
  dir: string
  tillId: TillId
  /** False when the dir already held the chain up to its head. */
  adopted: boolean
  headSeq: number
  nextDocNo: string
  /** Set when HQ enrolled the replacement key. */
  enrolledFromSeq: number | null
  publicKey: string
}

/** Adopt the recovered chain in `dir` and, with HQ, enrol the dir's key from lastSeq + 1. */
export async function restoreToTillDir (dir: string, r: RestoredTill, rootKey: PublicKey, hq?: HqClient): Promise<TillDirRestore> {
  const { node, signer } = await openTill(dir, r.tillId, rootKey)
  let adopted = false
  let status
  try {
    const head = node.head?.record.seq ?? 0
    if (head === 0) {
      await node.adoptRecoveredLog(r.entries)
      adopted = true
    } else if (head < r.lastSeq || node.head?.hash !== r.entries[head - 1]?.hash) {
      throw new Error(`${dir} already holds a log to seq ${head} that is not the recovered chain's prefix; a replacement till starts from an empty data dir`)
    }
    status = node.status()
  } finally {
    await node.stop()
  }
  let enrolledFromSeq: number | null = null
  if (hq !== undefined) {
    const fromSeq = r.lastSeq + 1
    const { store, till } = parseTillId(r.tillId)
    const id = await readTillIdentity(dir)
    if (id !== null && id.publicKey === toHex(signer.publicKey) && id.fromSeq === fromSeq) {
      enrolledFromSeq = fromSeq
    } else {
      const res = await hq.enrol({ store, till, tillKey: signer.publicKey, fromSeq })
      await writeTillIdentity(dir, { store, till, tillId: r.tillId, publicKey: toHex(signer.publicKey), certificate: res.certificate, hqRootKey: res.hqRootKey, fromSeq: res.fromSeq })
      enrolledFromSeq = res.fromSeq
    }
  }
  return { dir, tillId: r.tillId, adopted, headSeq: status.headSeq, nextDocNo: status.nextDocNo, enrolledFromSeq, publicKey: toHex(signer.publicKey) }
}

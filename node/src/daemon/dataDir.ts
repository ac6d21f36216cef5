/**
 * What a daemon keeps on disk besides its LevelDB. A till's directory:
 *   key         its Ed25519 seed (hex, mode 0600): the till IS this key, and its libp2p identity
 *   till.json   { store, till, tillId, publicKey, certificate, hqRootKey, fromSeq }, written by `enrol`
 *   db/         TillNode's journal and its log, an Automerge document (LevelDB)
 *   replicas/   neighbour stores' logs this till keeps, as Automerge documents, and its sync states (LevelDB)
 *   mail/       the email backup outbox, when backups are on (LevelDB)
 *   admin.token, viewer.token   the till HTTP API's tokens (mode 0600), needed only beyond loopback
 * HQ's directory:
 *   root.key    HQ's root seed (hex, mode 0600): signs certificates and replenishment orders
 *   admin.token the admin token (mode 0600, written at first start): every HTTP route
 *   viewer.token the viewer token (mode 0600): the read routes, when HTTP listens beyond loopback
 *   db/         HQ's log (LevelDB), and the enrolment codes it issued (hashed)
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fromHex, keyPairFromSeed, toHex, type KeyPair, type StoreId, type TillId } from '@tillbooks/protocol'

export interface TillIdentity {
  store: StoreId
  till: number
  tillId: TillId
  /** Hex of the till's Ed25519 public key. */
  publicKey: string
  /** Base64 of the HQ-signed certificate. */
  certificate: string
  /** Hex of HQ's root public key, learnt at enrolment. */
  hqRootKey: string
  fromSeq: number
}

export const tillDbDir = (dir: string): string => join(dir, 'db')
export const replicaDbDir = (dir: string): string => join(dir, 'replicas')
export const hqDbDir = (dir: string): string => join(dir, 'db')
/** A daemon's own admin and viewer token files (HQ's and a till's alike). */
export const adminTokenFile = (dir: string): string => join(dir, 'admin.token')
export const viewerTokenFile = (dir: string): string => join(dir, 'viewer.token')

/** 32 secret bytes kept in a file as hex (mode 0600), made at first use. */
async function readOrCreateSecret (path: string): Promise<Uint8Array> {
  let hex: string | undefined
  try {
    hex = (await readFile(path, 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (hex === undefined) {
    hex = toHex(randomBytes(32))
    await writeFileAtomic(path, hex + '\n', 0o600)
  }
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${path} is not 32 bytes of hex`)
  return fromHex(hex)
}

async function readOrCreateSeed (path: string): Promise<KeyPair> {
  return keyPairFromSeed(await readOrCreateSecret(path))
}

/** Write to a temporary name, then rename: a crash leaves the old file or the new, never half. */
export async function writeFileAtomic (path: string, data: string, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, data, { mode, flush: true })
  await rename(tmp, path)
}

export async function tillKey (dir: string): Promise<KeyPair> {
  await mkdir(dir, { recursive: true })
  return await readOrCreateSeed(join(dir, 'key'))
}

export async function hqRootKey (dir: string): Promise<KeyPair> {
  await mkdir(dir, { recursive: true })
  return await readOrCreateSeed(join(dir, 'root.key'))
}

/**
 * An HQ replica's own libp2p identity (`DIR/peer.key`): replicas share the root key, and two
 * peers with one identity could not reach each other. Created when asked (`--replica-of`);
 * an HQ without one is reached under its root key's peer id, as before replicas.
 */
export async function hqPeerKey (dir: string, create: boolean): Promise<KeyPair | null> {
  const path = join(dir, 'peer.key')
  if (!create) {
    try {
      await readFile(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  }
  return await readOrCreateSeed(path)
}

/** Whether HQ's root key is in `dir` already (a replica's must be copied there, never made). */
export async function hasHqRootKey (dir: string): Promise<boolean> {
  try {
    await readFile(join(dir, 'root.key'))
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/**
 * HQ's key for the keyed hashes of members' phone numbers (HMAC-SHA256: 32 random bytes, hex,
 * mode 0600, created at first start). It never leaves HQ: without it a hash kept gives back no
 * number, and no guess can be tested against it.
 */
export async function hqMemberKey (dir: string): Promise<Uint8Array> {
  await mkdir(dir, { recursive: true })
  return await readOrCreateSecret(join(dir, 'member.key'))
}

export async function readTillIdentity (dir: string): Promise<TillIdentity | null> {
  try {
    return JSON.parse(await readFile(join(dir, 'till.json'), 'utf8')) as TillIdentity
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

export async function writeTillIdentity (dir: string, id: TillIdentity): Promise<void> {
  await writeFileAtomic(join(dir, 'till.json'), JSON.stringify(id, null, 2) + '\n')
}

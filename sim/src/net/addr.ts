/**
 * Addresses known before a daemon starts. Neighbour replication is mutual (a till pulls a
 * neighbour's log only when that neighbour is in its own --neighbours list), so in a ring of
 * stores every till must know its neighbours' multiaddrs before any of them starts. The
 * peer id follows from the till's enrolled Ed25519 key (its libp2p identity); the port is
 * chosen here (see reservePorts), checked free just before the start.
 */
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

export function base58btc (bytes: Uint8Array): string {
  let n = 0n
  for (const b of bytes) n = n * 256n + BigInt(b)
  let s = ''
  while (n > 0n) {
    s = (ALPHABET[Number(n % 58n)] as string) + s
    n /= 58n
  }
  for (const b of bytes) {
    if (b !== 0) break
    s = '1' + s
  }
  return s
}

/** libp2p's peer id of an Ed25519 public key: identity multihash of the protobuf PublicKey { Type: Ed25519, Data }. */
export function peerIdOfEd25519 (publicKeyHex: string): string {
  if (!/^[0-9a-f]{64}$/.test(publicKeyHex)) throw new Error(`not a 32-byte hex key: ${publicKeyHex.slice(0, 70)}`)
  const key = Buffer.from(publicKeyHex, 'hex')
  return base58btc(new Uint8Array([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...key]))
}

/** The kernel's range for ephemeral (outgoing and port-0) TCP ports. */
export function ephemeralRange (): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (lo !== undefined && hi !== undefined && Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && lo <= hi) return [lo, hi]
  } catch { /* not Linux */ }
  return [32768, 60999]
}

async function tryListen (port: number): Promise<Server | null> {
  const s = createServer()
  return await new Promise<Server | null>(resolve => {
    s.once('error', () => { resolve(null) })
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => { resolve(s) })
  })
}

/**
 * `n` distinct TCP ports on 127.0.0.1 that were free a moment ago, for daemons whose address
 * must be known before they start. They are taken from below the kernel's ephemeral range,
 * at a random offset: an ephemeral port could be handed to any outgoing connection (ours or
 * anyone's) between our check and the daemon's bind, a port below the range only to someone
 * binding it by number. Each is checked by binding it, all are held at once, then released.
 */
export async function reservePorts (n: number, random: () => number = Math.random): Promise<number[]> {
  const [ephemeralLo] = ephemeralRange()
  const lo = 10_000
  const hi = Math.max(lo + n * 4, ephemeralLo - 1)
  const held: Server[] = []
  const ports: number[] = []
  try {
    let port = lo + Math.floor(random() * Math.max(1, hi - lo - n * 2))
    for (let tries = 0; ports.length < n && tries < n * 20 + 1000; tries++) {
      if (port > hi) port = lo
      const s = await tryListen(port)
      if (s !== null) { held.push(s); ports.push(port) }
      port++
    }
    if (ports.length < n) throw new Error(`could not find ${n} free ports in ${lo}..${hi}`)
    return ports
  } finally {
    await Promise.all(held.map(async s => { await new Promise<void>(resolve => { s.close(() => { resolve() }) }) }))
  }
}

export function tillMultiaddr (port: number, peerId: string): string {
  return `/ip4/127.0.0.1/tcp/${port}/p2p/${peerId}`
}

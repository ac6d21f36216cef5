/**
 * A TCP gate on 127.0.0.1: a plain byte relay between a store's tills and HQ's libp2p port,
 * which the launcher can cut and heal. A cut destroys every connection through it and
 * refuses new ones, so the tills see HQ vanish exactly as a WAN outage looks to them (their
 * dials fail, they keep selling and retry). Noise runs end to end through it: the relay
 * reads nothing and cannot impersonate HQ.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'

export class TcpGate {
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  #target: { host: string, port: number }
  #open = true
  port = 0
  connections = 0
  refused = 0

  constructor (target: { host: string, port: number }) {
    this.#target = target
    this.#server = createServer(client => {
      if (!this.#open) {
        this.refused++
        client.destroy()
        return
      }
      this.connections++
      const upstream = createConnection(this.#target)
      this.#sockets.add(client)
      this.#sockets.add(upstream)
      const drop = (): void => {
        client.destroy()
        upstream.destroy()
        this.#sockets.delete(client)
        this.#sockets.delete(upstream)
      }
      client.on('error', drop).on('close', drop)
      upstream.on('error', drop).on('close', drop)
      client.pipe(upstream)
      upstream.pipe(client)
    })
  }

  async listen (): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(0, '127.0.0.1', () => { resolve() })
    })
    const addr = this.#server.address()
    if (addr === null || typeof addr === 'string') throw new Error('gate: no address')
    this.port = addr.port
    return this.port
  }

  get isOpen (): boolean { return this.#open }

  /** Cut the link: every live connection dies, new ones are refused. */
  cut (): void {
    this.#open = false
    for (const s of this.#sockets) s.destroy()
    this.#sockets.clear()
  }

  heal (): void {
    this.#open = true
  }

  async close (): Promise<void> {
    this.cut()
    await new Promise<void>(resolve => { this.#server.close(() => { resolve() }) })
  }
}

/** Rewrite a multiaddr's TCP port: /ip4/127.0.0.1/tcp/P/p2p/ID → /ip4/127.0.0.1/tcp/NEW/p2p/ID. */
export function withPort (multiaddr: string, port: number): string {
  const out = multiaddr.replace(/\/tcp\/\d+/, `/tcp/${port}`)
  if (out === multiaddr && !/\/tcp\/\d+/.test(multiaddr)) throw new Error(`not a TCP multiaddr: ${multiaddr}`)
  return out
}

/** The TCP port of a multiaddr. */
export function portOf (multiaddr: string): number {
  const m = /\/tcp\/(\d+)/.exec(multiaddr)
  if (m === null) throw new Error(`not a TCP multiaddr: ${multiaddr}`)
  return Number(m[1])
}

/**
 * A simulated WAN: each message is delayed by a latency with jitter (which also reorders
 * messages), may be lost or duplicated, and is dropped across a cut link or to a node that
 * is down. Delivery is an event on the scheduler, so a run replays from its seed.
 */
import type { Prng } from './Prng.ts'
import type { Scheduler } from './Scheduler.ts'

export interface LinkProfile {
  latencyMs: number
  jitterMs: number
  lossRate: number
  duplicateRate: number
}

export const QUIET_LINK: LinkProfile = { latencyMs: 20, jitterMs: 0, lossRate: 0, duplicateRate: 0 }

export type Handler<M> = (from: string, message: M) => void

export class SimNetwork<M> {
  readonly #scheduler: Scheduler
  readonly #prng: Prng
  readonly #handlers = new Map<string, Handler<M>>()
  /** `a|b` → virtual time until which the link is cut (both directions). */
  readonly #cuts = new Map<string, number>()
  /**
   * Groups of nodes off the WAN until a time: a message between a node inside one and a node
   * outside it is dropped (a store whose uplink is down; its own nodes still reach each other).
   * Apart from `#cuts`, so that a fence and a cut on one link never shorten each other.
   */
  #fences: Array<{ inside: ReadonlySet<string>, untilMs: number }> = []
  #profile: LinkProfile
  readonly stats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, cut: 0, down: 0 }

  constructor (scheduler: Scheduler, prng: Prng, profile: LinkProfile) {
    this.#scheduler = scheduler
    this.#prng = prng
    this.#profile = profile
  }

  setProfile (profile: LinkProfile): void {
    this.#profile = profile
  }

  /** Attach a node; `undefined` takes it off the network (down: messages to it are dropped). */
  attach (address: string, handler: Handler<M> | undefined): void {
    if (handler === undefined) this.#handlers.delete(address)
    else this.#handlers.set(address, handler)
  }

  cut (a: string, b: string, untilMs: number): void {
    this.#cuts.set(linkKey(a, b), untilMs)
  }

  /** Cut every node of `inside` off from every node outside it until `untilMs`. */
  fence (inside: Iterable<string>, untilMs: number): void {
    this.#fences.push({ inside: new Set(inside), untilMs })
  }

  isCut (a: string, b: string): boolean {
    const until = this.#cuts.get(linkKey(a, b))
    if (until !== undefined && this.#scheduler.nowMs < until) return true
    if (this.#fences.length === 0) return false
    const now = this.#scheduler.nowMs
    this.#fences = this.#fences.filter(f => now < f.untilMs)
    return this.#fences.some(f => f.inside.has(a) !== f.inside.has(b))
  }

  send (from: string, to: string, message: M): void {
    this.stats.sent++
    if (this.isCut(from, to)) { this.stats.cut++; return }
    const p = this.#profile
    if (this.#prng.chance(p.lossRate)) { this.stats.lost++; return }
    const copies = this.#prng.chance(p.duplicateRate) ? 2 : 1
    if (copies === 2) this.stats.duplicated++
    for (let i = 0; i < copies; i++) {
      const delay = p.latencyMs + (p.jitterMs > 0 ? this.#prng.int(0, p.jitterMs) : 0)
      this.#scheduler.after(delay, () => {
        // Checked at delivery too: a link cut or a node crashed while the message flew.
        if (this.isCut(from, to)) { this.stats.cut++; return }
        const handler = this.#handlers.get(to)
        if (handler === undefined) { this.stats.down++; return }
        this.stats.delivered++
        handler(from, message)
      })
    }
  }
}

function linkKey (a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`
}

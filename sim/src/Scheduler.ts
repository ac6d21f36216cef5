/**
 * The simulator's virtual clock and event queue. Events run one at a time in (time,
 * insertion) order; after each, every promise chain it started runs to completion or
 * to its next virtual timer before the clock moves, so async node code is deterministic.
 */
import { setImmediate as macrotask } from 'node:timers/promises'

interface Event { atMs: number, order: number, run: () => unknown }

export class Scheduler {
  #nowMs: number
  #order = 0
  #heap: Event[] = []
  eventsRun = 0

  constructor (startMs: number) {
    this.#nowMs = startMs
  }

  get nowMs (): number { return this.#nowMs }

  /** Run `fn` at virtual time `atMs` (now, if in the past). */
  at (atMs: number, fn: () => unknown): void {
    this.#push({ atMs: Math.max(atMs, this.#nowMs), order: this.#order++, run: fn })
  }

  after (delayMs: number, fn: () => unknown): void {
    this.at(this.#nowMs + delayMs, fn)
  }

  /** A promise that resolves after `delayMs` of virtual time. */
  sleep (delayMs: number): Promise<void> {
    return new Promise(resolve => this.after(delayMs, resolve))
  }

  /** Run events until the queue is empty or the next one is after `untilMs`. */
  async runUntil (untilMs: number, eventsMax = 50_000_000): Promise<void> {
    while (this.#heap.length > 0 && (this.#heap[0] as Event).atMs <= untilMs) {
      if (this.eventsRun++ > eventsMax) throw new Error(`simulation exceeded ${eventsMax} events`)
      const e = this.#pop()
      this.#nowMs = e.atMs
      const r = e.run()
      if (r instanceof Promise) r.catch((err: unknown) => { this.failure ??= err })
      // Let every microtask the event started settle before the clock moves.
      await macrotask()
      if (this.failure !== undefined) throw this.failure
    }
    this.#nowMs = Math.max(this.#nowMs, untilMs)
  }

  failure: unknown = undefined

  get pending (): number { return this.#heap.length }

  #less (a: Event, b: Event): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.order < b.order)
  }

  #push (e: Event): void {
    const h = this.#heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.#less(h[i] as Event, h[p] as Event)) break
      ;[h[i], h[p]] = [h[p] as Event, h[i] as Event]
      i = p
    }
  }

  #pop (): Event {
    const h = this.#heap
    const top = h[0] as Event
    const last = h.pop() as Event
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.#less(h[l] as Event, h[m] as Event)) m = l
        if (r < h.length && this.#less(h[r] as Event, h[m] as Event)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m] as Event, h[i] as Event]
        i = m
      }
    }
    return top
  }
}

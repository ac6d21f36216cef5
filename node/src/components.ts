/**
 * What a node takes from its environment. Production passes the system clock, pino and
 * LevelDB; the simulator passes a virtual clock, a recording logger and MemoryStore, so
 * the same node code runs deterministically from a seed.
 */
import type { KvStore } from './storage/KvStore.ts'

export interface Clock {
  /** Milliseconds since the epoch, as this node's clock says (it may be skewed). */
  nowMs (): number
}

export interface Logger {
  info (obj: object, msg?: string): void
  warn (obj: object, msg?: string): void
  error (obj: object, msg?: string): void
}

export const systemClock: Clock = { nowMs: () => Date.now() }

export const silentLogger: Logger = { info () {}, warn () {}, error () {} }

export interface NodeComponents {
  store: KvStore
  clock: Clock
  logger: Logger
}

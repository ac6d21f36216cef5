/**
 * A small seeded PRNG (sfc32, seeded through splitmix32) so every simulated run replays
 * exactly from its seed. `fork(label)` derives an independent stream, so adding a draw in
 * one part of the simulation does not shift every other part's randomness.
 */
export class Prng {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor (seed: number | string) {
    let h = typeof seed === 'number' ? (seed >>> 0) ^ Math.floor(seed / 2 ** 32) : hashString(seed)
    const next = (): number => {
      h = (h + 0x9e3779b9) | 0
      let z = h
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.#a = next()
    this.#b = next()
    this.#c = next()
    this.#d = next()
    for (let i = 0; i < 12; i++) this.u32()
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  u32 (): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0
    this.#d = (this.#d + 1) | 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) | 0
    this.#c = (this.#c << 21) | (this.#c >>> 11)
    this.#c = (this.#c + t) | 0
    return t >>> 0
  }

  /** An integer in [min, max], inclusive, without modulo bias. */
  int (min: number, max: number): number {
    const span = max - min + 1
    if (!Number.isSafeInteger(span) || span <= 0 || span > 2 ** 32) throw new RangeError(`bad range ${min}..${max}`)
    const limit = 2 ** 32 - (2 ** 32 % span)
    let x = this.u32()
    while (x >= limit) x = this.u32()
    return min + (x % span)
  }

  /** True with probability `p` (given as a rational of 1e6 to stay in integers). */
  chance (p: number): boolean {
    return this.int(0, 999_999) < Math.round(p * 1_000_000)
  }

  pick<T> (items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list')
    return items[this.int(0, items.length - 1)] as T
  }

  /** `k` distinct items, in random order. */
  sample<T> (items: readonly T[], k: number): T[] {
    const copy = [...items]
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(0, i)
      const t = copy[i] as T
      copy[i] = copy[j] as T
      copy[j] = t
    }
    return copy.slice(0, Math.min(k, copy.length))
  }

  bytes (n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff
    return out
  }

  /** An independent stream named `label`, derived from this one's seed state. */
  fork (label: string): Prng {
    return new Prng(`${this.#a}:${this.#b}:${this.#c}:${this.#d}:${label}`)
  }
}

function hashString (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * Growable byte writer and a bounds-checked reader: LEB128 varints (zig-zag for signed),
 * exact up to 2^53 by arithmetic rather than 32-bit bit operations. For checkpoints of the
 * books (checkpointCodec.ts), where millions of small integers are written and read.
 */
import { invariant } from '@tillbooks/protocol'

export class ByteWriter {
  #buf: Uint8Array
  #at = 0

  constructor (initialBytes = 1 << 16) {
    this.#buf = new Uint8Array(initialBytes)
  }

  /** Bytes written so far. */
  get size (): number { return this.#at }

  finish (): Uint8Array {
    return this.#buf.slice(0, this.#at)
  }

  u8 (b: number): void {
    this.#room(1)
    this.#buf[this.#at++] = b
  }

  /** Unsigned LEB128, exact for every safe integer ≥ 0. */
  uint (n: number): void {
    invariant(Number.isSafeInteger(n) && n >= 0, `${n} is not a safe unsigned integer`)
    this.#room(8)
    while (n >= 0x80) {
      this.#buf[this.#at++] = (n % 0x80) + 0x80
      n = Math.floor(n / 0x80)
    }
    this.#buf[this.#at++] = n
  }

  /**
   * Zig-zag, then LEB128: small magnitudes of either sign take few bytes. Written from the
   * magnitude and the sign without forming the zig-zag value itself (2|n| passes 2^53 for
   * |n| > 2^52, and money may reach 2^53 − 1 cents): the same bytes for every n it fits.
   */
  int (n: number): void {
    invariant(Number.isSafeInteger(n), `${n} is not a safe integer`)
    const sign = n < 0 ? 1 : 0
    const m = n < 0 ? -(n + 1) : n
    // The zig-zag value's first 7 bits are the magnitude's low 6 and the sign; the rest is m / 64.
    const low = (m % 64) * 2 + sign
    let rest = Math.floor(m / 64)
    this.#room(9)
    if (rest === 0) {
      this.#buf[this.#at++] = low
      return
    }
    this.#buf[this.#at++] = low + 0x80
    while (rest >= 0x80) {
      this.#buf[this.#at++] = (rest % 0x80) + 0x80
      rest = Math.floor(rest / 0x80)
    }
    this.#buf[this.#at++] = rest
  }

  raw (b: Uint8Array): void {
    this.#room(b.length)
    this.#buf.set(b, this.#at)
    this.#at += b.length
  }

  #room (n: number): void {
    if (this.#at + n <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#at + n) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.#buf.subarray(0, this.#at))
    this.#buf = grown
  }
}

export class ByteFormatError extends Error {
  override name = 'ByteFormatError'
}

export class ByteReader {
  readonly #b: Uint8Array
  #at: number
  readonly #end: number
  readonly #what: string

  constructor (bytes: Uint8Array, what: string, start = 0, end = bytes.length) {
    this.#b = bytes
    this.#at = start
    this.#end = end
    this.#what = what
  }

  get done (): boolean { return this.#at >= this.#end }
  get at (): number { return this.#at }

  fail (what: string): never {
    throw new ByteFormatError(`${this.#what}: bad ${what} at byte ${this.#at}`)
  }

  u8 (): number {
    if (this.#at >= this.#end) this.fail('end')
    return this.#b[this.#at++] as number
  }

  uint (): number {
    let n = 0
    let scale = 1
    for (;;) {
      const b = this.u8()
      n += (b & 0x7f) * scale
      if (b < 0x80) break
      scale *= 0x80
      if (scale > 2 ** 56) this.fail('varint')
    }
    if (!Number.isSafeInteger(n)) this.fail('varint')
    return n
  }

  /** ByteWriter.int's: exact for every safe integer. */
  int (): number {
    const first = this.u8()
    let m = (first & 0x7f) >> 1
    if (first >= 0x80) m += this.uint() * 64
    if (!Number.isSafeInteger(m)) this.fail('varint')
    return (first & 1) === 0 ? m : -m - 1
  }

  /** A view of the next `n` bytes (no copy; a plain Uint8Array even over a Buffer). */
  view (n: number): Uint8Array {
    if (this.#at + n > this.#end) this.fail('end')
    const out = new Uint8Array(this.#b.buffer, this.#b.byteOffset + this.#at, n)
    this.#at += n
    return out
  }
}

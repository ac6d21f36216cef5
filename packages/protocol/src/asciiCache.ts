/**
 * Short ASCII strings decoded from bytes, shared: a record's map keys, skus, store ids and
 * days repeat from one record to the next, so decoding returns the string made last time
 * instead of building a new one character by character (and, for map keys, V8 finds it
 * already interned). Internal to the decoders in openFast.ts and trusted.ts.
 */

const SLOTS = 4096
const LENGTH_MAX = 24
const cache: string[] = new Array<string>(SLOTS).fill('')

/** The string of b[start, end) if every byte is ASCII, else null (the caller decodes UTF-8). */
export function asciiString (b: Uint8Array, start: number, end: number): string | null {
  const n = end - start
  if (n > LENGTH_MAX) {
    let s = ''
    for (let i = start; i < end; i++) {
      const c = b[i] as number
      if (c >= 0x80) return null
      s += String.fromCharCode(c)
    }
    return s
  }
  let h = n
  for (let i = start; i < end; i++) {
    const c = b[i] as number
    if (c >= 0x80) return null
    h = Math.imul(h ^ c, 0x01000193)
  }
  const slot = (h ^ (h >>> 15)) & (SLOTS - 1)
  const cached = cache[slot] as string
  if (cached.length === n) {
    let same = true
    for (let i = 0; i < n; i++) {
      if (cached.charCodeAt(i) !== b[start + i]) { same = false; break }
    }
    if (same) return cached
  }
  let s = ''
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i] as number)
  cache[slot] = s
  return s
}

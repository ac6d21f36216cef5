/**
 * Enrolment codes: what an operator reads out to the person setting up a till. 25 Crockford
 * base32 symbols (125 random bits) in five groups of five; typed back, case, hyphens, spaces
 * and the look-alikes I/L (for 1) and O (for 0) do not matter. A code is stored only as the
 * SHA-256 of its normal form.
 */
import { randomBytes } from 'node:crypto'
import { CODE_SYMBOLS, CODE_TTL_MAX_MS, CODE_TTL_MIN_MS } from './constants.ts'

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** A new code, grouped for reading aloud: `K7Q2M-0ZJ4X-…`. */
export function newCode (): string {
  const bytes = randomBytes(CODE_SYMBOLS)
  let s = ''
  // 256 is a multiple of 32: each byte's low five bits are uniform.
  for (let i = 0; i < CODE_SYMBOLS; i++) s += ALPHABET[(bytes[i] as number) & 31]
  return s.match(/.{5}/g)?.join('-') ?? s
}

/** The code's normal form (what is hashed), or null when the text cannot be a code. */
export function normalCode (text: string): string | null {
  const s = text.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0')
  if (s.length !== CODE_SYMBOLS) return null
  for (const ch of s) if (!ALPHABET.includes(ch)) return null
  return s
}

/** `90s`, `30m`, `24h`, `7d` → milliseconds, within the bounds a code may live; else a reason. */
export function parseTtl (text: string): number {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(text.trim())
  if (m === null) throw new RangeError(`a ttl is a number and a unit, e.g. 90s, 30m, 24h or 7d; not ${JSON.stringify(text)}`)
  const ms = Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd']
  if (ms < CODE_TTL_MIN_MS || ms > CODE_TTL_MAX_MS) throw new RangeError(`a code lives between ${CODE_TTL_MIN_MS / 60_000} minute and ${CODE_TTL_MAX_MS / 86_400_000} days; ${text} is outside`)
  return ms
}

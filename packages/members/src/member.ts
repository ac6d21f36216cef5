/**
 * A member is a random id, never a phone number: HQ enrols a member and keeps only a keyed hash
 * of the normalised phone number (HMAC-SHA256 under a key that stays at HQ), to find the member
 * again when they give their number; tills and their logs carry the member id alone.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { MEMBER_ID_RE } from '@tillbooks/protocol'
import { E164_DIGITS_MAX, E164_DIGITS_MIN } from './constants.ts'
import { MembersError } from './errors.ts'

/** `m-` and 22 base64url characters: 128 random bits (the protocol's, which Closes carry). */
export { MEMBER_ID_RE }

export function newMemberId (random: (n: number) => Uint8Array = n => randomBytes(n)): string {
  const bytes = random(16)
  if (bytes.length !== 16) throw new MembersError('a member id needs 16 random bytes')
  return `m-${Buffer.from(bytes).toString('base64url')}`
}

export function isMemberId (s: unknown): s is string {
  return typeof s === 'string' && MEMBER_ID_RE.test(s)
}

/**
 * A phone number as E.164 (`+` and 7 to 15 digits): spaces, dots, dashes and brackets dropped,
 * a leading `00` read as `+`. A number without its country code is refused (HQ cannot guess it).
 * Refusals never repeat the input: they end up in logs, and a phone number must not.
 */
export function normalisePhone (input: string): string {
  if (typeof input !== 'string' || input.length > 40) throw new MembersError('a phone number is text of at most 40 characters')
  let s = input.trim().replace(/[\s.()-]/g, '')
  if (s.startsWith('00')) s = `+${s.slice(2)}`
  if (!s.startsWith('+')) throw new MembersError('a phone number is given with its country code (+44…, 0044…)')
  const digits = s.slice(1)
  if (!/^[1-9]\d*$/.test(digits) || digits.length < E164_DIGITS_MIN || digits.length > E164_DIGITS_MAX) {
    throw new MembersError(`not a phone number (E.164: + then ${E164_DIGITS_MIN} to ${E164_DIGITS_MAX} digits, the first not 0)`)
  }
  return `+${digits}`
}

/** The keyed hash HQ keeps of a phone number (hex): without the key, it does not give the number back, nor test guesses. */
export function phoneKey (key: Uint8Array, phone: string): string {
  if (key.length < 32) throw new MembersError('the phone key is at least 32 bytes')
  return createHmac('sha256', key).update(normalisePhone(phone)).digest('hex')
}

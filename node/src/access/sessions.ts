/**
 * Console sessions: signing in with the admin or viewer token once gives the browser a session
 * cookie (random, HttpOnly, SameSite=Strict, Secure beyond loopback) instead of keeping the
 * token in the page. A session acts with its token's role and nothing more; a change made
 * with it (any method but GET and HEAD) also needs its CSRF token, which the console's forms
 * carry. Bounded in number and age; ids are kept only as digests, compared in constant time.
 */
import { randomBytes } from 'node:crypto'
import { sameDigest, secretDigest, type SecretDigest } from './tokens.ts'

export const SESSION_COOKIE = 'tb_session'
/** Sessions kept at once: the oldest goes first beyond it. */
export const SESSIONS_MAX = 1_000
/** A session lasts a working day. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000

export interface Session { role: 'admin' | 'viewer', csrf: string, expiresAtMs: number }

export class ConsoleSessions {
  /** By the digest (hex) of the session id. */
  readonly #sessions = new Map<string, Session & { digest: SecretDigest }>()
  readonly #nowMs: () => number

  constructor (nowMs: () => number = () => Date.now()) {
    this.#nowMs = nowMs
  }

  /** A new session for a token's role: its id (the cookie) and CSRF token. */
  create (role: 'admin' | 'viewer'): { id: string, session: Session } {
    const id = randomBytes(32).toString('base64url')
    const digest = secretDigest(id)
    const session: Session = { role, csrf: randomBytes(24).toString('base64url'), expiresAtMs: this.#nowMs() + SESSION_TTL_MS }
    while (this.#sessions.size >= SESSIONS_MAX) this.#sessions.delete(this.#sessions.keys().next().value as string)
    this.#sessions.set(digest.toString('hex'), { ...session, digest })
    return { id, session }
  }

  /** The live session of a cookie value, if any. */
  get (id: string | undefined): Session | null {
    if (id === undefined || id.length < 20 || id.length > 100) return null
    const digest = secretDigest(id)
    const s = this.#sessions.get(digest.toString('hex'))
    if (s === undefined || !sameDigest(s.digest, digest)) return null
    if (s.expiresAtMs <= this.#nowMs()) {
      this.#sessions.delete(digest.toString('hex'))
      return null
    }
    return { role: s.role, csrf: s.csrf, expiresAtMs: s.expiresAtMs }
  }

  /** Whether `given` is the session's CSRF token (constant time). */
  csrfMatches (s: Session, given: unknown): boolean {
    return typeof given === 'string' && given.length > 0 && given.length <= 100 && sameDigest(secretDigest(given), secretDigest(s.csrf))
  }

  end (id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(secretDigest(id).toString('hex'))
  }

  get size (): number { return this.#sessions.size }
}

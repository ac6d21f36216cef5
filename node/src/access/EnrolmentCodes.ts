/**
 * The enrolment codes HQ has issued, kept in HQ's own LevelDB (`k!code!<sha256 hex>`) so they
 * survive a restart, and in memory by digest. A code enrols one key for one till slot, once,
 * before it expires: using it is written in the same fsync'd batch as the certificate it
 * bought (HqNode.enrol's `alsoWrite`), so a crash cannot leave a certificate whose code still
 * works, nor a spent code without its certificate. Other codes outstanding for the slot are
 * revoked in that batch too: a slot that has its till needs no second way in.
 *
 *   issued ──use──▶ used        (kept CODE_RECORD_KEPT_MS for the audit trail, then pruned)
 *     │
 *     ├──expiry──▶ expired
 *     └──another code of the slot used──▶ revoked
 */
import { prefixEnd, type KvOp, type KvStore } from '../storage/KvStore.ts'
import type { Clock } from '../components.ts'
import { CODE_RECORD_KEPT_MS, CODE_TTL_DEFAULT_MS, CODES_OUTSTANDING_MAX } from './constants.ts'
import { newCode, normalCode } from './codes.ts'
import { secretDigest, secretId, type SecretDigest } from './tokens.ts'

export const CODE_PREFIX = 'k!code!'

export interface CodeRecord {
  store: string
  till: number
  issuedAtMs: number
  expiresAtMs: number
  /** Set once used: when, and the key it enrolled. */
  usedAtMs?: number
  tillKey?: string
  /** Set when another code of the same slot was used first. */
  revokedAtMs?: number
}

export interface IssuedCode { code: string, store: string, till: number, expiresAt: string, codeId: string }

/** Why a code does not open a door: the text says which, without saying more than that. */
export class CodeRefusedError extends Error {
  static override name = 'CodeRefusedError'
  override name = 'CodeRefusedError'
}

export class TooManyCodesError extends Error {
  static override name = 'TooManyCodesError'
  override name = 'TooManyCodesError'
}

export interface CodeHolder { digest: SecretDigest, codeId: string, store: string, till: number }

export class EnrolmentCodes {
  readonly #store: KvStore
  readonly #clock: Clock
  readonly #byDigest = new Map<string, CodeRecord>()
  /** Digests of each slot's codes (`S1-1` → digests), to revoke a slot's others without a scan. */
  readonly #bySlot = new Map<string, Set<string>>()
  /** Codes neither used nor revoked (some may have expired since): recounted exactly at the limit. */
  #unspent = 0
  /** Digests of codes whose enrolment is in flight: a second use waits for none, it is refused. */
  readonly #inUse = new Set<string>()

  constructor (c: { store: KvStore, clock: Clock }) {
    this.#store = c.store
    this.#clock = c.clock
  }

  /** Load every code record; prune those spent or expired longer ago than CODE_RECORD_KEPT_MS. */
  async load (): Promise<{ outstanding: number, pruned: number }> {
    const now = this.#clock.nowMs()
    const prune: KvOp[] = []
    for await (const [key, value] of this.#store.entries({ gte: CODE_PREFIX, lt: prefixEnd(CODE_PREFIX) })) {
      const rec = JSON.parse(Buffer.from(value).toString('utf8')) as CodeRecord
      const endedAt = rec.usedAtMs ?? rec.revokedAtMs ?? rec.expiresAtMs
      if (endedAt + CODE_RECORD_KEPT_MS < now) prune.push({ type: 'del', key })
      else this.#remember(key.slice(CODE_PREFIX.length), rec)
    }
    if (prune.length > 0) await this.#store.batch(prune, { sync: true })
    return { outstanding: this.outstanding(), pruned: prune.length }
  }

  outstanding (): number {
    const now = this.#clock.nowMs()
    let n = 0
    for (const r of this.#byDigest.values()) if (isLive(r, now)) n++
    return n
  }

  #remember (digestHex: string, rec: CodeRecord): void {
    const before = this.#byDigest.get(digestHex)
    if (before !== undefined && isUnspent(before)) this.#unspent--
    if (isUnspent(rec)) this.#unspent++
    this.#byDigest.set(digestHex, rec)
    const slot = `${rec.store}-${rec.till}`
    let set = this.#bySlot.get(slot)
    if (set === undefined) this.#bySlot.set(slot, set = new Set())
    set.add(digestHex)
  }

  /** Issue a code for a till slot, durable before it is returned. */
  async issue (slot: { store: string, till: number }, ttlMs = CODE_TTL_DEFAULT_MS): Promise<IssuedCode> {
    if (this.#unspent >= CODES_OUTSTANDING_MAX && this.outstanding() >= CODES_OUTSTANDING_MAX) throw new TooManyCodesError(`${CODES_OUTSTANDING_MAX} enrolment codes are outstanding: let some be used or expire first`)
    const code = newCode()
    const digest = secretDigest(normalCode(code) as string)
    const now = this.#clock.nowMs()
    const rec: CodeRecord = { store: slot.store, till: slot.till, issuedAtMs: now, expiresAtMs: now + ttlMs }
    await this.#store.batch([{ type: 'put', key: CODE_PREFIX + digest.toString('hex'), value: encode(rec) }], { sync: true })
    this.#remember(digest.toString('hex'), rec)
    return { code, store: slot.store, till: slot.till, expiresAt: new Date(rec.expiresAtMs).toISOString(), codeId: secretId(digest) }
  }

  /**
   * The slot a presented code opens, or CodeRefusedError (unknown, used, revoked, expired).
   * Returns null when the text cannot be a code at all (then it is some other kind of token).
   */
  holder (text: string): CodeHolder | null {
    const normal = normalCode(text)
    if (normal === null) return null
    const digest = secretDigest(normal)
    // A map keyed by the digest: the lookup's time depends on the digest, not on the code.
    const rec = this.#byDigest.get(digest.toString('hex'))
    if (rec === undefined) throw new CodeRefusedError('unknown enrolment code')
    if (rec.usedAtMs !== undefined) throw new CodeRefusedError('this enrolment code has already been used')
    if (rec.revokedAtMs !== undefined) throw new CodeRefusedError('this enrolment code was revoked: its slot was enrolled with another code')
    if (rec.expiresAtMs <= this.#clock.nowMs()) throw new CodeRefusedError(`this enrolment code expired at ${new Date(rec.expiresAtMs).toISOString()}`)
    return { digest, codeId: secretId(digest), store: rec.store, till: rec.till }
  }

  /**
   * Enrol with a code: `enrol(ops)` must write `ops` in the batch that stores the certificate.
   * The code is held while `enrol` runs (a concurrent second use is refused) and stays usable
   * if `enrol` fails.
   */
  async spend<T> (h: CodeHolder, tillKey: string, enrol: (ops: KvOp[]) => Promise<T>): Promise<T> {
    const key = h.digest.toString('hex')
    if (this.#inUse.has(key)) throw new CodeRefusedError('this enrolment code is being used by another request')
    const rec = this.#byDigest.get(key)
    if (rec === undefined || !isLive(rec, this.#clock.nowMs())) throw new CodeRefusedError('this enrolment code is no longer valid')
    this.#inUse.add(key)
    try {
      const now = this.#clock.nowMs()
      const used: CodeRecord = { ...rec, usedAtMs: now, tillKey }
      const ops: KvOp[] = [{ type: 'put', key: CODE_PREFIX + key, value: encode(used) }]
      const revoked: Array<[string, CodeRecord]> = []
      for (const other of this.#bySlot.get(`${rec.store}-${rec.till}`) ?? []) {
        const r = this.#byDigest.get(other) as CodeRecord
        if (other !== key && isLive(r, now)) {
          const rr: CodeRecord = { ...r, revokedAtMs: now }
          revoked.push([other, rr])
          ops.push({ type: 'put', key: CODE_PREFIX + other, value: encode(rr) })
        }
      }
      const out = await enrol(ops)
      this.#remember(key, used)
      for (const [k, r] of revoked) this.#remember(k, r)
      return out
    } finally {
      this.#inUse.delete(key)
    }
  }

  /** Codes for the operator's list: never the code itself, only its id and its state. */
  list (): Array<{ codeId: string, store: string, till: number, issuedAt: string, expiresAt: string, state: 'outstanding' | 'used' | 'revoked' | 'expired' }> {
    const now = this.#clock.nowMs()
    return [...this.#byDigest].map(([d, r]) => ({
      codeId: d.slice(0, 8),
      store: r.store,
      till: r.till,
      issuedAt: new Date(r.issuedAtMs).toISOString(),
      expiresAt: new Date(r.expiresAtMs).toISOString(),
      state: r.usedAtMs !== undefined ? 'used' as const : r.revokedAtMs !== undefined ? 'revoked' as const : r.expiresAtMs <= now ? 'expired' as const : 'outstanding' as const
    })).sort((a, b) => a.issuedAt < b.issuedAt ? -1 : a.issuedAt > b.issuedAt ? 1 : a.codeId < b.codeId ? -1 : 1)
  }
}

function isUnspent (r: CodeRecord): boolean {
  return r.usedAtMs === undefined && r.revokedAtMs === undefined
}

function isLive (r: CodeRecord, now: number): boolean {
  return isUnspent(r) && r.expiresAtMs > now
}

function encode (r: CodeRecord): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(r), 'utf8'))
}

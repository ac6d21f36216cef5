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

/** An enrolment of the slot is in flight: try again once it has finished (HTTP 409). */
export class SlotBusyError extends Error {
  static override name = 'SlotBusyError'
  override name = 'SlotBusyError'
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
  /** Slots with an enrolment in flight: a second one, with this code or another of the slot's, is refused. */
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
    // A code issued while the slot's enrolment is in flight would miss that enrolment's revocations.
    if (this.#inUse.has(`${slot.store}-${slot.till}`)) throw new SlotBusyError(`an enrolment of till ${slot.store}-${slot.till} is in flight: issue its code after it`)
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
   * The slot is held while `enrol` runs (a concurrent enrolment of it, with this code or
   * another, is refused) and the code stays usable if `enrol` fails.
   */
  async spend<T> (h: CodeHolder, tillKey: string, enrol: (ops: KvOp[]) => Promise<T>): Promise<T> {
    const key = h.digest.toString('hex')
    const rec = this.#byDigest.get(key)
    if (rec === undefined || !isLive(rec, this.#clock.nowMs())) throw new CodeRefusedError('this enrolment code is no longer valid')
    return await this.#enrolSlot(rec.store, rec.till, key, tillKey, enrol)
  }

  /**
   * Enrol with the admin token: `enrol(ops)` writes `ops` with the certificate, revoking the
   * slot's outstanding codes (its till is there now: a leaked older code must not add a key).
   */
  async enrolByAdmin<T> (slot: { store: string, till: number }, enrol: (ops: KvOp[]) => Promise<T>): Promise<T> {
    return await this.#enrolSlot(slot.store, slot.till, null, null, enrol)
  }

  /** One enrolment per slot at a time: the code spent (if any) and the slot's other live codes revoked, in the certificate's batch. */
  async #enrolSlot<T> (store: string, till: number, spent: string | null, tillKey: string | null, enrol: (ops: KvOp[]) => Promise<T>): Promise<T> {
    const slot = `${store}-${till}`
    if (this.#inUse.has(slot)) throw new SlotBusyError(`another enrolment of till ${slot} is in flight`)
    this.#inUse.add(slot)
    try {
      const now = this.#clock.nowMs()
      const ops: KvOp[] = []
      const changed: Array<[string, CodeRecord]> = []
      if (spent !== null) {
        const rec = this.#byDigest.get(spent)
        if (rec === undefined || !isLive(rec, now)) throw new CodeRefusedError('this enrolment code is no longer valid')
        const used: CodeRecord = { ...rec, usedAtMs: now, ...(tillKey !== null ? { tillKey } : {}) }
        changed.push([spent, used])
      }
      for (const other of this.#bySlot.get(slot) ?? []) {
        const r = this.#byDigest.get(other) as CodeRecord
        if (other !== spent && isLive(r, now)) changed.push([other, { ...r, revokedAtMs: now }])
      }
      for (const [k, r] of changed) ops.push({ type: 'put', key: CODE_PREFIX + k, value: encode(r) })
      const out = await enrol(ops)
      for (const [k, r] of changed) this.#remember(k, r)
      return out
    } finally {
      this.#inUse.delete(slot)
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

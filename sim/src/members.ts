/**
 * Members in the simulator: enrolled at HQ by phone (seeded ids), earning on sales, redeeming
 * points as a tender within the rights their till holds, asking HQ for more when the till's
 * link to HQ is up (HQ's production HqMembers, over the simulator's HQ store), refused when it
 * is cut or HQ is down. The return window is a day, so points earned early in a run vest and
 * are redeemed within it.
 *
 * Its checks are independent of HQ's arithmetic: from the ground truth of what each till rang
 * up, no member redeemed more than they earned on days whose Closes HQ folded (HQ grants only
 * from those), and HQ's own view never shows a member overspent or a till's rights negative.
 */
import { HqMembers, type Clock, type HqNode, type KvStore, type RightsSource } from '@tillbooks/node'
import type { BusinessDay, Signer } from '@tillbooks/protocol'
import type { Prng } from './Prng.ts'
import type { TruthDay } from './Oracle.ts'

/** The simulated retailer's return window: points vest the day after the sale's till closed it. */
export const SIM_RETURN_WINDOW_DAYS = 1
/** A member pays with points now and then. */
export const REDEEM_CHANCE = 0.4
/** At most this many points at once. */
export const REDEEM_POINTS_MAX = 120
/** After a member's sale, their points are escrowed at the till ahead now and then. */
export const RESERVE_CHANCE = 0.5

export interface MemberCounts {
  redemptions: number
  redeemedPoints: number
  /** Asked beyond the till's rights with HQ out of reach: sold without points. */
  refusedOffline: number
  /** Asked beyond what the member has spendable: HQ refused; sold without points. */
  refusedByHq: number
  /** Redemptions within the till's rights: no round trip. */
  withinRights: number
  /** Rights escrowed at a till ahead of a redemption. */
  reserved: number
  /** Rights a till gave back unused. */
  givenBack: number
}

export class SimMembers {
  readonly #phones: readonly string[]
  readonly #ids = new Map<string, string>()
  readonly #idsPrng: Prng
  #hq: HqMembers | null = null
  /** Grants HQ made, by id: to whom, how many points, and whether HQ knew of the fork yet. */
  readonly #grants = new Map<string, { member: string, points: number, beforeFork: boolean }>()
  readonly counts: MemberCounts = { redemptions: 0, redeemedPoints: 0, refusedOffline: 0, refusedByHq: 0, withinRights: 0, reserved: 0, givenBack: 0 }

  constructor (phones: readonly string[], prng: Prng) {
    this.#phones = phones
    this.#idsPrng = prng
  }

  /** HQ (re)started: its members over its store; enrolled once, in order (ids drawn from the seed). */
  async start (o: { store: KvStore, root: Signer, clock: Clock, hq: HqNode }): Promise<void> {
    const newId = (): string => `m-${Buffer.from(this.#idsPrng.bytes(16)).toString('base64url')}`
    this.#hq = new HqMembers({ store: o.store, key: new Uint8Array(32).fill(42), root: o.root, clock: o.clock, hq: o.hq, returnWindowDays: SIM_RETURN_WINDOW_DAYS, newId })
    if (this.#ids.size === 0) for (const phone of this.#phones) this.#ids.set(phone, (await this.#hq.enrol(phone)).member)
  }

  stop (): void {
    this.#hq = null
  }

  /** The member id a phone number was enrolled with. */
  idOf (phone: string): string {
    const id = this.#ids.get(phone)
    if (id === undefined) throw new Error(`member ${phone} not enrolled`)
    return id
  }

  /**
   * HQ as a till sees it: reachable unless its link is cut or HQ is down. `forkFound`: whether
   * HQ knows of the equivocating till's fork, noted with each grant (grantsAroundFork).
   */
  rightsFor (signer: Signer, reachable: () => boolean, forkFound: () => boolean): RightsSource {
    return {
      ask: async req => {
        const hq = this.#hq
        if (hq === null || !reachable()) throw new Error('HQ out of reach')
        // Whether HQ knew of the fork when it began this grant (a grant under way as the fork is
        // found may have counted the fork's points: it is one made before).
        const beforeFork = !forkFound()
        const bytes = await hq.grant(req, signer.publicKey)
        // A retry's answer is the first grant again: noted once, as HQ stood when it first granted.
        if (!this.#grants.has(req.grantId)) this.#grants.set(req.grantId, { member: req.member, points: req.points, beforeFork })
        return bytes
      },
      giveBack: async req => {
        const hq = this.#hq
        if (hq === null || !reachable()) throw new Error('HQ out of reach')
        await hq.giveBack(req, signer.publicKey)
      }
    }
  }

  /** Per member, the points HQ granted before it knew of the fork (`before`), and after (`after`). */
  grantsAroundFork (): { before: Map<string, number>, after: Map<string, number> } {
    const before = new Map<string, number>()
    const after = new Map<string, number>()
    for (const g of this.#grants.values()) {
      const to = g.beforeFork ? before : after
      to.set(g.member, (to.get(g.member) ?? 0) + g.points)
    }
    return { before, after }
  }

  /** HQ's view of every member, today (null when HQ is down). */
  async views (today: string): Promise<Array<Awaited<ReturnType<HqMembers['view']>>> | null> {
    const hq = this.#hq
    if (hq === null) return null
    return await Promise.all([...this.#ids.values()].map(async m => await hq.view(m, today)))
  }
}

/** From the truth alone: per member, points earned on days whose Closes HQ never folds (the equivocating till's, from its fork on). */
export function earnedAtFork (days: readonly TruthDay[]): Map<string, number> {
  const out = new Map<string, number>()
  for (const d of days) {
    if (d.closeCounts) continue
    for (const s of d.sales) if (s.member !== null && s.kind === 'sale') out.set(s.member, (out.get(s.member) ?? 0) + (s.earnedPoints ?? 0))
  }
  return out
}

/**
 * From the truth alone: per member, points redeemed (net) against points earned on sales of days
 * whose Closes HQ folds. Overspent members are listed (an empty list is the invariant).
 *
 * One excess is no fault of HQ's: a fork found after HQ vested and granted points earned at the
 * equivocating till, which it then folds none of (no vesting rule can rule that out: the till's
 * key can sign a twin of any Close at any time). Points are redeemed only from grants, and once
 * HQ knows of the fork it grants only within what is left, so such a member can have redeemed
 * more than they earned on folded days by no more than HQ granted them before it knew
 * (`grantedBeforeFork`) less those earnings, and no more than they earned at the fork's till:
 * listed under `repaying` (their next points repay it); anything beyond, under `over`.
 */
export function overspent (days: readonly TruthDay[], grantedBeforeFork: ReadonlyMap<string, number> = new Map()): {
  over: Array<{ member: string, redeemed: number, earned: number, atFork: number }>
  repaying: Array<{ member: string, redeemed: number, earned: number, atFork: number }>
} {
  const earned = new Map<string, number>()
  const redeemed = new Map<string, number>()
  for (const d of days) {
    for (const s of d.sales) {
      if (s.member === null || s.kind !== 'sale') continue
      redeemed.set(s.member, (redeemed.get(s.member) ?? 0) + (s.redeemedPoints ?? 0))
      if (d.closeCounts) earned.set(s.member, (earned.get(s.member) ?? 0) + (s.earnedPoints ?? 0))
    }
  }
  const atFork = earnedAtFork(days)
  const over: Array<{ member: string, redeemed: number, earned: number, atFork: number }> = []
  const repaying: typeof over = []
  for (const [member, r] of redeemed) {
    const e = earned.get(member) ?? 0
    if (r <= e) continue
    const held = atFork.get(member) ?? 0
    const row = { member, redeemed: r, earned: e, atFork: held }
    if (r - e <= Math.min(held, Math.max(0, (grantedBeforeFork.get(member) ?? 0) - e))) repaying.push(row)
    else over.push(row)
  }
  return { over, repaying }
}

/** A sale event is a return by receipt instead, this often. */
export const RETURN_CHANCE = 0.08

/** A cash sale a customer may bring back with its receipt. */
export interface SimReceipt { docNo: string, tillId: string, store: string, day: BusinessDay, lines: Array<{ sku: string, qty: number }>, resolutions: readonly string[], totalCents: number }

export interface ReturnsState {
  receipts: SimReceipt[]
  counts: { attempts: number, refused: number, atIssuer: number, consented: number, flagged: number, told: number, untellable: number }
}

export function newReturnsState (): ReturnsState {
  return { receipts: [], counts: { attempts: 0, refused: 0, atIssuer: 0, consented: 0, flagged: 0, told: 0, untellable: 0 } }
}

/**
 * From the truth alone: each receipt's lines refunded beyond what was sold. None may be without a
 * refund made without consent (flagged); `unexplained` lists those that are.
 */
export function overRefunded (days: readonly TruthDay[], receipts: readonly SimReceipt[]): { over: Array<{ receipt: string, sku: string, sold: number, refunded: number, flagged: boolean }>, unexplained: number } {
  const sold = new Map<string, number>()
  for (const r of receipts) for (const l of r.lines) sold.set(`${r.docNo}\u0000${l.sku}`, (sold.get(`${r.docNo}\u0000${l.sku}`) ?? 0) + l.qty)
  const refunded = new Map<string, { qty: number, flagged: boolean }>()
  for (const d of days) {
    for (const s of d.sales) {
      if (s.kind !== 'refund' || s.receipt === undefined) continue
      for (const l of s.lines) {
        const key = `${s.receipt}\u0000${l.sku}`
        const had = refunded.get(key) ?? { qty: 0, flagged: false }
        refunded.set(key, { qty: had.qty + l.qty, flagged: had.flagged || s.flagged === true })
      }
    }
  }
  const over: Array<{ receipt: string, sku: string, sold: number, refunded: number, flagged: boolean }> = []
  for (const [key, r] of refunded) {
    const [receipt, sku] = key.split('\u0000') as [string, string]
    if (r.qty > (sold.get(key) ?? 0)) over.push({ receipt, sku, sold: sold.get(key) ?? 0, refunded: r.qty, flagged: r.flagged })
  }
  return { over, unexplained: over.filter(o => !o.flagged).length }
}

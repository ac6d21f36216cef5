/**
 * Points spent offline, never overspent: the bounded counter (escrow) technique (O'Neil's escrow
 * method; Balegas et al., SRDS 2015; Antidote's bounded counter), as pure folds.
 *
 * A member's points live at HQ. To let a till redeem with the network down, HQ grants it rights
 * over some of them (a signed grant, numbered by HQ). A till spends only what its own log
 * shows it holds: credits (grants to it, transfers to it) less debits (its redemptions, its
 * transfers out, its returns to HQ), each debit checked against the credits before it in its
 * log — and a till is the only writer of its log, so no two debits race. Rights move between
 * tills as transfers (the debit in the sender's log first, the credit at the receiver when it
 * arrives: points in flight are nobody's to spend), and go back to HQ as returns.
 *
 * Tills are named by their instance (`<tillId>:<key>`): a till restored after a fire, or
 * replaced after a fork, is a new instance with no rights; what the old one held is forfeit
 * (it may have spent it in the log that burnt), and no transfer or grant to the old instance
 * ever credits the new one.
 *
 * HQ's side: `committed = Σ grants − Σ returns` (as HQ knows them); `spendable = vested −
 * committed`. A redemption is always within some till's rights, so whatever HQ has not heard
 * yet (a redemption, a transfer, a return in a log still offline) can only make it more
 * careful, never overspend: Σ redeemed ≤ Σ granted − Σ returned ≤ vested.
 */
import { POINTS_PER_EVENT_MAX } from './constants.ts'
import { BeyondRightsError, MembersError } from './errors.ts'
import { isMemberId } from './member.ts'

/** HQ → a till instance. */
export interface Grant { kind: 'grant', id: string, member: string, till: string, points: number }
/** A till instance → another (of its store). */
export interface Transfer { kind: 'transfer', id: string, member: string, from: string, to: string, points: number }
/** Points spent at a till: a tender or a discount on a sale. */
export interface Redeem { kind: 'redeem', id: string, member: string, till: string, points: number }
/** A till instance → HQ: rights it does not need. */
export interface Return { kind: 'return', id: string, member: string, till: string, points: number }
/** Points a refund gave back to the member at the till that took them: never more than it redeemed. */
export interface Restore { kind: 'restore', id: string, member: string, till: string, points: number }
export type RightsEvent = Grant | Transfer | Redeem | Return | Restore

const ID_RE = /^[A-Za-z0-9._:-]{1,96}$/
const INSTANCE_RE = /^[A-Za-z0-9._-]{1,40}:[0-9a-f]{8,64}$/

/** Check an event's shape (bad input is refused with the field at fault). */
export function checkEvent (e: RightsEvent): RightsEvent {
  if (e === null || typeof e !== 'object') throw new MembersError('a rights event is an object')
  if (!ID_RE.test(e.id)) throw new MembersError(`event id ${JSON.stringify(e.id)} is not an id`)
  if (!isMemberId(e.member)) throw new MembersError(`event ${e.id}: ${JSON.stringify(e.member)} is not a member id`)
  if (!Number.isSafeInteger(e.points) || e.points < 1 || e.points > POINTS_PER_EVENT_MAX) throw new MembersError(`event ${e.id}: points must be 1..${POINTS_PER_EVENT_MAX}`)
  const tills = e.kind === 'transfer' ? [e.from, e.to] : [e.till]
  for (const t of tills) if (!INSTANCE_RE.test(t)) throw new MembersError(`event ${e.id}: ${JSON.stringify(t)} is not a till instance (<tillId>:<key hex>)`)
  if (e.kind === 'transfer' && e.from === e.to) throw new MembersError(`event ${e.id}: a transfer to itself`)
  if (!['grant', 'transfer', 'redeem', 'return', 'restore'].includes(e.kind)) throw new MembersError(`event ${e.id}: unknown kind`)
  return e
}

/** The instance name of a till: its id and (the start of) its key. */
export function tillInstance (tillId: string, keyHex: string): string {
  return `${tillId}:${keyHex.slice(0, 16)}`
}

/**
 * One till instance's rights, per member, as a pure fold of its own log. `apply` takes the
 * log's events in order: a credit meant for this instance, or one of its own debits, checked
 * (BeyondRightsError: the till must never write it). An event seen before (by id) changes
 * nothing; one about other tills is refused.
 */
export class TillRights {
  readonly instance: string
  readonly #rights = new Map<string, number>()
  /** Points redeemed here per member, less restored: what a refund may give back. */
  readonly #redeemed = new Map<string, number>()
  readonly #seen = new Set<string>()

  constructor (instance: string) {
    if (!INSTANCE_RE.test(instance)) throw new MembersError(`${JSON.stringify(instance)} is not a till instance`)
    this.instance = instance
  }

  static fold (instance: string, events: Iterable<RightsEvent>): TillRights {
    const r = new TillRights(instance)
    for (const e of events) r.apply(e)
    return r
  }

  rights (member: string): number {
    return this.#rights.get(member) ?? 0
  }

  /** Whether a debit of `points` for `member` would be within rights (what the till asks before writing it). */
  canSpend (member: string, points: number): boolean {
    return Number.isSafeInteger(points) && points >= 1 && points <= this.rights(member)
  }

  /** Every member with rights here, and how many. */
  all (): Record<string, number> {
    return Object.fromEntries([...this.#rights].filter(([, p]) => p > 0).sort((a, b) => a[0] < b[0] ? -1 : 1))
  }

  /** Points redeemed here for `member` and not yet given back by refunds. */
  redeemed (member: string): number {
    return this.#redeemed.get(member) ?? 0
  }

  apply (e: RightsEvent): 'applied' | 'duplicate' {
    checkEvent(e)
    const credit = ((e.kind === 'grant' || e.kind === 'restore') && e.till === this.instance) || (e.kind === 'transfer' && e.to === this.instance)
    const debit = ((e.kind === 'redeem' || e.kind === 'return') && e.till === this.instance) || (e.kind === 'transfer' && e.from === this.instance)
    if (!credit && !debit) throw new MembersError(`event ${e.id} is not about till ${this.instance}`)
    if (this.#seen.has(e.id)) return 'duplicate'
    const have = this.rights(e.member)
    if (debit && e.points > have) throw new BeyondRightsError(e.member, have, e.points)
    // A restore gives back what a redemption here took: more would mint points.
    if (e.kind === 'restore' && e.points > this.redeemed(e.member)) throw new MembersError(`event ${e.id}: ${e.points} points restored, ${this.redeemed(e.member)} redeemed here`)
    if (e.kind === 'redeem') this.#redeemed.set(e.member, this.redeemed(e.member) + e.points)
    if (e.kind === 'restore') this.#redeemed.set(e.member, this.redeemed(e.member) - e.points)
    this.#rights.set(e.member, credit ? have + e.points : have - e.points)
    this.#seen.add(e.id)
    return 'applied'
  }
}

/** What HQ knows of one member. */
export interface MemberView {
  member: string
  earned: number
  vested: number
  redeemed: number
  /** vested − redeemed: the member's points, wherever they are (free at HQ or escrowed at tills). */
  balance: number
  /** vested − (granted − returned): what HQ may still grant. */
  spendable: number
  /** Rights per live till instance, as HQ knows them (a redemption not yet reported still counts here). */
  rights: Record<string, number>
  /** Rights that were at instances restored or replaced: never spendable again unless their log turns up. */
  forfeited: number
}

/**
 * HQ's side: points earned (vesting on a day: the end of the return window), rights granted,
 * and the tills' redemptions, transfers and returns as their records report them (any order,
 * any number of times: by id). `grant` refuses beyond what is spendable.
 */
export class MemberBook {
  readonly #earned = new Map<string, Array<{ points: number, vestsOn: string }>>()
  readonly #events = new Map<string, RightsEvent>()
  readonly #dead = new Set<string>()

  /** Points earned by a sale (or taken back by a refund: negative), vesting on `vestsOn`. */
  earn (member: string, points: number, vestsOn: string): void {
    if (!isMemberId(member)) throw new MembersError(`${JSON.stringify(member)} is not a member id`)
    if (!Number.isSafeInteger(points) || Math.abs(points) > POINTS_PER_EVENT_MAX) throw new MembersError('points earned must be a whole number within bounds')
    if (!/^\d{4}-\d{2}-\d{2}$/.test(vestsOn)) throw new MembersError('vestsOn is a day, YYYY-MM-DD')
    const list = this.#earned.get(member) ?? []
    list.push({ points, vestsOn })
    this.#earned.set(member, list)
  }

  /** A till's record of a rights event (or HQ's own grant): once by id; the same id with other content is refused. */
  record (e: RightsEvent): 'recorded' | 'duplicate' {
    checkEvent(e)
    const had = this.#events.get(e.id)
    if (had !== undefined) {
      if (JSON.stringify(had) !== JSON.stringify(e)) throw new MembersError(`event ${e.id} was recorded with other content`)
      return 'duplicate'
    }
    this.#events.set(e.id, e)
    return 'recorded'
  }

  /** A till instance restored after a fire, or replaced after a fork: what it held is forfeit. */
  retire (instance: string): void {
    this.#dead.add(instance)
  }

  view (member: string, today: string): MemberView {
    let earned = 0
    let vested = 0
    for (const e of this.#earned.get(member) ?? []) {
      earned += e.points
      if (e.vestsOn <= today) vested += e.points
    }
    let redeemed = 0
    let granted = 0
    let returned = 0
    const rights = new Map<string, number>()
    const add = (till: string, n: number): void => { rights.set(till, (rights.get(till) ?? 0) + n) }
    for (const e of this.#events.values()) {
      if (e.member !== member) continue
      if (e.kind === 'grant') { granted += e.points; add(e.till, e.points) }
      if (e.kind === 'return') { returned += e.points; add(e.till, -e.points) }
      if (e.kind === 'redeem') { redeemed += e.points; add(e.till, -e.points) }
      if (e.kind === 'restore') { redeemed -= e.points; add(e.till, e.points) }
      if (e.kind === 'transfer') { add(e.from, -e.points); add(e.to, e.points) }
    }
    let forfeited = 0
    const live: Record<string, number> = {}
    for (const [till, n] of [...rights].sort((a, b) => a[0] < b[0] ? -1 : 1)) {
      if (this.#dead.has(till)) forfeited += Math.max(0, n)
      else if (n !== 0) live[till] = n
    }
    return { member, earned, vested, redeemed, balance: vested - redeemed, spendable: vested - (granted - returned), rights: live, forfeited }
  }

  /** Grant `points` of `member` to a till instance, if spendable today: the grant to sign and send. */
  grant (id: string, member: string, till: string, points: number, today: string): Grant {
    if (this.#dead.has(till)) throw new MembersError(`till instance ${till} was retired: grant to its replacement`)
    const v = this.view(member, today)
    if (points > v.spendable) throw new BeyondRightsError(member, v.spendable, points)
    const g: Grant = { kind: 'grant', id, member, till, points }
    this.record(g)
    return g
  }
}

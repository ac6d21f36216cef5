/**
 * HQ's members: a random member id per member, found again by the keyed hash of their phone
 * number (never the number itself: `@tillbooks/members`' phoneKey, under a key that stays in
 * HQ's data directory), and their card (the member id signed by HQ's root key, a QR on their
 * phone) that tills read offline.
 *
 * On disk (HQ's LevelDB): `k!<phone key>` → member id, `M!<member id>` → when enrolled; fsync'd.
 */
import { MemberBook, newMemberId, phoneKey } from '@tillbooks/members'
import { RETURN_WINDOW_DAYS } from './constants.ts'
import { FoldedCloses } from './FoldedCloses.ts'
import type { HqNode } from './HqNode.ts'
import { signMemberCard, type Signer } from '@tillbooks/protocol'
import type { Clock } from '../components.ts'
import { OneAtATime } from '../OneAtATime.ts'
import type { KvStore } from '../storage/KvStore.ts'

export class HqMembers {
  readonly #store: KvStore
  readonly #key: Uint8Array
  readonly #root: Signer
  readonly #clock: Clock
  readonly #serial = new OneAtATime()

  /** Points per member of each folded Close, and its day. */
  readonly #points: FoldedCloses<{ day: string, points: Map<string, number> }> | null
  /** Redemptions, grants and rights (MemberBook): empty until the tills' redemptions are wired. */
  readonly #book = new MemberBook()

  constructor (o: { store: KvStore, key: Uint8Array, root: Signer, clock: Clock, hq?: HqNode }) {
    this.#store = o.store
    this.#key = o.key
    this.#root = o.root
    this.#clock = o.clock
    this.#points = o.hq === undefined ? null : new FoldedCloses(o.hq, c => c.points.length === 0 ? null : { day: c.businessDay, points: new Map(c.points.map(p => [p.member, p.points])) })
  }

  /** Enrol a member by phone number (normalised; refused without its country code), or find the one enrolled: their id and card. */
  async enrol (phone: string): Promise<{ member: string, memberQr: string, created: boolean }> {
    const k = phoneKey(this.#key, phone) // throws MembersError for what is not a phone number
    return await this.#serial.run(async () => {
      const known = await this.#store.get(`k!${k}`)
      if (known !== undefined) {
        const member = new TextDecoder().decode(known)
        return { member, memberQr: this.#card(member), created: false }
      }
      const member = newMemberId()
      const now = this.#clock.nowMs()
      await this.#store.batch([
        { type: 'put', key: `k!${k}`, value: new TextEncoder().encode(member) },
        { type: 'put', key: `M!${member}`, value: new TextEncoder().encode(String(now)) }
      ], { sync: true })
      return { member, memberQr: this.#card(member), created: true }
    })
  }

  /** Whether a member id was enrolled here. */
  async has (member: string): Promise<boolean> {
    return (await this.#store.get(`M!${member}`)) !== undefined
  }

  /**
   * What HQ knows of a member: points earned in the folded Closes (`points`), vested once their
   * sale's day is `RETURN_WINDOW_DAYS` behind `today` (a refund within the window can still take
   * them back), and what the member book says of redemptions and rights (none granted yet: the
   * redemption path is not wired to the tills yet, so redeemed is 0 and rights empty).
   */
  async view (member: string, today: string): Promise<{ member: string, enrolled: boolean, earned: number, vested: number, redeemed: number, balance: number, rights: Record<string, number> }> {
    const vestBy = new Date(`${today}T00:00:00Z`)
    vestBy.setUTCDate(vestBy.getUTCDate() - RETURN_WINDOW_DAYS)
    const last = vestBy.toISOString().slice(0, 10)
    let earned = 0
    let vested = 0
    for (const ix of (await this.#points?.read())?.values() ?? []) {
      for (const c of ix.items) {
        const p = c.points.get(member)
        if (p === undefined) continue
        earned += p
        if (c.day <= last) vested += p
      }
    }
    const v = this.#book.view(member, today)
    return { member, enrolled: await this.has(member), earned, vested, redeemed: v.redeemed, balance: vested - v.redeemed, rights: v.rights }
  }

  #card (member: string): string {
    return signMemberCard(this.#root, { member, issuedAtMs: this.#clock.nowMs() })
  }
}

/**
 * HQ's members: a random member id per member, found again by the keyed hash of their phone
 * number (never the number itself: `@tillbooks/members`' phoneKey, under a key that stays in
 * HQ's data directory), and their card (the member id signed by HQ's root key, a QR on their
 * phone) that tills read offline.
 *
 * On disk (HQ's LevelDB): `k!<phone key>` → member id, `M!<member id>` → when enrolled; fsync'd.
 */
import { newMemberId, phoneKey } from '@tillbooks/members'
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

  constructor (o: { store: KvStore, key: Uint8Array, root: Signer, clock: Clock }) {
    this.#store = o.store
    this.#key = o.key
    this.#root = o.root
    this.#clock = o.clock
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

  #card (member: string): string {
    return signMemberCard(this.#root, { member, issuedAtMs: this.#clock.nowMs() })
  }
}

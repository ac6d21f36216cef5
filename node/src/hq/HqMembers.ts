/**
 * HQ's members: a random member id per member, found again by the keyed hash of their phone
 * number (never the number itself: `@tillbooks/members`' phoneKey, under a key that stays in
 * HQ's data directory), and their card (the member id signed by HQ's root key, a QR on their
 * phone) that tills read offline.
 *
 * Points: earned, cancelled and redeemed as the folded Closes report them; rights granted to
 * till instances as HQ signed them. A member's view is a pure fold (`MemberBook`) of those,
 * and a grant is refused beyond what is spendable: vested − (granted − returned).
 *
 * On disk (HQ's LevelDB): `k!<phone key>` → member id, `M!<member id>` → when enrolled,
 * `A!<member id>` → the member it is one with (a number enrolled twice at two replicas),
 * `G!<grant id>` → the signed grant, `Q!<instance>:<return id>` → rights a till gave back; fsync'd
 * before anyone is answered.
 */
import { BeyondRightsError, isMemberId, MemberBook, MembersError, newMemberId, phoneKey, RETURN_WINDOW_DAYS, tillInstance, vestsOn, type MemberView } from '@tillbooks/members'
import { FoldedCloses } from './FoldedCloses.ts'
import type { HqNode } from './HqNode.ts'
import type { ReplicatedKind } from './HqReplication.ts'
import { openEntry, openRightsGrant, POINT_VALUE_CENTS, signMemberCard, signRightsGrant, toHex, type Close, type RightsGrant, type Signer, type TillId } from '@tillbooks/protocol'
import type { Clock } from '../components.ts'
import { OneAtATime } from '../OneAtATime.ts'
import { CODE_PREFIX } from '../access/EnrolmentCodes.ts'
import { prefixEnd, type KvOp, type KvStore } from '../storage/KvStore.ts'

/**
 * The member records HQ replicas share (HqMembers.adoptRecord), in the order a replica brings
 * them over: numbers' keyed hashes before members, so that a replica that knows a member id
 * always knows its number (a round can fail between two kinds; were members first, the number
 * given at that replica in between would be enrolled again as another member); then which
 * members are one (a number enrolled twice), grants and rights given back.
 */
export const MEMBER_RECORD_PREFIXES = ['k!', 'A!', 'M!', 'G!', 'Q!'] as const

/** The member records as kinds HqReplication brings over, in MEMBER_RECORD_PREFIXES' order (`k!code!`, enrolment codes, is not one). */
export function memberRecordKinds (members: HqMembers): ReplicatedKind[] {
  return MEMBER_RECORD_PREFIXES.map(prefix => ({ prefix, adopt: async (key: string, value: Uint8Array) => await members.adoptRecord(key, value), ...(prefix === 'k!' ? { excludes: CODE_PREFIX, settlesConflicts: true as const } : prefix === 'A!' ? { settlesConflicts: true as const } : {}) }))
}

/** What a folded Close says of members: points earned, cancelled (by sale day) and redeemed. */
interface MemberClose {
  seq: number
  day: string
  instance: string
  earned: Map<string, number>
  cancelled: Array<{ member: string, saleDay: string, points: number }>
  redeemed: Map<string, number>
  /** Rights the till gave back (unused escrow), each by its number. */
  returned: Array<{ id: string, member: string, points: number }>
}

/** HQ's view of a member (GET /members/<member>): the member book's, with rights by till id (the contract's key). */
export interface MemberAnswer extends Omit<MemberView, 'rights'> {
  enrolled: boolean
  /** Rights per live till, by till id, as HQ knows them. */
  rights: Record<string, number>
  /** The liability for this member's points (earned, vested or not, less redeemed), at their redemption value. */
  liabilityCents: number
  /**
   * Every member id that is this member (sorted), when there is more than one: one number
   * enrolled at two HQ replicas cut off from each other, found once they synced. Their points
   * are one balance, whichever card the member shows; the number finds the first id.
   */
  sameMember?: string[]
  /**
   * Points the member earned in Closes HQ holds past a fork of their till (at each seq, the most
   * any side of the fork claims): not in the books, so neither earned nor vested here. A member
   * who spent points a fork later took back has a balance and `spendable` below zero, by at most
   * this; their next points repay it, and HQ grants nothing until they have.
   */
  heldAtForks: number
}

export class HqMembers {
  readonly #store: KvStore
  readonly #key: Uint8Array
  readonly #root: Signer
  readonly #clock: Clock
  readonly #hq: HqNode | null
  readonly #serial = new OneAtATime()
  readonly #closes: FoldedCloses<MemberClose> | null
  /** Grants by id (loaded from `G!` on first use). */
  #grants: Map<string, { grant: RightsGrant, bytes: Uint8Array }> | null = null
  /** Members that are one with another (`A!`: member id → the smallest id of the member), loaded on first use. */
  #aliases: Map<string, string> | null = null
  /**
   * Counts the writes of member records. The caches above are read outside the turn writes take
   * (a view does not wait for a grant), so a read that a write overtook would cache what the disk
   * no longer says, for good: a loader keeps its map only if no write finished while it read.
   */
  #writes = 0
  /** Returns tills told of straight away, by `<instance>:<return id>` (loaded from `Q!` on first use). */
  #returns: Map<string, { returnId: string, member: string, till: string, points: number }> | null = null
  readonly #windowDays: number
  /** Per forked till, the points each side's held Closes claim per seq and member, and the state of the till's log they were read at. */
  readonly #forkPoints = new Map<string, { key: string, sides: Map<number, Array<Map<string, number>>> }>()
  readonly #newId: () => string
  /** Numbers found enrolled as two members at two replicas, settled to the smaller id (#settleNumber). */
  numbersSettled = 0

  /** `returnWindowDays`: the retailer's return window (RETURN_WINDOW_DAYS); `newId`: member ids (random; a simulation's are seeded). */
  constructor (o: { store: KvStore, key: Uint8Array, root: Signer, clock: Clock, hq?: HqNode, returnWindowDays?: number, newId?: () => string }) {
    this.#store = o.store
    this.#key = o.key
    this.#root = o.root
    this.#clock = o.clock
    this.#hq = o.hq ?? null
    this.#windowDays = o.returnWindowDays ?? RETURN_WINDOW_DAYS
    this.#newId = o.newId ?? (() => newMemberId())
    this.#closes = o.hq === undefined ? null : new FoldedCloses(o.hq, (c, signer) => memberClose(c, signer))
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
      const member = this.#newId()
      const now = this.#clock.nowMs()
      await this.#store.batch([
        { type: 'put', key: `k!${k}`, value: new TextEncoder().encode(member) },
        { type: 'put', key: `M!${member}`, value: new TextEncoder().encode(String(now)) }
      ], { sync: true })
      return { member, memberQr: this.#card(member), created: true }
    })
  }

  /** The member enrolled with this phone number, if any (a till's lookup: the number is not kept). */
  async lookup (phone: string): Promise<string | null> {
    const known = await this.#store.get(`k!${phoneKey(this.#key, phone)}`)
    return known === undefined ? null : new TextDecoder().decode(known)
  }

  /** Whether a member id was enrolled here. */
  async has (member: string): Promise<boolean> {
    return (await this.#store.get(`M!${member}`)) !== undefined
  }

  /**
   * What HQ knows of a member today: points earned in the folded Closes (less those refunds
   * cancelled), vested once past the return window and the till's Closes through it are in
   * (`vestsOn`), redeemed (net of what refunds gave back), and the rights escrowed per till.
   */
  async view (member: string, today: string): Promise<MemberAnswer> {
    const { book, instances, root, ids } = await this.#book(member)
    const v = book.view(root, today)
    const rights: Record<string, number> = {}
    for (const [instance, points] of Object.entries(v.rights)) {
      const tillId = instances.get(instance) ?? instance.split(':')[0] as string
      rights[tillId] = (rights[tillId] ?? 0) + points
    }
    return {
      member,
      enrolled: await this.has(member),
      earned: v.earned,
      vested: v.vested,
      redeemed: v.redeemed,
      balance: v.balance,
      spendable: v.spendable,
      rights,
      forfeited: v.forfeited,
      liabilityCents: (v.earned - v.redeemed) * POINT_VALUE_CENTS,
      heldAtForks: await this.#heldAtForks(ids),
      ...(ids.size > 1 ? { sameMember: [...ids].sort() } : {})
    }
  }

  /**
   * A fork is found when its second side arrives, which may be after HQ vested and granted
   * points of the side it folded first: a till's key can sign a twin of any Close at any time,
   * so no vesting rule keeps a fork from taking back points already spent. HQ then folds none
   * of that till's Closes from the fork on (the books and the member's points agree), and says
   * here how much the fork holds of this member's: what comes back if the fork is settled.
   */
  async #heldAtForks (ids: ReadonlySet<string>): Promise<number> {
    const hq = this.#hq
    if (hq === null) return 0
    let held = 0
    for (const tillId of hq.forkedTills()) {
      const t = hq.till(tillId)
      if (t === undefined) continue
      const to = hq.heldSeq(tillId)
      // Read again only when the till's log changed: an entry logged (of a side, or waiting for
      // the catalogue) counts in tillSums, an entry folded moves lastSeq.
      const key = `${t.lastSeq}:${to}:${hq.tillSums.get(tillId)?.count ?? 0}`
      let fork = this.#forkPoints.get(tillId)
      if (fork?.key !== key) {
        const sides = new Map<number, Array<Map<string, number>>>()
        // HQ's own log, verified when it came in: read, not verified again.
        for (const bytes of await hq.tillLogRange(tillId, t.lastSeq, to)) {
          const r = openEntry(bytes, { verify: false }).record
          if (r.kind !== 'close') continue
          const side = new Map<string, number>()
          for (const p of r.points) side.set(p.member, (side.get(p.member) ?? 0) + p.points)
          sides.set(r.seq, [...(sides.get(r.seq) ?? []), side])
        }
        fork = { key, sides }
        this.#forkPoints.set(tillId, fork)
      }
      // At each seq, the most any side claims for this member.
      for (const list of fork.sides.values()) {
        let most = 0
        for (const side of list) {
          let points = 0
          for (const id of ids) points += side.get(id) ?? 0
          most = Math.max(most, points)
        }
        held += most
      }
    }
    return held
  }

  /**
   * Grant `points` of `member` to the till instance that asks (`fromKey`: the key its peer id
   * is, checked against the instance named and the till's current enrolled key). The same
   * grant id again answers the grant made the first time, whatever was asked (a till retrying
   * after a lost answer; it keeps that grant and asks again with its next id).
   */
  async grant (req: { grantId: string, member: string, till: string, points: number }, fromKey: Uint8Array): Promise<Uint8Array> {
    return await this.#serial.run(async () => {
      const grants = await this.#loadGrants()
      // A till numbers its grants (`<instance>:g<n>`): the same id again is a retry after a lost
      // answer, answered with the grant made the first time (the till keeps it, and asks the next id).
      if (!req.grantId.startsWith(`${req.till}:`)) throw new MembersError(`grant id ${req.grantId} is not one of ${req.till}'s`)
      const had = grants.get(req.grantId)
      if (had !== undefined) {
        if (had.grant.till !== req.till) throw new MembersError(`grant ${req.grantId} was made for another till`)
        return had.bytes
      }
      const tillId = req.till.split(':')[0] as TillId
      const current = this.#hq?.enrolment.keysOf(tillId).at(-1)
      if (current === undefined) throw new MembersError(`till ${tillId} is not enrolled`)
      if (tillInstance(tillId, toHex(current)) !== req.till) throw new MembersError(`till instance ${req.till} is not ${tillId}'s current key: grants go to the till as it is now`)
      if (toHex(fromKey) !== toHex(current)) throw new MembersError(`a till asks for its own rights: ${req.till} is not the asking peer`)
      if (this.#hq?.till(tillId)?.forked === true) throw new MembersError(`till ${tillId} is forked: it holds no rights until it is replaced`)
      if (!await this.has(req.member)) throw new MembersError(`member ${req.member} is not enrolled`)
      const { book, root } = await this.#book(req.member)
      const today = new Date(this.#clock.nowMs()).toISOString().slice(0, 10)
      const spendable = book.view(root, today).spendable
      if (req.points > spendable) throw new BeyondRightsError(req.member, spendable, req.points)
      const grant: RightsGrant = { id: req.grantId, member: req.member, till: req.till, points: req.points, issuedAtMs: Math.max(0, this.#clock.nowMs()) }
      const bytes = signRightsGrant(this.#root, grant)
      await this.#store.batch([{ type: 'put', key: `G!${req.grantId}`, value: bytes }], { sync: true })
      // Into whatever map is cached now (a view may have loaded one while this was written).
      this.#writes++
      this.#grants?.set(req.grantId, { grant, bytes })
      return bytes
    })
  }

  /**
   * The member's book: earnings (with their vesting day), grants, redemptions and restores,
   * retired instances; of every id that is this member (`ids`), booked under the first (`root`).
   */
  async #book (member: string): Promise<{ book: MemberBook, instances: Map<string, string>, root: string, ids: ReadonlySet<string> }> {
    const { root, ids } = await this.#sameMember(member)
    const book = new MemberBook()
    const instances = new Map<string, string>()
    const fleet = this.#hq?.fleet() ?? {}
    for (const [tillId, ix] of (await this.#closes?.read()) ?? new Map()) {
      const lastClosed = fleet[tillId]?.lastClosedDay ?? null
      for (const c of ix.items) {
        instances.set(c.instance, tillId)
        let redeemed: number | undefined
        for (const id of ids) {
          const earned = c.earned.get(id)
          if (earned !== undefined) book.earn(root, earned, vestsOn(c.day, lastClosed, this.#windowDays))
          const r = c.redeemed.get(id)
          if (r !== undefined) redeemed = (redeemed ?? 0) + r
        }
        for (const x of c.cancelled) if (ids.has(x.member)) book.earn(root, -x.points, vestsOn(x.saleDay, lastClosed, this.#windowDays))
        for (const q of c.returned) if (ids.has(q.member)) book.record({ kind: 'return', id: `${c.instance}:${q.id}`, member: root, till: c.instance, points: q.points })
        if (redeemed !== undefined && redeemed !== 0) {
          const id = `${tillId}:close${c.seq}`
          book.record(redeemed > 0
            ? { kind: 'redeem', id, member: root, till: c.instance, points: redeemed }
            : { kind: 'restore', id, member: root, till: c.instance, points: -redeemed })
        }
      }
    }
    const grants = await this.#loadGrants()
    for (const { grant } of grants.values()) {
      if (ids.has(grant.member)) book.record({ kind: 'grant', id: grant.id, member: root, till: grant.till, points: grant.points })
    }
    // Returns tills told HQ of straight away (the same, by number, as their Close will report).
    for (const q of (await this.#loadReturns()).values()) if (ids.has(q.member)) book.record({ kind: 'return', id: `${q.till}:${q.returnId}`, member: root, till: q.till, points: q.points })
    // An instance whose till has been enrolled with another key since (a fire, a fork) is retired,
    // and so is every instance of a till found forked (its twin may have spent what it held).
    for (const instance of new Set([...instances.keys(), ...[...grants.values()].map(g => g.grant.till)])) {
      const tillId = instance.split(':')[0] as TillId
      const current = this.#hq?.enrolment.keysOf(tillId).at(-1)
      if ((current !== undefined && tillInstance(tillId, toHex(current)) !== instance) || fleet[tillId]?.forked === true) book.retire(instance)
    }
    return { book, instances, root, ids }
  }

  /**
   * The ids that are one member with `member` (itself included), and the smallest of them, under
   * which their points are booked. Every `A!` record names its member's smallest id (#join keeps
   * it so), so replicas that know the same ids as one hold the same records.
   */
  async #sameMember (member: string): Promise<{ root: string, ids: ReadonlySet<string> }> {
    return memberOf(await this.#loadAliases(), member)
  }

  /**
   * Make `found` one member (a number enrolled as two; a replica's `A!` record), with every id
   * each of them was one with: each id of the whole then names its smallest (`A!<id>` → it).
   * The ops to write, none when they are one already.
   */
  async #join (found: readonly string[]): Promise<KvOp[]> {
    const aliases = await this.#loadAliases()
    const whole = new Set<string>()
    for (const id of found) for (const x of memberOf(aliases, id).ids) whole.add(x)
    const smallest = [...whole].sort()[0] as string
    const ops: KvOp[] = []
    for (const id of whole) if (id !== smallest && aliases.get(id) !== smallest) ops.push({ type: 'put', key: `A!${id}`, value: new TextEncoder().encode(smallest) })
    return ops
  }

  /** A member write done: the caches are read again (those whose records it wrote), and no read it overtook is kept. */
  #written (kinds: { grants?: true, returns?: true, aliases?: true }): void {
    this.#writes++
    if (kinds.grants === true) this.#grants = null
    if (kinds.returns === true) this.#returns = null
    if (kinds.aliases === true) this.#aliases = null
  }

  async #loadAliases (): Promise<Map<string, string>> {
    if (this.#aliases !== null) return this.#aliases
    const writes = this.#writes
    const aliases = new Map<string, string>()
    for await (const [k, v] of this.#store.entries({ gte: 'A!', lt: prefixEnd('A!') })) aliases.set(k.slice(2), new TextDecoder().decode(v))
    if (writes === this.#writes) this.#aliases = aliases
    return aliases
  }

  /**
   * A till gives rights back (`fromKey`: the asking peer's key, the till's current one), told
   * straight away: HQ may grant them elsewhere at once. Never more than HQ believes the till
   * holds (what it was granted less what it reported redeemed and gave back): a till's own count
   * is never above that, so nothing honest is refused.
   */
  async giveBack (req: { returnId: string, member: string, till: string, points: number }, fromKey: Uint8Array): Promise<void> {
    await this.#serial.run(async () => {
      const tillId = req.till.split(':')[0] as TillId
      const current = this.#hq?.enrolment.keysOf(tillId).at(-1)
      if (current === undefined || tillInstance(tillId, toHex(current)) !== req.till || toHex(fromKey) !== toHex(current)) throw new MembersError(`a till gives back its own rights: ${req.till} is not the asking peer's current key`)
      const returns = await this.#loadReturns()
      const key = `${req.till}:${req.returnId}`
      const had = returns.get(key)
      if (had !== undefined) {
        if (had.member !== req.member || had.points !== req.points) throw new MembersError(`return ${key} was told with other content`)
        return
      }
      const { book, root } = await this.#book(req.member)
      const held = book.view(root, '9999-12-31').rights[req.till] ?? 0
      if (req.points > held) throw new MembersError(`${req.points} points given back by ${req.till}: HQ knows it to hold ${held}`)
      const q = { returnId: req.returnId, member: req.member, till: req.till, points: req.points }
      await this.#store.batch([{ type: 'put', key: `Q!${key}`, value: new TextEncoder().encode(JSON.stringify(q)) }], { sync: true })
      this.#writes++
      this.#returns?.set(key, q)
    })
  }

  /**
   * A member record another HQ replica holds (HqReplication), under its key here: a member
   * (`M!`), a phone number's keyed hash (`k!`, the same member key copied to every replica), a
   * grant (`G!`, root-signed), rights given back (`Q!`). Kept if new; the same again is a
   * duplicate; a number enrolled as two members at two replicas is settled (#settleNumber); any
   * other record that contradicts what is held (a grant id reused) throws MembersError and
   * nothing is written.
   */
  async adoptRecord (key: string, value: Uint8Array): Promise<'adopted' | 'duplicate'> {
    return await this.#serial.run(async () => {
      try {
        return await this.#adopt(key, value)
      } catch (err) {
        if (err instanceof MembersError) throw err
        throw new MembersError(`${key}: ${(err as Error).message}`)
      }
    })
  }

  async #adopt (key: string, value: Uint8Array): Promise<'adopted' | 'duplicate'> {
    const held = await this.#store.get(key)
    if (held !== undefined) {
      if (Buffer.compare(Buffer.from(held), Buffer.from(value)) === 0 || key.startsWith('M!')) return 'duplicate'
      if (key.startsWith('k!') && !key.startsWith(CODE_PREFIX)) return await this.#settleNumber(key, held, value)
      // An id this replica knows as one with another id than the peer does: all of them are one.
      if (key.startsWith('A!')) return await this.#adoptAlias(key, value)
      throw new MembersError(`${key}: this replica holds another record under that key`)
    }
    if (key.startsWith('G!')) {
      const grant = openRightsGrant(value, this.#root.publicKey)
      if (`G!${grant.id}` !== key) throw new MembersError(`grant ${grant.id} under ${key}`)
    } else if (key.startsWith('Q!')) {
      const q = JSON.parse(new TextDecoder().decode(value)) as { returnId?: unknown, member?: unknown, till?: unknown, points?: unknown }
      if (typeof q.returnId !== 'string' || typeof q.member !== 'string' || typeof q.till !== 'string' || !Number.isSafeInteger(q.points)) throw new MembersError(`${key}: not rights given back`)
    } else if (key.startsWith('M!')) {
      if (!/^\d{1,16}$/.test(new TextDecoder().decode(value))) throw new MembersError(`${key}: not a member's enrolment time`)
    } else if (key.startsWith('k!') && !key.startsWith(CODE_PREFIX)) {
      if (!/^m-[A-Za-z0-9_-]{22}$/.test(new TextDecoder().decode(value))) throw new MembersError(`${key}: not a member id`)
    } else if (key.startsWith('A!')) {
      return await this.#adoptAlias(key, value)
    } else {
      throw new MembersError(`${key} is not a member record`)
    }
    await this.#store.batch([{ type: 'put', key, value }], { sync: true })
    this.#written(key.startsWith('G!') ? { grants: true } : key.startsWith('Q!') ? { returns: true } : {})
    return 'adopted'
  }

  /**
   * A replica's `A!<id>` → smaller id: the two are one member, with every id either was one with
   * here. Written as #join says (each id naming the whole's smallest), so it may differ from the
   * peer's record until the peer learns what this replica knows; then both hold the same.
   */
  async #adoptAlias (key: string, value: Uint8Array): Promise<'adopted' | 'duplicate'> {
    const ops = await this.#join([key.slice(2), aliasOf(key, value)])
    if (ops.length === 0) return 'duplicate'
    await this.#store.batch(ops, { sync: true })
    this.#written({ aliases: true })
    return 'adopted'
  }

  /**
   * One number enrolled as two members, at two replicas cut off from each other: the number
   * stays with the smaller member id at every replica (the same rule everywhere, whatever order
   * the records come in, so the replicas converge). The other member stays enrolled, with its
   * card, and is one with the first (`A!<larger>` → smaller, #join; written here whichever side
   * this replica held, and shared like any member record): their points are one balance.
   */
  async #settleNumber (key: string, held: Uint8Array, value: Uint8Array): Promise<'adopted' | 'duplicate'> {
    const theirs = new TextDecoder().decode(value)
    if (!isMemberId(theirs)) throw new MembersError(`${key}: not a member id`)
    const ours = new TextDecoder().decode(held)
    if (theirs === ours) return 'duplicate'
    const ops = await this.#join([theirs, ours])
    if (theirs < ours) ops.push({ type: 'put', key, value })
    if (ops.length > 0) {
      await this.#store.batch(ops, { sync: true })
      this.#written({ aliases: true })
    }
    if (theirs > ours) return 'duplicate'
    this.numbersSettled++
    return 'adopted'
  }

  async #loadReturns (): Promise<Map<string, { returnId: string, member: string, till: string, points: number }>> {
    if (this.#returns !== null) return this.#returns
    const writes = this.#writes
    const returns = new Map<string, { returnId: string, member: string, till: string, points: number }>()
    for await (const [k, v] of this.#store.entries({ gte: 'Q!', lt: prefixEnd('Q!') })) returns.set(k.slice(2), JSON.parse(new TextDecoder().decode(v)) as { returnId: string, member: string, till: string, points: number })
    if (writes === this.#writes) this.#returns = returns
    return returns
  }

  async #loadGrants (): Promise<Map<string, { grant: RightsGrant, bytes: Uint8Array }>> {
    if (this.#grants !== null) return this.#grants
    const writes = this.#writes
    const grants = new Map<string, { grant: RightsGrant, bytes: Uint8Array }>()
    for await (const [, bytes] of this.#store.entries({ gte: 'G!', lt: prefixEnd('G!') })) {
      const grant = openRightsGrant(bytes, this.#root.publicKey)
      grants.set(grant.id, { grant, bytes })
    }
    if (writes === this.#writes) this.#grants = grants
    return grants
  }

  #card (member: string): string {
    return signMemberCard(this.#root, { member, issuedAtMs: this.#clock.nowMs() })
  }
}

function memberClose (c: Close, signer: Uint8Array): MemberClose | null {
  if (c.points.length === 0 && c.redeemed === undefined && c.pointsCancelled === undefined && c.rightsReturned === undefined) return null
  return {
    seq: c.seq,
    day: c.businessDay,
    instance: tillInstance(`${c.store}-${c.till}`, toHex(signer)),
    earned: new Map(c.points.map(p => [p.member, p.points])),
    cancelled: c.pointsCancelled ?? [],
    redeemed: new Map((c.redeemed ?? []).map(r => [r.member, r.points])),
    returned: c.rightsReturned ?? []
  }
}

/** The member an `A!<member id>` record says its id is one with (a smaller id); throws MembersError for anything else. */
function aliasOf (key: string, value: Uint8Array): string {
  const from = key.slice(2)
  const to = new TextDecoder().decode(value)
  if (!isMemberId(from) || !isMemberId(to)) throw new MembersError(`${key}: not a member id one with another`)
  if (to >= from) throw new MembersError(`${key}: a member is one with a smaller id, not ${to}`)
  return to
}

/**
 * The smallest id of the member `id` is: where its `A!` records lead. One step when they are as
 * #join writes them; a chain (records a replica wrote before #join did) is followed to its end,
 * which every record's pointing at a smaller id guarantees.
 */
function rootOf (aliases: ReadonlyMap<string, string>, id: string): string {
  let at = id
  for (let next = aliases.get(at); next !== undefined && next < at; next = aliases.get(at)) at = next
  return at
}

/** The ids that are one member with `id` (itself included), and the smallest of them (`root`). */
function memberOf (aliases: ReadonlyMap<string, string>, id: string): { root: string, ids: Set<string> } {
  const root = rootOf(aliases, id)
  const ids = new Set([root, id])
  for (const x of aliases.keys()) if (rootOf(aliases, x) === root) ids.add(x)
  return { root, ids }
}

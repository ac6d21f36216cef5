/**
 * Rights escrowed to tills: a till spends only what its own log shows; HQ grants only what is
 * spendable. Property: no interleaving of earnings, grants, deliveries (late, twice, never),
 * redemptions, transfers between tills, returns, reports to HQ (late, twice, lost in a fire)
 * and fires (a till restored as a new instance, its log's tail burnt) lets a member redeem more
 * than they earned; every till's rights stay ≥ 0; HQ never grants beyond spendable.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { BeyondRightsError, MemberBook, MembersError, TillRights, type RightsEvent } from '../src/index.ts'
import { fcParams } from '../../catalogue/test/helpers/fc.ts'

const M1 = 'm-AAAAAAAAAAAAAAAAAAAAAA'
const M2 = 'm-BBBBBBBBBBBBBBBBBBBBBB'
const T1 = 'S1-1:00000001'
const T2 = 'S1-2:00000002'
const DAY = '2026-03-02'

describe('rights: a till\'s fold', () => {
  it('credits grants and transfers in, checks every debit against them, counts an event once', () => {
    const t = new TillRights(T1)
    assert.equal(t.apply({ kind: 'grant', id: 'g1', member: M1, till: T1, points: 500 }), 'applied')
    assert.equal(t.apply({ kind: 'grant', id: 'g1', member: M1, till: T1, points: 500 }), 'duplicate')
    t.apply({ kind: 'redeem', id: 'r1', member: M1, till: T1, points: 200 })
    t.apply({ kind: 'transfer', id: 'x1', member: M1, from: T1, to: T2, points: 100 })
    assert.equal(t.rights(M1), 200)
    assert.equal(t.canSpend(M1, 201), false)
    assert.throws(() => t.apply({ kind: 'redeem', id: 'r2', member: M1, till: T1, points: 201 }), (e: Error) => e instanceof BeyondRightsError && /rights to 200/.test(e.message))
    assert.equal(t.rights(M1), 200, 'a refused debit changes nothing')
    assert.throws(() => t.apply({ kind: 'grant', id: 'g2', member: M1, till: T2, points: 5 }), /not about till/)
    assert.throws(() => t.apply({ kind: 'redeem', id: 'r3', member: '+447700900123', till: T1, points: 5 }), MembersError)
    assert.deepEqual(TillRights.fold(T2, [{ kind: 'transfer', id: 'x1', member: M1, from: T1, to: T2, points: 100 }]).all(), { [M1]: 100 })
    // A refund gives back at most what was redeemed here, as rights again.
    assert.throws(() => t.apply({ kind: 'restore', id: 's1', member: M1, till: T1, points: 201 }), /201 points restored, 200 redeemed here/)
    t.apply({ kind: 'restore', id: 's1', member: M1, till: T1, points: 150 })
    assert.equal(t.rights(M1), 350)
    assert.equal(t.redeemed(M1), 50)
  })

  it('HQ grants only what is spendable, counts redemptions reported in any order once, and forfeits a retired instance\'s rights', () => {
    const b = new MemberBook()
    b.earn(M1, 1000, DAY)
    b.earn(M1, 300, '2026-03-30') // not vested yet (return window)
    b.grant('g1', M1, T1, 600, DAY)
    assert.throws(() => b.grant('g2', M1, T2, 401, DAY), BeyondRightsError)
    b.grant('g2', M1, T2, 400, DAY)
    b.record({ kind: 'redeem', id: 'r1', member: M1, till: T1, points: 250 })
    assert.equal(b.record({ kind: 'redeem', id: 'r1', member: M1, till: T1, points: 250 }), 'duplicate')
    assert.throws(() => b.record({ kind: 'redeem', id: 'r1', member: M1, till: T1, points: 251 }), /other content/)
    b.record({ kind: 'return', id: 'q1', member: M1, till: T2, points: 100 })
    b.retire(T1)
    assert.deepEqual(b.view(M1, DAY), { member: M1, earned: 1300, vested: 1000, redeemed: 250, balance: 750, spendable: 100, rights: { [T2]: 300 }, forfeited: 350 })
    assert.throws(() => b.grant('g3', M1, T1, 10, DAY), /retired/)
  })
})

describe('rights: never overspent (property)', () => {
  type Cmd =
    | { c: 'earn', m: number, p: number }
    | { c: 'grant', m: number, t: number, p: number }
    | { c: 'deliver', k: number, twice: boolean }
    | { c: 'redeem' | 'return' | 'restore', m: number, t: number, p: number }
    | { c: 'transfer', m: number, t: number, to: number, p: number }
    | { c: 'report', k: number }
    | { c: 'fire', t: number }
  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    fc.record({ c: fc.constant('earn' as const), m: fc.nat(1), p: fc.integer({ min: 1, max: 500 }) }),
    fc.record({ c: fc.constant('grant' as const), m: fc.nat(1), t: fc.nat(2), p: fc.integer({ min: 1, max: 400 }) }),
    fc.record({ c: fc.constant('deliver' as const), k: fc.nat(50), twice: fc.boolean() }),
    fc.record({ c: fc.constantFrom('redeem' as const, 'return' as const, 'restore' as const), m: fc.nat(1), t: fc.nat(2), p: fc.integer({ min: 1, max: 300 }) }),
    fc.record({ c: fc.constant('transfer' as const), m: fc.nat(1), t: fc.nat(2), to: fc.nat(2), p: fc.integer({ min: 1, max: 300 }) }),
    fc.record({ c: fc.constant('report' as const), k: fc.nat(50) }),
    fc.record({ c: fc.constant('fire' as const), t: fc.nat(2) })
  )

  it('no interleaving lets a member redeem more than they earned', () => {
    fc.assert(fc.property(fc.array(cmd, { maxLength: 120 }), cmds => {
      const members = [M1, M2]
      const hq = new MemberBook()
      let gen = [1, 1, 1]
      const instance = (t: number): string => `S1-${t + 1}:${String(gen[t]).padStart(8, '0')}`
      const tills = [0, 1, 2].map(t => new TillRights(instance(t)))
      /** Credits on their way to a till instance (grants, transfers), and reports on their way to HQ (per till). */
      const inFlight: RightsEvent[] = []
      const reports: Array<{ t: number, gen: number, e: RightsEvent }> = []
      const earned = [0, 0]
      const redeemedTruth = [0, 0]
      let n = 0
      for (const x of cmds) {
        if (x.c === 'earn') { hq.earn(members[x.m] as string, x.p, '2026-03-01'); earned[x.m] = (earned[x.m] as number) + x.p }
        if (x.c === 'grant') {
          const v = hq.view(members[x.m] as string, DAY)
          if (x.p <= v.spendable) inFlight.push(hq.grant(`g${n++}`, members[x.m] as string, instance(x.t), x.p, DAY))
          else assert.throws(() => hq.grant(`g${n++}`, members[x.m] as string, instance(x.t), x.p, DAY), BeyondRightsError)
        }
        if (x.c === 'deliver' && inFlight.length > 0) {
          const e = inFlight[x.k % inFlight.length] as RightsEvent
          if (!x.twice) inFlight.splice(x.k % inFlight.length, 1)
          const to = e.kind === 'transfer' ? e.to : (e as { till: string }).till
          const t = tills.findIndex(r => r.instance === to)
          // Meant for an instance that burnt: no live till takes it (a new instance has another name).
          if (t >= 0) (tills[t] as TillRights).apply(e)
        }
        if (x.c === 'restore') {
          // A refund gives back points a redemption at this till took: never more than it took.
          const till = tills[x.t] as TillRights
          const member = members[x.m] as string
          const e: RightsEvent = { kind: 'restore', id: `s${n++}`, member, till: till.instance, points: x.p }
          if (x.p > till.redeemed(member)) { assert.throws(() => till.apply(e), /restored/); continue }
          till.apply(e)
          redeemedTruth[x.m] = (redeemedTruth[x.m] as number) - x.p
          reports.push({ t: x.t, gen: gen[x.t] as number, e })
        }
        if (x.c === 'redeem' || x.c === 'return' || x.c === 'transfer') {
          const till = tills[x.t] as TillRights
          const member = members[x.m] as string
          if (x.c === 'transfer' && x.to === x.t) continue
          const e: RightsEvent = x.c === 'transfer'
            ? { kind: 'transfer', id: `x${n++}`, member, from: till.instance, to: instance(x.to), points: x.p }
            : { kind: x.c, id: `${x.c[0]}${n++}`, member, till: till.instance, points: x.p }
          if (!till.canSpend(member, x.p)) { assert.throws(() => till.apply(e), BeyondRightsError); continue }
          till.apply(e)
          if (x.c === 'redeem') redeemedTruth[x.m] = (redeemedTruth[x.m] as number) + x.p
          if (x.c === 'transfer') inFlight.push(e)
          reports.push({ t: x.t, gen: gen[x.t] as number, e })
        }
        if (x.c === 'report' && reports.length > 0) {
          const r = reports[x.k % reports.length] as { e: RightsEvent }
          hq.record(r.e)
        }
        if (x.c === 'fire') {
          // The till burns: the tail of its log (what it had not reported) is gone; a new instance has no rights.
          const dead = instance(x.t)
          for (let i = reports.length - 1; i >= 0; i--) if (reports[i]?.t === x.t && reports[i]?.gen === gen[x.t]) reports.splice(i, 1)
          gen = gen.map((g, i) => i === x.t ? g + 1 : g)
          tills[x.t] = new TillRights(instance(x.t))
          hq.retire(dead)
        }
        for (const [i, m] of members.entries()) {
          assert.ok((redeemedTruth[i] as number) <= (earned[i] as number), `${m}: redeemed ${redeemedTruth[i]} of ${earned[i]} earned`)
          assert.ok(hq.view(m, DAY).spendable >= 0)
          for (const t of tills) assert.ok(t.rights(m) >= 0)
        }
      }
    }), { numRuns: 300, ...fcParams() })
  })
})

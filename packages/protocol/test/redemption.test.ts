/**
 * Points redeemed and cancelled in a Close (optional: every Close before them stays valid; with
 * them the takings rule counts the points as a tender), and HQ's signed grants of rights.
 */
import assert from 'node:assert/strict'
import { acceptRecordEnvelope } from '../src/acceptFast.ts'
import { canonicalDecode, canonicalEncode, type Canonical } from '../src/canonical.ts'
import { seal } from '../src/envelope.ts'
import { openEntry, signEntry } from '../src/entry.ts'
import { ForgedError } from '../src/errors.ts'
import { checkedRecord } from '../src/trusted.ts'
import { encodeRecord, POINT_VALUE_CENTS, validateRecord, type Close } from '../src/records.ts'
import { openRightsGrant, signRightsGrant, type RightsGrant } from '../src/rightsGrant.ts'
import { close, root, signerOf, thrown, till1 } from './helpers/fixtures.ts'

const A = 'm-AAAAAAAAAAAAAAAAAAAAAA'
const B = 'm-BBBBBBBBBBBBBBBBBBBBBB'

/** The fixture Close with `points` of A redeemed: cash takes that much less. */
function redeeming (points: number, over: Partial<Close> = {}): Close {
  const c = close(over)
  return { ...c, takingsCents: { ...c.takingsCents, cash: c.takingsCents.cash - points * POINT_VALUE_CENTS }, redeemed: [{ member: A, points, amountCents: points * POINT_VALUE_CENTS }] }
}

describe('a Close\'s points redeemed and cancelled', () => {
  it('with them, cash + card + points redeemed must equal net sales + tax; they round-trip through a signed entry, and HQ\'s fast paths defer to the full check', () => {
    const c = { ...redeeming(300), pointsCancelled: [{ member: '+447700900001', saleDay: '2026-11-21' as never, points: 2 }, { member: A, saleDay: '2026-11-20' as never, points: 4 }] }
    const entry = signEntry(c, till1)
    const back = openEntry(entry.bytes, { verify: true }).record as Close
    assert.deepEqual(back.redeemed, [{ member: A, points: 300, amountCents: 300 }])
    assert.deepEqual(back.pointsCancelled?.map(l => [l.member, l.saleDay, l.points]), [['+447700900001', '2026-11-21', 2], [A, '2026-11-20', 4]])
    assert.equal(acceptRecordEnvelope(entry.bytes), null, 'the fast walk is not sure of fields it does not know')
    const body = (canonicalDecode(entry.bytes) as { body: Uint8Array }).body
    assert.deepEqual(checkedRecord(body), back, 'the trusted reader falls back to the full check')
    // A refund that gave back more than was redeemed today: negative, still balancing.
    const net = redeeming(-50)
    assert.deepEqual((validateRecord(net as unknown as Canonical) as Close).redeemed, [{ member: A, points: -50, amountCents: -50 }])
  })

  it('refuses a Close whose points do not pay for what the takings leave, points worth another value, a phone number redeeming, an empty or unsorted list, zero points', () => {
    const unpaid = { ...close(), redeemed: [{ member: A, points: 300, amountCents: 300 }] } // cash not reduced: 300 too much
    assert.match(thrown(() => encodeRecord(unpaid)).message, /takings 3640 \(points redeemed included\) do not equal net sales \+ tax 3340/)
    assert.match(thrown(() => encodeRecord({ ...redeeming(300), redeemed: [{ member: A, points: 300, amountCents: 299 }] })).message, /amountCents must be points × 1/)
    assert.match(thrown(() => encodeRecord({ ...redeeming(0), redeemed: [{ member: '+447700900001', points: 0, amountCents: 0 }] })).message, /redeemed\[0\]\.points must not be 0/)
    const phone = redeeming(10)
    assert.match(thrown(() => encodeRecord({ ...phone, redeemed: [{ member: '+447700900001', points: 10, amountCents: 10 }] })).message, /redeemed\[0\]\.member/)
    assert.match(thrown(() => encodeRecord({ ...close(), redeemed: [] })).message, /redeemed, when present, lists at least one member/)
    const two = redeeming(0)
    two.takingsCents.cash -= 20
    assert.match(thrown(() => encodeRecord({ ...two, redeemed: [{ member: B, points: 10, amountCents: 10 }, { member: A, points: 10, amountCents: 10 }] })).message, /redeemed must be sorted/)
    assert.match(thrown(() => encodeRecord({ ...close(), pointsCancelled: [{ member: A, saleDay: '2026-11-20' as never, points: 0 }] })).message, /pointsCancelled\[0\]\.points must be in 1\.\./)
    assert.match(thrown(() => encodeRecord({ ...close(), pointsCancelled: [{ member: A, saleDay: 'yesterday' as never, points: 1 }] })).message, /day/i)
  })
})

describe('HQ\'s signed grant of rights', () => {
  const g: RightsGrant = { id: 'S1-1:g1', member: A, till: 'S1-1:0123456789abcdef', points: 500, issuedAtMs: 1_764_100_000_000 }

  it('opens with HQ\'s root key to what was signed', () => {
    assert.deepEqual(openRightsGrant(signRightsGrant(root, g), root.publicKey), g)
  })

  it('refuses a grant signed by another key, one bit changed, another kind of envelope, bad fields, and oversized bytes', () => {
    const bytes = signRightsGrant(root, g)
    assert.ok(thrown(() => openRightsGrant(signRightsGrant(signerOf('not hq'), g), root.publicKey)) instanceof ForgedError)
    for (const i of [10, Math.floor(bytes.length / 2), bytes.length - 3]) {
      const bad = new Uint8Array(bytes)
      bad[i] = (bad[i] as number) ^ 0x01
      assert.throws(() => openRightsGrant(bad, root.publicKey), Error, `bit flipped at ${i}`)
    }
    const member = seal('member', canonicalEncode({ v: 1, kind: 'member', member: A, issuedAtMs: 0 }), root)
    assert.match(thrown(() => openRightsGrant(member, root.publicKey)).message, /not a grant: member/)
    assert.match(thrown(() => signRightsGrant(root, { ...g, points: 0 })).message, /grant\.points/)
    assert.match(thrown(() => signRightsGrant(root, { ...g, till: 'S1-1' })).message, /grant\.till/)
    assert.match(thrown(() => signRightsGrant(root, { ...g, member: '+447700900001' })).message, /grant\.member/)
    assert.match(thrown(() => openRightsGrant(new Uint8Array(2000), root.publicKey)).message, /at most 1024 bytes/)
  })
})

describe('a Close\'s returns made elsewhere', () => {
  it('flagged refunds and refund conflicts round-trip; a conflict must be one, name its refunds, and the lists be sorted', () => {
    const c: Close = {
      ...close(),
      flaggedRefunds: [{ receipt: 'S2-1-7', refund: 'S1-1-12', amountCents: 7900 }],
      refundConflicts: [{ receipt: 'S1-1-3', sku: 'BREAD-1', soldQty: 1, refundedQty: 2, refunds: ['S1-1-9', 'S2-1-4'] }]
    }
    const back = openEntry(signEntry(c, till1).bytes, { verify: true }).record as Close
    assert.deepEqual([back.flaggedRefunds, back.refundConflicts], [c.flaggedRefunds, c.refundConflicts])
    assert.match(thrown(() => encodeRecord({ ...c, refundConflicts: [{ receipt: 'S1-1-3', sku: 'BREAD-1', soldQty: 2, refundedQty: 2, refunds: ['S1-1-9'] }] })).message, /no conflict/)
    assert.match(thrown(() => encodeRecord({ ...c, refundConflicts: [{ receipt: 'S1-1-3', sku: 'BREAD-1', soldQty: 1, refundedQty: 2, refunds: ['S2-1-4', 'S1-1-9'] }] })).message, /refunds must be sorted/)
    assert.match(thrown(() => encodeRecord({ ...c, flaggedRefunds: [{ receipt: 'S2-1-7', refund: 'not a doc', amountCents: 1 }] })).message, /flaggedRefunds\[0\]\.refund/)
    assert.match(thrown(() => encodeRecord({ ...c, flaggedRefunds: [{ receipt: 'S2-1-7', refund: 'S1-1-12', amountCents: 0 }] })).message, /amountCents/)
  })
})

describe('a Close\'s rights given back', () => {
  it('round-trips; each by the till\'s number, member ids only, at least one point, sorted by number', () => {
    const c: Close = { ...close(), rightsReturned: [{ id: 'q1', member: A, points: 50 }, { id: 'q2', member: B, points: 1 }, { id: 'q3', member: A, points: 2 }] }
    assert.deepEqual((openEntry(signEntry(c, till1).bytes, { verify: true }).record as Close).rightsReturned, c.rightsReturned)
    assert.match(thrown(() => encodeRecord({ ...c, rightsReturned: [{ id: 'q1', member: '+447700900001', points: 1 }] })).message, /rightsReturned\[0\]\.member/)
    assert.match(thrown(() => encodeRecord({ ...c, rightsReturned: [{ id: 'q1', member: A, points: 0 }] })).message, /rightsReturned\[0\]\.points/)
    assert.match(thrown(() => encodeRecord({ ...c, rightsReturned: [{ id: 'x1', member: A, points: 1 }] })).message, /rightsReturned\[0\]\.id/)
    assert.match(thrown(() => encodeRecord({ ...c, rightsReturned: [{ id: 'q2', member: B, points: 1 }, { id: 'q1', member: A, points: 1 }] })).message, /sorted/)
  })
})

/**
 * A Close's card and wallet totals (`payments`): optional (every Close before it stays valid),
 * per processor, type and mode, sorted with no repeats, each with the digest of its approvals;
 * the fast walk of HQ's verify threads is "not sure" of it, and the full check accepts it.
 */
import assert from 'node:assert/strict'
import { acceptRecordEnvelope } from '../src/acceptFast.ts'
import { signEntry, openEntry } from '../src/entry.ts'
import { encodeRecord, paymentsDigest, validateRecord, type Close, type PaymentTotal } from '../src/records.ts'
import { addPaymentSets, PAYMENT_SET_EMPTY, paymentHash, paymentSetHash, subtractPaymentSets } from '../src/paymentSet.ts'
import fc from 'fast-check'
import type { Canonical } from '../src/canonical.ts'
import { close, thrown, till1 } from './helpers/fixtures.ts'

const approvals = [{ paymentId: 'S1-1-P2', amountCents: 1500 }, { paymentId: 'S1-1-P1', amountCents: 2500 }]
const total = (over: Partial<PaymentTotal> = {}): PaymentTotal => ({ processor: 'embedded', type: 'card', mode: 'online', count: 2, amountCents: 4000, digest: paymentsDigest(approvals), ...over })

describe('a Close\'s payment totals', () => {
  it('optional: a Close without them is as before; with them it round-trips through a signed entry', () => {
    const plain = close()
    assert.equal('payments' in (validateRecord(plain as unknown as Canonical) as Close), false)
    // Sorted by processor, type, mode (as the till writes them).
    const withPayments = close({ payments: [total({ mode: 'offline', count: 1, amountCents: 700 }), total(), total({ type: 'wallet', count: 1, amountCents: 300 })] })
    const entry = signEntry(withPayments, till1)
    const back = openEntry(entry.bytes, { verify: true }).record as Close
    assert.deepEqual(back.payments?.map(p => [p.processor, p.type, p.mode, p.count, p.amountCents]), [['embedded', 'card', 'offline', 1, 700], ['embedded', 'card', 'online', 2, 4000], ['embedded', 'wallet', 'online', 1, 300]])
    // HQ's fast walk does not know the field: "not sure", and the full check decides.
    assert.equal(acceptRecordEnvelope(entry.bytes), null)
    assert.notEqual(acceptRecordEnvelope(signEntry(plain, till1).bytes), null)
  })

  it('the digest is of the approvals, in any order', () => {
    assert.deepEqual(paymentsDigest(approvals), paymentsDigest([...approvals].reverse()))
    assert.notDeepEqual(paymentsDigest(approvals), paymentsDigest([{ paymentId: 'S1-1-P1', amountCents: 2501 }, approvals[0] as { paymentId: string, amountCents: number }]))
  })

  it('the set hash: optional on a total, round-trips, 32 bytes or refused', () => {
    const withHash = close({ payments: [total({ setHash: paymentSetHash(approvals) })] })
    const back = openEntry(signEntry(withHash, till1).bytes, { verify: true }).record as Close
    assert.deepEqual(back.payments?.[0]?.setHash, paymentSetHash(approvals))
    assert.match(thrown(() => encodeRecord(close({ payments: [total({ setHash: new Uint8Array(33) })] }))).message, /payments\[0\]\.setHash/)
  })

  it('the set hash adds: any split of a multiset sums to its hash, and subtracting a part leaves the rest (property)', () => {
    const payment = fc.record({ paymentId: fc.stringMatching(/^S1-1-[0-9a-f]{8}-P\d{1,4}$/), amountCents: fc.integer({ min: -1e6, max: 1e6 }) })
    fc.assert(fc.property(fc.array(payment, { maxLength: 30 }), fc.array(payment, { maxLength: 30 }), (a, b) => {
      const all = paymentSetHash([...a, ...b])
      // The byte-wise sum against a BigInt one, written independently.
      const big = [...a, ...b].reduce((s, p) => (s + BigInt(`0x${Buffer.from(paymentHash(p.paymentId, p.amountCents)).toString('hex')}`)) % (1n << 256n), 0n)
      assert.equal(Buffer.from(all).toString('hex'), big.toString(16).padStart(64, '0'))
      assert.deepEqual(addPaymentSets(paymentSetHash(a), paymentSetHash(b)), all)
      assert.deepEqual(paymentSetHash([...b, ...a].reverse()), all)
      assert.deepEqual(subtractPaymentSets(all, paymentSetHash(b)), paymentSetHash(a))
      assert.deepEqual(subtractPaymentSets(all, all), PAYMENT_SET_EMPTY)
      // A cent more on any one payment is another hash.
      if (a.length > 0) {
        const changed = a.map((p, i) => i === 0 ? { ...p, amountCents: p.amountCents + 1 } : p)
        assert.notDeepEqual(paymentSetHash([...changed, ...b]), all)
      }
    }), { numRuns: 200 })
  })

  it('refuses them unsorted, repeated, empty, or malformed, with the field at fault', () => {
    const bad: Array<[Partial<Close>, RegExp]> = [
      [{ payments: [total({ mode: 'online' }), total({ mode: 'offline' })] }, /payments must be sorted/],
      [{ payments: [total({ type: 'wallet' }), total({ type: 'card' })] }, /payments must be sorted/],
      [{ payments: [total(), total()] }, /payments must be sorted/],
      [{ payments: [] }, /at least one total/],
      [{ payments: [total({ type: 'cash' as never })] }, /payments\[0\]\.type/],
      [{ payments: [total({ count: 0 })] }, /payments\[0\]\.count/],
      [{ payments: [total({ digest: new Uint8Array(31) })] }, /payments\[0\]\.digest/],
      [{ payments: [total({ processor: 'Bad Name' })] }, /payments\[0\]\.processor/]
    ]
    for (const [over, why] of bad) assert.match(thrown(() => encodeRecord(close(over))).message, why)
  })

  it('late declines and expired payments: optional, sorted by payment id, each linked to its sale\'s day; refused malformed', () => {
    const late = [{ paymentId: 'S1-1-P3', processor: 'embedded', amountCents: 1500, saleDay: '2026-03-01' }, { paymentId: 'S1-1-P7', processor: 'embedded', amountCents: 700, saleDay: '2026-03-02' }] as Close['lateDeclines']
    const back = openEntry(signEntry(close({ lateDeclines: late }), till1).bytes, { verify: true }).record as Close
    assert.deepEqual(back.lateDeclines, late)
    const bad: Array<[Partial<Close>, RegExp]> = [
      [{ lateDeclines: [...(late ?? [])].reverse() }, /lateDeclines must be sorted/],
      [{ lateDeclines: [] }, /at least one/],
      [{ lateDeclines: [{ paymentId: 'S1-1-P3', processor: 'embedded', amountCents: 0, saleDay: '2026-03-01' as never }] }, /lateDeclines\[0\]\.amountCents/],
      [{ lateDeclines: [{ paymentId: 'S1-1-P3', processor: 'embedded', amountCents: 5, saleDay: '2026-13-01' as never }] }, /day|businessDay|YYYY/i]
    ]
    for (const [over, why] of bad) assert.match(thrown(() => encodeRecord(close(over))).message, why)
    // Expired payments: the same shape, their own field.
    const back2 = openEntry(signEntry(close({ expired: late }), till1).bytes, { verify: true }).record as Close
    assert.deepEqual(back2.expired, late)
    assert.match(thrown(() => encodeRecord(close({ expired: [] }))).message, /expired, when present, lists at least one/)
  })
})

describe('a Close\'s points by member id', () => {
  it('takes member ids (what new Closes carry) and, from Closes before them, phone numbers; the fast walk is sure of both; anything else is refused', () => {
    const id = 'm-AAAAAAAAAAAAAAAAAAAAAA'
    const withIds = close({ points: [{ member: '+447700900123', points: 3 }, { member: id, points: 5 }] })
    const entry = signEntry(withIds, till1)
    assert.deepEqual((openEntry(entry.bytes, { verify: true }).record as Close).points, [{ member: '+447700900123', points: 3 }, { member: id, points: 5 }])
    assert.notEqual(acceptRecordEnvelope(entry.bytes), null)
    for (const member of ['m-short', 'alice', '07700900123', `${id}x`]) {
      assert.match(thrown(() => encodeRecord(close({ points: [{ member, points: 1 }] }))).message, /points\[0\]\.member/, member)
    }
  })
})

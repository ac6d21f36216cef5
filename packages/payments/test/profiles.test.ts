/** Store-and-forward: a profile's caps, modes, refunds and deadline decide, each refusal with its reason. */
import assert from 'node:assert/strict'
import { PROFILES, profileNamed, storeAndForward, type StoredState } from '../src/index.ts'

const NOW = Date.parse('2026-03-02T10:00:00Z')
const HOUR = 3_600_000
const none: StoredState = { count: 0, totalCents: 0, oldestTakenAtMs: null }

describe('store-and-forward profiles', () => {
  it('ships the published figures and a conservative default', () => {
    assert.equal(PROFILES.square?.forwardWithinMs, 24 * HOUR)
    assert.equal(PROFILES.clover?.forwardWithinMs, 7 * 24 * HOUR)
    assert.equal(PROFILES.clover?.perPaymentMaxCents, 50_000)
    assert.equal(PROFILES.clover?.storedTotalMaxCents, 500_000)
    assert.ok(!(PROFILES.square?.offlineEntryModes ?? []).includes('manual'), 'Square takes no keyed card offline')
    for (const p of Object.values(PROFILES)) assert.equal(p.offlineRefunds, false, `${p.name}: no offline refunds`)
    assert.throws(() => profileNamed('acme'), /no store-and-forward profile "acme"/)
  })

  it('stores within the caps, with the deadline to forward by', () => {
    assert.deepEqual(storeAndForward(PROFILES.default as never, none, { amountCents: 2_500, entryMode: 'chip', refund: false }, NOW), { store: true, forwardByMs: NOW + 12 * HOUR })
  })

  it('refuses beyond them, each with the reason a cashier reads', () => {
    const d = PROFILES.default as never
    const cases: Array<[StoredState, { amountCents: number, entryMode: 'chip' | 'manual', refund: boolean }, RegExp, string?]> = [
      [none, { amountCents: 10_001, entryMode: 'chip', refund: false }, /over the offline limit of 10000/],
      [none, { amountCents: 100, entryMode: 'manual', refund: false }, /manual payment cannot be taken offline/],
      [none, { amountCents: 100, entryMode: 'chip', refund: true }, /refund needs the processor/],
      [{ count: 20, totalCents: 2_000, oldestTakenAtMs: NOW }, { amountCents: 100, entryMode: 'chip', refund: false }, /20 payments are already waiting/],
      [{ count: 5, totalCents: 99_950, oldestTakenAtMs: NOW }, { amountCents: 100, entryMode: 'chip', refund: false }, /pass the 100000 limit/],
      [{ count: 1, totalCents: 100, oldestTakenAtMs: NOW - 12 * HOUR }, { amountCents: 100, entryMode: 'chip', refund: false }, /past their forwarding deadline/]
    ]
    for (const [held, attempt, why] of cases) {
      const r = storeAndForward(d, held, attempt, NOW)
      assert.equal(r.store, false, why.source)
      assert.match((r as { reason: string }).reason, why)
    }
    const r = storeAndForward(PROFILES['online-only'] as never, none, { amountCents: 1, entryMode: 'chip', refund: false }, NOW)
    assert.match((r as { reason: string }).reason, /takes no payment offline/)
  })
})

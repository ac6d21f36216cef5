/**
 * Enrolment codes as data: their format, their TTLs, and the store that keeps them (on
 * MemoryStore with a clock the test moves): once, for one slot, before expiry, across a
 * restart and a crash, and never kept in clear.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { MemoryStore } from '../src/storage/MemoryStore.ts'
import { CODE_PREFIX, CodeRefusedError, EnrolmentCodes } from '../src/access/EnrolmentCodes.ts'
import { newCode, normalCode, parseTtl } from '../src/access/codes.ts'
import { CODE_RECORD_KEPT_MS } from '../src/access/constants.ts'
import { newToken, sameDigest, secretDigest } from '../src/access/tokens.ts'

class TestClock { nowMs = (): number => this.t; t = Date.UTC(2026, 3, 2, 8) }

const FC_SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)

describe(`enrolment codes (FC_SEED=${FC_SEED})`, () => {
  it('a code is 25 Crockford symbols (125 bits) in groups of five, and reads back however it is typed', () => {
    const c = newCode()
    assert.match(c, /^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){4}$/)
    const n = normalCode(c) as string
    assert.equal(normalCode(c.toLowerCase()), n)
    assert.equal(normalCode(c.replace(/-/g, ' ')), n)
    assert.equal(normalCode(n.replace(/1/g, 'l').replace(/0/g, 'o')), n)
    for (const bad of ['', 'ABCDE', n + '0', n.slice(1) + 'U', 'tba_' + n]) assert.equal(normalCode(bad), null, bad)
    // Codes do not repeat (1,000 draws), and neither do tokens, which are 256-bit and role-tagged.
    assert.equal(new Set(Array.from({ length: 1000 }, newCode)).size, 1000)
    assert.match(newToken('admin'), /^tba_[A-Za-z0-9_-]{43}$/)
    assert.match(newToken('viewer'), /^tbv_[A-Za-z0-9_-]{43}$/)
  })

  it('TTLs parse with their unit, within one minute and 30 days; anything else is refused with a reason', () => {
    assert.equal(parseTtl('24h'), 86_400_000)
    assert.equal(parseTtl('90s'), 90_000)
    assert.equal(parseTtl('30m'), 1_800_000)
    assert.equal(parseTtl('7d'), 7 * 86_400_000)
    for (const bad of ['', '24', 'h', '1.5h', '-1h', '59s', '31d', '1e3s', '24 hours']) assert.throws(() => parseTtl(bad), RangeError, bad)
  })

  it('digests compare equal exactly when the secrets are equal', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => sameDigest(secretDigest(a), secretDigest(b)) === (a === b)), { seed: FC_SEED })
  })

  it('a code enrols its slot once; a second use, another slot\'s code after it, and an expired code are refused with their reasons', async () => {
    const store = new MemoryStore()
    await store.open()
    const clock = new TestClock()
    const codes = new EnrolmentCodes({ store, clock })
    await codes.load()
    const a = await codes.issue({ store: 'S1', till: 1 }, 60 * 60_000)
    const b = await codes.issue({ store: 'S1', till: 1 }, 60 * 60_000)
    const other = await codes.issue({ store: 'S2', till: 1 }, 60_000)
    assert.equal(codes.outstanding(), 3)
    // Never in clear: only digests are keys, and no value holds the code.
    for await (const [key, value] of store.entries({})) {
      assert.ok(key.startsWith(CODE_PREFIX))
      for (const c of [a, b, other]) {
        assert.ok(!key.includes(normalCode(c.code) as string) && !Buffer.from(value).toString().includes(normalCode(c.code) as string))
      }
    }
    const holder = codes.holder(a.code)
    assert.deepEqual([holder?.store, holder?.till], ['S1', 1])
    let wrote: string[] = []
    await codes.spend(holder as NonNullable<typeof holder>, 'ab'.repeat(32), async ops => { wrote = ops.map(o => o.key); await store.batch(ops, { sync: true }) })
    // The spend wrote the used code and revoked the slot's other code in one batch.
    assert.equal(wrote.length, 2)
    assert.throws(() => codes.holder(a.code), (e: Error) => e instanceof CodeRefusedError && /already been used/.test(e.message))
    assert.throws(() => codes.holder(b.code), (e: Error) => e instanceof CodeRefusedError && /revoked/.test(e.message))
    assert.throws(() => codes.holder(newCode()), (e: Error) => e instanceof CodeRefusedError && /unknown/.test(e.message))
    assert.equal(codes.holder('not a code'), null)
    clock.t += 60_001
    assert.throws(() => codes.holder(other.code), (e: Error) => e instanceof CodeRefusedError && /expired/.test(e.message))
    assert.equal(codes.outstanding(), 0)
    assert.deepEqual(codes.list().map(c => c.state).sort(), ['expired', 'revoked', 'used'])
  })

  it('a failed enrolment leaves the code usable; two enrolments of one slot at once (one code or two): one wins; the admin token revokes a slot\'s codes', async () => {
    const store = new MemoryStore()
    await store.open()
    const codes = new EnrolmentCodes({ store, clock: new TestClock() })
    const c = await codes.issue({ store: 'S1', till: 2 })
    const h = codes.holder(c.code) as NonNullable<ReturnType<typeof codes.holder>>
    await assert.rejects(codes.spend(h, 'cd'.repeat(32), async () => { throw new Error('HQ refused the key') }), /HQ refused/)
    assert.ok(codes.holder(c.code) !== null)
    // Another code of the same slot, issued before: its enrolment at the same moment is refused too.
    const other = await codes.issue({ store: 'S1', till: 2 })
    let release: () => void = () => {}
    const first = codes.spend(h, 'cd'.repeat(32), async ops => { await new Promise<void>(resolve => { release = resolve }); await store.batch(ops, { sync: true }) })
    await assert.rejects(codes.spend(h, 'ef'.repeat(32), async () => {}), /another enrolment of till S1-2 is in flight/)
    await assert.rejects(codes.spend(codes.holder(other.code) as NonNullable<ReturnType<typeof codes.holder>>, 'ef'.repeat(32), async () => {}), /in flight/)
    // And no new code for the slot while its enrolment is in flight.
    await assert.rejects(codes.issue({ store: 'S1', till: 2 }), /in flight/)
    release()
    await first
    assert.throws(() => codes.holder(c.code), /already been used/)
    assert.throws(() => codes.holder(other.code), /revoked/)
    // Enrolled with the admin token: the slot's outstanding codes are revoked in the same batch.
    const leaked = await codes.issue({ store: 'S1', till: 3 })
    let wrote = 0
    await codes.enrolByAdmin({ store: 'S1', till: 3 }, async ops => { wrote = ops.length; await store.batch(ops, { sync: true }) })
    assert.equal(wrote, 1)
    assert.throws(() => codes.holder(leaked.code), /revoked/)
  })

  it('codes survive a restart (issued ones work, used ones stay used); a crash before the spend\'s fsync leaves the code unused', async () => {
    const store = new MemoryStore()
    await store.open()
    const clock = new TestClock()
    let codes = new EnrolmentCodes({ store, clock })
    const used = await codes.issue({ store: 'S1', till: 1 })
    const kept = await codes.issue({ store: 'S1', till: 2 })
    const crashed = await codes.issue({ store: 'S1', till: 3 })
    await codes.spend(codes.holder(used.code) as NonNullable<ReturnType<typeof codes.holder>>, 'ab'.repeat(32), async ops => { await store.batch(ops, { sync: true }) })
    // Written but not synced when the power goes.
    await assert.rejects(codes.spend(codes.holder(crashed.code) as NonNullable<ReturnType<typeof codes.holder>>, 'ab'.repeat(32), async ops => {
      await store.batch(ops, { sync: false })
      store.crash()
      throw new Error('power lost')
    }))
    await store.open()
    codes = new EnrolmentCodes({ store, clock })
    assert.deepEqual(await codes.load(), { outstanding: 2, pruned: 0 })
    assert.throws(() => codes.holder(used.code), /already been used/)
    assert.equal(codes.holder(kept.code)?.till, 2)
    assert.equal(codes.holder(crashed.code)?.till, 3)
    // Long after they ended, records are pruned at start.
    clock.t += CODE_RECORD_KEPT_MS + 2 * 86_400_000
    codes = new EnrolmentCodes({ store, clock })
    assert.deepEqual(await codes.load(), { outstanding: 0, pruned: 3 })
  })
})

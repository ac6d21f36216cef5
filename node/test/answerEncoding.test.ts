/**
 * The hand-written submit answer (answerEncoding.ts) against cborg's canonical encoding of
 * the same wire fields: the same bytes for any outcomes a handler can give, and the peer's
 * decoder reads back exactly those fields.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { canonicalEncode, SEQ_MAX } from '@tillbooks/protocol'
import { encodeSubmitAnswer, outcomeWireFields } from '../src/net/answerEncoding.ts'
import { decodeFrame, decodeSubmitAnswer, type SubmitAnswer } from '../src/net/messages.ts'
import { REASON_CHARS_MAX } from '../src/net/limits.ts'

const SEED = Number(process.env.FC_SEED ?? 20261125)

const edgeNat = (max: number): fc.Arbitrary<number> => fc.oneof(
  fc.integer({ min: 0, max }),
  fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, max).filter(n => n <= max)
)

const outcomeArb: fc.Arbitrary<SubmitAnswer> = fc.record({
  status: fc.constantFrom('accepted', 'duplicate', 'rejected') as fc.Arbitrary<SubmitAnswer['status']>,
  seq: fc.option(edgeNat(SEQ_MAX), { nil: undefined }),
  code: fc.option(fc.oneof(fc.constantFrom('FORGED', 'MALFORMED', 'UNENROLLED', 'FORK'), fc.string({ maxLength: 40 })), { nil: undefined }),
  reason: fc.option(fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ minLength: REASON_CHARS_MAX - 2, maxLength: REASON_CHARS_MAX + 40 }), fc.constant('bad signature on S00001-1 seq 2 — é…')), { nil: undefined }),
  tillId: fc.option(fc.oneof(fc.constantFrom('S00001-1', 'S1-999', 'X'.repeat(24), 'X'.repeat(25)), fc.string({ maxLength: 30 })), { nil: undefined }),
  hash: fc.option(fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.string({ maxLength: 64 })), { nil: undefined }),
  folded: fc.option(fc.boolean(), { nil: undefined })
}, { requiredKeys: ['status'] }) as fc.Arbitrary<SubmitAnswer>

describe('the submit answer, written by hand', () => {
  it('is byte for byte the canonical encoding of the outcomes\' wire fields', () => {
    fc.assert(fc.property(edgeNat(Number.MAX_SAFE_INTEGER).filter(n => n >= 1), fc.array(outcomeArb, { maxLength: 40 }), (id, outcomes) => {
      const expected = canonicalEncode({ id, outcomes: outcomes.map(outcomeWireFields) })
      // (cborg may hand back a Buffer: compare the bytes.)
      assert.deepEqual(encodeSubmitAnswer(id, outcomes), new Uint8Array(expected))
    }), { seed: SEED, numRuns: 1_500 })
  })

  it('reads back as the wire fields on the peer\'s side (outcomes as HQ gives them)', () => {
    const hqOutcome: fc.Arbitrary<SubmitAnswer> = fc.record({
      status: fc.constantFrom('accepted', 'duplicate', 'rejected') as fc.Arbitrary<SubmitAnswer['status']>,
      seq: fc.option(edgeNat(SEQ_MAX), { nil: undefined }),
      code: fc.option(fc.constantFrom('FORGED', 'MALFORMED', 'UNENROLLED', 'FORK'), { nil: undefined }),
      reason: fc.option(fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 20 })), { nil: undefined }),
      tillId: fc.option(fc.constantFrom('S00001-1', 'S1-999', 'AB12-7'), { nil: undefined }),
      hash: fc.option(fc.stringMatching(/^[0-9a-f]{64}$/), { nil: undefined }),
      folded: fc.option(fc.boolean(), { nil: undefined })
    }, { requiredKeys: ['status'] }) as fc.Arbitrary<SubmitAnswer>
    fc.assert(fc.property(fc.array(hqOutcome, { minLength: 1, maxLength: 30 }), outcomes => {
      const back = decodeSubmitAnswer(decodeFrame(encodeSubmitAnswer(7, outcomes)), outcomes.length)
      assert.deepEqual(back, outcomes.map((o, i) => ({ ...outcomeWireFields(o, i) })))
    }), { seed: SEED, numRuns: 500 })
  })

  it('grows past its first guess for long reasons, and refuses a handler\'s bad status or seq', () => {
    const long = Array.from({ length: 3 }, () => ({ status: 'rejected' as const, reason: 'é'.repeat(REASON_CHARS_MAX) }))
    assert.deepEqual(encodeSubmitAnswer(1, long), new Uint8Array(canonicalEncode({ id: 1, outcomes: long.map(outcomeWireFields) })))
    assert.throws(() => encodeSubmitAnswer(1, [{ status: 'maybe' } as unknown as SubmitAnswer]), /no valid status/)
    assert.throws(() => encodeSubmitAnswer(1, [{ status: 'accepted', seq: -1 }]), /seq/)
    assert.throws(() => encodeSubmitAnswer(1, [{ status: 'accepted', seq: 1.5 }]), /seq/)
  })
})

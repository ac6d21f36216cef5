/**
 * The verify workers open entries with the one-pass decoder (`openEntryUnverified`): it must
 * accept exactly what `openEntry(bytes, { verify: false })` accepts, give the same entry, and
 * refuse the rest with the same error class and message, so that HQ's answers do not depend
 * on which path ran. Checked on real entries, their mutations, random bytes and edge cases.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { acceptRecordEnvelope, canonicalDecode, canonicalDecodeFast, canonicalEncode, openEntry, openEntryUnverified, type Canonical } from '@tillbooks/protocol'
import { HqNode, InlineVerifier, MemoryStore, silentLogger } from '../src/index.ts'
import { catalogue, DAY1, DAY2, ManualClock, root, startTill } from './helpers/fleet.ts'

function outcome<T> (f: () => T): { ok: T } | { err: string } {
  try {
    return { ok: f() }
  } catch (err) {
    return { err: `${(err as Error).name}: ${(err as Error).message}` }
  }
}

function sameDecode (bytes: Uint8Array): void {
  assert.deepEqual(outcome(() => canonicalDecodeFast(bytes)), outcome(() => canonicalDecode(bytes)), `decoding ${Buffer.from(bytes).toString('hex').slice(0, 200)}`)
}

function sameOpen (bytes: Uint8Array): void {
  assert.deepEqual(outcome(() => openEntryUnverified(bytes)), outcome(() => openEntry(bytes, { verify: false })), `opening ${Buffer.from(bytes).toString('hex').slice(0, 200)}`)
}

let corpus: Uint8Array[] = []

describe('verify workers\' one-pass decode', function () {
  this.timeout(60_000)
  before(async () => {
    const hq = new HqNode({ store: new MemoryStore(), clock: new ManualClock(), logger: silentLogger }, { root, costCents: sku => catalogue.costCents(sku), verifier: new InlineVerifier() })
    await hq.start()
    for (const till of [1, 2]) {
      const t = await startTill(hq, { till })
      for (const day of [DAY1, DAY2]) {
        const order = await hq.dispatchReplenishment({ id: `R-${till}-${day}`, store: t.storeId, businessDay: day, lines: [{ sku: 'patio-chair', qty: 4 }, { sku: 'beans-g', qty: 500 }] })
        await t.till.openDay(day, { order })
        await t.till.sell({ lines: [{ sku: 'patio-set', qty: 1 }], tenders: [{ type: 'card', amountCents: 50_000 }], member: '+441234567890' })
        await t.till.sell({ lines: [{ sku: 'latte', qty: till }] })
        if (till === 2) await t.till.refund({ lines: [{ sku: 'latte', qty: 1 }] })
        await t.till.closeDay()
      }
      corpus.push(...t.till.log.map(e => e.bytes))
    }
  })
  after(() => { corpus = [] })

  it('gives the same entries for real records', () => {
    for (const b of corpus) {
      sameDecode(b)
      sameOpen(b)
      assert.ok('ok' in outcome(() => openEntryUnverified(b)))
      // Every record a till signs takes the threads' fast path (acceptFast.ts), with the same fields.
      const layout = acceptRecordEnvelope(b)
      assert.ok(layout !== null)
      assert.deepEqual(b.subarray(layout.bodyStart, layout.bodyEnd), openEntryUnverified(b).body)
    }
  })

  it('refuses mutated records exactly as openEntry does (flips, cuts, insertions)', () => {
    fc.assert(fc.property(
      fc.nat({ max: 1_000 }), fc.nat({ max: 100_000 }), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'set', 'cut', 'insert', 'drop'),
      (which, where, byte, how) => {
        const src = corpus[which % corpus.length] as Uint8Array
        const at = where % src.length
        let b: Uint8Array
        if (how === 'flip') { b = new Uint8Array(src); b[at] = (b[at] as number) ^ (1 << (byte % 8)) } else if (how === 'set') { b = new Uint8Array(src); b[at] = byte } else if (how === 'cut') b = src.slice(0, at)
        else if (how === 'insert') b = new Uint8Array([...src.subarray(0, at), byte, ...src.subarray(at)])
        else b = new Uint8Array([...src.subarray(0, at), ...src.subarray(at + 1)])
        sameDecode(b)
        sameOpen(b)
        if (acceptRecordEnvelope(b) !== null) assert.ok('ok' in outcome(() => openEntryUnverified(b)), 'the fast path accepted a refused mutation')
      }), { numRuns: 3_000, seed: 42 })
  })

  it('decodes random canonical values and random bytes as canonicalDecode does', () => {
    const value: fc.Arbitrary<Canonical> = fc.letrec<{ v: Canonical }>(tie => ({
      v: fc.oneof({ depthSize: 'small' },
        fc.integer({ min: -1e15, max: 1e15 }), fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
        fc.string(), fc.string({ unit: 'grapheme' }), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 40 }),
        fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('v'), { maxKeys: 4 }))
    })).v
    fc.assert(fc.property(value, v => { sameDecode(canonicalEncode(v)) }), { numRuns: 2_000, seed: 7 })
    fc.assert(fc.property(fc.uint8Array({ maxLength: 24 }), b => { sameDecode(b) }), { numRuns: 5_000, seed: 8 })
  })

  it('agrees on the edge cases: -2^53, BOM, __proto__, depth, floats, tags, indefinite lengths, bad UTF-8', () => {
    const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'))
    const cases = [
      '3b001fffffffffffff', // -2^53: canonical, but cborg refuses it
      '823b001fffffffffffff1c', // the same, then a reserved info: the canonical error wins
      '63efbbbf61', '6b' + 'efbbbf' + '6161616161616161', // a BOM (TextDecoder drops it, as cborg's does)
      'a1695f5f70726f746f5f5f01', // { __proto__: 1 }
      '81'.repeat(17) + '00', '81'.repeat(16) + '00',
      'f93c00', 'fb3ff0000000000000', 'fbffffffffffffffff', 'c100', '9f00ff', '5f40ff', 'f7', 'f0', 'f818',
      '62c328', '62ed a080'.replace(' ', ''), '64f0908080', '1817', '190017', 'a2616201616101', 'a2616101616101', 'a10101', '00ff', ''
    ]
    for (const c of cases) sameDecode(hex(c))
  })
})

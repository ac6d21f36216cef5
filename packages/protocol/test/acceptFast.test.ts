/**
 * `acceptRecordEnvelope`, the verify threads' one-walk yes, against `openRecordUnverified`,
 * the definition of valid: it must never accept what the definition refuses, and, for
 * records whose text is all ASCII (every record a till signs), it must give the same verdict.
 * Checked on random valid records with values at every limit, on field-level mutations of
 * them (wrong types, out of range, unsorted, missing, extra, non-ASCII), and on byte-level
 * mutations (flips, cuts, insertions).
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { acceptRecordEnvelope } from '../src/acceptFast.ts'
import { canonicalEncode, type Canonical } from '../src/canonical.ts'
import { DOC_N_MAX, GENESIS_HASH, LINES_MAX, SEQ_MAX } from '../src/constants.ts'
import { seal } from '../src/envelope.ts'
import { openRecordUnverified } from '../src/openFast.ts'
import { MONEY_MAX, QTY_MAX } from '../src/records.ts'
import { close, hexOf, stockIn, till1 } from './helpers/fixtures.ts'
import { check } from './helpers/seed.ts'

type Value = { [key: string]: Canonical }

function sealed (kind: string, value: Canonical): Uint8Array {
  return seal(kind as 'close', canonicalEncode(value), till1)
}

function hasNonAscii (v: Canonical): boolean {
  if (typeof v === 'string') return /[^\x00-\x7f]/.test(v)
  if (Array.isArray(v)) return v.some(hasNonAscii)
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) return Object.entries(v).some(([k, x]) => hasNonAscii(k) || hasNonAscii(x))
  return false
}

/**
 * The fast verdict is sound (a yes only where the definition says yes, with the same
 * fields) and, when `exact`, complete (a no only where the definition says no).
 */
function agree (bytes: Uint8Array, exact: boolean): boolean {
  const fast = acceptRecordEnvelope(bytes)
  let ref: ReturnType<typeof openRecordUnverified> | null = null
  let refusal = ''
  try {
    ref = openRecordUnverified(bytes)
  } catch (err) {
    refusal = (err as Error).message
  }
  const where = `envelope ${hexOf(bytes).slice(0, 400)}`
  if (fast !== null) {
    assert.ok(ref !== null, `fast path accepted what openRecordUnverified refuses (${refusal}): ${where}`)
    assert.equal(fast.kind, ref.kind)
    assert.deepEqual(bytes.subarray(fast.bodyStart, fast.bodyEnd), ref.body)
    assert.deepEqual(bytes.subarray(fast.signerStart, fast.signerStart + 32), ref.signer)
    assert.deepEqual(bytes.subarray(fast.sigStart, fast.sigStart + 64), ref.sig)
  } else if (exact) {
    assert.equal(ref, null, `fast path not sure of a valid all-ASCII record: ${where}`)
  }
  return fast !== null
}

const skuArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/)
const phoneArb = fc.stringMatching(/^\+[1-9]\d{6,14}$/)
/** Integers that need every head size, and the limits. */
const edgeInt = (min: number, max: number): fc.Arbitrary<number> => fc.oneof(
  fc.integer({ min, max }),
  fc.constantFrom(min, max, 0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32).filter(n => n >= min && n <= max)
)
function sortedUniqueBy<T> (items: T[], key: (t: T) => string | number): T[] {
  const seen = new Map<string | number, T>()
  for (const t of items) seen.set(key(t), t)
  return [...seen.values()].sort((a, b) => key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)
}
const linesArb = (allowNegative: boolean): fc.Arbitrary<Array<{ sku: string, qty: number }>> =>
  fc.array(fc.record({ sku: skuArb, qty: edgeInt(allowNegative ? -QTY_MAX : 1, QTY_MAX).filter(q => q !== 0) }), { maxLength: 12 })
    .map(ls => sortedUniqueBy(ls, l => l.sku))

const headerArb = fc.record({
  store: fc.stringMatching(/^[A-Z][A-Z0-9]{0,15}$/),
  till: fc.integer({ min: 1, max: 999 }),
  businessDay: fc.date({ min: new Date('1990-01-01'), max: new Date('2200-12-31'), noInvalidDate: true }).map(d => d.toISOString().slice(0, 10)),
  seq: edgeInt(1, SEQ_MAX),
  prevHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  atMs: edgeInt(0, Number.MAX_SAFE_INTEGER)
}).map(h => ({ ...h, prevHash: h.seq === 1 ? new Uint8Array(GENESIS_HASH) : h.prevHash }))

const closeArb: fc.Arbitrary<Value> = fc.record({
  header: headerArb,
  docFirst: edgeInt(1, DOC_N_MAX - 1000),
  saleCount: fc.nat({ max: 500 }),
  refundCount: fc.nat({ max: 500 }),
  tax: fc.array(fc.record({ rateBp: edgeInt(0, 10_000), netCents: edgeInt(-MONEY_MAX / 20, MONEY_MAX / 20), taxCents: edgeInt(-MONEY_MAX / 20, MONEY_MAX / 20) }), { maxLength: 16 })
    .map(ls => sortedUniqueBy(ls, l => l.rateBp)),
  cardShare: fc.integer({ min: -MONEY_MAX / 2, max: MONEY_MAX / 2 }),
  refundsCents: edgeInt(0, MONEY_MAX),
  cashCountedCents: edgeInt(-MONEY_MAX, MONEY_MAX),
  consumed: linesArb(true),
  points: fc.array(fc.record({ member: phoneArb, points: edgeInt(1, QTY_MAX) }), { maxLength: 6 }).map(ls => sortedUniqueBy(ls, l => l.member))
}).map(r => {
  const taxed = r.tax.reduce((s, l) => s + l.netCents + l.taxCents, 0)
  const card = Math.max(-MONEY_MAX, Math.min(MONEY_MAX, r.cardShare))
  const cash = taxed - card
  return {
    v: 1, kind: 'close', ...r.header,
    docFirst: r.docFirst, docLast: r.docFirst + r.saleCount + r.refundCount - 1, saleCount: r.saleCount, refundCount: r.refundCount,
    takingsCents: Math.abs(cash) <= MONEY_MAX ? { cash, card } : { cash: taxed, card: 0 },
    tax: r.tax, refundsCents: r.refundsCents, cashCountedCents: r.cashCountedCents, consumed: r.consumed, points: r.points
  }
})

const stockInArb: fc.Arbitrary<Value> = fc.record({
  header: headerArb,
  replenishmentId: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/),
  shipped: linesArb(false),
  received: linesArb(false)
}).map(r => ({ v: 1, kind: 'stockIn', ...r.header, replenishmentId: r.replenishmentId, shipped: r.shipped, received: r.received }))

const recordArb = fc.oneof(closeArb, stockInArb)

/** Values a field may be turned into: wrong types, limits and one past them, non-ASCII, odd shapes. */
const ODD_VALUES: Canonical[] = [
    0, 1, -1, 2, 999, 1000, 10_000, 10_001, QTY_MAX, QTY_MAX + 1, -QTY_MAX, -QTY_MAX - 1, MONEY_MAX, MONEY_MAX + 1, -MONEY_MAX, -MONEY_MAX - 1,
    DOC_N_MAX, DOC_N_MAX + 1, SEQ_MAX, SEQ_MAX + 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER,
    '', 'S1', 's1', 'S-1', 'Ä', 'BREAD-1', 'bread_1.x', '-x', 'é', '+447700900001', '447700900001', '+4477009000011234',
    '2026-02-29', '2028-02-29', '2026-13-01', '2026-1-01', 'close', 'stockIn', 'cert',
  null, true, false, [], {}, new Uint8Array(0), new Uint8Array(31), new Uint8Array(32), new Uint8Array(33)
]
const oddValue: fc.Arbitrary<Canonical> = fc.oneof(
  fc.constantFrom(...ODD_VALUES),
  fc.integer({ min: -1e14, max: 1e14 }),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 6 })
)

/** A copy of `v` with one random change somewhere in its tree (`pick` chooses). */
function mutate (v: Canonical, pick: number[], replacement: Canonical, how: number): Canonical {
  const copy = structuredClone(v)
  let node: Canonical = copy
  for (let depth = 0; depth < 4; depth++) {
    const choice = pick[depth] ?? 0
    if (Array.isArray(node)) {
      if (node.length === 0) { node.push(replacement); return copy }
      const i = choice % node.length
      const child: Canonical = node[i] as Canonical
      if (depth === 3 || child === null || typeof child !== 'object' || child instanceof Uint8Array || how % 3 === 0) {
        if (how % 5 === 1) node.splice(i, 1)
        else if (how % 5 === 2) node.push(structuredClone(node[0] as Canonical))
        else node[i] = replacement
        return copy
      }
      node = child
    } else if (node !== null && typeof node === 'object' && !(node instanceof Uint8Array)) {
      const keys = Object.keys(node)
      if (keys.length === 0) { node.x = replacement; return copy }
      const k = keys[choice % keys.length] as string
      const child: Canonical = node[k] as Canonical
      if (depth === 3 || child === null || typeof child !== 'object' || child instanceof Uint8Array || how % 3 === 0) {
        if (how % 7 === 1) delete node[k]
        else if (how % 7 === 2) node[`${k}x`] = replacement
        else node[k] = replacement
        return copy
      }
      node = child
    } else {
      return copy
    }
  }
  return copy
}

describe('acceptRecordEnvelope (the verify threads\' fast yes)', () => {
  it('accepts the fixtures\' records and gives their layout', () => {
    for (const r of [close(), stockIn(), close({ points: [], consumed: [], tax: [], takingsCents: { cash: 0, card: 0 } })]) {
      assert.ok(agree(sealed(r.kind, r as unknown as Canonical), true))
    }
  })

  it('accepts every random valid record, with values at every limit and every head size', () => {
    check(fc.property(recordArb, r => {
      assert.ok(agree(sealed(r.kind as string, r), true), 'a valid record took the slow path')
    }), 400)
  })

  it('gives the definition\'s verdict on field-level mutations (exactly, where the text is ASCII)', () => {
    let accepted = 0
    let runs = 0
    check(fc.property(recordArb, fc.array(fc.nat(), { minLength: 4, maxLength: 4 }), oddValue, fc.nat(), (r, pick, replacement, how) => {
      const m = mutate(r, pick, replacement, how) as Value
      let bytes: Uint8Array
      try {
        bytes = sealed(r.kind as string, m)
      } catch {
        return // not encodable or oversized: nothing to check
      }
      runs++
      if (agree(bytes, !hasNonAscii(m))) accepted++
    }), 3_000)
    // Some mutations are harmless (a qty changed to another valid qty): both paths must see them.
    assert.ok(accepted > 0 && accepted < runs, `accepted ${accepted} of ${runs}`)
  })

  it('gives the definition\'s verdict with every odd value in every field (limits, one past them, wrong types)', () => {
    const setAt = (v: Value, path: Array<string | number>, x: Canonical): Value => {
      const copy = structuredClone(v)
      let node = copy as Canonical
      for (const k of path.slice(0, -1)) node = (node as Record<string, Canonical>)[k] as Canonical
      ;(node as Record<string, Canonical>)[path[path.length - 1] as string] = x
      return copy
    }
    const c = close() as unknown as Value
    const s = stockIn() as unknown as Value
    const paths: Array<[Value, Array<string | number>]> = [
      ...Object.keys(c).map(k => [c, [k]] as [Value, Array<string | number>]),
      ...Object.keys(s).map(k => [s, [k]] as [Value, Array<string | number>]),
      [c, ['takingsCents', 'cash']], [c, ['takingsCents', 'card']], [c, ['tax', 0, 'rateBp']], [c, ['tax', 1, 'rateBp']], [c, ['tax', 0, 'netCents']],
      [c, ['tax', 0, 'taxCents']], [c, ['consumed', 0, 'sku']], [c, ['consumed', 1, 'qty']], [c, ['points', 0, 'member']], [c, ['points', 1, 'points']],
      [s, ['shipped', 0, 'qty']], [s, ['shipped', 1, 'sku']], [s, ['received', 0, 'qty']]
    ]
    let accepted = 0
    for (const [base, path] of paths) {
      for (const x of ODD_VALUES) {
        const m = setAt(base, path, x)
        if (agree(sealed(base.kind as string, m), !hasNonAscii(m))) accepted++
      }
    }
    assert.ok(accepted > 0)
  })

  it('never accepts what the definition refuses after flips, cuts and insertions', () => {
    check(fc.property(recordArb, fc.nat({ max: 100_000 }), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'set', 'cut', 'insert', 'drop'), (r, where, byte, how) => {
      const src = sealed(r.kind as string, r)
      const at = where % src.length
      let b: Uint8Array
      if (how === 'flip') { b = new Uint8Array(src); b[at] = (b[at] as number) ^ (1 << (byte % 8)) } else if (how === 'set') { b = new Uint8Array(src); b[at] = byte } else if (how === 'cut') b = src.slice(0, at)
      else if (how === 'insert') b = new Uint8Array([...src.subarray(0, at), byte, ...src.subarray(at)])
      else b = new Uint8Array([...src.subarray(0, at), ...src.subarray(at + 1)])
      agree(b, false)
    }), 3_000)
  })

  it('says no to empty, non-bytes, oversized input and a list past its limit', () => {
    assert.equal(acceptRecordEnvelope(new Uint8Array(0)), null)
    assert.equal(acceptRecordEnvelope('x' as unknown as Uint8Array), null)
    assert.equal(acceptRecordEnvelope(new Uint8Array(64 * 1024 + 1)), null)
    const lines = Array.from({ length: LINES_MAX + 1 }, (_, i) => ({ sku: `S${String(i).padStart(4, '0')}`, qty: 1 }))
    const tooMany = stockIn({ shipped: lines })
    assert.equal(agree(sealed('stockIn', tooMany as unknown as Canonical), true), false)
  })
})

/**
 * The pitch's fleet, shared by the relay and the load generator: N tills, each sending one
 * SODA (morning stock-in) and one EODA (nightly close) as a JSON op
 * `{ id, till, kind, body }`, every body carrying a `cents` amount so the relay has totals.
 *
 * In the guarded variant each op also carries `sig`: the till's Ed25519 signature over
 * `signedBytes(op)` = a domain tag followed by the op's canonical JSON (keys sorted
 * bytewise, no whitespace, integers only; for our ASCII keys and safe integers this is
 * RFC 8785 / JCS). Canonical JSON rather than the repo's canonical CBOR: the relay speaks
 * JSON and must rebuild the signed bytes from what it parsed; cborg's encoder costs
 * ~35-70 µs per op here (a third to half a verify), this canonical JSON ~4-8 µs, and a fair
 * re-creation should not be made slow on purpose.
 */
export type OpKind = 'SODA' | 'EODA'
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

export interface PitchOp {
  id: string
  till: string
  kind: OpKind
  body: { businessDay: string, cents: number, [key: string]: Json }
  sig?: string
}

export const BUSINESS_DAY = '2026-03-02'
export const SIGN_DOMAIN = Buffer.from('tillbooks/pitch-op/v1\n', 'utf8')

export function tillName (i: number): string {
  return `T${String(i).padStart(6, '0')}`
}

/**
 * Till i's two ops, from one real unit (the Patio Furniture Set at 500.00 and the café range):
 * a few lines received in the morning, a close with takings per tender, tax and stock consumed.
 * The JSON of an EODA is ~330 bytes, a SODA ~190, close to tillbooks' own records.
 */
export function tillOps (i: number): [PitchOp, PitchOp] {
  const till = tillName(i)
  const chairs = 4 + (i % 5)
  const sets = 1 + (i % 3)
  const soda: PitchOp = {
    id: `${till}:SODA:${BUSINESS_DAY}`,
    till,
    kind: 'SODA',
    body: {
      businessDay: BUSINESS_DAY,
      replenishment: `R-${till}-0302`,
      lines: [{ sku: 'patio-chair', qty: chairs }, { sku: 'patio-table', qty: sets }, { sku: 'coffee-beans-g', qty: 1000 }],
      cents: chairs * 6_000 + sets * 15_000 + 2_400
    }
  }
  const lattes = 10 + (i % 17)
  const takings = sets * 50_000 + lattes * 420
  const card = Math.floor(takings * (30 + (i % 40)) / 100)
  const eoda: PitchOp = {
    id: `${till}:EODA:${BUSINESS_DAY}`,
    till,
    kind: 'EODA',
    body: {
      businessDay: BUSINESS_DAY,
      docFirst: 1,
      docLast: sets + lattes,
      saleCount: sets + lattes,
      tenders: { cash: takings - card, card },
      taxCents: Math.round(takings / 6),
      consumed: [{ sku: 'patio-chair', qty: sets * 4 }, { sku: 'patio-table', qty: sets }, { sku: 'coffee-beans-g', qty: lattes * 18 }, { sku: 'milk-ml', qty: lattes * 200 }],
      cents: takings
    }
  }
  return [soda, eoda]
}

/** The totals the relay must end with: the sum of `cents` per kind over the whole fleet. */
export function expectedTotals (tills: number): { SODA: number, EODA: number } {
  const t = { SODA: 0, EODA: 0 }
  for (let i = 0; i < tills; i++) {
    const [s, e] = tillOps(i)
    t.SODA += s.body.cents
    t.EODA += e.body.cents
  }
  return t
}

/** Canonical JSON: object keys sorted (UTF-16 order = bytewise for ASCII keys), no whitespace, safe integers only. */
export function canonicalJson (v: Json): string {
  if (v === null || typeof v === 'boolean') return String(v)
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new TypeError(`not a safe integer: ${v}`)
    return String(v)
  }
  if (typeof v === 'string') return JSON.stringify(v)
  if (Array.isArray(v)) {
    let s = '['
    for (let k = 0; k < v.length; k++) s += (k === 0 ? '' : ',') + canonicalJson(v[k] as Json)
    return s + ']'
  }
  const keys = Object.keys(v).sort()
  let s = '{'
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k] as string
    s += (k === 0 ? '' : ',') + JSON.stringify(key) + ':' + canonicalJson(v[key] as Json)
  }
  return s + '}'
}

/** The bytes a till signs: the domain tag and the canonical JSON of the op without `sig`. */
export function signedBytes (op: PitchOp): Buffer {
  const text = canonicalJson({ id: op.id, till: op.till, kind: op.kind, body: op.body })
  return Buffer.concat([SIGN_DOMAIN, Buffer.from(text, 'utf8')])
}

/** Reads `<tag> {json}` lines from a child's stdout. */
export function parseTagged (line: string, tag: string): unknown {
  if (!line.startsWith(tag + ' ')) return undefined
  return JSON.parse(line.slice(tag.length + 1))
}

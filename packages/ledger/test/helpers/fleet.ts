/** A large, realistic fleet for performance tests: per till and day, a StockIn then a Close. */
import type { Entry } from '@tillbooks/protocol'
import { MEMBERS, signerFor, TillWriter } from './fixtures.ts'

/**
 * `tills` tills over 100 stores, `days` days each. One signer for all: Books never looks at
 * signatures (the caller verified them), and deriving 10,000 keys would dominate the run.
 * Returns the entries day by day, tills interleaved, as HQ would receive them.
 */
export function buildFleet (tills: number, days: number): Entry[] {
  const signer = signerFor(250)
  const writers = Array.from({ length: tills }, (_, i) => new TillWriter(`S${1 + (i % 100)}`, 1 + Math.floor(i / 100), signer))
  const out: Entry[] = []
  for (let d = 0; d < days; d++) {
    const day = new Date(Date.UTC(2026, 10, 1 + d)).toISOString().slice(0, 10)
    for (const [i, w] of writers.entries()) {
      out.push(w.stockIn({ day, shipped: [{ sku: 'BEAN', qty: 40 }, { sku: 'CUP', qty: 200 }, { sku: 'MILK', qty: 30 }], received: [{ sku: 'BEAN', qty: 40 }, { sku: 'CUP', qty: 198 }, { sku: 'MILK', qty: 30 }] }))
      out.push(w.close({
        day,
        tax: [{ rateBp: 0, netCents: 1_250 + i % 97, taxCents: 0 }, { rateBp: 2000, netCents: 84_150 + d, taxCents: 16_830 }],
        cardCents: 61_200,
        overCents: (i % 7) - 3,
        consumed: [{ sku: 'BEAN', qty: 31 }, { sku: 'CUP', qty: 172 }, { sku: 'LID', qty: 150 }, { sku: 'MILK', qty: 22 }, { sku: 'SUGAR', qty: 60 }],
        points: MEMBERS.slice(0, 1 + (i % 3)).map((member, k) => ({ member, points: 10 + k })),
        saleCount: 170,
        refundCount: 2,
        refundsCents: 900
      }))
    }
  }
  return out
}

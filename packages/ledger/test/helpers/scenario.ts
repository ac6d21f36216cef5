/** The hand-computed scenario shared by the Books and export tests. */
import type { BusinessDay, Entry, Replenishment, StoreId } from '@tillbooks/protocol'
import { Books } from '../../src/index.ts'
import { costCents, TillWriter } from './fixtures.ts'

export const R1: Replenishment = { v: 1, kind: 'replenishment', id: 'R1', store: 'S1' as StoreId, businessDay: '2026-11-24' as BusinessDay, lines: [{ sku: 'BEAN', qty: 10 }, { sku: 'CUP', qty: 50 }] }
export const OPENING = [{ sku: 'BEAN', qty: 5000 }, { sku: 'CUP', qty: 1000 }]

/** Two stores, two tills, one delivery, one opening balance. Numbers worked by hand in the comments. */
export function scenario (): { s1: TillWriter, s2: TillWriter, entries: Entry[] } {
  const s1 = new TillWriter('S1', 1)
  // Shipped 10 BEAN + 50 CUP = 1950 at cost; received 9 BEAN + 52 CUP = 1860: shrinkage 90.
  s1.stockIn({ day: '2026-11-25', replenishmentId: 'R1', shipped: R1.lines, received: [{ sku: 'BEAN', qty: 9 }, { sku: 'CUP', qty: 52 }] })
  // Takings 3550 (1000 cash, 2550 card) = net 3041 + VAT 509; counted 1020 (20 over); COGS 3×120 − 15 = 345.
  s1.close({
    day: '2026-11-25',
    tax: [{ rateBp: 0, netCents: 500, taxCents: 0 }, { rateBp: 2000, netCents: 2541, taxCents: 509 }],
    cardCents: 2550,
    overCents: 20,
    consumed: [{ sku: 'BEAN', qty: 3 }, { sku: 'CUP', qty: -1 }],
    points: [{ member: '+447700900001', points: 35 }],
    saleCount: 4
  })
  const s2 = new TillWriter('S2', 1)
  // Takings 1000 cash = 834 + 166 VAT; counted 990 (10 short); 4 SUGAR at cost 0.
  s2.close({
    day: '2026-11-25',
    tax: [{ rateBp: 2000, netCents: 834, taxCents: 166 }],
    overCents: -10,
    consumed: [{ sku: 'SUGAR', qty: 4 }],
    points: [{ member: '+447700900001', points: 10 }, { member: '+447700900002', points: 5 }],
    saleCount: 1
  })
  return { s1, s2, entries: [...s1.entries, ...s2.entries] }
}

export function fold (entries: readonly Entry[], opts: { opening?: boolean, replenishment?: boolean } = {}): Books {
  const books = new Books({ costCents })
  if (opts.opening !== false) books.addOpeningStock(OPENING, '2026-11-01')
  if (opts.replenishment !== false) books.addReplenishment(R1)
  for (const e of entries) books.add(e)
  return books
}

/**
 * The simulator's shelves (stock.ts): a customer takes only what is on a till's shelf, recipes
 * exploded to their stocked leaves, so no shelf ever holds less than nothing; and the shelves
 * it keeps as it runs are the ones the truth makes again.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { demoCatalogue } from '@tillbooks/catalogue'
import type { SkuQty } from '@tillbooks/protocol'
import { onShelf, Shelves } from '../src/stock.ts'
import type { TruthDay } from '../src/Oracle.ts'

const catalogue = demoCatalogue()
const sellable = catalogue.products().filter(p => p.sellable !== false).map(p => p.sku)
const stocked = catalogue.products().filter(p => p.stocked).map(p => p.sku)

describe('sim stock: shelves', () => {
  it('a line is cut to what its leaves allow after the lines before it; an empty one is dropped; a product the catalogue does not know passes', () => {
    const s = new Shelves(catalogue)
    // A patio set is 4 chairs, a table and a sun screen: 9 chairs and 3 tables make two sets.
    s.receive('T', [{ sku: 'patio-chair', qty: 9 }, { sku: 'patio-table', qty: 3 }, { sku: 'patio-sunscreen', qty: 5 }])
    assert.deepEqual(s.take('T', [{ sku: 'patio-set', qty: 3 }, { sku: 'patio-chair', qty: 3 }, { sku: 'patio-table', qty: 2 }, { sku: 'made-up-here', qty: 2 }]),
      [{ sku: 'patio-set', qty: 2 }, { sku: 'patio-chair', qty: 1 }, { sku: 'patio-table', qty: 1 }, { sku: 'made-up-here', qty: 2 }])
    assert.deepEqual([...s.of('T') ?? []].sort(), [['patio-chair', 0], ['patio-sunscreen', 3], ['patio-table', 0]])
    assert.deepEqual(s.take('T', [{ sku: 'patio-chair', qty: 1 }]), [], 'nothing left: the line is dropped')
    assert.deepEqual(s.take('U', [{ sku: 'patio-chair', qty: 1 }]), [], 'a till nothing came to sells nothing stocked')
  })

  it('what is given back is on the shelf again, a recipe as its leaves', () => {
    const s = new Shelves(catalogue)
    s.receive('T', [{ sku: 'patio-chair', qty: 4 }, { sku: 'patio-table', qty: 1 }, { sku: 'patio-sunscreen', qty: 1 }])
    const taken = s.take('T', [{ sku: 'patio-set', qty: 1 }])
    assert.deepEqual(taken, [{ sku: 'patio-set', qty: 1 }])
    s.putBack('T', taken)
    assert.deepEqual([...s.of('T') ?? []].sort(), [['patio-chair', 4], ['patio-sunscreen', 1], ['patio-table', 1]])
  })

  it('property: taking through `take` never leaves a shelf below zero, and the truth of it makes the same shelves again', () => {
    const line = (skus: string[]): fc.Arbitrary<SkuQty> => fc.record({ sku: fc.constantFrom(...skus), qty: fc.integer({ min: 1, max: 400 }) })
    const step = fc.oneof(
      fc.record({ op: fc.constant('receive' as const), till: fc.constantFrom('A', 'B'), lines: fc.array(line(stocked), { maxLength: 4 }) }),
      fc.record({ op: fc.constant('sell' as const), till: fc.constantFrom('A', 'B'), lines: fc.array(line([...sellable, 'made-up-here']), { minLength: 1, maxLength: 4 }), rung: fc.boolean() }),
      fc.record({ op: fc.constant('refund' as const), till: fc.constantFrom('A', 'B'), lines: fc.array(line(sellable), { minLength: 1, maxLength: 2 }) })
    )
    const seed = Number(process.env.STOCK_SEED ?? Date.now() % 2 ** 31)
    try {
      fc.assert(fc.property(fc.array(step, { maxLength: 60 }), steps => {
        const s = new Shelves(catalogue)
        const truth: TruthDay[] = []
        for (const x of steps) {
          const d: TruthDay = { store: 'S', tillId: x.till, businessDay: '2026-04-01', delivery: null, sales: [], cashCountedCents: null, closeCounts: true, stockInCounts: true }
          if (x.op === 'receive') {
            s.receive(x.till, x.lines)
            d.delivery = { shipped: x.lines, received: x.lines }
          } else if (x.op === 'sell') {
            const taken = s.take(x.till, x.lines)
            // A sale that does not happen (declined) gives back what it took.
            if (!x.rung) s.putBack(x.till, taken)
            else d.sales.push({ kind: 'sale', lines: taken, cardCents: 0, member: null })
          } else {
            s.putBack(x.till, x.lines)
            d.sales.push({ kind: 'refund', lines: x.lines, cardCents: 0, member: null, refundTender: 'cash' })
          }
          truth.push(d)
          for (const [, shelf] of s.all()) for (const [sku, qty] of shelf) assert.ok(qty >= 0, `${sku} at ${qty}`)
        }
        const again = onShelf(truth, catalogue)
        const norm = (m: Map<string, Map<string, number>>): string[] => [...m].flatMap(([t, shelf]) => [...shelf].filter(([, q]) => q !== 0).map(([k, q]) => `${t} ${k} ${q}`)).sort()
        assert.deepEqual(norm(again), norm(s.all()))
      }), { seed, numRuns: 300 })
    } catch (err) {
      throw new Error(`STOCK_SEED=${seed}: ${(err as Error).message}`)
    }
  })
})

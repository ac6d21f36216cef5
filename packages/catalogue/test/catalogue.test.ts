import assert from 'node:assert/strict'
import {
  BOM_DEPTH_MAX, BomCycleError, BomTooDeepError, Catalogue, DuplicateSkuError, InvalidProductError, InvalidSkuError,
  LimitExceededError, UnknownSkuError, type CatalogueData, type CatalogueInit, type ProductData
} from '../src/index.ts'
import { throwsNamed } from './helpers/assert.ts'
import { madeOf, stocked } from './helpers/catalogues.ts'

const build = (products: unknown[], init?: CatalogueInit): Catalogue => new Catalogue({ products } as CatalogueData, init)

/** a-0 ← a-1 ← … ← a-levels: a chain of `levels` recipes over one stocked product. */
function chain (levels: number): ProductData[] {
  const products = [stocked('a-0', { costCents: 7 })]
  for (let i = 1; i <= levels; i++) products.push(madeOf(`a-${i}`, [{ sku: `a-${i - 1}`, qty: 1 }], { costCents: 7 }))
  return products
}

describe('Catalogue', () => {
  describe('a valid catalogue', () => {
    const data: CatalogueData = {
      products: [
        madeOf('kit', [{ sku: 'screw', qty: 10 }, { sku: 'board', qty: 2 }], { costCents: 70 }),
        stocked('screw', { costCents: 1 }),
        stocked('board', { costCents: 30, sellable: false })
      ]
    }
    const catalogue = new Catalogue(data)

    it('answers lookups', () => {
      assert.equal(catalogue.size, 3)
      assert.ok(catalogue.has('kit'))
      assert.ok(!catalogue.has('nail'))
      assert.equal(catalogue.get('board').sellable, false)
      assert.equal(catalogue.get('screw').sellable, true)
      throwsNamed(() => catalogue.get('nail'), UnknownSkuError, /unknown sku "nail"/)
    })

    it('lists products and stocked skus sorted by sku', () => {
      assert.deepEqual(catalogue.products().map(p => p.sku), ['board', 'kit', 'screw'])
      assert.deepEqual(catalogue.stockedSkus(), ['board', 'screw'])
    })

    it('gives standard costs: a stocked product its own, a recipe its components rolled up', () => {
      assert.equal(catalogue.costCents('screw'), 1)
      assert.equal(catalogue.costCents('kit'), 10 * 1 + 2 * 30)
      throwsNamed(() => catalogue.costCents('nail'), UnknownSkuError, /nail/)
    })

    it('is frozen and does not see later changes to its data', () => {
      const products = structuredClone(data.products) as ProductData[]
      const c = new Catalogue({ products })
      ;(products[1] as ProductData).priceCents = 1
      assert.equal(c.get('screw').priceCents, 100)
      assert.ok(Object.isFrozen(c.get('kit')))
      assert.ok(Object.isFrozen(c.get('kit').recipe))
      assert.ok(Object.isFrozen(c.products()))
      assert.throws(() => { (c.get('kit') as { priceCents: number }).priceCents = 1 }, TypeError)
    })

    it('round-trips through toData, sorted by sku', () => {
      const again = new Catalogue(catalogue.toData())
      assert.deepEqual(again.toData(), catalogue.toData())
      assert.deepEqual(catalogue.toData().products.map(p => p.sku), ['board', 'kit', 'screw'])
      assert.deepEqual(catalogue.toData().products[0], data.products[2])
    })
  })

  describe('refuses, with a named error', () => {
    it('data that is not { products: [...] }', () => {
      throwsNamed(() => new Catalogue(null as unknown as CatalogueData), InvalidProductError, /catalogue must be an object/)
      throwsNamed(() => new Catalogue({} as CatalogueData), InvalidProductError, /catalogue.products is missing/)
      throwsNamed(() => new Catalogue({ products: {} } as unknown as CatalogueData), InvalidProductError, /products must be a list/)
      throwsNamed(() => build([42]), InvalidProductError, /products\[0\] must be an object/)
    })

    it('a field it does not know, or a missing one', () => {
      throwsNamed(() => build([{ ...stocked('a'), price: 100 }]), InvalidProductError, /products\[0\]\.price is not a known field/)
      const { costCents: _, ...noCost } = stocked('a')
      throwsNamed(() => build([noCost]), InvalidProductError, /products\[0\]\.costCents is missing/)
    })

    it('a sku that does not match SKU_RE', () => {
      for (const sku of ['', '-a', '.a', 'a b', 'a/b', 'café', 'a'.repeat(41), 12]) {
        throwsNamed(() => build([stocked(sku as string)]), InvalidSkuError, /products\[0\]\.sku must be a sku/)
      }
      assert.equal(build([stocked('A'.repeat(40)), stocked('9_a.b-c')]).size, 2)
      throwsNamed(() => build([stocked('a'), madeOf('k', [{ sku: 'a b', qty: 1 }])]), InvalidSkuError, /products\[1\] \(k\)\.recipe\[0\]\.sku/)
    })

    it('a sku twice in the catalogue, or a component twice in one recipe', () => {
      throwsNamed(() => build([stocked('a'), stocked('b'), stocked('a')]), DuplicateSkuError, /products\[2\]\.sku: a is already in the catalogue/)
      throwsNamed(() => build([stocked('a'), madeOf('k', [{ sku: 'a', qty: 1 }, { sku: 'a', qty: 2 }])]), DuplicateSkuError, /recipe\[1\]\.sku: a is already in this recipe/)
    })

    it('a recipe naming a product the catalogue does not have', () => {
      throwsNamed(() => build([stocked('a'), madeOf('k', [{ sku: 'a', qty: 1 }, { sku: 'ghost', qty: 1 }])]), UnknownSkuError, /products\[1\] \(k\)\.recipe\[1\]: unknown sku "ghost"/)
      assert.throws(() => build([madeOf('k', [{ sku: 'ghost', qty: 1 }])]), (err: unknown) => err instanceof UnknownSkuError && err.sku === 'ghost')
    })

    it('a cycle, reporting its path', () => {
      const cycleOf = (products: ProductData[]): readonly string[] => {
        try {
          build(products)
        } catch (err) {
          if (err instanceof BomCycleError) return err.cycle
          throw err
        }
        assert.fail('no cycle reported')
      }
      assert.deepEqual(cycleOf([madeOf('a', [{ sku: 'a', qty: 1 }])]), ['a', 'a'])
      assert.deepEqual(cycleOf([madeOf('a', [{ sku: 'b', qty: 1 }]), madeOf('b', [{ sku: 'a', qty: 2 }])]), ['a', 'b', 'a'])
      // Entered from outside the cycle, through a stocked branch first: only the cycle is reported.
      const products = [
        stocked('leaf'),
        madeOf('x', [{ sku: 'leaf', qty: 1 }, { sku: 'p', qty: 1 }]),
        madeOf('p', [{ sku: 'q', qty: 1 }]),
        madeOf('q', [{ sku: 'leaf', qty: 1 }, { sku: 'r', qty: 1 }]),
        madeOf('r', [{ sku: 'p', qty: 1 }])
      ]
      assert.deepEqual(cycleOf(products), ['p', 'q', 'r', 'p'])
      // Listed in another order, the same cycle.
      assert.deepEqual(cycleOf([...products].reverse()), ['p', 'q', 'r', 'p'])
      throwsNamed(() => build(products), BomCycleError, /bill of materials has a cycle: p → q → r → p/)
    })

    it(`recipes nested deeper than BOM_DEPTH_MAX (${BOM_DEPTH_MAX}), reporting the chain`, () => {
      assert.equal(build(chain(BOM_DEPTH_MAX)).explode(`a-${BOM_DEPTH_MAX}`, 3)[0]?.qty, 3)
      throwsNamed(() => build(chain(BOM_DEPTH_MAX + 1)), BomTooDeepError, /"a-9" is 9 levels deep, at most 8: a-9 → a-8 → .* → a-1 → a-0$/)
      // The deepest branch is the one reported, and the limit can be lowered.
      const products = [...chain(3), madeOf('top', [{ sku: 'a-0', qty: 1 }, { sku: 'a-3', qty: 1 }], { costCents: 14 })]
      assert.throws(() => build(products, { bomDepthMax: 3 }), (err: unknown) => err instanceof BomTooDeepError && err.path.join() === 'top,a-3,a-2,a-1,a-0')
      assert.equal(build(products, { bomDepthMax: 4 }).size, 5)
    })

    it('money and quantities that are not non-negative integers', () => {
      const bad = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '100', 2 ** 53, null]
      for (const v of bad) {
        throwsNamed(() => build([stocked('a', { priceCents: v as number })]), InvalidProductError, /products\[0\] \(a\)\.priceCents must be/)
        throwsNamed(() => build([stocked('a', { costCents: v as number })]), InvalidProductError, /products\[0\] \(a\)\.costCents must be/)
        throwsNamed(() => build([stocked('a', { taxRateBp: v as number })]), InvalidProductError, /products\[0\] \(a\)\.taxRateBp must be/)
        throwsNamed(() => build([stocked('a'), madeOf('k', [{ sku: 'a', qty: v as number }])]), InvalidProductError, /products\[1\] \(k\)\.recipe\[0\]\.qty must be/)
      }
      throwsNamed(() => build([stocked('a'), madeOf('k', [{ sku: 'a', qty: 0 }])]), InvalidProductError, /recipe\[0\]\.qty must be in 1\.\.1000000, is 0/)
      throwsNamed(() => build([stocked('a', { taxRateBp: 10_001 })]), InvalidProductError, /taxRateBp must be in 0\.\.10000, is 10001/)
      throwsNamed(() => build([stocked('a', { priceCents: 1e9 + 1 })]), InvalidProductError, /priceCents must be in 0\.\.1000000000/)
      assert.equal(build([stocked('a', { priceCents: 0, costCents: 0, taxRateBp: 0 }), stocked('b', { taxRateBp: 10_000 })]).size, 2)
    })

    it('a stocked flag that disagrees with the recipe', () => {
      throwsNamed(() => build([stocked('a'), { ...stocked('b'), recipe: [{ sku: 'a', qty: 1 }] }]), InvalidProductError, /products\[1\] \(b\) is stocked but has a recipe/)
      throwsNamed(() => build([{ ...stocked('a'), stocked: false }]), InvalidProductError, /products\[0\] \(a\) is not stocked and has no recipe/)
      throwsNamed(() => build([madeOf('k', [])]), InvalidProductError, /recipe is empty/)
      throwsNamed(() => build([{ ...stocked('a'), stocked: 'yes' }]), InvalidProductError, /stocked must be true or false/)
      throwsNamed(() => build([{ ...stocked('a'), sellable: 1 }]), InvalidProductError, /sellable must be true or false/)
    })

    it('a name that would not print on a receipt', () => {
      for (const name of ['', ' Tea', 'Tea ', 'Tea\nCake', 'x'.repeat(81), 7]) {
        throwsNamed(() => build([stocked('a', { name: name as string })]), InvalidProductError, /products\[0\] \(a\)\.name must be 1\.\.80 printable characters/)
      }
    })

    it('a declared cost that is not its recipe rolled up, saying what it should be', () => {
      const products = [stocked('a', { costCents: 3 }), stocked('b', { costCents: 5 }), madeOf('k', [{ sku: 'a', qty: 2 }, { sku: 'b', qty: 1 }], { costCents: 10 })]
      throwsNamed(() => build(products), InvalidProductError, /products\[2\] \(k\)\.costCents is 10, but its recipe costs 11 at standard cost: set it to 11/)
    })

    it('a catalogue beyond its limits', () => {
      throwsNamed(() => build([stocked('a'), stocked('b'), stocked('c')], { productsMax: 2 }), LimitExceededError, /products has 3 items, at most 2/)
      const rates = Array.from({ length: 17 }, (_, i) => stocked(`r${i}`, { taxRateBp: i * 100 }))
      throwsNamed(() => build(rates), LimitExceededError, /17 tax rates, at most 16/)
      assert.equal(build(rates.slice(1)).size, 16)
      const lines = Array.from({ length: 3 }, (_, i) => stocked(`c${i}`, { costCents: 1 }))
      const kit = madeOf('kit', lines.map(l => ({ sku: l.sku, qty: 1 })), { costCents: 3 })
      throwsNamed(() => build([...lines, kit], { recipeLinesMax: 2 }), LimitExceededError, /recipe has 3 items, at most 2/)
      throwsNamed(() => build([...lines, kit], { explodedSkusMax: 2 }), LimitExceededError, /one kit consumes 3 distinct stocked skus, at most 2/)
      // 1e6 × 1e6 grams of flour in one unit: more than a Close could ever carry.
      const flour = [stocked('flour-g', { costCents: 0 }), madeOf('sack', [{ sku: 'flour-g', qty: 1e6 }]), madeOf('pallet', [{ sku: 'sack', qty: 1e6 }])]
      throwsNamed(() => build(flour), LimitExceededError, /one pallet consumes more than 1000000000 units of flour-g/)
      const dear = [stocked('gold', { costCents: 1e9 }), madeOf('pair', [{ sku: 'gold', qty: 2 }], { costCents: 1e9 })]
      throwsNamed(() => build(dear), LimitExceededError, /one pair costs 2000000000 cents at standard cost, at most 1000000000/)
    })
  })
})

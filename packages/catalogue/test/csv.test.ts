/**
 * The catalogue file: amounts parsed exactly (never rounded), GTIN check digits, whole-file
 * checks with line and column, and a file written by toCatalogueCsv read back equal.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  CSV_COLUMNS, Catalogue, catalogueDataOf, demoCatalogueData, formatAmount, isGtin, parseAmountCents, parseCatalogueCsv, toCatalogueCsv,
  type ProductData
} from '../src/index.ts'
import { arbCatalogueData } from './helpers/catalogues.ts'
import { fcParams } from './helpers/fc.ts'

const HEADER = CSV_COLUMNS.join(',')
const file = (...lines: string[]): string => [HEADER, ...lines].join('\n')
const BEANS = 'beans,Coffee Beans 1kg,4006381333931,19.99,550,9.50,true,'
const CUP = 'cup,Paper Cup,,,2000,0.04,true,'
const LATTE = 'latte,Latte,,3.20,1000,,false,beans*1;cup*1'

/** Data as the catalogue normalises it (sellable left out when true), sorted by sku. */
function normal (data: readonly ProductData[]): ProductData[] {
  return data.map(p => ({ ...p, ...(p.sellable === true ? { sellable: undefined } : {}) }))
    .map(p => JSON.parse(JSON.stringify(p)) as ProductData)
    .sort((a, b) => a.sku < b.sku ? -1 : 1)
}

describe('catalogue CSV', () => {
  it('parses amounts exactly into cents and refuses what it would have to round or guess', () => {
    for (const [text, cents] of [['19.99', 1999], ['19.9', 1990], ['19', 1900], ['0.01', 1], ['0', 0], ['1234567.89', 123456789], ['0.10', 10]] as const) {
      assert.equal(parseAmountCents(text), cents, text)
      assert.equal(parseAmountCents(formatAmount(cents)), cents)
    }
    for (const [text, why] of [['19.999', /more than two decimals/], ['-5.00', /negative/], ['1e3', /not a decimal/], ['1,000.00', /not a decimal/], [' 19.99', /not a decimal/], ['19.', /not a decimal/], ['.5', /not a decimal/], ['', /not a decimal/], ['0x10', /not a decimal/], ['Infinity', /not a decimal/]] as const) {
      assert.throws(() => parseAmountCents(text), why, text)
    }
  })

  it('knows a GTIN by its check digit (GS1 mod 10)', () => {
    for (const ok of ['4006381333931', '5012345678900', '96385074', '012345678905', '00012345678905']) assert.ok(isGtin(ok), ok)
    for (const bad of ['4006381333932', '40063813339', 'abcdefghijklm', '123456789012345', '']) assert.ok(!isGtin(bad), bad)
    fc.assert(fc.property(fc.stringMatching(/^\d{12}$/), body => {
      const valid = [...'0123456789'].map(d => body + d).filter(isGtin)
      assert.equal(valid.length, 1, 'exactly one check digit completes a GTIN')
    }), fcParams())
  })

  it('reads a good file, rolling a recipe\'s cost up, and the catalogue takes it', () => {
    const r = parseCatalogueCsv(file(BEANS, CUP, LATTE))
    assert.deepEqual(r.errors, [])
    assert.deepEqual(r.products.map(p => [p.line, p.sku, p.priceCents, p.costCents, p.gtin, p.sellable]), [
      [2, 'beans', 1999, 950, '4006381333931', undefined],
      [3, 'cup', 0, 4, undefined, false],
      [4, 'latte', 320, 954, undefined, undefined]
    ])
    const c = new Catalogue(catalogueDataOf(r.products))
    assert.equal(c.get('latte').costCents, 954)
  })

  it('refuses a bad file whole, each error naming its line and column', () => {
    const cases: Array<[string, Array<[number, string | null, RegExp]>]> = [
      [file(BEANS.replace('19.99', '1e3')), [[2, 'price', /not a decimal/]]],
      [file(BEANS.replace('19.99', '19.999')), [[2, 'price', /more than two decimals/]]],
      [file(BEANS.replace('19.99', '-19.99')), [[2, 'price', /negative/]]],
      [file(BEANS, CUP, BEANS.replace('4006381333931', '')), [[4, 'sku', /already on line 2/]]],
      [file(BEANS, 'latte,Latte,,3.20,1000,,false,beans*1;lid*1'), [[3, 'recipe', /lid is not in the file/]]],
      [file(BEANS, 'a,A,,1.00,1000,,false,b*1', 'b,B,,1.00,1000,,false,a*2'), [[4, 'recipe', /contains itself: a → b → a/]]],
      [file(BEANS, 'cup,Paper Cup,,,2000,0.04,true'), [[3, null, /7 columns, expected 8/]]],
      [file(BEANS.replace('4006381333931', '4006381333932')), [[2, 'gtin', /check digit/]]],
      [file(BEANS, CUP.replace(',,,', ',4006381333931,,')), [[3, 'gtin', /already on line 2/]]],
      [file(BEANS.replace('550', '20%')), [[2, 'taxRateBp', /basis points/]]],
      [file(BEANS.replace(',true,', ',yes,')), [[2, 'stocked', /neither true nor false/]]],
      [file(BEANS, CUP, LATTE.replace(',,false', ',9.99,false')), [[4, 'cost', /not what its recipe costs \(9\.54\)/]]],
      [file(BEANS.replace(',true,', ',false,')), [[2, 'recipe', /needs a recipe/]]],
      [file(BEANS.replace('9.50', '')), [[2, 'cost', /needs its standard cost/]]],
      ['sku,name,price\nbeans,Beans,1.00', [[1, null, /header must be/]]],
      ['', [[1, null, /empty/]]],
      [file('"unterminated,Beans,,1.00,550,1.00,true,'), [[2, null, /not a CSV file/]]]
    ]
    for (const [text, want] of cases) {
      const r = parseCatalogueCsv(text)
      assert.deepEqual(r.products, [], text)
      assert.equal(r.errors.length, want.length, `${text}\n${JSON.stringify(r.errors)}`)
      want.forEach(([line, column, reason], i) => {
        const e = r.errors[i]
        assert.deepEqual([e?.line, e?.column], [line, column], `${text}\n${JSON.stringify(r.errors)}`)
        assert.match(e?.reason ?? '', reason)
      })
    }
    // Several faults on several lines: all listed.
    const many = parseCatalogueCsv(file(BEANS.replace('19.99', '1.2.3'), CUP.replace('0.04', 'x'), 'bad sku!,X,,1,0,1,true,'))
    assert.deepEqual(many.errors.map(e => [e.line, e.column]), [[2, 'price'], [3, 'cost'], [4, 'sku']])
  })

  it('a quoted name with commas, quotes and a byte-order mark reads as written', () => {
    const r = parseCatalogueCsv(`\uFEFF${file('mug,"Mug, ""Large""",,8.00,2000,2.10,true,')}`)
    assert.deepEqual(r.errors, [])
    assert.equal(r.products[0]?.name, 'Mug, "Large"')
  })

  it('what toCatalogueCsv writes reads back equal: the demo catalogue, and any catalogue (property)', () => {
    const demo = demoCatalogueData()
    const back = parseCatalogueCsv(toCatalogueCsv(demo.products))
    assert.deepEqual(back.errors, [])
    assert.deepEqual(normal(catalogueDataOf(back.products).products), normal(demo.products))
    fc.assert(fc.property(arbCatalogueData, data => {
      // Names as a file holds them (no leading or trailing space); an unsold product is priced 0.
      const products = data.products.map(p => ({ ...p, name: p.name.trim() === '' ? 'x' : p.name.trim(), ...(p.sellable === false ? { priceCents: 0 } : {}) }))
      const r = parseCatalogueCsv(toCatalogueCsv(products))
      assert.deepEqual(r.errors, [])
      assert.deepEqual(normal(catalogueDataOf(r.products).products), normal(products))
    }), fcParams())
  })
})

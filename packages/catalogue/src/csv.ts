/**
 * The retailer's catalogue as a CSV file, in and out: what `tillbooks catalogue import` reads
 * and `export --csv` writes.
 *
 *   sku,name,gtin,price,taxRateBp,cost,stocked,recipe
 *   patio-set,Patio Furniture Set,5012345678900,499.00,2000,,false,patio-table*1;patio-chair*4
 *
 * - `price` and `cost` are decimal amounts in the currency's units, parsed exactly into cents
 *   (`19.99` → 1999, `19.9` → 1990, `19` → 1900). More than two decimals (`19.999`), an
 *   exponent, a sign, grouping or spaces are errors, never rounded. An empty `price` is a
 *   product that is never sold on its own (an ingredient, packaging).
 * - `cost` is the standard cost of a stocked product; a product made to order leaves it empty
 *   (its recipe's cost is rolled up), or gives exactly that rolled-up cost.
 * - `gtin` is empty or a GTIN-8, -12, -13 or -14 with a right check digit.
 * - `stocked` is `true` or `false`; `recipe` is `sku*qty;sku*qty` (a made-to-order product's).
 * - RFC 4180 quoting (csv-parse). A header line naming exactly these columns, in this order.
 *
 * A file is taken whole or not at all: every error names its line (1 is the header) and
 * column, and any error refuses the file. Parsing is pure: the same text, the same result.
 */
import { parse, CsvError as ParseError } from 'csv-parse/sync'
import { Catalogue } from './catalogue.ts'
import { COST_CENTS_MAX, NAME_CHARS_MAX, PRICE_CENTS_MAX, PRODUCTS_MAX, RECIPE_LINES_MAX, RECIPE_QTY_MAX, SKU_RE, TAX_RATE_BP_MAX } from './constants.ts'
import { CatalogueError } from './errors.ts'
import { isGtin } from './gtin.ts'
import type { CatalogueData, ProductData } from './product.ts'

export const CSV_COLUMNS = ['sku', 'name', 'gtin', 'price', 'taxRateBp', 'cost', 'stocked', 'recipe'] as const
export type CsvColumn = typeof CSV_COLUMNS[number]

/** One error in a file: its line (1-based; 1 is the header), the column at fault (null: the whole line or file), and why. */
export interface CsvError {
  line: number
  column: CsvColumn | null
  reason: string
}

/** A product as the file gives it: the catalogue's data plus its GTIN, and the line it came from. */
export interface CsvProduct extends ProductData {
  gtin?: string
  line: number
}

export interface CsvResult {
  /** Every product, in file order; empty when there are errors (a file is taken whole or not at all). */
  products: CsvProduct[]
  errors: CsvError[]
}

/** Bytes of a file read at most: 50,000 products of ~200 bytes with room. */
export const CSV_BYTES_MAX = 64 * 1024 * 1024
/** Errors listed at most (all are counted; the file is refused after the first anyway). */
export const CSV_ERRORS_MAX = 1_000

const AMOUNT_RE = /^(\d{1,10})(?:\.(\d{1,2}))?$/

/**
 * A decimal amount in currency units as exact integer cents: "19.99" → 1999, "19.9" → 1990,
 * "19" → 1900. Throws CatalogueError on anything else (more than two decimals, exponents,
 * signs, grouping, spaces), never rounding.
 */
export function parseAmountCents (text: string): number {
  const m = AMOUNT_RE.exec(text)
  if (m === null) {
    if (/^-/.test(text)) throw new CatalogueError(`${quoted(text)} is negative`)
    if (/^\d+\.\d{3,}$/.test(text)) throw new CatalogueError(`${quoted(text)} has more than two decimals: amounts are in cents, never rounded`)
    throw new CatalogueError(`${quoted(text)} is not a decimal amount like 19.99`)
  }
  // Whole units and cents as digit strings, joined: one exact integer.
  const cents = Number(`${m[1] as string}${(m[2] ?? '').padEnd(2, '0')}`)
  if (!Number.isSafeInteger(cents)) throw new CatalogueError(`${quoted(text)} is out of range`)
  return cents
}

/** Cents as the file writes them: "19.99". */
export function formatAmount (cents: number): string {
  if (!Number.isSafeInteger(cents) || cents < 0) throw new RangeError(`not an amount in cents: ${cents}`)
  const digits = String(cents).padStart(3, '0')
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`
}

/** Read a catalogue file. Never throws for bad content: every problem is an error with its line and column. */
export function parseCatalogueCsv (text: string): CsvResult {
  const errors: CsvError[] = []
  let count = 0
  const fail = (line: number, column: CsvColumn | null, reason: string): void => {
    count++
    if (errors.length < CSV_ERRORS_MAX) errors.push({ line, column, reason })
  }
  if (typeof text !== 'string') return { products: [], errors: [{ line: 0, column: null, reason: 'a catalogue file is text' }] }
  if (text.length > CSV_BYTES_MAX) return { products: [], errors: [{ line: 0, column: null, reason: `the file is over ${CSV_BYTES_MAX} bytes` }] }
  let rows: Array<{ record: string[], info: { lines: number } }>
  try {
    // With `info`, each record comes with where it ended (csv-parse's types do not say so).
    rows = parse(text.replace(/^\uFEFF/, ''), { info: true, relax_column_count: true, skip_empty_lines: true, bom: true }) as unknown as typeof rows
  } catch (err) {
    const e = err as ParseError & { lines?: number }
    return { products: [], errors: [{ line: e.lines ?? 0, column: null, reason: `not a CSV file: ${e.message}` }] }
  }
  const header = rows[0]
  if (header === undefined) return { products: [], errors: [{ line: 1, column: null, reason: `the file is empty: its first line is the header ${CSV_COLUMNS.join(',')}` }] }
  if (header.record.length !== CSV_COLUMNS.length || header.record.some((c, i) => c.trim() !== CSV_COLUMNS[i])) {
    return { products: [], errors: [{ line: header.info.lines, column: null, reason: `the header must be ${CSV_COLUMNS.join(',')} (got ${header.record.join(',').slice(0, 200)})` }] }
  }
  if (rows.length - 1 > PRODUCTS_MAX) return { products: [], errors: [{ line: 0, column: null, reason: `the file has ${rows.length - 1} products, at most ${PRODUCTS_MAX}` }] }
  const products: CsvProduct[] = []
  const firstLine = new Map<string, number>()
  const gtins = new Map<string, number>()
  for (const { record, info } of rows.slice(1)) {
    const line = info.lines
    if (record.length !== CSV_COLUMNS.length) {
      fail(line, null, `${record.length} columns, expected ${CSV_COLUMNS.length} (${CSV_COLUMNS.join(',')})`)
      continue
    }
    const [sku, name, gtin, price, taxRate, cost, stocked, recipe] = record as [string, string, string, string, string, string, string, string]
    let ok = true
    const bad = (column: CsvColumn, reason: string): void => { ok = false; fail(line, column, reason) }
    if (!SKU_RE.test(sku)) bad('sku', `${quoted(sku)} is not a sku (letters, digits, . _ -; at most 40)`)
    else if (firstLine.has(sku)) bad('sku', `${sku} is already on line ${firstLine.get(sku) as number}`)
    else firstLine.set(sku, line)
    if (name.trim() === '' || name.length > NAME_CHARS_MAX || name !== name.trim()) bad('name', `a name is 1..${NAME_CHARS_MAX} characters with no leading or trailing space`)
    if (gtin !== '') {
      if (!isGtin(gtin)) bad('gtin', `${quoted(gtin)} is not a GTIN-8, -12, -13 or -14 with a right check digit`)
      else if (gtins.has(gtin)) bad('gtin', `GTIN ${gtin} is already on line ${gtins.get(gtin) as number}`)
      else gtins.set(gtin, line)
    }
    const amount = (column: CsvColumn, value: string, max: number): number | undefined => {
      try {
        const cents = parseAmountCents(value)
        if (cents > max) throw new CatalogueError(`${quoted(value)} is over ${formatAmount(max)}`)
        return cents
      } catch (err) {
        bad(column, (err as Error).message)
        return undefined
      }
    }
    const priceCents = price === '' ? 0 : amount('price', price, PRICE_CENTS_MAX)
    const taxRateBp = /^\d{1,5}$/.test(taxRate) && Number(taxRate) <= TAX_RATE_BP_MAX ? Number(taxRate) : undefined
    if (taxRateBp === undefined) bad('taxRateBp', `${quoted(taxRate)} is not a tax rate in basis points, 0..${TAX_RATE_BP_MAX} (2000 is 20 %)`)
    const isStocked = stocked === 'true' ? true : stocked === 'false' ? false : undefined
    if (isStocked === undefined) bad('stocked', `${quoted(stocked)} is neither true nor false`)
    const lines = recipe === '' ? undefined : recipeOf(recipe, m => bad('recipe', m))
    if (isStocked === true && lines !== undefined) bad('recipe', 'a stocked product has no recipe (it consumes only itself)')
    if (isStocked === false && recipe === '') bad('recipe', 'a product made to order (stocked false) needs a recipe')
    const costCents = cost === '' ? undefined : amount('cost', cost, COST_CENTS_MAX)
    if (isStocked === true && cost === '') bad('cost', 'a stocked product needs its standard cost')
    if (!ok || taxRateBp === undefined || isStocked === undefined || priceCents === undefined) continue
    products.push({
      line,
      sku,
      name,
      ...(gtin !== '' ? { gtin } : {}),
      priceCents,
      taxRateBp,
      // A recipe's cost, when left empty, is filled in from its components below.
      costCents: costCents ?? -1,
      stocked: isStocked,
      ...(price === '' ? { sellable: false } : {}),
      ...(lines !== undefined ? { recipe: lines } : {})
    })
  }
  if (count > 0) return { products: [], errors }
  // The whole file: recipes name products in it, without cycles; declared costs agree with them.
  for (const p of products) {
    for (const l of p.recipe ?? []) if (!firstLine.has(l.sku)) fail(p.line, 'recipe', `${l.sku} is not in the file`)
  }
  if (count > 0) return { products: [], errors }
  const rolled = rollUp(products, fail)
  if (count > 0) return { products: [], errors }
  for (const p of products) {
    const cents = rolled.get(p.sku) as number
    if (p.costCents === -1) p.costCents = cents
    else if (p.costCents !== cents) fail(p.line, 'cost', `${formatAmount(p.costCents)} is not what its recipe costs (${formatAmount(cents)}): leave it empty or write ${formatAmount(cents)}`)
  }
  if (count > 0) return { products: [], errors }
  // Last, everything the catalogue itself checks (depth, limits), as it will hold it.
  try {
    void new Catalogue(catalogueDataOf(products))
  } catch (err) {
    if (!(err instanceof CatalogueError)) throw err
    const at = /products\[(\d+)\]/.exec(err.message)
    fail(at === null ? 0 : (products[Number(at[1])]?.line ?? 0), null, err.message)
    return { products: [], errors }
  }
  return { products, errors: [] }
}

/** The catalogue's own data of a file's products (GTINs and lines left out). */
export function catalogueDataOf (products: readonly CsvProduct[]): CatalogueData {
  return { products: products.map(({ line: _line, gtin: _gtin, ...p }) => p) }
}

/** Write products as a catalogue file (the header, then one line each, sku order): parseCatalogueCsv reads it back equal. */
export function toCatalogueCsv (products: ReadonlyArray<ProductData & { gtin?: string }>): string {
  const out = [CSV_COLUMNS.join(',')]
  for (const p of [...products].sort((a, b) => a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0)) {
    out.push([
      p.sku,
      field(p.name),
      p.gtin ?? '',
      p.sellable === false ? '' : formatAmount(p.priceCents),
      String(p.taxRateBp),
      p.stocked ? formatAmount(p.costCents) : '',
      String(p.stocked),
      (p.recipe ?? []).map(l => `${l.sku}*${l.qty}`).join(';')
    ].join(','))
  }
  return `${out.join('\n')}\n`
}

function field (value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}

function recipeOf (text: string, bad: (reason: string) => void): Array<{ sku: string, qty: number }> | undefined {
  const parts = text.split(';')
  if (parts.length > RECIPE_LINES_MAX) { bad(`${parts.length} components, at most ${RECIPE_LINES_MAX}`); return undefined }
  const lines: Array<{ sku: string, qty: number }> = []
  for (const part of parts) {
    const m = /^([^*]+)\*(\d{1,7})$/.exec(part)
    if (m === null || !SKU_RE.test(m[1] as string)) { bad(`${quoted(part)} is not sku*qty`); return undefined }
    const qty = Number(m[2])
    if (qty < 1 || qty > RECIPE_QTY_MAX) { bad(`${quoted(part)}: a quantity is 1..${RECIPE_QTY_MAX}`); return undefined }
    if (lines.some(l => l.sku === m[1])) { bad(`${m[1] as string} is twice in the recipe: put its whole quantity on one line`); return undefined }
    lines.push({ sku: m[1] as string, qty })
  }
  return lines
}

/** Every product's rolled-up standard cost, components first; a cycle is an error on the line of a product in it. */
function rollUp (products: readonly CsvProduct[], fail: (line: number, column: CsvColumn | null, reason: string) => void): Map<string, number> {
  const bySku = new Map(products.map(p => [p.sku, p]))
  const cost = new Map<string, number>()
  const state = new Map<string, 'open' | 'done'>()
  for (const root of [...bySku.keys()].sort()) {
    if (state.get(root) === 'done') continue
    // Iterative depth-first walk: a long chain cannot overflow the stack.
    const stack: Array<{ sku: string, next: number }> = [{ sku: root, next: 0 }]
    state.set(root, 'open')
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { sku: string, next: number }
      const p = bySku.get(top.sku) as CsvProduct
      const recipe = p.recipe ?? []
      if (top.next < recipe.length) {
        const c = (recipe[top.next++] as { sku: string }).sku
        if (state.get(c) === 'open') {
          const cycle = [...stack.slice(stack.findIndex(s => s.sku === c)).map(s => s.sku), c]
          fail(p.line, 'recipe', `the recipe contains itself: ${cycle.join(' → ')}`)
          return cost
        }
        if (state.get(c) !== 'done') { state.set(c, 'open'); stack.push({ sku: c, next: 0 }) }
        continue
      }
      let cents = p.stocked ? p.costCents : 0
      for (const l of recipe) cents += (cost.get(l.sku) as number) * l.qty
      if (!Number.isSafeInteger(cents) || cents > COST_CENTS_MAX) {
        fail(p.line, 'cost', `its recipe costs more than ${formatAmount(COST_CENTS_MAX)}`)
        return cost
      }
      cost.set(p.sku, cents)
      state.set(p.sku, 'done')
      stack.pop()
    }
  }
  return cost
}

function quoted (s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)
}

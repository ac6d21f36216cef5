/**
 * @tillbooks/catalogue: what a till sells, at what tax-inclusive price and tax rate, and
 * which stock each sale uses up through bill-of-materials recipes.
 *
 * @example
 * ```ts
 * const catalogue = demoCatalogue()   // or new Catalogue(data): validates, throws a CatalogueError naming product and field
 * const sale = priceSale(catalogue, [{ sku: 'patio-set', qty: 1 }, { sku: 'latte', qty: 2 }])
 * sale.totalCents  // 50840
 * sale.perRate     // [{ rateBp: 1000, grossCents: 840, netCents: 764, taxCents: 76 },
 *                  //  { rateBp: 2000, grossCents: 50000, netCents: 41667, taxCents: 8333 }]
 * sale.consumed    // [{ sku: 'beans-g', qty: 36 }, { sku: 'cup-12oz', qty: 2 }, { sku: 'cup-lid', qty: 2 },
 *                  //  { sku: 'milk-cl', qty: 50 }, { sku: 'patio-chair', qty: 4 }, ...]: what a Close reports
 * catalogue.explode('patio-set', -1)   // a refund puts stock back: [{ sku: 'patio-chair', qty: -4 }, ...]
 * taxOfInclusiveCents(3, 2000)         // 1: 0.5 cent rounds half away from zero
 * ```
 */
export { Catalogue, type CatalogueInit } from './catalogue.ts'
export {
  BOM_DEPTH_MAX, COST_CENTS_MAX, EXPLODED_SKUS_MAX, NAME_CHARS_MAX, PRICE_CENTS_MAX, PRODUCTS_MAX, RECIPE_LINES_MAX,
  RECIPE_QTY_MAX, SALE_CENTS_MAX, SALE_LINE_QTY_MAX, SALE_LINES_MAX, SKU_RE, STOCK_QTY_MAX, TAX_RATE_BP_MAX, TAX_RATES_MAX
} from './constants.ts'
export {
  CSV_BYTES_MAX, CSV_COLUMNS, catalogueDataOf, formatAmount, parseAmountCents, parseCatalogueCsv, toCatalogueCsv,
  type CsvColumn, type CsvError, type CsvProduct, type CsvResult
} from './csv.ts'
export { demoCatalogue, demoCatalogueData } from './demo.ts'
export { catalogueDataFor, costsOf, expandStatements, foldCatalogue, withBase, normalisedName, partsOf, type Conflict, type ConflictKind, type FoldedCatalogue, type FoldedProduct } from './fold.ts'
export { isGtin } from './gtin.ts'
export {
  BATCH_ITEMS_MAX, checkStatement, statementOf, storeSkuPrefix, PREV_MAX, type ProductFields, type ProductsStatement,
  type Author, type CostStatement, type Day, type Decision, type InventStatement, type PriceStatement, type ProductStatement,
  type ResolveStatement, type Statement, type StatementId, type WithdrawStatement
} from './statements.ts'
export {
  BomCycleError, BomTooDeepError, CatalogueError, DuplicateSkuError, InvalidAmountError, InvalidProductError,
  InvalidQuantityError, InvalidSaleError, InvalidSkuError, LimitExceededError, NotSellableError, UnknownSkuError
} from './errors.ts'
export type { CatalogueData, Product, ProductData, RecipeLine } from './product.ts'
export { priceSale, type PricedLine, type PricedSale, type SaleLine, type TaxRateTotal } from './sale.ts'
export { bySku, StockTally, type SkuQty, type StockTallyInit } from './stock.ts'
export { splitInclusiveCents, taxOfInclusiveCents, type InclusiveSplit } from './tax.ts'

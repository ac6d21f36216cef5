/**
 * The demo catalogue: a garden-furniture corner and a café counter, as one store might run.
 *
 * Furniture: iDempiere GardenWorld's Patio Furniture Set, a bill of materials of four Patio
 * Chairs, a Patio Table and a Patio Sun Screen, each also sold on its own. The set sells
 * for less than its parts bought separately.
 *
 * Café: drinks and food made to order from ingredients and packaging stocked in grams,
 * millilitres, centilitres and pieces, with a sandwich whose dressing is itself a recipe,
 * and a breakfast deal made of two other recipes.
 *
 * Tax rates (basis points, included in prices) follow a French-style scheme:
 * 2000 (20 %) furniture and packaging, 1000 (10 %) food and drink served to take away,
 * 550 (5.5 %) groceries (a bag of beans, ingredients). Ingredients are not sellable, so their
 * rate and price (0) are never charged; they carry the rate they would be sold at.
 *
 * Stock units are chosen so that a unit's standard cost is a whole number of cents: milk is
 * counted in centilitres (1 cent/cl = 1.00 a litre), since a millilitre costs a tenth of a cent.
 * Every recipe product's costCents is its components' rolled up: the Catalogue checks it.
 */
import { Catalogue } from './catalogue.ts'
import type { CatalogueData } from './product.ts'

/** The demo catalogue as plain data; a fresh copy on every call, so callers may change it freely. */
export function demoCatalogueData (): CatalogueData {
  return {
    products: [
      // Garden furniture (GardenWorld): 20 %.
      { sku: 'patio-chair', name: 'Patio Chair', priceCents: 7900, taxRateBp: 2000, costCents: 4200, stocked: true },
      { sku: 'patio-table', name: 'Patio Table', priceCents: 14900, taxRateBp: 2000, costCents: 7800, stocked: true },
      { sku: 'patio-sunscreen', name: 'Patio Sun Screen', priceCents: 5900, taxRateBp: 2000, costCents: 2400, stocked: true },
      {
        // 4 × 79.00 + 149.00 + 59.00 = 524.00 bought separately.
        sku: 'patio-set',
        name: 'Patio Furniture Set',
        priceCents: 50000,
        taxRateBp: 2000,
        costCents: 27000,
        stocked: false,
        recipe: [{ sku: 'patio-chair', qty: 4 }, { sku: 'patio-table', qty: 1 }, { sku: 'patio-sunscreen', qty: 1 }]
      },

      // Café ingredients and packaging: stocked, consumed only through recipes.
      { sku: 'beans-g', name: 'Espresso Beans (g)', priceCents: 0, taxRateBp: 550, costCents: 3, stocked: true, sellable: false },
      { sku: 'milk-cl', name: 'Whole Milk (cl)', priceCents: 0, taxRateBp: 550, costCents: 1, stocked: true, sellable: false },
      { sku: 'croissant-dough', name: 'Frozen Croissant Dough', priceCents: 0, taxRateBp: 550, costCents: 45, stocked: true, sellable: false },
      { sku: 'bread-slice', name: 'Sourdough Slice', priceCents: 0, taxRateBp: 550, costCents: 12, stocked: true, sellable: false },
      { sku: 'ham-g', name: 'Cooked Ham (g)', priceCents: 0, taxRateBp: 550, costCents: 2, stocked: true, sellable: false },
      { sku: 'cheddar-g', name: 'Mature Cheddar (g)', priceCents: 0, taxRateBp: 550, costCents: 1, stocked: true, sellable: false },
      { sku: 'olive-oil-ml', name: 'Olive Oil (ml)', priceCents: 0, taxRateBp: 550, costCents: 1, stocked: true, sellable: false },
      { sku: 'mustard-g', name: 'Dijon Mustard (g)', priceCents: 0, taxRateBp: 550, costCents: 1, stocked: true, sellable: false },
      { sku: 'cup-8oz', name: 'Takeaway Cup 8 oz', priceCents: 0, taxRateBp: 2000, costCents: 8, stocked: true, sellable: false },
      { sku: 'cup-12oz', name: 'Takeaway Cup 12 oz', priceCents: 0, taxRateBp: 2000, costCents: 10, stocked: true, sellable: false },
      { sku: 'cup-lid', name: 'Cup Lid', priceCents: 0, taxRateBp: 2000, costCents: 3, stocked: true, sellable: false },
      { sku: 'paper-bag', name: 'Paper Bag', priceCents: 0, taxRateBp: 2000, costCents: 2, stocked: true, sellable: false },
      { sku: 'sandwich-box', name: 'Sandwich Wedge Box', priceCents: 0, taxRateBp: 2000, costCents: 9, stocked: true, sellable: false },

      // A sub-recipe: one sandwich's portion of dressing, made in the kitchen, never sold alone.
      {
        sku: 'house-dressing',
        name: 'House Dressing (portion)',
        priceCents: 0,
        taxRateBp: 550,
        costCents: 16,
        stocked: false,
        sellable: false,
        recipe: [{ sku: 'olive-oil-ml', qty: 12 }, { sku: 'mustard-g', qty: 4 }]
      },

      // Café menu, made to order: 10 %.
      { sku: 'espresso', name: 'Espresso', priceCents: 250, taxRateBp: 1000, costCents: 54, stocked: false, recipe: [{ sku: 'beans-g', qty: 18 }] },
      {
        sku: 'cappuccino',
        name: 'Cappuccino',
        priceCents: 380,
        taxRateBp: 1000,
        costCents: 80,
        stocked: false,
        recipe: [{ sku: 'beans-g', qty: 18 }, { sku: 'milk-cl', qty: 15 }, { sku: 'cup-8oz', qty: 1 }, { sku: 'cup-lid', qty: 1 }]
      },
      {
        sku: 'latte',
        name: 'Caffè Latte',
        priceCents: 420,
        taxRateBp: 1000,
        costCents: 92,
        stocked: false,
        recipe: [{ sku: 'beans-g', qty: 18 }, { sku: 'milk-cl', qty: 25 }, { sku: 'cup-12oz', qty: 1 }, { sku: 'cup-lid', qty: 1 }]
      },
      {
        sku: 'croissant',
        name: 'Butter Croissant',
        priceCents: 190,
        taxRateBp: 1000,
        costCents: 47,
        stocked: false,
        recipe: [{ sku: 'croissant-dough', qty: 1 }, { sku: 'paper-bag', qty: 1 }]
      },
      {
        sku: 'ham-cheddar-sandwich',
        name: 'Ham & Cheddar Sandwich',
        priceCents: 650,
        taxRateBp: 1000,
        costCents: 199,
        stocked: false,
        recipe: [
          { sku: 'bread-slice', qty: 2 },
          { sku: 'ham-g', qty: 60 },
          { sku: 'cheddar-g', qty: 30 },
          { sku: 'house-dressing', qty: 1 },
          { sku: 'sandwich-box', qty: 1 }
        ]
      },
      {
        // 3.80 + 1.90 = 5.70 bought separately.
        sku: 'breakfast-deal',
        name: 'Breakfast Deal: Cappuccino & Croissant',
        priceCents: 490,
        taxRateBp: 1000,
        costCents: 127,
        stocked: false,
        recipe: [{ sku: 'cappuccino', qty: 1 }, { sku: 'croissant', qty: 1 }]
      },

      // Retail grocery, stocked and sold as it is: 5.5 %.
      { sku: 'beans-250g', name: 'House Blend Beans 250 g', priceCents: 1290, taxRateBp: 550, costCents: 640, stocked: true }
    ]
  }
}

/** The demo catalogue, validated. */
export function demoCatalogue (): Catalogue {
  return new Catalogue(demoCatalogueData())
}

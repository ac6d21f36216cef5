/**
 * The auditor. It computes the books HQ should hold from the ground truth the simulator
 * generated (every sale as rung up, every delivery as counted, every drawer count), with
 * its own arithmetic: its own tax rounding, its own recipe explosion, its own postings.
 * It never reads a record, a till's journal or the ledger package, so a bug there shows
 * up as a disagreement here rather than being copied into the expectation.
 */
import { POINT_VALUE_CENTS } from '@tillbooks/protocol'

export interface OracleProduct {
  sku: string
  priceCents: number
  taxRateBp: number
  costCents: number
  stocked: boolean
  recipe?: ReadonlyArray<{ sku: string, qty: number }>
}

/**
 * A `same` resolution of a clash, as HQ signed it: from its day on, `sku` is sold and
 * counted as `canonical`, at a till that holds the resolution when it rings the sale up.
 */
export interface OracleAlias {
  /** The resolution statement's id. */
  resolution: string
  sku: string
  canonical: string
  from: string
}

export interface TruthSale {
  kind: 'sale' | 'refund'
  /** Positive quantities, as rung up (a sku resolved to be another's too); a refund returns them. */
  lines: Array<{ sku: string, qty: number }>
  /**
   * The catalogue resolutions (statement ids) the till held when it rang the sale up: an
   * offline till that has not heard of one yet sells the sku as itself, at its own price.
   */
  resolutionsHeld?: readonly string[]
  cardCents: number
  member: string | null
  /** Points the member paid with (a tender worth POINT_VALUE_CENTS each). */
  redeemedPoints?: number
  /** Points the member earned, by the simulator's own price list: on what they paid in money. */
  earnedPoints?: number
  /** A return by receipt: priced as on its sale's day (the catalogue then). */
  priceDay?: string
  /** A return of a receipt (its document number), made at another till without its consent. */
  receipt?: string
  flagged?: boolean
  /** The refund's own document number (a return by receipt). */
  doc?: string
  /** How a refund was paid back. */
  refundTender?: 'cash' | 'card'
}

export interface TruthDay {
  store: string
  tillId: string
  businessDay: string
  delivery: { shipped: Array<{ sku: string, qty: number }>, received: Array<{ sku: string, qty: number }> } | null
  sales: TruthSale[]
  cashCountedCents: number | null
  /** False when HQ cannot fold this day's Close (the till equivocated at or before it). */
  closeCounts: boolean
  /**
   * Card money this day's Close reported lost (late declines, expired stored payments), each
   * confirmed by the processor's own record (the simulator checks it: never charged).
   */
  cardLossesCents?: number
  /** False when HQ cannot fold this day's StockIn. */
  stockInCounts: boolean
}

export interface OracleBooks {
  accounts: Record<string, number>
  stores: Record<string, { takingsCents: number, cashCents: number, cardCents: number, taxCents: number, salesNetCents: number }>
  members: Record<string, number>
  takingsCents: number
}

const ACCOUNTS = {
  cash: 'assets:cash:drawer',
  card: 'assets:card clearing',
  cardLosses: 'expenses:card losses',
  storeStock: 'assets:inventory:store',
  warehouse: 'assets:inventory:warehouse',
  transit: 'assets:inventory:in transit',
  vat: 'liabilities:vat payable',
  equity: 'equity:opening',
  revenue: 'revenue:sales',
  cogs: 'expenses:cost of goods sold',
  shrinkage: 'expenses:stock shrinkage',
  overShort: 'expenses:cash over short',
  pointsLiability: 'liabilities:loyalty points',
  loyalty: 'expenses:loyalty points'
} as const

export class Oracle {
  readonly #products: Map<string, OracleProduct>
  readonly #aliases: Map<string, OracleAlias>

  /** `products`: the catalogue's and the products stores made up; `aliases`: HQ's `same` resolutions. */
  constructor (products: readonly OracleProduct[], aliases: readonly OracleAlias[] = []) {
    this.#products = new Map(products.map(p => [p.sku, p]))
    this.#aliases = new Map(aliases.map(a => [a.resolution, a]))
  }

  /** The sku a line rung up as `sku` on `day` is sold as: its canonical product if the till held a `same` resolution in force that day. */
  soldAs (sku: string, day: string, held: readonly string[] | undefined): string {
    if (held === undefined) return sku
    for (const id of held) {
      const a = this.#aliases.get(id)
      if (a !== undefined && a.sku === sku && a.from <= day) return a.canonical
    }
    return sku
  }

  #product (sku: string): OracleProduct {
    const p = this.#products.get(sku)
    if (p === undefined) throw new Error(`oracle: unknown sku ${sku}`)
    return p
  }

  /** Stocked leaves consumed by one unit of `sku`, by plain recursion (no memo, no sharing with the catalogue). */
  leaves (sku: string, qty: bigint, out: Map<string, bigint>, depth = 0): void {
    if (depth > 32) throw new Error('oracle: recipe too deep')
    const p = this.#product(sku)
    if (p.recipe === undefined || p.recipe.length === 0) {
      out.set(sku, (out.get(sku) ?? 0n) + qty)
      return
    }
    for (const c of p.recipe) this.leaves(c.sku, qty * BigInt(c.qty), out, depth + 1)
  }

  /** Tax inside a tax-inclusive gross: round half away from zero of gross·r/(10000+r). */
  static taxOf (grossCents: bigint, rateBp: bigint): bigint {
    const num = grossCents * rateBp
    const den = 10_000n + rateBp
    const neg = num < 0n
    const a = neg ? -num : num
    const q = a / den
    const r = a - q * den
    const rounded = 2n * r >= den ? q + 1n : q
    return neg ? -rounded : rounded
  }

  books (days: readonly TruthDay[], dispatched: ReadonlyArray<{ lines: ReadonlyArray<{ sku: string, qty: number }> }>, opening: ReadonlyArray<{ sku: string, qty: number }>): OracleBooks {
    const acc = new Map<string, bigint>()
    const post = (account: string, cents: bigint): void => { acc.set(account, (acc.get(account) ?? 0n) + cents) }
    const cost = (sku: string): bigint => BigInt(this.#product(sku).costCents)
    const stores: OracleBooks['stores'] = {}
    const members = new Map<string, bigint>()

    for (const l of opening) {
      post(ACCOUNTS.warehouse, BigInt(l.qty) * cost(l.sku))
      post(ACCOUNTS.equity, -BigInt(l.qty) * cost(l.sku))
    }
    for (const d of dispatched) {
      for (const l of d.lines) {
        post(ACCOUNTS.transit, BigInt(l.qty) * cost(l.sku))
        post(ACCOUNTS.warehouse, -BigInt(l.qty) * cost(l.sku))
      }
    }
    for (const day of days) {
      if (day.delivery !== null && day.stockInCounts) {
        let shipped = 0n
        let received = 0n
        for (const l of day.delivery.shipped) shipped += BigInt(l.qty) * cost(l.sku)
        for (const l of day.delivery.received) received += BigInt(l.qty) * cost(l.sku)
        post(ACCOUNTS.storeStock, received)
        post(ACCOUNTS.shrinkage, shipped - received)
        post(ACCOUNTS.transit, -shipped)
      }
      if (!day.closeCounts || day.cashCountedCents === null) continue
      let cash = 0n
      let card = 0n
      let net = 0n
      let tax = 0n
      let cogs = 0n
      let earned = 0n
      let redeemed = 0n
      for (const s of day.sales) {
        const sign = s.kind === 'sale' ? 1n : -1n
        const grossByRate = new Map<bigint, bigint>()
        const leaves = new Map<string, bigint>()
        for (const l of s.lines) {
          const sku = this.soldAs(l.sku, s.priceDay ?? day.businessDay, s.resolutionsHeld)
          const p = this.#product(sku)
          const rate = BigInt(p.taxRateBp)
          grossByRate.set(rate, (grossByRate.get(rate) ?? 0n) + sign * BigInt(l.qty) * BigInt(p.priceCents))
          this.leaves(sku, sign * BigInt(l.qty), leaves)
        }
        let total = 0n
        for (const [rate, gross] of grossByRate) {
          // One rounding per rate per receipt, as a receipt prints it.
          const t = Oracle.taxOf(gross, rate)
          tax += t
          net += gross - t
          total += gross
        }
        for (const [sku, q] of leaves) cogs += q * cost(sku)
        if (s.kind === 'refund') {
          if (s.refundTender === 'card') card += total
          else cash += total
        } else {
          // Points paid part of it; cash what card and points did not.
          const points = BigInt(s.redeemedPoints ?? 0) * BigInt(POINT_VALUE_CENTS)
          redeemed += points
          card += BigInt(s.cardCents)
          cash += total - BigInt(s.cardCents) - points
        }
        if (s.kind === 'sale' && s.member !== null) {
          const paid = total - BigInt(s.redeemedPoints ?? 0) * BigInt(POINT_VALUE_CENTS)
          if (paid > 0n && paid / 100n > 0n) {
            members.set(s.member, (members.get(s.member) ?? 0n) + paid / 100n)
            earned += paid / 100n
          }
        }
      }
      const counted = BigInt(day.cashCountedCents)
      post(ACCOUNTS.cash, counted)
      post(ACCOUNTS.overShort, cash - counted)
      post(ACCOUNTS.card, card)
      // Money the day's Close reported never came: out of clearing, into losses.
      const lost = BigInt(day.cardLossesCents ?? 0)
      post(ACCOUNTS.card, -lost)
      post(ACCOUNTS.cardLosses, lost)
      post(ACCOUNTS.revenue, -net)
      post(ACCOUNTS.vat, -tax)
      post(ACCOUNTS.cogs, cogs)
      post(ACCOUNTS.storeStock, -cogs)
      // Points are owed from the day they are earned, a cent each.
      post(ACCOUNTS.loyalty, earned * BigInt(POINT_VALUE_CENTS))
      post(ACCOUNTS.pointsLiability, -earned * BigInt(POINT_VALUE_CENTS))
      // Points redeemed: owed no more.
      post(ACCOUNTS.pointsLiability, redeemed)
      const st = stores[day.store] ?? { takingsCents: 0, cashCents: 0, cardCents: 0, taxCents: 0, salesNetCents: 0 }
      st.takingsCents += Number(cash + card)
      st.cashCents += Number(cash)
      st.cardCents += Number(card)
      st.taxCents += Number(tax)
      st.salesNetCents += Number(net)
      stores[day.store] = st
    }
    const accounts: Record<string, number> = {}
    for (const [k, v] of [...acc].sort((a, b) => a[0] < b[0] ? -1 : 1)) {
      if (v !== 0n) accounts[k] = Number(v)
    }
    let takings = 0
    for (const s of Object.values(stores)) takings += s.takingsCents
    const m: Record<string, number> = {}
    for (const [k, v] of [...members].sort((a, b) => a[0] < b[0] ? -1 : 1)) m[k] = Number(v)
    return { accounts, stores, members: m, takingsCents: takings }
  }
}

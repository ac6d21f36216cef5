/**
 * The chart of accounts, as hledger account names.
 *
 * These exact strings are the keys of HQ's JSON API (`accounts: { <account>: balanceCents }`)
 * and the account names in the hledger export, so renaming one is a breaking change.
 *
 * Sign convention everywhere in this package: debit positive, credit negative. An asset or
 * expense with a normal balance is positive; a liability, equity or revenue account with a
 * normal balance is negative. The balances of all accounts always sum to exactly 0.
 */
import { bug } from './bug.ts'

export const ACCOUNTS = {
  /** Notes and coins in the tills' drawers, at what was counted. */
  cashDrawer: 'assets:cash:drawer',
  /**
   * Card takings approved but not yet settled by the card processor: per processor as a
   * sub-account (`assets:card clearing:<processor>`); card takings recorded without a
   * processor (a till run without one) stay on the account itself.
   */
  cardClearing: 'assets:card clearing',
  /** Settled by the processor (net of its fees), not yet paid into the bank: per processor. */
  cardPayoutsDue: 'assets:card payouts due',
  /** The retailer's bank account the processor pays out to, as the bank's statement says. */
  bank: 'assets:bank',
  /** Goods on the stores' shelves, at standard cost. */
  storeInventory: 'assets:inventory:store',
  /** Goods in HQ's warehouse, at standard cost. */
  warehouseInventory: 'assets:inventory:warehouse',
  /** Goods dispatched by the warehouse and not yet counted in by a store. */
  inTransit: 'assets:inventory:in transit',
  /** VAT collected on sales, owed to the tax authority. */
  vatPayable: 'liabilities:vat payable',
  /** Members' points earned and not yet redeemed, at their redemption value: owed to the members. */
  pointsLiability: 'liabilities:loyalty points',
  /** The counterpart of opening balances (stock HQ held when the books began). */
  openingEquity: 'equity:opening',
  /** Net sales (net of VAT and of refunds). */
  sales: 'revenue:sales',
  /** Stock consumed by sales, at standard cost. */
  costOfGoodsSold: 'expenses:cost of goods sold',
  /** Stock shipped but not received (negative when a store received more than shipped). */
  shrinkage: 'expenses:stock shrinkage',
  /** Drawer count minus cash takings, reversed: a debit when short, a credit when over. */
  cashOverShort: 'expenses:cash over short',
  /** The processor's fees, as its settlement report charges them. */
  cardFees: 'expenses:card fees',
  /** Card money that never came: late declines, payments stored past their deadline, chargebacks. */
  cardLosses: 'expenses:card losses',
  /** Points given to members, at their redemption value (less points cancelled by refunds). */
  loyaltyExpense: 'expenses:loyalty points'
} as const

export type Account = typeof ACCOUNTS[keyof typeof ACCOUNTS]

/** hledger's account types: Asset, Liability, Equity, Revenue, eXpense. */
export type AccountType = 'A' | 'L' | 'E' | 'R' | 'X'

export interface AccountInfo {
  account: Account
  type: AccountType
}

/** The chart in presentation order (balance sheet, then income statement). */
export const CHART: readonly AccountInfo[] = Object.freeze([
  { account: ACCOUNTS.cashDrawer, type: 'A' },
  { account: ACCOUNTS.cardClearing, type: 'A' },
  { account: ACCOUNTS.cardPayoutsDue, type: 'A' },
  { account: ACCOUNTS.bank, type: 'A' },
  { account: ACCOUNTS.storeInventory, type: 'A' },
  { account: ACCOUNTS.warehouseInventory, type: 'A' },
  { account: ACCOUNTS.inTransit, type: 'A' },
  { account: ACCOUNTS.vatPayable, type: 'L' },
  { account: ACCOUNTS.pointsLiability, type: 'L' },
  { account: ACCOUNTS.openingEquity, type: 'E' },
  { account: ACCOUNTS.sales, type: 'R' },
  { account: ACCOUNTS.costOfGoodsSold, type: 'X' },
  { account: ACCOUNTS.shrinkage, type: 'X' },
  { account: ACCOUNTS.cashOverShort, type: 'X' },
  { account: ACCOUNTS.cardFees, type: 'X' },
  { account: ACCOUNTS.cardLosses, type: 'X' },
  { account: ACCOUNTS.loyaltyExpense, type: 'X' }
] satisfies AccountInfo[])

/**
 * Account names in code-unit order: the order of keys in snapshots and exports. Code-unit
 * order (`<`), not localeCompare, because locale collation differs between machines and
 * HQ replicas must produce byte-identical output.
 */
export const ACCOUNT_NAMES: readonly Account[] = Object.freeze(CHART.map(c => c.account).sort(compareText))

const indexOf = new Map<string, number>(ACCOUNT_NAMES.map((a, i) => [a, i]))

/** Dense index of an account (0 .. ACCOUNT_NAMES.length − 1), for array-backed balances. */
export function accountIndex (account: Account): number {
  const i = indexOf.get(account)
  if (i === undefined) bug(`not in the chart of accounts: ${account}`)
  return i
}

export function isAccount (name: string): name is Account {
  return indexOf.has(name)
}

/** Deterministic, locale-independent string order. */
export function compareText (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

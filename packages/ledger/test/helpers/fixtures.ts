/**
 * Real, signed till entries for tests: a writer per till that chains seq and prevHash,
 * numbers documents contiguously, and makes Close records whose arithmetic the protocol
 * accepts (takings = Σ net + tax; saleCount + refundCount = the documents of the day).
 */
import {
  GENESIS_HASH, keyPairFromSeed, POINT_VALUE_CENTS, sha256, signEntry, Signer,
  type BusinessDay, type Close, type Entry, type PointsLine, type SkuQty, type StockIn, type StoreId, type TaxLine, type TillRecord
} from '@tillbooks/protocol'

/** Standard costs in cents. SUGAR costs 0 on purpose: a zero-valued line must post nothing. */
export const COSTS: Readonly<Record<string, number>> = Object.freeze({ BEAN: 120, CUP: 15, LID: 3, MILK: 45, SUGAR: 0 })
export const SKUS = Object.keys(COSTS).sort()
export const MEMBERS = ['+447700900001', '+447700900002', '+447700900003']
/** Members by id (what Closes carry since member ids; only they redeem points). */
export const MEMBER_IDS = ['m-AAAAAAAAAAAAAAAAAAAAAA', 'm-BBBBBBBBBBBBBBBBBBBBBB']

export function costCents (sku: string): number {
  const c = COSTS[sku]
  if (c === undefined) throw new Error(`no standard cost for ${sku}`)
  return c
}

const signers = new Map<number, Signer>()

/** A deterministic till key: seed = n repeated. Cached (deriving a public key is ~1 ms in pure JS). */
export function signerFor (n: number): Signer {
  let s = signers.get(n)
  if (s === undefined) {
    s = new Signer(keyPairFromSeed(new Uint8Array(32).fill(n & 0xff)))
    signers.set(n, s)
  }
  return s
}

export interface CloseSpec {
  day: string
  tax: TaxLine[]
  cardCents?: number
  /** Counted − cash takings. */
  overCents?: number
  consumed?: SkuQty[]
  points?: PointsLine[]
  saleCount?: number
  refundCount?: number
  refundsCents?: number
  atMs?: number
  /** Card payments through processors (part of cardCents), and losses reported. */
  payments?: Close['payments']
  lateDeclines?: Close['lateDeclines']
  expired?: Close['expired']
  /** Points redeemed per member id (part of the takings, at POINT_VALUE_CENTS each: cash pays the rest). */
  redeemed?: Array<{ member: string, points: number }>
  pointsCancelled?: Close['pointsCancelled']
}

export interface StockInSpec {
  day: string
  replenishmentId?: string
  shipped: SkuQty[]
  received: SkuQty[]
  atMs?: number
}

export const bySku = (a: SkuQty, b: SkuQty): number => a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0

/** Writes one till's valid chain. */
export class TillWriter {
  readonly store: StoreId
  readonly till: number
  readonly signer: Signer
  readonly entries: Entry[] = []
  nextDoc = 1

  constructor (store: string, till: number, signer: Signer = signerFor(till)) {
    this.store = store as StoreId
    this.till = till
    this.signer = signer
  }

  get tillId (): string { return `${this.store}-${this.till}` }

  #header (day: string, atMs: number | undefined): Pick<Close, 'v' | 'store' | 'till' | 'businessDay' | 'seq' | 'prevHash' | 'atMs'> {
    const last = this.entries.at(-1)
    return { v: 1, store: this.store, till: this.till, businessDay: day as BusinessDay, seq: this.entries.length + 1, prevHash: last?.hashBytes ?? GENESIS_HASH, atMs: atMs ?? this.entries.length * 1000 }
  }

  close (spec: CloseSpec): Entry {
    const total = spec.tax.reduce((s, t) => s + t.netCents + t.taxCents, 0)
    const cardCents = spec.cardCents ?? 0
    const redeemed = [...(spec.redeemed ?? [])].sort((a, b) => a.member < b.member ? -1 : 1).map(l => ({ ...l, amountCents: l.points * POINT_VALUE_CENTS }))
    const cashCents = total - cardCents - redeemed.reduce((n, l) => n + l.amountCents, 0)
    const counted = cashCents + (spec.overCents ?? 0)
    if (counted < 0) throw new Error(`fixture: counted cash ${counted} < 0`)
    const saleCount = spec.saleCount ?? 0
    const refundCount = spec.refundCount ?? 0
    const docFirst = this.nextDoc
    const docLast = docFirst + saleCount + refundCount - 1
    this.nextDoc = docLast + 1
    const record: Close = {
      ...this.#header(spec.day, spec.atMs),
      kind: 'close',
      docFirst,
      docLast,
      saleCount,
      refundCount,
      takingsCents: { cash: cashCents, card: cardCents },
      tax: [...spec.tax].sort((a, b) => a.rateBp - b.rateBp),
      refundsCents: spec.refundsCents ?? 0,
      cashCountedCents: counted,
      consumed: [...(spec.consumed ?? [])].sort(bySku),
      points: [...(spec.points ?? [])].sort((a, b) => a.member < b.member ? -1 : 1),
      ...(spec.payments !== undefined ? { payments: spec.payments } : {}),
      ...(spec.lateDeclines !== undefined ? { lateDeclines: spec.lateDeclines } : {}),
      ...(spec.expired !== undefined ? { expired: spec.expired } : {}),
      ...(redeemed.length > 0 ? { redeemed } : {}),
      ...(spec.pointsCancelled !== undefined && spec.pointsCancelled.length > 0 ? { pointsCancelled: spec.pointsCancelled } : {})
    }
    return this.#append(record)
  }

  stockIn (spec: StockInSpec): Entry {
    const record: StockIn = {
      ...this.#header(spec.day, spec.atMs),
      kind: 'stockIn',
      replenishmentId: spec.replenishmentId ?? `R-${spec.day}-${this.store}`,
      shipped: [...spec.shipped].sort(bySku),
      received: [...spec.received].sort(bySku)
    }
    return this.#append(record)
  }

  #append (record: TillRecord): Entry {
    const entry = signEntry(record, this.signer)
    this.entries.push(entry)
    return entry
  }

  /** A second, different entry at `seq` with the same prevHash: an equivocation. */
  forkAt (seq: number, salt = 1): Entry {
    const original = this.entry(seq)
    return signEntry({ ...original.record, atMs: original.record.atMs + 1_000_000 + salt }, this.signer)
  }

  /** The entry at `seq` re-signed with `prevHash` (a successor on a forked branch, or a broken link). */
  relink (seq: number, prevHash: Uint8Array): Entry {
    return signEntry({ ...this.entry(seq).record, prevHash }, this.signer)
  }

  entry (seq: number): Entry {
    const e = this.entries[seq - 1]
    if (e === undefined) throw new Error(`fixture: no entry ${seq} in ${this.tillId}`)
    return e
  }
}

/** A hash no entry has: for breaking a link. */
export function bogusHash (salt: number): Uint8Array {
  return sha256(new TextEncoder().encode(`bogus ${salt}`))
}

/** Deterministic Fisher–Yates shuffle from a 32-bit seed (mulberry32). */
export function shuffled<T> (items: readonly T[], seed: number): T[] {
  let state = seed >>> 0
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const tmp = out[i] as T
    out[i] = out[j] as T
    out[j] = tmp
  }
  return out
}

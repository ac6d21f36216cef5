/** Keys and valid records shared by the protocol tests. Every builder returns a fresh deep copy. */
import { createHash } from 'node:crypto'
import { GENESIS_HASH } from '../../src/constants.ts'
import { asBusinessDay, asStoreId, type StoreId } from '../../src/ids.ts'
import { keyPairFromSeed, Signer, type KeyPair } from '../../src/keys.ts'
import type { Close, StockIn } from '../../src/records.ts'

export const STORE: StoreId = asStoreId('S1')
export const DAY = asBusinessDay('2026-11-25')

/** A 32-byte seed named by a label, so tests read `pairOf('root')`. */
export function seedOf (label: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`tillbooks-test/${label}`).digest())
}

export function pairOf (label: string): KeyPair {
  return keyPairFromSeed(seedOf(label))
}

export function signerOf (label: string): Signer {
  return new Signer(pairOf(label))
}

export const root = signerOf('root')
export const till1 = signerOf('till S1-1')

export function hexOf (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

export function bytesOfHex (hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/** A valid StockIn at seq 1 (genesis prevHash). */
export function stockIn (over: Partial<StockIn> = {}): StockIn {
  return structuredClone({
    v: 1,
    kind: 'stockIn',
    store: STORE,
    till: 1,
    businessDay: DAY,
    seq: 1,
    prevHash: GENESIS_HASH,
    atMs: 1_764_057_600_000,
    replenishmentId: 'R-2026-11-25-S1',
    shipped: [{ sku: 'BREAD-1', qty: 20 }, { sku: 'MILK-1', qty: 12 }],
    received: [{ sku: 'BREAD-1', qty: 19 }, { sku: 'MILK-1', qty: 12 }],
    ...over
  } satisfies StockIn)
}

/**
 * A valid Close at seq 2: 4 sales and 1 refund (documents 1..5);
 * takings 1000 + 2340 = 3340 = (500 + 0) + (2367 + 473).
 */
export function close (over: Partial<Close> = {}): Close {
  return structuredClone({
    v: 1,
    kind: 'close',
    store: STORE,
    till: 1,
    businessDay: DAY,
    seq: 2,
    prevHash: new Uint8Array(32).fill(0xab),
    atMs: 1_764_100_000_000,
    docFirst: 1,
    docLast: 5,
    saleCount: 4,
    refundCount: 1,
    takingsCents: { cash: 1000, card: 2340 },
    tax: [{ rateBp: 0, netCents: 500, taxCents: 0 }, { rateBp: 2000, netCents: 2367, taxCents: 473 }],
    refundsCents: 250,
    cashCountedCents: 21_000,
    consumed: [{ sku: 'BREAD-1', qty: 3 }, { sku: 'MILK-1', qty: -1 }],
    points: [{ member: '+447700900001', points: 12 }, { member: '+447700900002', points: 3 }],
    ...over
  } satisfies Close)
}

/** Assert-style helper: run `fn` and return the error it throws (fails if it does not throw). */
export function thrown (fn: () => unknown): Error {
  try {
    fn()
  } catch (err) {
    if (err instanceof Error) return err
    throw new Error(`threw a non-Error: ${String(err)}`)
  }
  throw new Error('expected a throw, but it returned')
}

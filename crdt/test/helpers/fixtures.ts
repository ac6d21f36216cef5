/** Keys, enrolment and valid signed entries shared by the crdt tests. */
import { createHash } from 'node:crypto'
import {
  Enrolment, GENESIS_HASH, Signer, asBusinessDay, asStoreId, canonicalDecode, canonicalEncode, issueCertificate, keyPairFromSeed,
  nextBusinessDay, signEntry, tillIdOf,
  type BusinessDay, type Canonical, type Close, type Entry, type StockIn, type StoreId, type TillId
} from '@tillbooks/protocol'
import type { KeyFor, LogReport } from '../../src/index.ts'

export const STORE: StoreId = asStoreId('S1')
export const TILL_NO = 1
export const TILL_ID: TillId = tillIdOf(STORE, TILL_NO)
export const OTHER_TILL_ID: TillId = tillIdOf(STORE, 2)
export const FIRST_DAY: BusinessDay = asBusinessDay('2026-01-01')

export function signerOf (label: string): Signer {
  return new Signer(keyPairFromSeed(new Uint8Array(createHash('sha256').update(`tillbooks-crdt-test/${label}`).digest())))
}

export const root = signerOf('root')
export const tillKey = signerOf('till S1-1')
export const otherTillKey = signerOf('till S1-2')
export const mallory = signerOf('mallory')

/** HQ's enrolment of S1-1 (and S1-2), each key from seq 1. */
export function enrolment (): Enrolment {
  const e = new Enrolment(root.publicKey)
  e.add(issueCertificate(root, { store: STORE, till: TILL_NO, tillKey: tillKey.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes)
  e.add(issueCertificate(root, { store: STORE, till: 2, tillKey: otherTillKey.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes)
  return e
}

export function keyForOf (e: Enrolment): KeyFor {
  return (tillId, seq) => e.keyFor(tillId, seq)
}

/**
 * A till writing its log: odd seqs are the morning StockIn, even seqs the night's Close,
 * whose documents continue the day before's. `variant` changes the figures, so two
 * writers at the same position sign different records (a fork).
 */
export class TillWriter {
  signer: Signer
  store: StoreId
  till: number
  seq = 0
  prevHash: Uint8Array = GENESIS_HASH
  day: BusinessDay = FIRST_DAY
  nextDocN = 1

  constructor (signer: Signer = tillKey, store: StoreId = STORE, till: number = TILL_NO) {
    this.signer = signer
    this.store = store
    this.till = till
  }

  /** The next record, signed, without advancing (for forks and bad appends). */
  peek (variant = 0): Entry {
    const seq = this.seq + 1
    const header = { v: 1 as const, store: this.store, till: this.till, businessDay: this.day, seq, prevHash: this.prevHash, atMs: 1_767_225_600_000 + seq * 3_600_000 }
    if (seq % 2 === 1) {
      const stockIn: StockIn = {
        ...header,
        kind: 'stockIn',
        replenishmentId: `R-${this.day}-${this.store}`,
        shipped: [{ sku: 'BREAD-1', qty: 20 }, { sku: 'MILK-1', qty: 12 }],
        received: [{ sku: 'BREAD-1', qty: 20 - (variant % 5) }, { sku: 'MILK-1', qty: 12 }]
      }
      return signEntry(stockIn, this.signer)
    }
    // sales documents, each 1200 cents gross at 20% tax: net 1000 + tax 200; one refund on variant days.
    const sales = 3 + ((seq + variant) % 4)
    const refunds = variant % 2
    const grossCents = (sales - refunds) * 1200
    const close: Close = {
      ...header,
      kind: 'close',
      docFirst: this.nextDocN,
      docLast: this.nextDocN + sales + refunds - 1,
      saleCount: sales,
      refundCount: refunds,
      takingsCents: { cash: grossCents - 1200, card: 1200 },
      tax: [{ rateBp: 2000, netCents: (sales - refunds) * 1000, taxCents: (sales - refunds) * 200 }],
      refundsCents: refunds * 1200,
      cashCountedCents: 20_000 + grossCents,
      consumed: [{ sku: 'BREAD-1', qty: sales }],
      points: variant === 0 ? [] : [{ member: '+447700900001', points: variant }]
    }
    return signEntry(close, this.signer)
  }

  /** Sign the next record and advance. */
  next (variant = 0): Entry {
    const entry = this.peek(variant)
    this.advance(entry)
    return entry
  }

  advance (entry: Entry): void {
    this.seq = entry.record.seq
    this.prevHash = entry.hashBytes
    if (entry.record.kind === 'close') {
      this.nextDocN = entry.record.docLast + 1
      this.day = nextBusinessDay(this.day)
    }
  }

  chain (n: number): Entry[] {
    return Array.from({ length: n }, () => this.next())
  }
}

/** The same envelope with one bit of the signature flipped: well-formed, forged. */
export function withBadSignature (entry: Entry): Entry {
  const envelope = canonicalDecode(entry.bytes) as { [k: string]: Canonical }
  const sig = new Uint8Array(envelope.sig as Uint8Array)
  sig[10] = (sig[10] as number) ^ 0x01
  return { ...entry, bytes: canonicalEncode({ ...envelope, sig }) }
}

/** A report as plain data, for deep equality across replicas. */
export function summary (report: LogReport): unknown {
  return {
    chain: report.chain.map(e => `${e.record.seq}:${e.hash}`),
    head: report.head,
    forks: report.forks,
    invalid: report.invalid,
    gaps: report.gaps,
    stop: report.stop
  }
}

export function hexes (list: Uint8Array[]): string[] {
  return list.map(b => Buffer.from(b).toString('hex'))
}

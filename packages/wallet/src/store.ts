/**
 * The customer's wallet: receipts they keep (each verified before it is kept, once however often
 * it is added), their points as the receipts show them, what may still be returned, and an
 * encrypted backup they keep in their own cloud (a passphrase: scrypt, then AES-256-GCM; the
 * backup is useless without it, and any change to it is refused).
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto'
import { POINT_VALUE_CENTS, type PublicKey } from '@tillbooks/protocol'
import { WalletError } from './errors.ts'
import { linesMatch, verifyReceipt, type Receipt, type ReceiptLine } from './receipt.ts'

export interface Kept { qr: string, receipt: Receipt, tillId: string, lines: ReceiptLine[] | null }

/** Days after a sale within which it may be returned (the shop's policy; the wallet only shows it). */
export const RETURN_WINDOW_DAYS = 30
/** Receipts one wallet keeps. */
export const WALLET_RECEIPTS_MAX = 100_000
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }

export class WalletStore {
  readonly #rootKey: PublicKey
  readonly #byDoc = new Map<string, Kept>()

  /** A wallet for receipts of the retailer whose HQ root key this is. */
  constructor (rootKey: PublicKey) {
    this.#rootKey = rootKey
  }

  /** Keep a receipt (its QR text, and its lines if the customer has them): verified first; 'duplicate' if kept already. */
  add (qr: string, lines?: readonly ReceiptLine[]): 'added' | 'duplicate' {
    const v = verifyReceipt(qr, this.#rootKey)
    if (lines !== undefined && !linesMatch(v.receipt, lines)) throw new WalletError(`the lines given are not those of receipt ${v.receipt.docNo}`)
    const had = this.#byDoc.get(v.receipt.docNo)
    if (had !== undefined) {
      // The same document twice is the same receipt (a till signs one document once, deterministically).
      if (had.qr !== qr) throw new WalletError(`another receipt is kept for ${v.receipt.docNo}`)
      if (had.lines === null && lines !== undefined) this.#byDoc.set(v.receipt.docNo, { ...had, lines: [...lines] })
      return 'duplicate'
    }
    if (this.#byDoc.size >= WALLET_RECEIPTS_MAX) throw new WalletError(`${WALLET_RECEIPTS_MAX} receipts kept already`)
    this.#byDoc.set(v.receipt.docNo, { qr, receipt: v.receipt, tillId: v.tillId, lines: lines === undefined ? null : [...lines] })
    return 'added'
  }

  /** Every receipt kept, newest first. */
  list (): Kept[] {
    return [...this.#byDoc.values()].sort((a, b) => b.receipt.atMs - a.receipt.atMs || (a.receipt.docNo < b.receipt.docNo ? -1 : 1))
  }

  /**
   * Points per member as the receipts kept show them: earned (less what refunds took back),
   * less redeemed (points tenders; a refund's gives them back). What the retailer's books say
   * is `GET /members/<member>`: points not yet vested count here already.
   */
  points (): Record<string, number> {
    const out: Record<string, number> = {}
    for (const k of this.#byDoc.values()) {
      const m = k.receipt.member
      if (m === undefined) continue
      let p = k.receipt.points ?? 0
      for (const t of k.receipt.tenders) if (t.type === 'points') p -= Math.trunc(t.amountCents / POINT_VALUE_CENTS)
      if (p !== 0 || k.receipt.points !== undefined) out[m] = (out[m] ?? 0) + p
    }
    return out
  }

  /** Sales still within the return window on `today` (YYYY-MM-DD). */
  returnable (today: string): Kept[] {
    const limit = new Date(`${today}T00:00:00Z`)
    limit.setUTCDate(limit.getUTCDate() - RETURN_WINDOW_DAYS)
    const from = limit.toISOString().slice(0, 10)
    return this.list().filter(k => k.receipt.kind === 'sale' && k.receipt.businessDay >= from)
  }

  /** The wallet as an encrypted backup (JSON text): scrypt of the passphrase, AES-256-GCM. */
  exportBackup (passphrase: string): string {
    if (passphrase.length < 8) throw new WalletError('a backup passphrase has at least 8 characters')
    const salt = randomBytes(16)
    const iv = randomBytes(12)
    const key = scryptSync(passphrase, salt, 32, SCRYPT)
    const c = createCipheriv('aes-256-gcm', key, iv)
    const plain = Buffer.from(JSON.stringify({ v: 1, receipts: this.list().map(k => ({ qr: k.qr, lines: k.lines })) }))
    const data = Buffer.concat([c.update(plain), c.final()])
    return JSON.stringify({ v: 1, kdf: 'scrypt', N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString('base64'), iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), data: data.toString('base64') })
  }

  /** Take in a backup: every receipt verified again as it is added; a wrong passphrase or a changed backup is refused whole. */
  importBackup (backup: string, passphrase: string): { added: number, duplicate: number } {
    let b: { v?: unknown, N?: unknown, r?: unknown, p?: unknown, salt?: unknown, iv?: unknown, tag?: unknown, data?: unknown }
    try { b = JSON.parse(backup) } catch { throw new WalletError('not a wallet backup') }
    if (b.v !== 1 || b.N !== SCRYPT.N || b.r !== SCRYPT.r || b.p !== SCRYPT.p || typeof b.salt !== 'string' || typeof b.iv !== 'string' || typeof b.tag !== 'string' || typeof b.data !== 'string') throw new WalletError('not a wallet backup of this version')
    let plain: Buffer
    try {
      const key = scryptSync(passphrase, Buffer.from(b.salt, 'base64'), 32, SCRYPT)
      const d = createDecipheriv('aes-256-gcm', key, Buffer.from(b.iv, 'base64'))
      d.setAuthTag(Buffer.from(b.tag, 'base64'))
      plain = Buffer.concat([d.update(Buffer.from(b.data, 'base64')), d.final()])
    } catch {
      throw new WalletError('the backup does not open: a wrong passphrase, or it was changed')
    }
    const content = JSON.parse(plain.toString('utf8')) as { receipts: Array<{ qr: string, lines: ReceiptLine[] | null }> }
    let added = 0
    let duplicate = 0
    for (const r of content.receipts) {
      if (this.add(r.qr, r.lines ?? undefined) === 'added') added++
      else duplicate++
    }
    return { added, duplicate }
  }
}

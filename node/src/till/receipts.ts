/**
 * A sale's or refund's receipt, made from the till's journal document and signed with the till's
 * key (@tillbooks/wallet: COSE_Sign1 carrying the till's certificate, as a `TB1:` QR). Ed25519
 * is deterministic: the same document always gives the same receipt, so receipts are made when
 * asked, never stored. A member on a receipt is a member id; a phone number never is.
 */
import { isMemberId } from '@tillbooks/members'
import { POINT_VALUE_CENTS, type Signer } from '@tillbooks/protocol'
import { linesDigest, signReceipt, type Receipt, type ReceiptLine, type ReceiptTender } from '@tillbooks/wallet'
import type { SaleDoc } from './TillNode.ts'

export interface TillReceipt {
  docNo: string
  qr: string
  cose: Uint8Array
  receipt: Receipt
  lines: ReceiptLine[]
}

export function receiptFor (doc: SaleDoc, o: { tillId: string, currency: string, signer: Signer, certificate: Uint8Array, priceOf: (sku: string, day: string) => number }): TillReceipt {
  const docNo = `${o.tillId}-${doc.n}`
  const lines = doc.lines.map(l => ({ sku: l.sku, qty: l.qty, priceCents: o.priceOf(l.sku, doc.businessDay) }))
  const tenders: ReceiptTender[] = []
  if (doc.tenders.cash !== 0) tenders.push({ type: 'cash', amountCents: doc.tenders.cash })
  let viaProcessor = 0
  for (const p of doc.payments ?? []) {
    if (p.status === 'declined') continue
    viaProcessor += p.amountCents
    tenders.push({ type: p.type, amountCents: p.amountCents, ...(p.signedLine !== undefined ? { approval: p.signedLine } : {}) })
  }
  if (doc.tenders.card - viaProcessor !== 0) tenders.push({ type: 'card', amountCents: doc.tenders.card - viaProcessor })
  // Points redeemed pay like a tender (a refund gives them back: negative).
  if (doc.redeemed !== undefined) tenders.push({ type: 'points', amountCents: doc.redeemed.points * POINT_VALUE_CENTS })
  if (doc.restored !== undefined) tenders.push({ type: 'points', amountCents: -doc.restored.points * POINT_VALUE_CENTS })
  // A sale's member earned `points`; a refund's member had `points` (negative) of its sale's taken back.
  const member = doc.member ?? doc.cancelled?.member ?? doc.restored?.member ?? null
  const points = doc.kind === 'sale' ? doc.points : -(doc.cancelled?.points ?? 0)
  const receipt: Omit<Receipt, 'v'> = {
    docNo, kind: doc.kind, atMs: doc.atMs, businessDay: doc.businessDay, currency: o.currency, totalCents: doc.totalCents,
    tax: doc.perRate.map(r => ({ rateBp: r.rateBp, netCents: r.netCents, taxCents: r.taxCents })),
    tenders,
    ...(member !== null && isMemberId(member) ? { member } : {}),
    ...(points !== 0 ? { points } : {}),
    linesDigest: linesDigest(lines)
  }
  const { cose, qr } = signReceipt(receipt, o.signer, o.certificate)
  return { docNo, qr, cose, receipt: { v: 1, ...receipt }, lines }
}

/**
 * The cardPayments fault's plan and checks (Simulation.ts drives it): which card each sale is
 * paid with, when the processor is down, the settlement faults planted in the processor's
 * files, and the invariants P1–P3, computed from what the processor did (its own records,
 * never the tills') and what the simulator planted, then compared with what the production
 * `reconcile` finds in the tills' records against the settlement report (written by the
 * production `toSettlementCsv`, read back by `parseSettlementCsv`).
 */
import {
  batchesOf, parseSettlementCsv, reconcile, toSettlementCsv,
  type SettlementFile, type SettlementLine, type TillPayment
} from '@tillbooks/payments'
import { reversedBy, type PaymentAttempt } from '@tillbooks/node'
import type { Prng } from './Prng.ts'
import type { SimProcessor } from './SimProcessor.ts'

/** The currency the processor settles in, and its fee. */
export const CARD_CURRENCY = 'EUR'
export const CARD_FEE_BP = 150
/** The share of the processor's fresh answers lost on their way back (lostResponses). */
export const ANSWER_DROP_RATE = 0.03
/** Tills forward what they stored, and resolve unknown outcomes, this often (the daemon's sync cycle). */
export const FORWARD_EVERY_MS = 30 * 60_000
/** A reconciliation counts a day's payments due in the settlements after this many days. */
export const SETTLEMENT_LAG_DAYS = 1

/** The cards sales are paid with, with their weights (of 100): mostly approvals. */
const TOKENS: ReadonlyArray<readonly [string, number]> = [
  ['tok_visa', 62], ['tok_mastercard', 10], ['tok_decline', 8], ['tok_decline_on_forward', 10], ['tok_no_response', 10]
]

/** A card tender's card (a twentieth of the approving ones are an e-wallet instead). */
export function drawCard (p: Prng): { type: 'card' | 'wallet', token: string } {
  let x = p.int(0, 99)
  for (const [token, w] of TOKENS) {
    if (x < w) return token === 'tok_visa' && p.chance(0.05) ? { type: 'wallet', token: 'tok_applepay' } : { type: 'card', token }
    x -= w
  }
  return { type: 'card', token: 'tok_visa' }
}

export interface CardPlan {
  /** The day (index) the processor is down for a stretch, and the stretch. */
  outageDay: number
  outageFromMs: number
  outageUntilMs: number
}

export function planCards (p: Prng, days: number, dayStartMs: (i: number) => number): CardPlan {
  const outageDay = p.int(0, days - 1)
  const outageFromMs = dayStartMs(outageDay) + p.int(9 * 60, 15 * 60) * 60_000
  return { outageDay, outageFromMs, outageUntilMs: outageFromMs + p.int(60, 5 * 60) * 60_000 }
}

/** One till process's payments, for the checks: its attempts as it holds them, and its clock now. */
export interface TillPaymentsView {
  tillId: string
  generation: number
  burnt: boolean
  attempts: PaymentAttempt[]
  clockNowMs: number
}

export interface PlantedFaults { dropped: string[], centOff: string[], duplicated: string[] }

export interface CardChecks {
  P1_noPaymentChargedTwice: boolean
  P2_everyApprovalReconciled: boolean
  P3_storedForwarded: boolean
  details: Record<string, unknown>
  /** The processor's settlement reports as written, faults planted, one per day: what HQ imports (P5). */
  files: string[]
}

/**
 * The checks, once the run has settled and the processor has settled every day:
 * - P1: no payment id booked twice by the processor; no sale charged under two payment ids.
 * - P2: the production `reconcile` of every till's approved, stored, expired and late-declined
 *   payments against the processor's settlement report (with the planted faults) lists each
 *   one matched or in exactly one exception, and the exceptions are exactly the expected
 *   ones: late declines and expiries as the processor saw them, the planted settlement faults,
 *   and payments the processor took for a sale the till then refused (money without a sale),
 *   with their refunds (`<id>-V`) where the till burnt before it knew the processor made them.
 * - P3: nothing is left stored past its deadline (nor pending) at a live till; a burnt till's
 *   stored payments are listed expired, or matched when the processor had taken them.
 */
export function checkCards (o: { tills: TillPaymentsView[], processor: SimProcessor, saleDays: ReadonlyMap<string, string>, storedAtSale: ReadonlySet<string>, nowMs: number, throughDay: string, plant: Prng }): CardChecks {
  const { processor } = o
  const problems: string[] = []

  // The tills' records as a reconciliation reads them (expired: stored, past its deadline).
  const payments: TillPayment[] = []
  const listed = new Map<string, TillPayment>()
  const idsTwice: string[] = []
  const docOf = new Map<string, string>()
  const declinedAtTill = new Set<string>()
  /** Refused at a till that burnt while refunding what the processor took anyway (its refund's answer, or the till, lost). */
  const reversingAtBurntTill = new Set<string>()
  /** Taken for a sale that was not made, and refunded: not a charge of the sale. */
  const reversed = new Set<string>()
  const states: Record<string, number> = {}
  for (const t of o.tills) {
    for (const a of t.attempts) {
      states[a.state] = (states[a.state] ?? 0) + 1
      // Refused at the till (and, if the processor took it unseen, still to be refunded): not an approval.
      if (a.state === 'declined' || a.state === 'reversing') {
        declinedAtTill.add(a.paymentId)
        if (a.state === 'reversing' && t.burnt) reversingAtBurntTill.add(a.paymentId)
        continue
      }
      if (a.state === 'pending') continue
      if (a.state === 'reversed') reversed.add(a.paymentId)
      if (!docOf.has(a.paymentId)) docOf.set(a.paymentId, `${t.tillId}/${t.generation}:${a.docNo}`)
      const p: TillPayment = {
        paymentId: a.paymentId, till: t.tillId, docNo: a.docNo, day: a.saleDay ?? o.saleDays.get(a.paymentId) ?? new Date(a.takenAtMs).toISOString().slice(0, 10), amountCents: a.amountCents,
        // A reversed payment settles as taken, its reversal (`<id>-V`, an attempt of its own) as refunded.
        status: a.state === 'approved' || a.state === 'reversed' ? 'approved' : a.state === 'late_declined' ? 'late_declined' : 'stored',
        ...(a.answer?.processorRef != null ? { processorRef: a.answer.processorRef } : {}),
        ...(a.forwardByMs !== null && a.state !== 'approved' && a.state !== 'reversed' ? { forwardByMs: a.forwardByMs } : {})
      }
      if (listed.has(p.paymentId)) idsTwice.push(p.paymentId)
      else listed.set(p.paymentId, p)
      payments.push(p)
    }
  }

  // P1: from the processor's bookings alone.
  const bookedTimes = new Map<string, number>()
  for (const b of processor.bookings) if (b.kind === 'payment') bookedTimes.set(b.paymentId, (bookedTimes.get(b.paymentId) ?? 0) + 1)
  const bookedTwice = [...bookedTimes].filter(([, n]) => n > 1).map(([id]) => id)
  // A sale made (a declined attempt's document number goes to the next sale) charged under two payment ids.
  const perSale = new Map<string, string[]>()
  for (const id of bookedTimes.keys()) {
    const doc = listed.has(id) && !reversed.has(id) ? docOf.get(id) : undefined
    if (doc === undefined) continue
    perSale.set(doc, [...(perSale.get(doc) ?? []), id])
  }
  const salesChargedTwice = [...perSale].filter(([, ids]) => ids.length > 1).map(([doc, ids]) => `${doc}: ${ids.join(', ')}`)
  const P1 = bookedTwice.length === 0 && salesChargedTwice.length === 0

  // What each listed payment should come to, from what the processor did with it.
  type Expect = 'matched' | 'late_decline' | 'expired' | 'timing'
  const expectOf = new Map<string, Expect>()
  for (const p of listed.values()) {
    const rec = processor.records.get(p.paymentId)
    if (rec === undefined) expectOf.set(p.paymentId, (p.forwardByMs ?? Number.POSITIVE_INFINITY) < o.nowMs ? 'expired' : 'timing')
    // A refund is a payment of its own, negative at the till, approved for its (positive) amount.
    else if (rec.answer.status === 'approved' && rec.answer.approvedCents === Math.abs(p.amountCents)) expectOf.set(p.paymentId, 'matched')
    // Declined when forwarded; or declined online with the answer lost, so the till took it offline: the sale stood, no money came.
    // Still stored at its till past its deadline (the till burnt before it forwarded it, or before
    // the decline's answer reached it): the till lists it expired, never charged, which it was not.
    // (A live till holding one so is P3's to catch.)
    else if (rec.answer.status === 'declined' && (rec.answer.forwarded || o.storedAtSale.has(p.paymentId))) {
      expectOf.set(p.paymentId, p.status === 'stored' && (p.forwardByMs ?? Number.POSITIVE_INFINITY) < o.nowMs ? 'expired' : 'late_decline')
    }
    else problems.push(`${p.paymentId}: the till holds it ${p.status}, the processor ${rec.answer.status}${rec.answer.forwarded ? ' when forwarded' : ''} for ${rec.answer.approvedCents}`)
  }

  // The settlement faults, planted on lines of payments that would otherwise match.
  const days = [...processor.settled.keys()].sort()
  const eligible = days.flatMap(d => (processor.settled.get(d) as SettlementFile).lines)
    .filter(l => l.type === 'Settled' && l.paymentId !== null && expectOf.get(l.paymentId) === 'matched' && !idsTwice.includes(l.paymentId))
  const [drop, cent, dup] = o.plant.sample(eligible, 3)
  const centBy = o.plant.chance(0.5) ? 1 : -1
  const planted: PlantedFaults = { dropped: [], centOff: [], duplicated: [] }
  const lines: SettlementLine[] = []
  const files: string[] = []
  let csvBytes = 0
  for (const day of days) {
    const file = processor.settled.get(day) as SettlementFile
    const out: SettlementLine[] = []
    for (const l of file.lines) {
      if (l === drop) { planted.dropped.push(l.paymentId as string); continue }
      if (l === cent) { planted.centOff.push(l.paymentId as string); out.push({ ...l, grossCents: l.grossCents + centBy, netCents: l.netCents + centBy }); continue }
      out.push(l)
      if (l === dup) { planted.duplicated.push(l.paymentId as string); out.push({ ...l }) }
    }
    // The processor's file as written, and read back by the production reader (refused whole if it did not add up).
    const csv = toSettlementCsv(withBatches({ currency: file.currency, lines: out, batches: [] }))
    csvBytes += csv.length
    files.push(csv)
    lines.push(...parseSettlementCsv(csv, file.currency).lines)
  }

  // Expected exceptions, by kind and payment id.
  const expected: string[] = []
  let expectedMatched = 0
  for (const [id, e] of expectOf) {
    if (e !== 'matched') { expected.push(`${e} ${id}`); continue }
    if (planted.dropped.includes(id)) expected.push(`missing_in_settlement ${id}`)
    else if (planted.centOff.includes(id)) expected.push(`amount_mismatch ${id}`)
    else expectedMatched++
    if (planted.duplicated.includes(id)) expected.push(`duplicate ${id}`)
  }
  // Charged by the processor for a sale the till then refused (its answer lost, and the payment not
  // taken offline either): money with no sale, which reconciliation must name.
  const chargedWithoutSale: string[] = []
  // Its refund (`<id>-V`) made by the processor, the till burnt before it knew: money back with
  // no till record of it either, which reconciliation must name too (the pair nets to nothing).
  const refundedUnseen: string[] = []
  for (const b of processor.bookings) {
    if (listed.has(b.paymentId)) continue
    if (b.kind === 'payment' && declinedAtTill.has(b.paymentId)) {
      chargedWithoutSale.push(b.paymentId)
      expected.push(`missing_at_till ${b.paymentId}`)
    } else if (b.kind === 'refund' && reversingAtBurntTill.has(reversedBy(b.paymentId) ?? '')) {
      refundedUnseen.push(b.paymentId)
      expected.push(`missing_at_till ${b.paymentId}`)
    } else if (b.kind === 'payment' || b.kind === 'refund') {
      problems.push(`${b.paymentId}: booked by the processor (${b.kind}), unknown to every till`)
    }
  }
  expected.sort()

  const r = reconcile({ payments, lines, throughDay: o.throughDay, settlementLagDays: SETTLEMENT_LAG_DAYS, nowMs: o.nowMs })
  const found = r.exceptions.map(x => `${x.kind} ${x.paymentId ?? x.processorRef ?? ''}`).sort()
  // Each listed payment matched or in exactly one exception (a duplicate line is about the extra line).
  const about = new Map<string, number>()
  for (const x of r.exceptions) if (x.kind !== 'duplicate' && x.kind !== 'missing_at_till' && x.paymentId !== undefined) about.set(x.paymentId, (about.get(x.paymentId) ?? 0) + 1)
  const inTwo = [...about].filter(([, n]) => n > 1).map(([id]) => id)
  const noException = [...listed.keys()].filter(id => !about.has(id)).length
  const exact = JSON.stringify(found) === JSON.stringify(expected)
  const P2 = exact && r.matched === expectedMatched && noException === r.matched && inTwo.length === 0 && idsTwice.length === 0 && problems.length === 0

  // P3: stored payments forwarded (or expired) by their deadline; nothing pending at a live till.
  const expiredListed = new Set(r.exceptions.filter(x => x.kind === 'expired').map(x => x.paymentId))
  const leftStored: string[] = []
  for (const t of o.tills) {
    for (const a of t.attempts) {
      if ((a.state === 'pending' || a.state === 'reversing') && !t.burnt) leftStored.push(`${a.paymentId}: ${a.state}`)
      if (a.state !== 'stored' || a.forwardByMs === null || a.forwardByMs >= t.clockNowMs) continue
      // A burnt till cannot forward it: reconciliation lists it expired, or matched if the
      // processor had taken it after all (the sale's own request reached it, its answer lost:
      // seed 11768 of the soak), for the money came.
      if (!t.burnt || !(expiredListed.has(a.paymentId) || expectOf.get(a.paymentId) === 'matched')) leftStored.push(`${a.paymentId}: stored past its deadline${t.burnt ? ' (burnt)' : ''}`)
    }
  }
  const P3 = leftStored.length === 0

  const byKind: Record<string, number> = {}
  for (const x of r.exceptions) byKind[x.kind] = (byKind[x.kind] ?? 0) + 1
  const pc = processor.counters
  return {
    P1_noPaymentChargedTwice: P1,
    P2_everyApprovalReconciled: P2,
    P3_storedForwarded: P3,
    files,
    details: {
      attempts: states,
      processor: { ...pc, bookings: processor.bookings.length, settledDays: days.length, settlementLines: lines.length, csvBytes },
      reconciliation: { payments: payments.length, matched: r.matched, exceptions: byKind, settled: r.settled },
      planted,
      chargedWithoutSale,
      refundedUnseen,
      ...(processor.conflictsSeen.length > 0 ? { conflicts: processor.conflictsSeen.slice(0, 10) } : {}),
      ...(bookedTwice.length > 0 ? { bookedTwice: bookedTwice.slice(0, 10) } : {}),
      ...(salesChargedTwice.length > 0 ? { salesChargedTwice: salesChargedTwice.slice(0, 10) } : {}),
      ...(!exact ? { exceptionsDiff: diffLists(expected, found) } : {}),
      ...(inTwo.length > 0 ? { inTwoExceptions: inTwo.slice(0, 10) } : {}),
      ...(idsTwice.length > 0 ? { idsHeldTwice: idsTwice.slice(0, 10) } : {}),
      ...(problems.length > 0 ? { problems: problems.slice(0, 10) } : {}),
      ...(leftStored.length > 0 ? { leftStored: leftStored.slice(0, 10) } : {})
    }
  }
}

/** A file's batches recomputed from its lines (batchesOf), its lines numbered as written. */
export function withBatches (file: SettlementFile): SettlementFile {
  const lines = file.lines.map((l, i) => ({ ...l, line: i + 2 }))
  return { currency: file.currency, lines, batches: batchesOf(lines) }
}

function diffLists (expected: string[], found: string[]): { missing: string[], unexpected: string[] } {
  const left = [...found]
  const missing: string[] = []
  for (const e of expected) {
    const i = left.indexOf(e)
    if (i === -1) missing.push(e)
    else left.splice(i, 1)
  }
  return { missing: missing.slice(0, 10), unexpected: left.slice(0, 10) }
}

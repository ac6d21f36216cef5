/**
 * The cardPayments fault: card tenders paid through the production TillPayments in each till,
 * to a processor across the simulated WAN (SimProcessor): cards drawn from the seed (approvals,
 * declines, declines when forwarded, answers that never arrive), a share of answers lost, the
 * processor down for a stretch of a day (store and forward, forwarded by the tills' own cycle),
 * and the settlement files with a line dropped, one changed by a cent and one duplicated.
 * Whole runs over a few seeds (every invariant true, P1–P3 among them, the books equal to the
 * Oracle's to the cent; a failing seed prints how to replay it), then the processor and the
 * adapter on their own: a lost answer is ProcessorUnreachableError after the timeout, in
 * virtual time, and the payment was taken all the same.
 */
import assert from 'node:assert/strict'
import { ProcessorUnreachableError } from '@tillbooks/payments'
import { parseFaults, runSimulation, type SimResult } from '../src/index.ts'
import { Prng } from '../src/Prng.ts'
import { Scheduler } from '../src/Scheduler.ts'
import { QUIET_LINK, SimNetwork } from '../src/SimNetwork.ts'
import { PSP_ADDRESS, PSP_TIMEOUT_MS, SimProcessor, SimProcessorAdapter, type PspMsg } from '../src/SimProcessor.ts'
import { failed, problems, replay } from './helpers/runs.ts'

interface CardDetails {
  outage: { from: string, until: string } | null
  sales: { cardSales: number, approved: number, stored: number, declinedSales: number, forwarded: number, lateDeclines: number, expired: number }
  processor: { silent: number, answersDropped: number, lookups: number, replays: number, bookings: number, settledDays: number }
  reconciliation: { payments: number, matched: number, exceptions: Record<string, number> }
  planted: { dropped: string[], centOff: string[], duplicated: string[] }
  chargedWithoutSale: string[]
}

const cardsOf = (r: SimResult): CardDetails => r.details.cardPayments as CardDetails




/** Runs over `seeds`, every invariant checked; the card details summed. */
async function runs (seeds: number[], faults: string, shape: (seed: number) => { tills: number, days: number }): Promise<{ failures: string[], all: CardDetails[] }> {
  const failures: string[] = []
  const all: CardDetails[] = []
  for (const seed of seeds) {
    const r = await runSimulation({ seed, ...shape(seed), faults: parseFaults(faults), tillsPerStore: 3 })
    failures.push(...problems(r, 'cardPayments'))
    assert.ok(r.details.cardPayments !== undefined, replay(r))
    all.push(cardsOf(r))
  }
  return { failures, all }
}

const total = (all: CardDetails[], f: (c: CardDetails) => number): number => all.reduce((n, c) => n + f(c), 0)

describe('simulator: card payments through the processor (cardPayments)', function () {
  this.timeout(120_000)

  it('a handful of seeds: nothing charged twice, every approval reconciled or exactly one expected exception, nothing left stored, books == Oracle', async () => {
    const { failures, all } = await runs([1, 2, 3, 4, 5, 6], 'cardPayments', seed => ({ tills: 6 + (seed % 4), days: 2 + (seed % 3) }))
    assert.deepEqual(failures, [], failures.join('\n'))
    // The fault did what it says, over the seeds: cards declined (no sale), the processor down and
    // payments stored then forwarded, late declines, answers lost and found by lookup, and the
    // planted settlement faults found as exactly the exceptions they are.
    assert.ok(all.every(c => c.outage !== null && c.processor.settledDays > 0))
    assert.ok(total(all, c => c.sales.declinedSales) > 0, 'declined cards made no sale')
    assert.ok(total(all, c => c.sales.stored) > 0 && total(all, c => c.sales.forwarded) > 0, 'payments stored while the processor was down, forwarded when it was back')
    assert.ok(total(all, c => c.sales.lateDeclines) > 0 && total(all, c => c.reconciliation.exceptions.late_decline ?? 0) > 0, 'late declines, reconciled as such')
    assert.ok(total(all, c => c.processor.silent + c.processor.answersDropped) > 0 && total(all, c => c.processor.lookups) > 0, 'answers lost, outcomes looked up')
    for (const c of all) {
      const x = c.reconciliation.exceptions
      assert.equal(x.missing_in_settlement ?? 0, c.planted.dropped.length)
      assert.equal(x.amount_mismatch ?? 0, c.planted.centOff.length)
      assert.equal(x.duplicate ?? 0, c.planted.duplicated.length)
      assert.equal(x.missing_at_till ?? 0, c.chargedWithoutSale.length)
    }
    assert.ok(total(all, c => c.planted.dropped.length + c.planted.centOff.length + c.planted.duplicated.length) >= 3 * all.length - 3, 'settlement faults planted')
    assert.ok(total(all, c => c.reconciliation.matched) > 0)
  })

  it('with the network and HQ faults too (every fault of `all` but fire): lost requests and answers, partitions cutting the processor off', async () => {
    const { failures, all } = await runs([11, 12, 13, 14], 'loss,duplicate,reorder,partition,hqCrash,skew,forgery,replay,equivocation,cardPayments', seed => ({ tills: 6 + (seed % 4), days: 2 + (seed % 4) }))
    assert.deepEqual(failures, [], failures.join('\n'))
    assert.ok(total(all, c => c.processor.replays) > 0, 'requests answered again, idempotently')
  })

  it('with catalogueClash: two stores off the WAN for a day or two, the processor with it; their stored payments expire, counted expired', async () => {
    const { failures, all } = await runs([1, 2], 'catalogueClash,cardPayments', seed => ({ tills: 7 + seed, days: 3 + seed }))
    assert.deepEqual(failures, [], failures.join('\n'))
    assert.ok(total(all, c => c.reconciliation.exceptions.expired ?? 0) > 0, 'stored payments expired')
  })

  // A replacement till after a fire has a new key, and payment ids name the key: it never reuses the burnt till's.
  it('with every fault, fire included: a replacement till never reuses a payment id', async () => {
    const { failures } = await runs([1, 2, 3], 'all,cardPayments', seed => ({ tills: 6 + (seed % 4), days: 2 + (seed % 4) }))
    assert.deepEqual(failures, [], failures.join('\n'))
  })

  it('is deterministic from the seed; `all` leaves it out; a run without it has no cards and the P checks true', async () => {
    const opts = { seed: 7, tills: 8, days: 3, faults: parseFaults('loss,reorder,cardPayments'), tillsPerStore: 3 }
    const a = await runSimulation(opts)
    const b = await runSimulation(opts)
    assert.equal(JSON.stringify(a), JSON.stringify(b))
    assert.deepEqual(a.faults, ['loss', 'reorder', 'cardPayments'])
    assert.equal(parseFaults('all').has('cardPayments'), false)
    const none = await runSimulation({ ...opts, faults: parseFaults('none') })
    assert.equal(none.details.cardPayments, undefined)
    assert.deepEqual(failed(none), [], replay(none))
    assert.equal(none.invariants.P2_everyApprovalReconciled, true)
  })
})

describe('SimProcessor and its adapter over the simulated network', () => {
  const DAY = '2026-03-02'
  function world (): { scheduler: Scheduler, net: SimNetwork<PspMsg>, processor: SimProcessor, adapter: SimProcessorAdapter, drop: { next: boolean } } {
    const scheduler = new Scheduler(Date.parse(`${DAY}T10:00:00Z`))
    const net = new SimNetwork<PspMsg>(scheduler, new Prng('psp-test'), QUIET_LINK)
    const drop = { next: false }
    const processor = new SimProcessor({ scheduler, send: (to, m) => { net.send(PSP_ADDRESS, to, m) }, currency: 'EUR', feeBp: 150, dropAnswer: () => { const d = drop.next; drop.next = false; return d } })
    const adapter = new SimProcessorAdapter({ scheduler, send: m => { net.send('S001-1', PSP_ADDRESS, m) }, prefix: 'S001-1/1' })
    net.attach(PSP_ADDRESS, (from, m) => { processor.receive(from, m) })
    net.attach('S001-1', (_from, m) => { adapter.receive(m) })
    return { scheduler, net, processor, adapter, drop }
  }
  /** `p`, with the virtual clock run until it settles; the virtual time it took. */
  async function timed<T> (scheduler: Scheduler, p: Promise<T>): Promise<{ value?: T, error?: unknown, ms: number }> {
    const start = scheduler.nowMs
    let out: { value?: T, error?: unknown } | null = null
    p.then(value => { out = { value } }, (error: unknown) => { out = { error } })
    for (let i = 0; out === null && i < 1_000; i++) {
      await new Promise(resolve => setImmediate(resolve))
      await scheduler.runUntil(scheduler.nowMs + 50)
    }
    assert.ok(out !== null, 'settled')
    return { ...(out as { value?: T, error?: unknown }), ms: scheduler.nowMs - start }
  }

  it('a lost answer: ProcessorUnreachableError after the timeout in virtual time; the payment was taken, found by lookup, and the same request again gets the same answer', async () => {
    const { scheduler, processor, adapter, drop } = world()
    drop.next = true
    const lost = await timed(scheduler, adapter.authorise({ paymentId: 'S001-1-P1', amountCents: 1250, currency: 'EUR', token: 'tok_visa' }))
    assert.ok(lost.error instanceof ProcessorUnreachableError)
    assert.ok(lost.ms >= PSP_TIMEOUT_MS && lost.ms < PSP_TIMEOUT_MS + 1_000, `${lost.ms} ms`)
    assert.equal(processor.bookings.length, 1, 'taken all the same')
    const found = await timed(scheduler, adapter.lookup('S001-1-P1'))
    assert.equal(found.value?.status, 'approved')
    const again = await timed(scheduler, adapter.authorise({ paymentId: 'S001-1-P1', amountCents: 1250, currency: 'EUR', token: 'tok_visa' }))
    assert.deepEqual(again.value, found.value)
    assert.equal(processor.bookings.length, 1, 'booked once')
    // tok_no_response: approved and booked, never answered.
    const silent = await timed(scheduler, adapter.authorise({ paymentId: 'S001-1-P2', amountCents: 500, currency: 'EUR', token: 'tok_no_response' }))
    assert.ok(silent.error instanceof ProcessorUnreachableError)
    assert.equal(processor.records.get('S001-1-P2')?.answer.status, 'approved')
    // The id for another payment: refused, nothing booked.
    const conflict = await timed(scheduler, adapter.authorise({ paymentId: 'S001-1-P1', amountCents: 999, currency: 'EUR', token: 'tok_visa' }))
    assert.match(String(conflict.error), /conflict/)
    assert.equal(processor.bookings.length, 2)
    assert.equal(await timed(scheduler, adapter.lookup('S001-1-P9')).then(r => r.value), null)
  })

  it('down, or cut off: unreachable; a forwarded decline_on_forward is declined; a day settles once with fees', async () => {
    const { scheduler, net, processor, adapter } = world()
    net.attach(PSP_ADDRESS, undefined)
    const down = await timed(scheduler, adapter.authorise({ paymentId: 'S001-1-P1', amountCents: 800, currency: 'EUR', token: 'tok_decline_on_forward' }))
    assert.ok(down.error instanceof ProcessorUnreachableError)
    assert.equal(processor.records.size, 0, 'never reached it')
    net.attach(PSP_ADDRESS, (from, m) => { processor.receive(from, m) })
    const late = await timed(scheduler, adapter.authorise({ paymentId: 'S001-1-P1', amountCents: 800, currency: 'EUR', token: 'tok_decline_on_forward', forwarded: true }))
    assert.equal(late.value?.status, 'declined')
    assert.equal(late.value?.forwarded, true)
    await timed(scheduler, adapter.authorise({ paymentId: 'S001-1-P2', amountCents: 10_000, currency: 'EUR', token: 'tok_visa' }))
    const file = processor.settle(DAY)
    assert.deepEqual(file.lines.map(l => [l.paymentId, l.grossCents, l.feeCents, l.netCents]), [['S001-1-P2', 10_000, 150, 9_850]])
    assert.equal(processor.settle(DAY), file, 'settled once')
    net.cut('S001-1', PSP_ADDRESS, scheduler.nowMs + 60_000)
    assert.ok((await timed(scheduler, adapter.lookup('S001-1-P2'))).error instanceof ProcessorUnreachableError)
  })
})

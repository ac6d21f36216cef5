/**
 * The embedded processor as a real process (`tillbooks processor`): the test cards behave as
 * documented, every answer is idempotent on our payment id (a replay gets the same answer, a
 * reused id with other content is refused), an answer that never arrives is found by looking
 * the payment up, a refund and a chargeback are booked, and each day settles once into a
 * settlement report and a camt.053 statement that read back (and reconcile) to the cent. Its
 * durable state survives a restart: the files of a settled day never change.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import { feeOf, parseCamt053, parseSettlementCsv, ProcessorUnreachableError, reconcile } from '@tillbooks/payments'
import { EmbeddedProcessorAdapter, ProcessorAnswerError } from '../src/payments/EmbeddedProcessorAdapter.ts'
import { request } from './helpers/daemons.ts'
import { startProcessor, stopProcess as stop } from './helpers/processor.ts'


interface Answer { paymentId: string, status: string, approvedCents: number, partial: boolean, processorRef: string | null, authCode: string | null, brand: string | null, last4: string | null, aid: string | null, entryMode: string | null, bookingDay: string | null, reason?: string }



describe('the embedded processor (a real process)', function () {
  this.timeout(60_000)
  let dir: string
  let p: { child: ChildProcess, url: string }
  const pay = async (paymentId: string, amountCents: number, extra: Record<string, unknown> = {}): Promise<{ status: number, json: Answer }> =>
    await request<Answer>(p.url, 'POST', '/payments', { paymentId, amountCents, currency: 'EUR', ...extra })

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-processor-'))
    p = await startProcessor(dir, 0, ['--fee-bp', '150'])
  })
  after(async () => {
    await stop(p.child)
    await rm(dir, { recursive: true, force: true })
  })

  it('authorises the documented test cards, idempotent on our payment id', async () => {
    const ok = await pay('S1-1-P1', 1250)
    assert.equal(ok.status, 200)
    assert.deepEqual([ok.json.status, ok.json.approvedCents, ok.json.brand, ok.json.last4, ok.json.entryMode], ['approved', 1250, 'visa', '4242', 'chip'])
    assert.match(ok.json.processorRef ?? '', /^PSP\d{10}$/)
    assert.match(ok.json.authCode ?? '', /^[0-9A-F]{6}$/)
    assert.deepEqual((await pay('S1-1-P1', 1250)).json, ok.json, 'a replay gets the same answer')
    assert.equal((await pay('S1-1-P1', 1251)).status, 409, 'a reused id with other content is refused')
    assert.deepEqual([(await pay('S1-1-P2', 900, { token: 'tok_decline' })).json.status, (await pay('S1-1-P2', 900, { token: 'tok_decline' })).json.reason], ['declined', 'card_declined'])
    assert.equal((await pay('S1-1-P3', 900, { token: 'tok_insufficient_funds' })).json.reason, 'insufficient_funds')
    const partial = await pay('S1-1-P4', 1001, { token: 'tok_partial' })
    assert.deepEqual([partial.json.status, partial.json.approvedCents, partial.json.partial], ['approved', 500, true])
    // Approved online, declined when forwarded after being stored offline: a late decline.
    assert.equal((await pay('S1-1-P5', 700, { token: 'tok_decline_on_forward' })).json.status, 'approved')
    assert.equal((await pay('S1-1-P6', 700, { token: 'tok_decline_on_forward', forwarded: true, storedAtMs: 1 })).json.reason, 'card_declined')
    assert.equal((await pay('S1-1-P7', 700, { currency: 'USD' })).json.reason, 'currency USD: this account settles in EUR')
    assert.equal((await pay('bad id!', 1)).status, 400)
    assert.equal((await pay('S1-1-P8', 0)).status, 400)
  })

  it('an answer that never arrives is found by looking the payment up by its id', async () => {
    const lost = await fetch(`${p.url}/payments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ paymentId: 'S1-1-P9', amountCents: 3000, currency: 'EUR', token: 'tok_no_response' }), signal: AbortSignal.timeout(1_000) }).then(() => 'answered', (err: Error) => err.name)
    assert.equal(lost, 'TimeoutError')
    const found = await request<Answer>(p.url, 'GET', '/payments/S1-1-P9')
    assert.deepEqual([found.status, found.json.status, found.json.approvedCents], [200, 'approved', 3000])
    assert.equal((await request(p.url, 'GET', '/payments/S1-1-NONE')).status, 404)
  })

  it('books refunds and chargebacks; settles the day once, into files that read back and reconcile to the cent', async () => {
    const refund = await request<Answer>(p.url, 'POST', '/refunds', { paymentId: 'S1-1-R1', originalPaymentId: 'S1-1-P1', amountCents: 250, currency: 'EUR' })
    assert.equal(refund.json.status, 'approved')
    assert.equal((await request(p.url, 'POST', '/refunds', { paymentId: 'S1-1-R2', originalPaymentId: 'S1-1-P1', amountCents: 5000, currency: 'EUR' })).status, 409)
    // Over every refund of a payment, never more back than was approved; a refund is not refundable.
    assert.equal((await request(p.url, 'POST', '/refunds', { paymentId: 'S1-1-R3', originalPaymentId: 'S1-1-P1', amountCents: 1000, currency: 'EUR' })).status, 200)
    const over = await request<{ error: string }>(p.url, 'POST', '/refunds', { paymentId: 'S1-1-R4', originalPaymentId: 'S1-1-P1', amountCents: 1, currency: 'EUR' })
    assert.equal(over.status, 409)
    assert.match(over.json.error, /1250 approved \(1250 refunded already\)/)
    assert.equal((await request(p.url, 'POST', '/refunds', { paymentId: 'S1-1-R5', originalPaymentId: 'S1-1-R1', amountCents: 1, currency: 'EUR' })).status, 404)
    assert.equal((await request(p.url, 'POST', '/admin/chargebacks', { paymentId: 'S1-1-P5' })).status, 200)
    const day = new Date().toISOString().slice(0, 10)
    assert.equal((await request(p.url, 'GET', `/settlements/${day}.csv`)).status, 409, 'today\'s batch is still open')
    const settled = await request<{ lines: number, netCents: number }>(p.url, 'POST', '/admin/settle', { day })
    assert.equal(settled.json.lines, 7, 'four approvals (P1, P4, P5, P9), two refunds, a chargeback')
    const csv = await (await fetch(`${p.url}/settlements/${day}.csv`)).text()
    const file = parseSettlementCsv(csv, 'EUR')
    const gross = [1250, 500, 700, 3000]
    assert.equal(file.lines.filter(l => l.type === 'Settled').reduce((n, l) => n + l.grossCents, 0), gross.reduce((a, b) => a + b, 0))
    assert.equal(file.lines.reduce((n, l) => n + l.feeCents, 0), gross.reduce((n, g) => n + feeOf(g, 150), 0))
    const camt = await (await fetch(`${p.url}/statements/${day}.camt053.xml`)).text()
    const bank = parseCamt053(camt, { currency: 'EUR' })
    assert.equal(bank.entries.length, 1)
    assert.equal(bank.entries[0]?.amountCents, file.batches[0]?.netCents)
    assert.equal(bank.entries[0]?.amountCents, settled.json.netCents)
    // What the till knows, reconciled against the settlement: matched, but the chargeback.
    const payments = [
      { paymentId: 'S1-1-P1', till: 'S1-1', day, amountCents: 1250, status: 'approved' as const },
      { paymentId: 'S1-1-P4', till: 'S1-1', day, amountCents: 500, status: 'approved' as const },
      { paymentId: 'S1-1-P5', till: 'S1-1', day, amountCents: 700, status: 'approved' as const },
      { paymentId: 'S1-1-P9', till: 'S1-1', day, amountCents: 3000, status: 'approved' as const },
      { paymentId: 'S1-1-R1', till: 'S1-1', day, amountCents: -250, status: 'approved' as const },
      { paymentId: 'S1-1-R3', till: 'S1-1', day, amountCents: -1000, status: 'approved' as const }
    ]
    const r = reconcile({ payments, lines: file.lines, throughDay: day, settlementLagDays: 0, nowMs: Date.now() })
    assert.equal(r.matched, 6)
    assert.deepEqual(r.exceptions.map(x => [x.kind, x.paymentId]), [['chargeback', 'S1-1-P5']])
    // A payment after the day is settled goes to the next day's batch; the settled files never change, across a restart.
    const late = await pay('S1-1-P10', 100)
    assert.notEqual(late.json.bookingDay, day)
    await stop(p.child)
    p = await startProcessor(dir, 0, ['--fee-bp', '150'])
    assert.equal(await (await fetch(`${p.url}/settlements/${day}.csv`)).text(), csv)
    assert.deepEqual((await pay('S1-1-P1', 1250)).json.processorRef, (await request<Answer>(p.url, 'GET', '/payments/S1-1-P1')).json.processorRef)
    assert.match(JSON.stringify((await request(p.url, 'GET', '/profile')).json), /"name":"default"/)
  })

  it('the adapter: approvals, an unknown outcome resolved by lookup, an unreachable processor, an answer that does not match refused', async () => {
    const adapter = new EmbeddedProcessorAdapter(p.url, { timeoutMs: 1_000 })
    assert.equal(await adapter.profileName(), 'default', 'the profile its tills apply')
    const a = await adapter.authorise({ paymentId: 'S2-1-P1', amountCents: 4200, currency: 'EUR', token: 'tok_mastercard' })
    assert.deepEqual([a.status, a.approvedCents, a.brand, a.last4], ['approved', 4200, 'mc', '4444'])
    await assert.rejects(adapter.authorise({ paymentId: 'S2-1-P2', amountCents: 100, currency: 'EUR', token: 'tok_no_response' }), ProcessorUnreachableError)
    assert.equal((await adapter.lookup('S2-1-P2'))?.status, 'approved')
    assert.equal(await adapter.lookup('S2-1-NEVER'), null)
    await assert.rejects(adapter.authorise({ paymentId: 'S2-1-P1', amountCents: 1, currency: 'EUR' }), ProcessorAnswerError, 'a reused id: refused, not taken')
    await assert.rejects(new EmbeddedProcessorAdapter('http://127.0.0.1:9', { timeoutMs: 500 }).authorise({ paymentId: 'X-1-P1', amountCents: 1, currency: 'EUR' }), ProcessorUnreachableError)
    // A processor whose answer is about another payment, or approves more than asked, or sends a card number.
    for (const body of [{ paymentId: 'OTHER', status: 'approved', approvedCents: 1, processorRef: 'R' }, { paymentId: 'X-1-P2', status: 'approved', approvedCents: 2, processorRef: 'R' }, { paymentId: 'X-1-P2', status: 'approved', approvedCents: 1, processorRef: 'R', last4: '4242424242424242' }]) {
      const liar = createServer((_req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify(body)) })
      await new Promise<void>(resolve => liar.listen(0, '127.0.0.1', resolve))
      const port = (liar.address() as { port: number }).port
      try {
        await assert.rejects(new EmbeddedProcessorAdapter(`http://127.0.0.1:${port}`).authorise({ paymentId: 'X-1-P2', amountCents: 1, currency: 'EUR' }), ProcessorAnswerError)
      } finally {
        await new Promise(resolve => liar.close(resolve))
      }
    }
  })
})

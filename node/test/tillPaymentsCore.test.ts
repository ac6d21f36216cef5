/**
 * TillPayments against a scripted processor (what the simulator found, fixed): a payment id
 * names the till's key, so a replacement till never reuses one; an answer about another
 * payment is refused; an attempt refused at the till while the processor's answer was lost is
 * looked up later and refunded if the processor had taken it; `forward` leaves an attempt whose
 * request is under way to `pay`.
 */
import assert from 'node:assert/strict'
import { PROFILES, ProcessorUnreachableError, type AuthoriseRequest, type ProcessorAdapter, type ProcessorAnswer, type RefundRequest } from '@tillbooks/payments'
import { keyPairFromSeed, Signer, type Close, type TillId } from '@tillbooks/protocol'
import { MemoryStore, silentLogger, TillNode } from '../src/index.ts'
import { PaymentDeclinedError, TillPayments } from '../src/till/TillPayments.ts'
import { catalogue, DAY1, DAY2, ManualClock, root } from './helpers/fleet.ts'

/** A processor whose behaviour each test scripts; it records every call. */
class Scripted implements ProcessorAdapter {
  readonly name = 'scripted'
  calls: string[] = []
  taken = new Map<string, ProcessorAnswer>()
  authoriseThen: (r: AuthoriseRequest) => Promise<ProcessorAnswer> = async r => this.#approve(r)
  lookupThen: (id: string) => Promise<ProcessorAnswer | null> = async id => this.taken.get(id) ?? null
  #approve (r: AuthoriseRequest): ProcessorAnswer {
    const a: ProcessorAnswer = { paymentId: r.paymentId, status: 'approved', approvedCents: r.amountCents, partial: false, processorRef: `R${this.taken.size + 1}`, authCode: 'A1', brand: 'visa', last4: '4242', aid: 'A0000000031010', entryMode: 'chip', forwarded: r.forwarded === true }
    this.taken.set(r.paymentId, a)
    return a
  }
  take (r: AuthoriseRequest): ProcessorAnswer { return this.#approve(r) }
  async authorise (r: AuthoriseRequest): Promise<ProcessorAnswer> { this.calls.push(`authorise ${r.paymentId}`); return await this.authoriseThen(r) }
  async refund (r: RefundRequest): Promise<ProcessorAnswer> { this.calls.push(`refund ${r.originalPaymentId} ${r.amountCents}`); return { ...(this.taken.get(r.originalPaymentId) as ProcessorAnswer), paymentId: r.paymentId, approvedCents: r.amountCents } }
  async lookup (id: string): Promise<ProcessorAnswer | null> { this.calls.push(`lookup ${id}`); return await this.lookupThen(id) }
}

async function open (adapter: ProcessorAdapter, seed = 1): Promise<TillPayments> {
  const store = new MemoryStore()
  await store.open()
  return await TillPayments.open({ store, tillId: 'S1-1' as TillId, signer: new Signer(keyPairFromSeed(new Uint8Array(32).fill(seed))), adapter, profile: PROFILES.default as never, currency: 'EUR', clock: new ManualClock(), logger: silentLogger })
}

describe('TillPayments (a scripted processor)', () => {
  it('a payment id names the till\'s key: a replacement till (a new key) never reuses the burnt one\'s', async () => {
    const p = new Scripted()
    const burnt = await open(p, 1)
    const replacement = await open(p, 2)
    const a = await burnt.pay({ type: 'card', amountCents: 100 }, 'S1-1-1')
    const b = await replacement.pay({ type: 'card', amountCents: 100 }, 'S1-1-1')
    assert.match(a.paymentId, /^S1-1-[0-9a-f]{8}-P1$/)
    assert.notEqual(a.paymentId, b.paymentId)
  })

  it('an answer about another payment (more approved than asked) is refused, not taken', async () => {
    const p = new Scripted()
    p.authoriseThen = async () => { throw new ProcessorUnreachableError('lost') }
    p.lookupThen = async id => ({ paymentId: id, status: 'approved', approvedCents: 999, partial: false, processorRef: 'R9', authCode: null, brand: null, last4: null, aid: null, entryMode: null, forwarded: false })
    const t = await open(p)
    await assert.rejects(t.pay({ type: 'card', amountCents: 100 }, 'S1-1-1'), (e: Error) => e instanceof PaymentDeclinedError && /another payment/.test(e.message))
  })

  it('refused at the till while the answer was lost: looked up later, and refunded if the processor had taken it', async () => {
    const p = new Scripted()
    // The processor takes it, the answer and the lookup are lost; 150.00 is over the offline limit.
    p.authoriseThen = async r => { p.take(r); throw new ProcessorUnreachableError('answer lost') }
    p.lookupThen = async () => { throw new ProcessorUnreachableError('still lost') }
    const t = await open(p)
    await assert.rejects(t.pay({ type: 'card', amountCents: 15_000 }, 'S1-1-1'), /over the offline limit/)
    assert.equal(t.status().pending, 1, 'not declined for good: the outcome is unknown')
    p.lookupThen = async id => p.taken.get(id) ?? null
    assert.equal((await t.forward()).resolved, 1)
    assert.ok(p.calls.some(c => c.startsWith('refund ') && c.endsWith(' 15000')), p.calls.join('; '))
    assert.equal(t.status().pending, 0)
    assert.match(t.attempts()[0]?.reason ?? '', /refunded/)
    assert.deepEqual(t.attempts().map(a => [a.state, a.amountCents]), [['reversed', 15_000], ['approved', -15_000]], 'the payment and its reversal, both as the processor settles them')
  })

  it('forward waits for a payment under way, and never looks it up as a crash\'s leftover', async () => {
    const p = new Scripted()
    let release!: () => void
    p.authoriseThen = async r => { await new Promise<void>(resolve => { release = resolve }); return p.take(r) }
    const t = await open(p)
    const paying = t.pay({ type: 'card', amountCents: 100 }, 'S1-1-1')
    await new Promise(resolve => setImmediate(resolve))
    const forwarding = t.forward()
    await new Promise(resolve => setImmediate(resolve))
    assert.ok(!p.calls.some(c => c.startsWith('lookup')), 'no lookup while the request is under way')
    release()
    assert.equal((await paying).status, 'approved')
    await forwarding
    assert.ok(!p.calls.some(c => c.startsWith('lookup')), 'nor after: it was answered')
  })

  it('after a crash between a payment and its sale: the orphan is reversed at the next start; a pending one never approved', async () => {
    const p = new Scripted()
    const store = new MemoryStore()
    await store.open()
    const init = { store, tillId: 'S1-1' as TillId, signer: new Signer(keyPairFromSeed(new Uint8Array(32).fill(3))), adapter: p, profile: PROFILES.default as never, currency: 'EUR', clock: new ManualClock(), logger: silentLogger }
    const t = await TillPayments.open(init)
    await t.pay({ type: 'card', amountCents: 500 }, 'S1-1-7') // approved; the till "crashes" before writing sale 7
    // A second attempt whose request left but whose answer never came back before the crash.
    p.authoriseThen = async r => { p.take(r); throw new ProcessorUnreachableError('crash') }
    p.lookupThen = async () => { throw new ProcessorUnreachableError('crash') }
    await assert.rejects(t.pay({ type: 'card', amountCents: 20_000 }, 'S1-1-7'))
    p.lookupThen = async id => p.taken.get(id) ?? null
    const restarted = await TillPayments.open(init)
    assert.equal(await restarted.orphans(docNo => Number(docNo.split('-').at(-1)) < 7), 1, 'sale 7 was never written')
    await restarted.forward()
    const states = restarted.attempts().map(a => [a.paymentId.endsWith('-V') ? 'reversal' : 'payment', a.state, a.amountCents])
    assert.deepEqual(states, [['payment', 'reversed', 500], ['payment', 'reversed', 20_000], ['reversal', 'approved', -500], ['reversal', 'approved', -20_000]], JSON.stringify(states))
  })

  it('a stored payment approved when forwarded: the receipt keeps its stored line, HQ is served the approval signed then (approved, taken offline)', async () => {
    const { openApproval } = await import('@tillbooks/protocol')
    const p = new Scripted()
    const t = await open(p)
    p.authoriseThen = async () => { throw new ProcessorUnreachableError('down') }
    const stored = await t.pay({ type: 'card', amountCents: 700 }, 'S1-1-1')
    const before = openApproval(t.approvalEnvelopes()[0] as Uint8Array).approval
    assert.deepEqual([before.status, before.mode, before.processorRef], ['stored', 'offline', null])
    p.authoriseThen = async r => p.take(r)
    assert.equal((await t.forward()).forwarded, 1)
    const a = t.attempts().find(x => x.paymentId === stored.paymentId)
    assert.equal(a?.signedLine, stored.signedLine, 'the receipt\'s line is the one printed')
    const served = openApproval(t.approvalEnvelopes()[0] as Uint8Array).approval
    assert.deepEqual([served.paymentId, served.status, served.mode, served.processorRef, served.amountCents], [stored.paymentId, 'approved', 'offline', 'R1', 700])
  })

  it('one at a time: forward waits for a sale\'s reversal, and never writes over it', async () => {
    const p = new Scripted()
    const t = await open(p)
    // Stored offline (processor down), then the sale is not made: reversed (never forwarded).
    p.authoriseThen = async () => { throw new ProcessorUnreachableError('down') }
    const stored = await t.pay({ type: 'card', amountCents: 500 }, 'S1-1-1')
    assert.equal(stored.status, 'stored')
    p.authoriseThen = async r => p.take(r)
    await Promise.all([t.reverse(stored.paymentId), t.forward()])
    assert.equal(t.attempts().find(a => a.paymentId === stored.paymentId)?.state, 'declined', 'not charged: the sale was not made')
    assert.equal(p.taken.has(stored.paymentId), false, 'never forwarded')
  })

  it('a card refund whose answer and lookup are lost is not declined for good (the cashier must not pay it in cash): looked up later', async () => {
    const p = new Scripted()
    const t = await open(p)
    const paid = await t.pay({ type: 'card', amountCents: 800 }, 'S1-1-1')
    p.refund = async r => { p.calls.push(`refund ${r.originalPaymentId} ${r.amountCents}`); p.taken.set(r.paymentId, { ...(p.taken.get(r.originalPaymentId) as ProcessorAnswer), paymentId: r.paymentId, approvedCents: r.amountCents }); throw new ProcessorUnreachableError('lost') }
    p.lookupThen = async () => { throw new ProcessorUnreachableError('lost') }
    await assert.rejects(t.refund(paid.paymentId, 800, 'S1-1-2'), /do not refund in cash/)
    assert.equal(t.status().pending, 1)
    p.lookupThen = async id => p.taken.get(id) ?? null
    await t.forward()
    const refund = t.attempts().find(a => a.refundOf === paid.paymentId)
    assert.deepEqual([refund?.state, refund?.amountCents], ['approved', -800], 'the refund the processor made, recorded')
  })

  it('a stored payment whose forward the processor took, its answer lost, is approved at its deadline, not expired; out of reach, it waits (simulator seeds 290, 367, 509)', async () => {
    const p = new Scripted()
    const clock = new ManualClock()
    const store = new MemoryStore()
    await store.open()
    const payments = await TillPayments.open({ store, tillId: 'S1-1' as TillId, signer: new Signer(keyPairFromSeed(new Uint8Array(32).fill(3))), adapter: p, profile: PROFILES.default as never, currency: 'EUR', clock, logger: silentLogger })
    p.authoriseThen = async () => { throw new ProcessorUnreachableError('down') }
    const stored = await payments.pay({ type: 'card', amountCents: 420 }, 'S1-1-1')
    assert.equal(stored.status, 'stored')
    // Forwarded: the processor takes it, the answer is lost.
    p.authoriseThen = async r => { p.take(r); throw new ProcessorUnreachableError('answer lost') }
    assert.deepEqual(await payments.forward(), { forwarded: 0, lateDeclines: 0, expired: 0, resolved: 0 })
    clock.ms += 13 * 3_600_000 // past the default profile's 12 h
    // The processor out of reach at the deadline: not written off, it may have been charged.
    p.lookupThen = async () => { throw new ProcessorUnreachableError('down') }
    assert.equal((await payments.forward()).expired, 0)
    assert.equal(payments.attempts()[0]?.state, 'stored')
    // Reachable: it was taken, so it is approved.
    p.lookupThen = async id => p.taken.get(id) ?? null
    assert.deepEqual(await payments.forward(), { forwarded: 1, lateDeclines: 0, expired: 0, resolved: 0 })
    assert.equal(payments.attempts()[0]?.state, 'approved')
    assert.deepEqual(payments.expiredPayments(), [])
  })

  it('a stored payment the processor had declined (its answer to the sale lost, the forward refused as a reuse of the id) is a late decline at its deadline, not expired (simulator seed 5 of 3 tills)', async () => {
    const p = new Scripted()
    const clock = new ManualClock()
    const store = new MemoryStore()
    await store.open()
    const payments = await TillPayments.open({ store, tillId: 'S1-1' as TillId, signer: new Signer(keyPairFromSeed(new Uint8Array(32).fill(4))), adapter: p, profile: PROFILES.default as never, currency: 'EUR', clock, logger: silentLogger })
    // The processor declines the card; its answer, and the lookup after it, are lost: stored offline.
    const declined = (r: AuthoriseRequest): ProcessorAnswer => ({ paymentId: r.paymentId, status: 'declined', approvedCents: 0, partial: false, processorRef: null, authCode: null, brand: 'visa', last4: '0002', aid: null, entryMode: null, forwarded: false, reason: 'card_declined' })
    p.authoriseThen = async r => { p.taken.set(r.paymentId, declined(r)); throw new ProcessorUnreachableError('answer lost') }
    p.lookupThen = async () => { throw new ProcessorUnreachableError('down') }
    const stored = await payments.pay({ type: 'card', amountCents: 1510 }, 'S1-1-1', DAY1)
    assert.equal(stored.status, 'stored')
    // Each forward: the processor refuses the id's reuse (a forwarded request differs), the lookup is lost.
    p.authoriseThen = async r => { throw new Error(`the processor refused the request: conflict: payment id ${r.paymentId} was used for another payment`) }
    assert.deepEqual(await payments.forward(), { forwarded: 0, lateDeclines: 0, expired: 0, resolved: 0 })
    assert.equal(payments.attempts()[0]?.state, 'stored')
    clock.ms += 13 * 3_600_000 // past the default profile's 12 h
    // At the deadline the processor answers the lookup: it declined it. A late decline, never "never charged".
    p.lookupThen = async id => p.taken.get(id) ?? null
    assert.deepEqual(await payments.forward(), { forwarded: 0, lateDeclines: 1, expired: 0, resolved: 0 })
    assert.equal(payments.attempts()[0]?.state, 'late_declined')
    assert.deepEqual(payments.expiredPayments(), [])
    assert.deepEqual(payments.lateDeclines(), [{ paymentId: stored.paymentId, processor: 'scripted', amountCents: 1510, saleDay: DAY1 }], 'what the next Close reports')
  })

  it('a stored payment past its deadline expires, and the till\'s next Close reports it, once, linked to its sale\'s day', async () => {
    const p = new Scripted()
    p.authoriseThen = async () => { throw new ProcessorUnreachableError('down') }
    p.lookupThen = async () => { throw new ProcessorUnreachableError('down') }
    const clock = new ManualClock()
    const signer = new Signer(keyPairFromSeed(new Uint8Array(32).fill(9)))
    const store = new MemoryStore()
    await store.open()
    const payments = await TillPayments.open({ store, tillId: 'S001-1' as TillId, signer, adapter: p, profile: PROFILES.default as never, currency: 'EUR', clock, logger: silentLogger })
    const till = new TillNode({ store, clock, logger: silentLogger }, { store: 'S001' as never, till: 1, signer, catalogue, hqRootKey: root.publicKey, payments })
    await till.start()
    await till.openDay(DAY1)
    const r = await till.sell({ lines: [{ sku: 'latte', qty: 1 }], tenders: [{ type: 'card', amountCents: 420 }] })
    assert.equal(r.payments?.[0]?.status, 'stored')
    clock.ms += 13 * 3_600_000 // past the default profile's 12 h
    assert.equal((await payments.forward()).expired, 1)
    const first = (await till.closeDay()).record as Close
    assert.deepEqual(first.expired, [{ paymentId: r.payments?.[0]?.paymentId, processor: 'scripted', amountCents: 420, saleDay: DAY1 }])
    await till.openDay(DAY2)
    const second = (await till.closeDay()).record as Close
    assert.equal(second.expired, undefined, 'reported once')
  })
})

/**
 * HQ's shortcut (HqSettlements' totalsAgree): a till whose settled lines are exactly its Closes'
 * approvals is matched without asking the store. With the Closes' set hashes it is exact: a
 * payment settled in another's place for the same amount, or a cent moved between two, is
 * caught, which a count and an amount alone (Closes written before set hashes) are not.
 */
import assert from 'node:assert/strict'
import type { SettlementLine } from '@tillbooks/payments'
import { paymentSetHash, paymentsDigest } from '@tillbooks/protocol'
import { totalsAgree, type TillCards } from '../src/hq/HqSettlements.ts'

const approvals = [{ paymentId: 'S1-1-aaaaaaaa-P1', amountCents: 250 }, { paymentId: 'S1-1-aaaaaaaa-P2', amountCents: 1000 }, { paymentId: 'S1-1-aaaaaaaa-P3', amountCents: 2000 }]
let n = 0
const line = (paymentId: string, grossCents: number): SettlementLine => ({ line: ++n, type: 'Settled', processorRef: `R${n}`, paymentId, paymentMethod: 'visa', bookingDay: '2026-03-03', grossCents, feeCents: 0, netCents: grossCents, batch: 'B', payoutId: 'B' })
const cards = (withHash: boolean, lost: Array<{ paymentId: string, amountCents: number }> = []): TillCards => ({
  count: approvals.length,
  amountCents: approvals.reduce((s, a) => s + a.amountCents, 0),
  lost: new Map(lost.map(l => [l.paymentId, { kind: 'late_decline' as const, amountCents: l.amountCents, saleDay: '2026-03-02' }])),
  closes: [{ docFirst: 1, docLast: 3, day: '2026-03-02', groups: [{ processor: 'embedded', type: 'card', mode: 'online', count: 3, amountCents: 3250, digest: paymentsDigest(approvals), ...(withHash ? { setHash: paymentSetHash(approvals) } : {}) }] }],
  setHash: withHash ? paymentSetHash(approvals) : null
})

/** An HQ with till S1-1 enrolled (key from `seedByte`) and one Close of `approvals` folded, with or without the Close's set hash. */
async function hqWithCardClose (seedByte: number, withSetHash: boolean): Promise<{ hq: import('../src/hq/HqNode.ts').HqNode, signer: import('@tillbooks/protocol').Signer }> {
  const { startHq } = await import('./helpers/fleet.ts')
  const { GENESIS_HASH, keyPairFromSeed, signEntry, Signer } = await import('@tillbooks/protocol')
  const hq = await startHq()
  const signer = new Signer(keyPairFromSeed(new Uint8Array(32).fill(seedByte)))
  await hq.enrol({ store: 'S1' as never, till: 1, tillKey: signer.publicKey })
  const paid = approvals.reduce((s, a) => s + a.amountCents, 0)
  const close = signEntry({
    v: 1, kind: 'close', store: 'S1' as never, till: 1, businessDay: '2026-03-02' as never, seq: 1, prevHash: GENESIS_HASH, atMs: 1,
    docFirst: 1, docLast: 3, saleCount: 3, refundCount: 0, takingsCents: { cash: 0, card: paid }, tax: [{ rateBp: 0, netCents: paid, taxCents: 0 }],
    refundsCents: 0, cashCountedCents: 0, consumed: [], points: [],
    payments: [{ processor: 'embedded', type: 'card', mode: 'online', count: 3, amountCents: paid, digest: paymentsDigest(approvals), ...(withSetHash ? { setHash: paymentSetHash(approvals) } : {}) }]
  }, signer)
  assert.equal((await hq.submit([close.bytes]))[0]?.status, 'accepted')
  return { hq, signer }
}

describe('HQ: a till\'s settled lines against its Closes\' totals', () => {
  it('agrees when every approval is settled once, in any order, on any days', () => {
    const lines = approvals.map(a => line(a.paymentId, a.amountCents)).reverse()
    assert.equal(totalsAgree(cards(true), lines), true)
    assert.equal(totalsAgree(cards(false), lines), true)
  })

  it('takes out what the Closes reported lost', () => {
    const lost = [approvals[1] as { paymentId: string, amountCents: number }]
    const lines = [approvals[0], approvals[2]].map(a => line(a?.paymentId as string, a?.amountCents as number))
    assert.equal(totalsAgree(cards(true, lost), lines), true)
    assert.equal(totalsAgree(cards(true, lost), [...lines, line(approvals[1]?.paymentId as string, 1000)]), false, 'a late decline settled after all')
  })

  it('with set hashes, catches what count and amount miss: another payment in one\'s place, a cent moved between two', () => {
    const stranger = [line('S1-1-aaaaaaaa-P1', 250), line('S1-1-aaaaaaaa-P2', 1000), line('S1-1-aaaaaaaa-P9', 2000)]
    const moved = [line('S1-1-aaaaaaaa-P1', 251), line('S1-1-aaaaaaaa-P2', 999), line('S1-1-aaaaaaaa-P3', 2000)]
    for (const lines of [stranger, moved]) {
      assert.equal(totalsAgree(cards(false), lines), true, 'count and amount alone agree')
      assert.equal(totalsAgree(cards(true), lines), false, 'the set hash does not')
    }
    assert.equal(totalsAgree(cards(true), [...approvals, approvals[0]].map(a => line(a?.paymentId as string, a?.amountCents as number))), false, 'one settled twice')
  })
})

describe('HQ: settlement files refused whole', () => {
  it('refuses a bank statement of another account than the merchant\'s, and the same file for another processor, booking nothing', async () => {
    const { payoutEntries, settleDay, toCamt053, toSettlementCsv } = await import('@tillbooks/payments')
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { silentLogger } = await import('../src/components.ts')
    const { startHq } = await import('./helpers/fleet.ts')
    const hq = await startHq()
    const report = settleDay([{ processorRef: 'PSP1', paymentId: 'S1-1-aaaaaaaa-P1', kind: 'payment', grossCents: 7900, paymentMethod: 'visa', bookingDay: '2026-03-03' }], '2026-03-03', { currency: 'EUR', feeBp: 150 })
    const camt = new TextEncoder().encode(toCamt053({ version: '001.08', messageId: 'M1', statementId: 'S1', account: 'DE89370400440532013000', currency: 'EUR', createdAt: '2026-03-03T23:00:00Z', entries: payoutEntries(report) }))
    const s = new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-04T00:00:00Z'), account: 'GB29NWBK60161331926819' })
    const before = JSON.stringify(hq.books.snapshot())
    await assert.rejects(s.import(camt, { processor: 'embedded' }), /a statement of account DE89370400440532013000, not GB29NWBK60161331926819/)
    const csv = new TextEncoder().encode(toSettlementCsv(report))
    await s.import(csv, { processor: 'embedded' })
    await assert.rejects(s.import(csv, { processor: 'other' }), /imported for processor embedded, not other/)
    assert.equal(hq.books.snapshot().counts.settlements, 1)
    assert.notEqual(JSON.stringify(hq.books.snapshot()), before, 'the one good file booked')
    assert.deepEqual(s.counters.refused, 2)
    await hq.stop()
  })
})

describe('HQ: the settled lines it holds, bounded', () => {
  it('refuses whole a file past settledLinesMax, writing and booking nothing; the same file again is a duplicate; a start reads back what it holds whatever the limit', async () => {
    const { readSettlementFile, settleDay, toSettlementCsv } = await import('@tillbooks/payments')
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { SettlementLimitError } = await import('../src/hq/HqNode.ts')
    const { MemoryStore, silentLogger } = await import('../src/index.ts')
    const { ManualClock, startHq } = await import('./helpers/fleet.ts')
    const file = (day: string, refs: string[]): Uint8Array => new TextEncoder().encode(toSettlementCsv(settleDay(
      refs.map((ref, i) => ({ processorRef: ref, paymentId: `S1-1-aaaaaaaa-P${ref}`, kind: 'payment' as const, grossCents: 1000 + i, paymentMethod: 'visa', bookingDay: day })), day, { currency: 'EUR', feeBp: 150 })))
    const first = file('2026-03-03', ['1', '2', '3'])
    const second = file('2026-03-04', ['4', '5', '6'])
    const count = (bytes: Uint8Array): number => { const f = readSettlementFile(bytes, { currency: 'EUR' }); return f.lines.length + f.payouts.length }
    // Room for the first file and all but one of the second's lines and payouts.
    const max = count(first) + count(second) - 1
    const kv = new MemoryStore()
    const clock = new ManualClock()
    const hq = await startHq(kv, clock, { settledLinesMax: max })
    const s = new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-05T00:00:00Z') })
    await s.import(first, { processor: 'embedded' })
    const held = hq.settledLines.held
    assert.equal(held, count(first))
    const books = JSON.stringify(hq.books.snapshot())
    const keys = async (): Promise<number> => { let n = 0; for await (const _ of kv.entries({})) n++; return n }
    const written = await keys()
    await assert.rejects(s.import(second, { processor: 'embedded' }), (err: Error) => err instanceof SettlementLimitError && err.message.includes(`takes at most ${max}: this file's ${count(second)} are refused, nothing booked`))
    assert.equal(JSON.stringify(hq.books.snapshot()), books, 'nothing booked')
    assert.equal(await keys(), written, 'nothing written')
    assert.equal(hq.settlementFiles.size, 1)
    assert.deepEqual(hq.settledLines, { held, max })
    assert.equal(s.counters.refused, 1)
    assert.equal((await s.import(first, { processor: 'embedded' })).duplicate, true, 'the same file again is a duplicate, not refused')
    await hq.stop()
    // A start under a lower limit reads back every file it holds; only new files are refused.
    const again = await startHq(kv, clock, { settledLinesMax: 1 })
    assert.equal(again.settlementFiles.size, 1)
    assert.deepEqual(again.settledLines, { held, max: 1 })
    assert.equal(JSON.stringify(again.books.snapshot()), books)
    await again.stop()
    // The default follows the heap: SETTLED_LINES_HEAP_SHARE of its limit over SETTLED_LINE_HELD_BYTES.
    const { getHeapStatistics } = await import('node:v8')
    const { SETTLED_LINE_HELD_BYTES, SETTLED_LINES_HEAP_SHARE } = await import('../src/hq/constants.ts')
    const byDefault = await startHq()
    assert.equal(byDefault.settledLines.max, Math.floor(getHeapStatistics().heap_size_limit * SETTLED_LINES_HEAP_SHARE / SETTLED_LINE_HELD_BYTES))
    await byDefault.stop()
  })
})

describe('HQ: the index of folded Closes', () => {
  it('two reconciliations at once read each Close once: the totals still agree, nothing is fetched', async () => {
    const { settleDay, toSettlementCsv } = await import('@tillbooks/payments')
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { silentLogger } = await import('../src/components.ts')
    const { hq } = await hqWithCardClose(21, true)
    const report = settleDay(approvals.map((a, i) => ({ processorRef: `PSP${i}`, paymentId: a.paymentId, kind: 'payment' as const, grossCents: a.amountCents, paymentMethod: 'visa', bookingDay: '2026-03-02' })), '2026-03-02', { currency: 'EUR', feeBp: 150 })
    const nowMs = (): number => Date.parse('2026-03-03T00:00:00Z')
    await new HqSettlements({ hq, logger: silentLogger, nowMs }).import(new TextEncoder().encode(toSettlementCsv(report)), { processor: 'embedded' })
    // A fresh one (an empty index, as after a restart), asked twice at once: both build it from HQ's log.
    const s = new HqSettlements({ hq, logger: silentLogger, nowMs })
    const [a, b] = await Promise.all([s.reconcile('2026-03-02', { processor: 'embedded' }), s.reconcile('2026-03-02', { processor: 'embedded' })])
    for (const r of [a, b]) {
      assert.deepEqual([r.tillsWithoutDetail, r.exceptions, r.matched], [[], [], 3], 'no source to fetch from: only the totals can have matched')
      assert.equal(r.clearingCents, r.openCents)
    }
    await hq.stop()
  })
})

describe('HQ: approvals fetched from a till', () => {
  it('approvals fetched again give the same reconciliation; a forged one is refused at every fetch, never kept as checked', async () => {
    const { settleDay, toSettlementCsv } = await import('@tillbooks/payments')
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { silentLogger } = await import('../src/components.ts')
    const { signApproval } = await import('@tillbooks/protocol')
    // A Close without set hashes: a settlement short of one payment cannot be matched on totals, so HQ fetches the till's approvals.
    const { hq, signer } = await hqWithCardClose(22, false)
    const envelopes = approvals.map((a, i) => signApproval(signer, { paymentId: a.paymentId, till: 'S1-1', docNo: `S1-1-${i + 1}`, processor: 'embedded', type: 'card', amountCents: a.amountCents, status: 'approved', mode: 'online', processorRef: `PSP${i}`, authCode: null, brand: null, last4: null, aid: null, entryMode: null, atMs: 10 + i }))
    const forged = new Uint8Array(envelopes[0] as Uint8Array)
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1
    const source = {
      approvals: async () => [...envelopes, forged]
    }
    const nowMs = (): number => Date.parse('2026-03-03T00:00:00Z')
    const s = new HqSettlements({ hq, logger: silentLogger, nowMs, source })
    const report = settleDay(approvals.slice(0, 2).map((a, i) => ({ processorRef: `PSP${i}`, paymentId: a.paymentId, kind: 'payment' as const, grossCents: a.amountCents, paymentMethod: 'visa', bookingDay: '2026-03-02' })), '2026-03-02', { currency: 'EUR', feeBp: 150 })
    await s.import(new TextEncoder().encode(toSettlementCsv(report)), { processor: 'embedded' })
    const first = await s.reconcile('2026-03-02', { processor: 'embedded' })
    const second = await s.reconcile('2026-03-02', { processor: 'embedded' })
    assert.deepEqual(second.exceptions, first.exceptions)
    assert.equal(first.matched, 2)
    assert.deepEqual(first.exceptions.map(e => e.paymentId), [approvals[2]?.paymentId], 'the payment the file lacks, known from its approval')
    // The import reconciled too: three fetches, the forged approval refused at each (never kept as checked).
    assert.equal(s.counters.fetches, 3)
    assert.equal(s.counters.approvalsRefused, s.counters.fetches, JSON.stringify(s.counters))
    await hq.stop()
  })
})

/**
 * HQ's shortcut (HqSettlements' totalsAgree): a till whose settled lines are exactly its Closes'
 * approvals is matched without asking the store. With the Closes' set hashes it is exact: a
 * payment settled in another's place for the same amount, or a cent moved between two, is
 * caught, which a count and an amount alone (Closes written before set hashes) are not.
 */
import assert from 'node:assert/strict'
import type { SettlementLine } from '@tillbooks/payments'
import { paymentSetHash, paymentsDigest } from '@tillbooks/protocol'
import { lineKeys, readSettlementFile } from '@tillbooks/payments'
import { totalsAgree, type TillCards } from '../src/hq/HqSettlements.ts'
import { tillOfLine } from '../src/hq/SettledLines.ts'

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

/** An HQ (on `store`, else in memory) with till S1-1 enrolled (key from `seedByte`) and one Close of `approvals` folded, with or without the Close's set hash. */
async function hqWithCardClose (seedByte: number, withSetHash: boolean, store?: import('../src/storage/KvStore.ts').KvStore): Promise<{ hq: import('../src/hq/HqNode.ts').HqNode, signer: import('@tillbooks/protocol').Signer }> {
  const { startHq } = await import('./helpers/fleet.ts')
  const { GENESIS_HASH, keyPairFromSeed, signEntry, Signer } = await import('@tillbooks/protocol')
  const hq = await startHq(store)
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

describe('HQ: a till matched from its totals while its last days are not due', () => {
  const DAYS = ['2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06']
  const NOW = Date.parse('2026-03-09T00:00:00Z')

  it('property: whenever the totals match a till (settledThrough), the payment-by-payment reconciliation says the same: as many matched, its not-due payments as many and as much, nothing else but the losses its Closes reported; and a processor that settles days late leaves no till to be asked', async () => {
    const fc = (await import('fast-check')).default
    const { reconcile } = await import('@tillbooks/payments')
    const { settledThrough } = await import('../src/hq/HqSettlements.ts')
    const seed = Number(process.env.FC_SEED ?? Date.now() % 1_000_000)
    const payment = fc.record({ amountCents: fc.integer({ min: 1, max: 5000 }), lost: fc.constantFrom(null, null, null, null, 'late_decline' as const, 'expired' as const) })
    const world = fc.record({
      closes: fc.array(fc.record({ day: fc.nat({ max: DAYS.length - 1 }), payments: fc.array(payment, { maxLength: 4 }) }), { minLength: 1, maxLength: 5 }),
      through: fc.nat({ max: DAYS.length - 1 }),
      lagDays: fc.nat({ max: 2 }),
      cut: fc.nat({ max: DAYS.length - 1 }),
      fault: fc.constantFrom('none', 'none', 'none', 'dropped', 'cent', 'twice', 'stranger', 'early', 'lostSettled')
    })
    await fc.assert(fc.asyncProperty(world, async w => {
      // One Close a day at most, in day order (a till's Closes are), each payment numbered.
      const closes = [...new Map(w.closes.map(c => [c.day, c])).values()].sort((a, b) => a.day - b.day)
      let n = 0
      const all = closes.flatMap(c => c.payments.map(p => ({ ...p, paymentId: `S1-1-aaaaaaaa-P${++n}`, day: DAYS[c.day] as string })))
      const cards: TillCards = {
        count: all.length,
        amountCents: all.reduce((s, p) => s + p.amountCents, 0),
        lost: new Map(all.filter(p => p.lost !== null).map(p => [p.paymentId, { kind: p.lost as 'late_decline' | 'expired', amountCents: p.amountCents, saleDay: p.day }])),
        closes: closes.map(c => {
          const mine = all.filter(p => p.day === DAYS[c.day])
          return { docFirst: 0, docLast: 0, day: DAYS[c.day] as string, groups: [{ processor: 'embedded', type: 'card', mode: 'online', count: mine.length, amountCents: mine.reduce((s, p) => s + p.amountCents, 0), digest: paymentsDigest(mine), setHash: paymentSetHash(mine) }] }
        }),
        setHash: paymentSetHash(all)
      }
      const throughDay = DAYS[w.through] as string
      const cutoff = DAYS[Math.max(0, w.through - w.lagDays)] as string
      // What the processor settled: every payment of the days through the cut (but the lost), then a fault.
      const cutDay = DAYS[Math.max(w.cut, w.through - w.lagDays)] as string
      const settled = all.filter(p => p.day <= cutDay && p.lost === null).map(p => ({ paymentId: p.paymentId, grossCents: p.amountCents }))
      const later = all.filter(p => p.day > cutDay && p.lost === null)
      const lost = all.filter(p => p.lost !== null)
      const faulty = w.fault !== 'none'
      if (w.fault === 'dropped' && settled.length > 0) settled.pop()
      else if (w.fault === 'cent' && settled.length > 0) (settled[0] as { grossCents: number }).grossCents++
      else if (w.fault === 'twice' && settled.length > 0) settled.push({ ...(settled[0] as { paymentId: string, grossCents: number }) })
      else if (w.fault === 'stranger') settled.push({ paymentId: 'S1-1-aaaaaaaa-P999', grossCents: 100 })
      else if (w.fault === 'early' && later.length > 1) settled.push({ paymentId: (later[1] as { paymentId: string }).paymentId, grossCents: (later[1] as { amountCents: number }).amountCents })
      else if (w.fault === 'lostSettled' && lost.length > 0) settled.push({ paymentId: (lost[0] as { paymentId: string }).paymentId, grossCents: (lost[0] as { amountCents: number }).amountCents })
      const lines = settled.map((x, i) => line(x.paymentId, x.grossCents)).map((l, i) => ({ ...l, processorRef: `R${String(i).padStart(4, '0')}` }))
      const totals = { count: lines.length, amountCents: lines.reduce((s, l) => s + l.grossCents, 0), setHash: paymentSetHash(lines.map(l => ({ paymentId: l.paymentId as string, amountCents: l.grossCents }))) }
      const agreed = settledThrough(cards, totals, cutoff)
      if (!faulty) assert.ok(agreed !== null, `a clean settlement through ${cutDay} (due through ${cutoff}) left the till to be asked (seed ${seed})`)
      if (agreed === null) return
      const oracle = reconcile({
        payments: all.map(p => ({ paymentId: p.paymentId, till: 'S1-1', day: p.day, amountCents: p.amountCents, status: p.lost === 'late_decline' ? 'late_declined' as const : p.lost === 'expired' ? 'stored' as const : 'approved' as const, ...(p.lost === 'expired' ? { forwardByMs: 0 } : {}) })),
        lines, throughDay, settlementLagDays: w.lagDays, nowMs: NOW
      })
      assert.equal(agreed.matched, oracle.matched, `matched (seed ${seed})`)
      const timing = oracle.exceptions.filter(e => e.kind === 'timing')
      assert.equal(agreed.notDue.count, timing.length, `not due (seed ${seed})`)
      assert.equal(agreed.notDue.amountCents, timing.reduce((s, e) => s + (e.expectedCents ?? 0), 0), `not due, cents (seed ${seed})`)
      assert.deepEqual(oracle.exceptions.filter(e => e.kind !== 'timing').map(e => `${e.kind} ${e.paymentId ?? ''}`).sort(), lost.map(p => `${p.lost as string} ${p.paymentId}`).sort(), `only the losses (seed ${seed})`)
    }), { seed, numRuns: 500 })
  })
})

describe('HQ: a processor that settles a day late', () => {
  it('each day\'s report reconciles every till from its totals, asking none for its approvals: the day not yet settled is one timing line; a line missing still sends HQ to the till', async () => {
    const { GENESIS_HASH, keyPairFromSeed, signEntry, Signer } = await import('@tillbooks/protocol')
    const { settleDay, toSettlementCsv } = await import('@tillbooks/payments')
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { silentLogger } = await import('../src/components.ts')
    const { startHq } = await import('./helpers/fleet.ts')
    const hq = await startHq()
    const signer = new Signer(keyPairFromSeed(new Uint8Array(32).fill(47)))
    await hq.enrol({ store: 'S1' as never, till: 1, tillKey: signer.publicKey })
    // Day 1: P1, P2; day 2: P3. A Close each, chained.
    const days = [{ day: '2026-03-02', paid: approvals.slice(0, 2) }, { day: '2026-03-03', paid: approvals.slice(2) }]
    let prevHash = GENESIS_HASH
    let doc = 0
    for (const [i, d] of days.entries()) {
      const cents = d.paid.reduce((s, a) => s + a.amountCents, 0)
      const close = signEntry({
        v: 1, kind: 'close', store: 'S1' as never, till: 1, businessDay: d.day as never, seq: i + 1, prevHash, atMs: i + 1,
        docFirst: doc + 1, docLast: doc + d.paid.length, saleCount: d.paid.length, refundCount: 0, takingsCents: { cash: 0, card: cents }, tax: [{ rateBp: 0, netCents: cents, taxCents: 0 }],
        refundsCents: 0, cashCountedCents: 0, consumed: [], points: [],
        payments: [{ processor: 'embedded', type: 'card', mode: 'online', count: d.paid.length, amountCents: cents, digest: paymentsDigest(d.paid), setHash: paymentSetHash(d.paid) }]
      }, signer)
      doc += d.paid.length
      prevHash = close.hashBytes
      assert.equal((await hq.submit([close.bytes]))[0]?.status, 'accepted')
    }
    let asked = 0
    const s = new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z'), source: { approvals: async () => { asked++; return [] } } })
    const report = (day: string, paid: ReadonlyArray<{ paymentId: string, amountCents: number }>): Uint8Array => new TextEncoder().encode(toSettlementCsv(settleDay(
      paid.map((a, i) => ({ processorRef: `PSP-${day}-${i}`, paymentId: a.paymentId, kind: 'payment' as const, grossCents: a.amountCents, paymentMethod: 'visa', bookingDay: day })), day, { currency: 'EUR', feeBp: 0 })))
    // The day-2 report settles day 1 (a day's lag); day 2's P3 is not due through day 2.
    const first = await s.import(report('2026-03-03', approvals.slice(0, 2)), { processor: 'embedded', lagDays: 1 })
    assert.equal(asked, 0, 'no till asked')
    assert.equal(first.matched, 2)
    assert.deepEqual(first.exceptions, [{ kind: 'timing', till: 'S1-1', expectedCents: 2000, count: 1 }])
    assert.equal(first.openCents, first.clearingCents)
    // The day-3 report settles day 2: all matched, nothing open.
    const second = await s.import(report('2026-03-04', approvals.slice(2)), { processor: 'embedded', lagDays: 1 })
    assert.equal(asked, 0, 'no till asked')
    assert.equal(second.matched, 3)
    assert.deepEqual(second.exceptions, [])
    assert.equal(second.openCents, second.clearingCents)
    // Through day 2 again (a late statement): as the first answer.
    assert.deepEqual((await s.reconcile('2026-03-03', { processor: 'embedded', lagDays: 1 })).exceptions, first.exceptions)
    assert.equal(asked, 0)
    // A day-4 report that settles P1 again: the totals no longer say it, and the till is asked.
    await s.import(report('2026-03-05', approvals.slice(0, 1)), { processor: 'embedded', lagDays: 1 })
    assert.equal(asked, 1, 'the till asked for its approvals')
    await hq.stop()
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

describe('HQ: the settled lines kept on disk', () => {
  type Hq = import('../src/hq/HqNode.ts').HqNode
  /** Bookings of a processor's day: till S1-1's three approvals, a stranger's, a refund and a chargeback. */
  const BOOKINGS = [
    ...approvals.map((a, i) => ({ processorRef: `PSP${i + 1}`, paymentId: a.paymentId, kind: 'payment' as const, grossCents: a.amountCents })),
    { processorRef: 'PSP9', paymentId: 'S9-1-bbbbbbbb-P1', kind: 'payment' as const, grossCents: 4200 },
    { processorRef: 'PSP2', paymentId: approvals[1]?.paymentId as string, kind: 'refund' as const, grossCents: -300 },
    { processorRef: 'CB1', paymentId: approvals[2]?.paymentId as string, kind: 'chargeback' as const, grossCents: -2000 },
    // PSP1 again naming another payment (the processor's own mistake): a file with it alone names line PSP1 otherwise than one with booking 0.
    { processorRef: 'PSP1', paymentId: 'S1-1-aaaaaaaa-P7', kind: 'payment' as const, grossCents: 250 }
  ]
  /** File k: the bookings `pick` names on `day`, as the processor's report (csv) or the bank's statement (camt.053) of it. */
  async function fileOf (day: string, pick: readonly number[], asCamt: boolean): Promise<Uint8Array> {
    const { payoutEntries, settleDay, toCamt053, toSettlementCsv } = await import('@tillbooks/payments')
    const report = settleDay(pick.map(i => ({ ...(BOOKINGS[i] as typeof BOOKINGS[number]), paymentMethod: 'visa', bookingDay: day })), day, { currency: 'EUR', feeBp: 150 })
    const text = asCamt
      ? toCamt053({ version: '001.08', messageId: `M${day}`, statementId: `S${day}`, account: 'DE89370400440532013000', currency: 'EUR', createdAt: `${day}T23:00:00Z`, entries: payoutEntries(report) })
      : toSettlementCsv(report)
    return new TextEncoder().encode(text)
  }
  const answerOf = (a: unknown): string => JSON.stringify(a)
  async function importAll (hq: Hq, files: readonly Uint8Array[]): Promise<import('../src/hq/HqSettlements.ts').HqSettlements> {
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { silentLogger } = await import('../src/components.ts')
    const s = new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') })
    for (const f of files) await s.import(f, { processor: 'embedded' })
    return s
  }

  it('reconciles from the lines on disk as it would from the files themselves, for any files in any order; a start reads no file again, and one without the records makes them again', async () => {
    const fc = (await import('fast-check')).default
    const seed = Number(process.env.FC_SEED ?? Date.now() % 1_000_000)
    // A day's report and its bank statement say the same bookings (a payout is known by its day).
    const days = ['2026-03-03', '2026-03-04', '2026-03-05']
    const pick = fc.subarray([0, 1, 2, 3, 4, 5, 6], { minLength: 1 })
    const file = fc.record({ day: fc.nat({ max: 2 }), camt: fc.boolean() })
    const { MemoryStore, silentLogger } = await import('../src/index.ts')
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { startHq } = await import('./helpers/fleet.ts')
    await fc.assert(fc.asyncProperty(fc.tuple(pick, pick, pick), fc.array(file, { minLength: 1, maxLength: 5 }), async (picks, files) => {
      const store = new MemoryStore()
      const { hq } = await hqWithCardClose(31, true, store)
      const plan = files.map(f => ({ day: days[f.day] as string, pick: picks[f.day] as number[], camt: f.camt }))
      const bytes = await Promise.all(plan.map(async f => await fileOf(f.day, f.pick, f.camt)))
      const s = await importAll(hq, bytes)
      const last = [...hq.settlementFiles.values()].reduce((d, f) => f.day > d ? f.day : d, '')
      const fromIndex = await s.reconcile(last, { processor: 'embedded' })
      assert.equal(answerOf(fromIndex), answerOf(await s.reconcile(last, { processor: 'embedded', from: 'files' })), `index and files disagree (seed ${seed})`)
      // Through each file's day (an earlier one than the last: each till's totals less what was first settled after it).
      for (const f of plan) assert.equal(answerOf(await s.reconcile(f.day, { processor: 'embedded' })), answerOf(await s.reconcile(f.day, { processor: 'embedded', from: 'files' })), `through ${f.day}: index and files disagree (seed ${seed})`)
      // And the records through each day against the files of days through it alone (each line
      // once, the smallest id's, a chargeback over anything else), unless two files named one
      // line otherwise (then the files are read: above).
      if (!hq.settled.varies('embedded')) {
        const parsed = [...new Map(bytes.map(b => readSettlementFile(b, { currency: 'EUR' })).map(f => [f.id, f])).values()].sort((a, b) => a.id < b.id ? -1 : 1)
        const norm = (l: SettlementLine): string => `${l.paymentId ?? ''}|${l.processorRef}|${l.grossCents}|${l.type === 'Chargeback' ? 'chargeback' : l.type === 'Fee' || l.paymentId === null ? 'fee' : 'line'}`
        for (const day of days) {
          const lines = new Map<string, SettlementLine>()
          for (const f of parsed.filter(f => f.day <= day)) {
            lineKeys(f.lines).forEach((k, i) => {
              const l = f.lines[i] as SettlementLine
              const had = lines.get(k)
              if (had === undefined || (l.type === 'Chargeback' && had.type !== 'Chargeback')) lines.set(k, l)
            })
          }
          const byTill = new Map<string, SettlementLine[]>()
          const loose: SettlementLine[] = []
          for (const l of lines.values()) {
            const t = tillOfLine(l)
            if (t === null) loose.push(l)
            else byTill.set(t, [...(byTill.get(t) ?? []), l])
          }
          const at = `through ${day} (seed ${seed})`
          const totals = await hq.settled.tillsThrough('embedded', day)
          const then = await hq.settled.through('embedded', day)
          assert.deepEqual([...totals.keys()].sort(), [...byTill.keys()].sort(), at)
          for (const [t, list] of byTill) {
            const want = { count: list.length, amountCents: list.reduce((n, l) => n + l.grossCents, 0), setHash: paymentSetHash(list.map(l => ({ paymentId: l.paymentId as string, amountCents: l.grossCents }))) }
            assert.deepEqual(totals.get(t), want, at)
            assert.deepEqual((await then.linesOf(t)).map(norm).sort(), list.map(norm).sort(), at)
          }
          assert.deepEqual(then.loose.map(norm).sort(), loose.map(norm).sort(), at)
        }
      }
      // After a start (the records read back, whether two files named a line otherwise among them): the same answers.
      const varies = hq.settled.varies('embedded')
      const answers = await Promise.all(days.map(async d => answerOf(await s.reconcile(d, { processor: 'embedded' }))))
      await hq.stop()
      const again = await startHq(store)
      assert.equal(again.settled.varies('embedded'), varies, `varies after a start (seed ${seed})`)
      const s2 = new HqSettlements({ hq: again, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') })
      for (const [i, d] of days.entries()) assert.equal(answerOf(await s2.reconcile(d, { processor: 'embedded' })), answers[i], `through ${d} after a start (seed ${seed})`)
      await again.stop()
    }), { seed, numRuns: 40 })
  })

  it('a start reads back each file\'s sums and each till\'s totals, never a file; a log without them, or a whole rebuild, makes them again from the files: the same books and answers', async () => {
    const { MemoryStore } = await import('../src/index.ts')
    const { ManualClock, startHq } = await import('./helpers/fleet.ts')
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { silentLogger } = await import('../src/components.ts')
    const { canonicalEncode } = await import('@tillbooks/protocol')
    type Kv = import('../src/storage/KvStore.ts').KvStore
    const kv = new MemoryStore()
    const clock = new ManualClock()
    const hq = await startHq(kv, clock)
    const files = [await fileOf('2026-03-04', [0, 1, 3, 5], false), await fileOf('2026-03-03', [0, 2], true), await fileOf('2026-03-04', [0, 1, 3, 5], true)]
    const s = await importAll(hq, files)
    const books = JSON.stringify(hq.books.snapshot())
    const journal = hq.books.toHledger()
    const answer = answerOf(await s.reconcile('2026-03-04', { processor: 'embedded' }))
    const held = hq.settledLines.held
    assert.ok(held > 0)
    await hq.stop()
    // The same store, counting every read that could reach a settlement file (`s!…`).
    let fileReads = 0
    const spy: Kv = {
      open: async () => { await kv.open() },
      close: async () => { await kv.close() },
      get: async key => { if (key.startsWith('s!')) fileReads++; return await kv.get(key) },
      batch: async (ops, o) => { await kv.batch(ops, o) },
      entries: range => { if ((range.gte ?? '') < 's"' && (range.lt ?? '\uffff') > 's!') fileReads++; return kv.entries(range) }
    }
    const again = await startHq(spy, clock)
    assert.equal(fileReads, 0, 'no settlement file read at the start')
    assert.deepEqual([JSON.stringify(again.books.snapshot()), again.books.toHledger(), again.settledLines.held], [books, journal, held])
    const s2 = new HqSettlements({ hq: again, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') })
    assert.equal(answerOf(await s2.reconcile('2026-03-04', { processor: 'embedded' })), answer)
    // Through the day before the last file's (a bank statement that came after the next day's report): no file read either.
    const earlier = answerOf(await s2.reconcile('2026-03-03', { processor: 'embedded' }))
    assert.equal(fileReads, 0, 'no settlement file read through an earlier day')
    assert.equal(earlier, answerOf(await s2.reconcile('2026-03-03', { processor: 'embedded', from: 'files' })))
    assert.notEqual(earlier, answer)
    await again.stop()
    // Records of the format before (lines without their first day): made again, the same books and answers.
    await kv.open()
    await kv.batch([{ type: 'del', key: 't!V' }], { sync: true })
    await kv.close()
    const reformatted = await startHq(kv, clock)
    assert.deepEqual([JSON.stringify(reformatted.books.snapshot()), reformatted.settledLines.held], [books, held])
    assert.equal(answerOf(await new HqSettlements({ hq: reformatted, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') }).reconcile('2026-03-03', { processor: 'embedded' })), earlier)
    await reformatted.stop()
    await kv.open()
    assert.notEqual(await kv.get('t!V'), undefined, 'the format written with the records made again')
    await kv.close()
    // A log from before these records: they are made again from the files.
    await kv.open()
    const dels: Array<{ type: 'del', key: string }> = []
    for await (const [k] of kv.entries({ gte: 't!', lt: 't"' })) dels.push({ type: 'del', key: k })
    assert.ok(dels.length > 0)
    await kv.batch(dels, { sync: true })
    await kv.close()
    // And a whole rebuild makes them again whatever they say (the tills' totals altered on disk, below).
    for (const init of [{}, { rebuild: 'full' as const }]) {
      const restarted = await startHq(kv, clock, init)
      assert.deepEqual([JSON.stringify(restarted.books.snapshot()), restarted.books.toHledger(), restarted.settledLines.held], [books, journal, held], JSON.stringify(init))
      const s3 = new HqSettlements({ hq: restarted, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') })
      assert.equal(answerOf(await s3.reconcile('2026-03-04', { processor: 'embedded' })), answer)
      await restarted.stop()
      await kv.open()
      const totals: string[] = []
      for await (const [k] of kv.entries({ gte: 't!a!', lt: 't!a"' })) totals.push(k)
      assert.ok(totals.length > 0)
      await kv.batch(totals.map(key => ({ type: 'put' as const, key, value: canonicalEncode({ count: 0, amount: 0, hash: new Uint8Array(32) }) })), { sync: true })
      await kv.close()
    }
  })
})

describe('HQ: the settled lines kept on disk, when things go wrong', () => {
  const report = async (day: string, refs: Array<[string, string, number, 'payment' | 'chargeback']>): Promise<Uint8Array> => {
    const { settleDay, toSettlementCsv } = await import('@tillbooks/payments')
    return new TextEncoder().encode(toSettlementCsv(settleDay(refs.map(([processorRef, paymentId, grossCents, kind]) => ({ processorRef, paymentId, kind, grossCents, paymentMethod: 'visa', bookingDay: day })), day, { currency: 'EUR', feeBp: 150 })))
  }
  const A: Array<[string, string, number, 'payment' | 'chargeback']> = [['PSP1', approvals[0]?.paymentId as string, 250, 'payment'], ['PSP2', approvals[1]?.paymentId as string, 1000, 'payment']]
  const B: Array<[string, string, number, 'payment' | 'chargeback']> = [['PSP2', approvals[1]?.paymentId as string, 1000, 'payment'], ['PSP3', approvals[2]?.paymentId as string, 2000, 'payment'], ['CB1', approvals[2]?.paymentId as string, -2000, 'chargeback']]
  const booksOf = (hq: import('../src/hq/HqNode.ts').HqNode): string => JSON.stringify({ accounts: hq.books.snapshot().accounts, sub: hq.books.snapshot().subAccounts, counts: hq.books.snapshot().counts, journal: hq.books.toHledger() })

  for (const kept of [true, false]) {
    it(`a file whose write failed is decided by the next write: ${kept ? 'kept by the store, it is committed as planned' : 'lost, it is let go'}, and the same file again gives the books a clean import gives`, async () => {
      const { FaultyKvStore, MemoryStore, silentLogger } = await import('../src/index.ts')
      const { ManualClock, startHq } = await import('./helpers/fleet.ts')
      const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
      const a = await report('2026-03-03', A)
      const b = await report('2026-03-04', B)
      const clean = await startHq(new MemoryStore(), new ManualClock())
      const sc = new HqSettlements({ hq: clean, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') })
      await sc.import(a, { processor: 'embedded' })
      await sc.import(b, { processor: 'embedded' })
      const disk = new FaultyKvStore(new MemoryStore(), { reopensAfterFailure: true, inDoubtKeptChance: kept ? 1 : 0 })
      const hq = await startHq(disk, new ManualClock())
      const s = new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') })
      await s.import(a, { processor: 'embedded' })
      disk.failNext(1, { code: 'EIO' })
      await assert.rejects(s.import(b, { processor: 'embedded' }), /EIO/)
      // Any write (a till's entries, an enrolment) opens the store again: the failed batch comes back, or not.
      await hq.enrol({ store: 'S7' as never, till: 1, tillKey: new Uint8Array(32).fill(9) as never })
      const again = await s.import(b, { processor: 'embedded' })
      assert.equal(again.duplicate === true, kept, kept ? 'kept: the same file again is a duplicate' : 'lost: imported now')
      const strip = (x: string): string => x.replace(/"S7[^"]*"/g, '')
      assert.equal(booksOf(hq), booksOf(clean))
      assert.deepEqual([hq.settlementFiles.size, hq.settledLines.held], [clean.settlementFiles.size, clean.settledLines.held])
      assert.equal(strip(JSON.stringify(await s.reconcile('2026-03-04', { processor: 'embedded' }))), strip(JSON.stringify(await sc.reconcile('2026-03-04', { processor: 'embedded' }))))
      await hq.stop()
      await clean.stop()
    })
  }

  it('a start making the records again from the files, stopped part-way, makes them all again at the next start', async () => {
    const { FaultyKvStore, MemoryStore } = await import('../src/index.ts')
    const { ManualClock, startHq } = await import('./helpers/fleet.ts')
    const { readSettlementFile } = await import('@tillbooks/payments')
    const kv = new MemoryStore()
    const clock = new ManualClock()
    const hq = await startHq(kv, clock)
    const files = [await report('2026-03-03', A), await report('2026-03-04', B), await report('2026-03-05', [['PSP9', 'S9-1-bbbbbbbb-P1', 4200, 'payment']])]
    for (const f of files) await hq.importSettlement(f, readSettlementFile(f, { currency: 'EUR' }), 'embedded')
    const books = booksOf(hq)
    // A log from before the records (none of them on disk)...
    const dels: Array<{ type: 'del', key: string }> = []
    for await (const [k] of kv.entries({ gte: 't!', lt: 't"' })) dels.push({ type: 'del', key: k })
    await kv.batch(dels, { sync: true })
    await hq.stop()
    // ...its first start making them, stopped as it writes the second file's (files are read back in id order).
    const second = files.map(f => readSettlementFile(f, { currency: 'EUR' }).id).sort()[1] as string
    const disk = new FaultyKvStore(kv)
    disk.failNext(1, { key: `t!f!${second}` })
    await assert.rejects(startHq(disk, clock), /EIO/)
    await disk.close()
    const after = await startHq(kv, clock)
    assert.deepEqual([after.settlementFiles.size, booksOf(after)], [3, books])
    await after.stop()
  })

  it('a start whose records are not what was written last (a count that does not match them) makes them again on books that hold none of them: every file held, at every start after', async () => {
    const { MemoryStore } = await import('../src/index.ts')
    const { ManualClock, startHq } = await import('./helpers/fleet.ts')
    const { readSettlementFile } = await import('@tillbooks/payments')
    const { canonicalEncode } = await import('@tillbooks/protocol')
    const kv = new MemoryStore()
    const clock = new ManualClock()
    const hq = await startHq(kv, clock)
    for (const f of [await report('2026-03-03', A), await report('2026-03-04', B)]) await hq.importSettlement(f, readSettlementFile(f, { currency: 'EUR' }), 'embedded')
    const books = booksOf(hq)
    await kv.batch([{ type: 'put', key: 't!n', value: canonicalEncode(5) }], { sync: true })
    await hq.stop()
    for (const start of [1, 2]) {
      const again = await startHq(kv, clock)
      assert.deepEqual([again.settlementFiles.size, booksOf(again)], [2, books], `start ${start}`)
      await again.stop()
    }
  })

  it('a failed write the store replays only at its next open (after the next write said it was lost, and another file came in): the next start makes the records again, every file in the books once', async () => {
    const { FaultyKvStore, MemoryStore } = await import('../src/index.ts')
    const { ManualClock, startHq } = await import('./helpers/fleet.ts')
    const { readSettlementFile } = await import('@tillbooks/payments')
    const a = await report('2026-03-03', A)
    const b = await report('2026-03-04', B)
    // C settles a line B holds too: written after B's failed write, it wins over B's records where both wrote.
    const c = await report('2026-03-05', [['PSP3', approvals[2]?.paymentId as string, 2000, 'payment'], ['PSP9', 'S9-1-bbbbbbbb-P1', 4200, 'payment']])
    const clean = await startHq(new MemoryStore(), new ManualClock())
    for (const f of [a, b, c]) await clean.importSettlement(f, readSettlementFile(f, { currency: 'EUR' }), 'embedded')
    const disk = new FaultyKvStore(new MemoryStore(), { inDoubtKeptChance: 1 })
    const clock = new ManualClock()
    const hq = await startHq(disk, clock)
    await hq.importSettlement(a, readSettlementFile(a, { currency: 'EUR' }), 'embedded')
    disk.failNext(1, { code: 'EIO' })
    await assert.rejects(hq.importSettlement(b, readSettlementFile(b, { currency: 'EUR' }), 'embedded'), /EIO/)
    assert.equal(await hq.importSettlement(c, readSettlementFile(c, { currency: 'EUR' }), 'embedded'), 'folded')
    assert.equal(hq.settlementFiles.size, 2, 'B let go: the store had not replayed it')
    await hq.stop()
    for (const start of [1, 2]) {
      const again = await startHq(disk, clock)
      assert.deepEqual([again.settlementFiles.size, booksOf(again)], [3, booksOf(clean)], `start ${start}`)
      await again.stop()
    }
  })

  it('a reconciliation during which a file\'s write fails and the store replays it is made again, once the file is decided', async () => {
    const { FaultyKvStore, MemoryStore, silentLogger } = await import('../src/index.ts')
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { readSettlementFile } = await import('@tillbooks/payments')
    const disk = new FaultyKvStore(new MemoryStore(), { reopensAfterFailure: true, inDoubtKeptChance: 1 })
    // Till S1-1's Close of three card payments: A settles two of them, so its approvals are asked for.
    const { hq } = await hqWithCardClose(43, true, disk)
    const a = await report('2026-03-03', A)
    const b = await report('2026-03-03', B)
    await hq.importSettlement(a, readSettlementFile(a, { currency: 'EUR' }), 'embedded')
    let tried = false
    const source = {
      approvals: async (): Promise<Uint8Array[]> => {
        if (!tried) {
          tried = true
          // B's write fails, and the next write (an enrolment) opens the store again: it replays B.
          disk.failNext(1, { code: 'EIO' })
          await assert.rejects(hq.importSettlement(b, readSettlementFile(b, { currency: 'EUR' }), 'embedded'), /EIO/)
          await hq.enrol({ store: 'S7' as never, till: 1, tillKey: new Uint8Array(32).fill(9) as never })
        }
        return []
      }
    }
    const s = new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z'), source })
    const answer = await s.reconcile('2026-03-03', { processor: 'embedded' })
    assert.equal(tried, true)
    assert.equal(hq.settlementFiles.size, 2, 'B kept by the store, so committed')
    const fresh = await new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') }).reconcile('2026-03-03', { processor: 'embedded' })
    assert.equal(JSON.stringify({ ...answer, tillsFetched: [], tillsWithoutDetail: [] }), JSON.stringify({ ...fresh, tillsFetched: [], tillsWithoutDetail: [] }))
    await hq.stop()
  })

  it('holding the settled lines still (a reconciliation\'s last attempt, while it asks tills for approvals) keeps no order, opening or certificate waiting', async () => {
    const { asBusinessDay } = await import('@tillbooks/protocol')
    const { hq } = await hqWithCardClose(45, true)
    let timer: NodeJS.Timeout | undefined
    const waited = await Promise.race([
      hq.whileSettled(async () => {
        // Another admin write, taken while the settled lines are held (it used to wait for the same turn).
        await hq.openingStock([{ sku: 'patio-set', qty: 1 }], asBusinessDay('2026-03-01'))
        return 'done'
      }),
      new Promise<string>(resolve => { timer = setTimeout(() => { resolve('waited') }, 5_000) })
    ])
    clearTimeout(timer)
    assert.equal(waited, 'done')
    assert.equal(hq.books.snapshot().counts.openings, 1)
    await hq.stop()
  })

  it('a reconciliation a file is imported during is made again: its answer is the one after the file, never half of each', async () => {
    const { silentLogger } = await import('../src/index.ts')
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { hq } = await hqWithCardClose(41, true)
    const a = await report('2026-03-03', A)
    const b = await report('2026-03-03', B)
    let s!: InstanceType<typeof HqSettlements>
    let during: Promise<unknown> | null = null
    // Till S1-1's lines do not make up its Close after A (one approval unsettled): its approvals
    // are asked for, and while they are, B comes in.
    const source = {
      approvals: async (): Promise<Uint8Array[]> => {
        during ??= s.import(b, { processor: 'embedded' })
        await during
        return []
      }
    }
    s = new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z'), source })
    await hq.importSettlement(a, (await import('@tillbooks/payments')).readSettlementFile(a, { currency: 'EUR' }), 'embedded')
    const answer = await s.reconcile('2026-03-03', { processor: 'embedded' })
    assert.notEqual(during, null, 'B came in during it')
    const fresh = await new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') }).reconcile('2026-03-03', { processor: 'embedded' })
    assert.equal(JSON.stringify({ ...answer, tillsFetched: [], tillsWithoutDetail: [] }), JSON.stringify({ ...fresh, tillsFetched: [], tillsWithoutDetail: [] }))
    assert.ok(answer.exceptions.some(e => e.kind === 'chargeback'), 'B\'s chargeback is in it')
    await hq.stop()
  })
})

describe('HQ: a reconciliation through an earlier day, while a file is written', () => {
  it('reads across a write (the file on disk, not yet in memory) and is made again, not refused as a corrupt log', async () => {
    const { MemoryStore, silentLogger } = await import('../src/index.ts')
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { settleDay, toSettlementCsv } = await import('@tillbooks/payments')
    type Kv = import('../src/storage/KvStore.ts').KvStore
    const report = (day: string, lines: Array<[string, string, number]>): Uint8Array => new TextEncoder().encode(toSettlementCsv(settleDay(
      lines.map(([processorRef, paymentId, grossCents]) => ({ processorRef, paymentId, kind: 'payment' as const, grossCents, paymentMethod: 'visa', bookingDay: day })), day, { currency: 'EUR', feeBp: 150 })))
    const inner = new MemoryStore()
    // A settlement file's batch is on disk at once, its fsync answered only when `release` is called.
    let held: { applied: () => void, gate: Promise<void> } | null = null
    let onLooseScan: (() => Promise<void>) | null = null
    const kv: Kv = {
      open: async () => { await inner.open() },
      close: async () => { await inner.close() },
      get: async key => await inner.get(key),
      batch: async (ops, o) => {
        await inner.batch(ops, o)
        const h = held
        if (h !== null && ops.some(op => op.key.startsWith('s!'))) { held = null; h.applied(); await h.gate }
      },
      entries: range => {
        const f = onLooseScan
        if (f === null || !(range.gte ?? '').startsWith('t!x!')) return inner.entries(range)
        onLooseScan = null
        return (async function * () { await f(); yield * inner.entries(range) })()
      }
    }
    const { hq } = await hqWithCardClose(51, true, kv)
    const s = new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') })
    await s.import(report('2026-03-03', [['R1', approvals[0]?.paymentId as string, 250]]), { processor: 'embedded' })
    await s.import(report('2026-03-04', [['R2', approvals[1]?.paymentId as string, 1000]]), { processor: 'embedded' })
    const before = await s.reconcile('2026-03-03', { processor: 'embedded' })
    // Through 03-03 again; as it reads, a 03-05 file comes in and its batch reaches the disk.
    let importing: Promise<unknown> | null = null
    onLooseScan = async () => {
      let applied!: () => void
      let release!: () => void
      const reached = new Promise<void>(resolve => { applied = resolve })
      held = { applied, gate: new Promise<void>(resolve => { release = resolve }) }
      importing = s.import(report('2026-03-05', [['R3', approvals[2]?.paymentId as string, 2000], ['R9', 'S2-1-bbbbbbbb-P1', 500]]), { processor: 'embedded' })
      await reached
      setTimeout(release, 20)
    }
    const during = await s.reconcile('2026-03-03', { processor: 'embedded' })
    assert.notEqual(importing, null, 'the file came in during it')
    await importing
    // The 03-05 file changes nothing through 03-03 but the books' clearing.
    assert.equal(JSON.stringify({ ...during, clearingCents: 0 }), JSON.stringify({ ...before, clearingCents: 0 }))
    await hq.stop()
  })
})

describe('HQ: a file\'s write that the books refuse at commit', () => {
  it('leaves no write marked under way: reconciliations read as usual after it', async () => {
    const { silentLogger } = await import('../src/index.ts')
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { settleDay, toSettlementCsv } = await import('@tillbooks/payments')
    const { hq } = await hqWithCardClose(55, true)
    const s = new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') })
    const books = hq.books as unknown as { commitSettlement: (p: unknown) => void }
    const real = books.commitSettlement.bind(books)
    books.commitSettlement = () => { books.commitSettlement = real; throw new Error('the books\' own invariant') }
    const bytes = new TextEncoder().encode(toSettlementCsv(settleDay([{ processorRef: 'R1', paymentId: approvals[0]?.paymentId as string, kind: 'payment', grossCents: 250, paymentMethod: 'visa', bookingDay: '2026-03-03' }], '2026-03-03', { currency: 'EUR', feeBp: 150 })))
    await assert.rejects(s.import(bytes, { processor: 'embedded' }), /the books' own invariant/)
    assert.equal(hq.settled.isWriting, false)
    await hq.stop()
  })
})

describe('HQ: a settlement file out of the store\'s newest tables', () => {
  it('an import asks the store to compact the file\'s key once it is booked; a compaction that fails leaves the import booked', async () => {
    const { MemoryStore, silentLogger } = await import('../src/index.ts')
    const { HqSettlements } = await import('../src/hq/HqSettlements.ts')
    const { settleDay, toSettlementCsv, readSettlementFile } = await import('@tillbooks/payments')
    type Kv = import('../src/storage/KvStore.ts').KvStore
    const inner = new MemoryStore()
    const asked: string[] = []
    let fail = true
    const kv: Kv = {
      open: async () => { await inner.open() },
      close: async () => { await inner.close() },
      get: async key => await inner.get(key),
      batch: async (ops, o) => { await inner.batch(ops, o) },
      entries: range => inner.entries(range),
      compact: async range => {
        asked.push(`${range.gte ?? ''}..${range.lt ?? ''}`)
        if (fail) { fail = false; throw new Error('EIO: compaction failed') }
      }
    }
    const { hq } = await hqWithCardClose(53, true, kv)
    const s = new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') })
    const file = (day: string, ref: string): Uint8Array => new TextEncoder().encode(toSettlementCsv(settleDay([{ processorRef: ref, paymentId: approvals[0]?.paymentId as string, kind: 'payment', grossCents: 250, paymentMethod: 'visa', bookingDay: day }], day, { currency: 'EUR', feeBp: 150 })))
    const a = file('2026-03-03', 'R1')
    const b = file('2026-03-04', 'R2')
    const ids = [a, b].map(bytes => readSettlementFile(bytes, { currency: 'EUR' }).id)
    await s.import(a, { processor: 'embedded' })
    assert.equal(hq.settlementFiles.size, 1, 'booked, though its compaction failed')
    await s.import(b, { processor: 'embedded' })
    await s.import(b, { processor: 'embedded' })
    assert.deepEqual(asked, ids.map(id => `s!${id}..s!${id}\u0000`), 'each file\'s key once, after its import; none for the same file again')
    await hq.stop()
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

import assert from 'node:assert/strict'
import { payoutEntries, settleDay, toCamt053, toSettlementCsv } from '@tillbooks/payments'
import { keyPairFromSeed, Signer } from '@tillbooks/protocol'
import { FaultyKvStore, MemoryStore, silentLogger } from '../src/index.ts'
import { HqSettlements } from '../src/hq/HqSettlements.ts'
import { ManualClock, startHq } from './helpers/fleet.ts'

const BOOK = [
  { processorRef: 'PSP1', paymentId: 'S1-1-aaaaaaaa-P1', kind: 'payment' as const, grossCents: 250 },
  { processorRef: 'PSP2', paymentId: 'S1-1-aaaaaaaa-P2', kind: 'payment' as const, grossCents: 1000 },
  { processorRef: 'PSP3', paymentId: 'S1-1-aaaaaaaa-P3', kind: 'payment' as const, grossCents: 2000 },
  { processorRef: 'PSP9', paymentId: 'S9-1-bbbbbbbb-P1', kind: 'payment' as const, grossCents: 4200 },
  { processorRef: 'CB1', paymentId: 'S1-1-aaaaaaaa-P3', kind: 'chargeback' as const, grossCents: -2000 }
]
function fileOf (day: string, pick: number[], camt: boolean): Uint8Array {
  const report = settleDay(pick.map(i => ({ ...(BOOK[i] as typeof BOOK[number]), paymentMethod: 'visa', bookingDay: day })), day, { currency: 'EUR', feeBp: 150 })
  return new TextEncoder().encode(camt
    ? toCamt053({ version: '001.08', messageId: `M${day}`, statementId: `S${day}`, account: 'DE89370400440532013000', currency: 'EUR', createdAt: `${day}T23:00:00Z`, entries: payoutEntries(report) })
    : toSettlementCsv(report))
}
const settlementsOf = (hq: any): HqSettlements => new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z') })

describe('scratch', () => {
  it('T1: a file whose fsync failed in doubt, then came back, imported again: its lines drop out of the books', async () => {
    const A = fileOf('2026-03-03', [0, 1], false)
    const B = fileOf('2026-03-04', [2, 3], false)
    // Reference: A then B, no fault.
    const ref = await startHq()
    const sr = settlementsOf(ref)
    await sr.import(A, { processor: 'embedded' }); await sr.import(B, { processor: 'embedded' })
    const want = { sub: JSON.stringify(ref.books.snapshot().subAccounts), hl: ref.books.toHledger() }

    const mem = new MemoryStore()
    const faulty = new FaultyKvStore(mem, { inDoubtKeptChance: 1, reopensAfterFailure: true })
    const clock = new ManualClock()
    const hq = await startHq(faulty, clock)
    const s = settlementsOf(hq)
    await s.import(A, { processor: 'embedded' })
    faulty.failNext(1, { syncOnly: true })
    await assert.rejects(s.import(B, { processor: 'embedded' }), /EIO/)
    // Any later write (a till enrolled, a group commit) reopens the store: the in-doubt batch comes back.
    await hq.enrol({ store: 'S7' as never, till: 1, tillKey: new Signer(keyPairFromSeed(new Uint8Array(32).fill(7))).publicKey })
    console.log('      inDoubtKept', faulty.counters.inDoubtKept)
    // The operator posts B again.
    const again = await s.import(B, { processor: 'embedded' })
    console.log('      retry duplicate?', again.duplicate === true)
    const got = { sub: JSON.stringify(hq.books.snapshot().subAccounts), hl: hq.books.toHledger() }
    console.log('      want subAccounts', want.sub)
    console.log('      got  subAccounts', got.sub)
    await hq.stop()
    const hq2 = await startHq(faulty, clock)
    console.log('      after restart  ', JSON.stringify(hq2.books.snapshot().subAccounts))
    await hq2.stop()
    assert.equal(got.sub, want.sub)
  })

  it('T1b: after the in-doubt batch came back, a file sharing its lines is refused as a bug', async () => {
    const A = fileOf('2026-03-03', [0, 1], false)
    const B = fileOf('2026-03-04', [2, 3], false)
    const Bc = fileOf('2026-03-05', [2], false)
    const faulty = new FaultyKvStore(new MemoryStore(), { inDoubtKeptChance: 1, reopensAfterFailure: true })
    const hq = await startHq(faulty)
    const s = settlementsOf(hq)
    await s.import(A, { processor: 'embedded' })
    faulty.failNext(1, { syncOnly: true })
    await assert.rejects(s.import(B, { processor: 'embedded' }))
    await hq.enrol({ store: 'S7' as never, till: 1, tillKey: new Signer(keyPairFromSeed(new Uint8Array(32).fill(7))).publicKey })
    const { readSettlementFile } = await import('@tillbooks/payments')
    const idB = readSettlementFile(B, { currency: 'EUR' }).id
    for (const d of ['2026-03-05', '2026-03-06', '2026-03-07', '2026-03-08', '2026-03-09', '2026-03-10']) {
      const C = fileOf(d, [2], false)
      const idC = readSettlementFile(C, { currency: 'EUR' }).id
      try { await s.import(C, { processor: 'embedded' }); console.log('      C', d, idC < idB ? 'smaller id' : 'larger id', 'imported; clearing', hq.books.subBalance('assets:card clearing' as never, 'embedded')) } catch (e) { console.log('      C', d, idC < idB ? 'smaller id' : 'larger id', 'refused:', (e as Error).message.slice(0, 120)) }
    }
    await hq.stop()
  })

  it('T2: a start that rederives, killed after some files, comes back with those files only', async () => {
    const mem = new MemoryStore()
    const clock = new ManualClock()
    const hq = await startHq(mem, clock)
    const s = settlementsOf(hq)
    for (const f of [fileOf('2026-03-03', [0, 1], false), fileOf('2026-03-04', [2, 3], false), fileOf('2026-03-05', [4], false)]) await s.import(f, { processor: 'embedded' })
    const want = JSON.stringify(hq.books.snapshot().subAccounts)
    await hq.stop()
    // --rebuild full, killed while it makes the records again (after the first file's batch).
    let planned = 0
    const killing: any = {
      open: async () => { await mem.open() },
      close: async () => { await mem.close() },
      get: async (k: string) => await mem.get(k),
      entries: (r: any) => mem.entries(r),
      batch: async (ops: any[], o: any) => {
        if (ops.some(op => op.key === 't!n' && op.type === 'put') && !o.sync && ++planned === 2) throw new Error('killed')
        await mem.batch(ops, o)
      }
    }
    await assert.rejects(startHq(killing, clock, { rebuild: 'full' }), /killed/)
    await mem.close().catch(() => {})
    const again = await startHq(mem, clock)
    console.log('      want', want)
    console.log('      got ', JSON.stringify(again.books.snapshot().subAccounts), 'files held:', again.settlementFiles.size)
    await again.stop()
  })

  it('T3: a reconciliation that fetches a till\'s approvals while a file is imported answers neither before nor after', async () => {
    const hq = await startHq()
    let release: () => void = () => {}
    const gate = new Promise<void>(resolve => { release = resolve })
    let first = false
    const source = { approvals: async (t: string) => { console.log('      approvals', t, first); if (first) { first = false; await gate } return [] } }
    const s = new HqSettlements({ hq, logger: silentLogger, nowMs: () => Date.parse('2026-03-09T00:00:00Z'), source })
    const day = '2026-03-04'
    await s.import(fileOf('2026-03-03', [0, 3], false), { processor: 'embedded' })
    first = false
    const before = await s.reconcile(day, { processor: 'embedded' })
    first = true
    const during = s.reconcile(day, { processor: 'embedded' })
    await new Promise(resolve => setTimeout(resolve, 10))
    console.log('      importing'); await s.import(fileOf(day, [1, 4], false), { processor: 'embedded' })
    console.log('      imported'); release()
    const torn = await during
    const after = await s.reconcile(day, { processor: 'embedded' })
    const show = (a: any): string => JSON.stringify({ ex: a.exceptions.map((e: any) => `${e.kind}:${e.paymentId ?? e.processorRef}`), clearing: a.clearingCents, open: a.openCents, fetched: a.tillsFetched })
    console.log('      before', show(before)); console.log('      torn  ', show(torn)); console.log('      after ', show(after))
    await hq.stop()
  })

  it('T4: a bank statement arriving after the next day\'s report: its import reads and parses every file through its day', async () => {
    const hq: any = await startHq()
    let reads = 0
    const orig = hq.settlementFile.bind(hq)
    hq.settlementFile = async (id: string) => { reads++; return await orig(id) }
    const s = settlementsOf(hq)
    for (const d of ['2026-03-01', '2026-03-02', '2026-03-03']) await s.import(fileOf(d, [0], false), { processor: 'embedded' })
    await s.import(fileOf('2026-03-04', [1], false), { processor: 'embedded' })
    console.log('      reads after reports in day order', reads)
    await s.import(fileOf('2026-03-03', [0], true), { processor: 'embedded' })
    console.log('      reads after the 03-03 camt', reads)
    await hq.stop()
  })
})


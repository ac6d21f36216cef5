/** The processor's settlement report: read exactly, written back the same, refused whole when bad or when a batch does not add up. */
import assert from 'node:assert/strict'
import { parseSettlementCsv, readSettlementCsv, SettlementFileError, SETTLEMENT_COLUMNS, toSettlementCsv, type SettlementFile, type SettlementLine } from '../src/index.ts'

const HEADER = SETTLEMENT_COLUMNS.join(',')
const GOOD = [HEADER,
  'PSP001,S1-1-P1,visa,2026-03-03,Settled,EUR,12.50,0.25,12.25,B1,PO1',
  'PSP002,S1-1-P2,mc,2026-03-03,Settled,EUR,40.00,0.80,39.20,B1,PO1',
  'PSP003,S1-1-P3,visa,2026-03-03,Refunded,EUR,-5.00,0.00,-5.00,B1,PO1',
  'FEE1,,,2026-03-03,Fee,EUR,0.00,1.50,-1.50,B1,PO1',
  'PO1,,,2026-03-03,MerchantPayout,EUR,47.50,2.55,44.95,B1,PO1'
].join('\n')

function refused (text: string, why: RegExp, kind: string | null = null): SettlementFileError {
  try {
    parseSettlementCsv(text, 'EUR')
  } catch (err) {
    assert.ok(err instanceof SettlementFileError, String(err))
    assert.match(err.message, why)
    assert.equal(err.kind, kind)
    return err
  }
  assert.fail(`accepted a file that should be refused (${why.source})`)
}

describe('settlement report (CSV)', () => {
  it('reads lines and batches to the cent, and writes what it reads', () => {
    const f = parseSettlementCsv(GOOD, 'EUR')
    assert.deepEqual(f.lines.map(l => [l.type, l.paymentId, l.grossCents, l.feeCents, l.netCents]), [
      ['Settled', 'S1-1-P1', 1250, 25, 1225], ['Settled', 'S1-1-P2', 4000, 80, 3920], ['Refunded', 'S1-1-P3', -500, 0, -500], ['Fee', null, 0, 150, -150]
    ])
    assert.deepEqual(f.batches, [{ batch: 'B1', payoutId: 'PO1', bookingDay: '2026-03-03', lines: 4, grossCents: 4750, feeCents: 255, netCents: 4495 }])
    const again: SettlementFile = parseSettlementCsv(toSettlementCsv(f), 'EUR')
    assert.deepEqual(again.batches, f.batches)
    assert.deepEqual(again.lines.map(({ line: _l, ...rest }) => rest), f.lines.map(({ line: _l, ...rest }) => rest))
  })

  it('refuses a batch whose lines do not add up to its control line: the whole file (batch_control_mismatch)', () => {
    const e = refused(GOOD.replace('PO1,,,2026-03-03,MerchantPayout,EUR,47.50,2.55,44.95', 'PO1,,,2026-03-03,MerchantPayout,EUR,47.51,2.55,44.96'), /batch_control_mismatch/, 'batch_control_mismatch')
    assert.ok(e.problems.some(p => p.line === 6 && p.column === 'gross' && /add up to 47\.50, its control line says 47\.51/.test(p.reason)))
    refused(GOOD.split('\n').slice(0, 5).join('\n'), /no MerchantPayout control line/, 'batch_control_mismatch')
  })

  it('refuses bad files whole, each problem with its line and column', () => {
    refused(GOOD.replace(HEADER, HEADER.replace('fee,', '')), /the header must be/)
    refused(GOOD.replace('B1,PO1\nPSP002', 'B1,PO1,extra\nPSP002'), /line 2: 12 columns, 11 expected/)
    refused(GOOD.replace(',12.50,0.25,12.25,', ',12.505,0.25,12.255,'), /line 2 \(gross\): 12\.505 has 3 decimals: EUR has 2/)
    refused(GOOD.replace('Settled,EUR,40.00', 'Settled,USD,40.00'), /line 3 \(currency\): "USD": the books are in EUR/)
    refused(GOOD.replace(',40.00,0.80,39.20,', ',40.00,0.80,39.21,'), /line 3 \(net\): 39\.21 is not gross 40\.00 less fee 0\.80/)
    refused(GOOD.replace('2026-03-03,Settled,EUR,12.50', '2026-13-03,Settled,EUR,12.50'), /booking_date/)
    refused(GOOD.replace('Settled,EUR,12.50', 'Captured,EUR,12.50'), /"Captured" is not one of/)
    refused(GOOD.replace('PSP001,S1-1-P1', 'PSP001,'), /merchant_reference\): our payment id/)
    refused('not,a,settlement\n1,2,3', /not a settlement report/)
  })

  it('streamed, in chunks cut anywhere: the same lines and batches; a file that does not add up refused at its end', async () => {
    const chunks = function * (text: string, size: number): Generator<Uint8Array> { const b = Buffer.from(text); for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size) }
    const whole = parseSettlementCsv(GOOD, 'EUR')
    for (const size of [1, 7, 64, 4096]) {
      const seen: SettlementLine[] = []
      const r = await readSettlementCsv((async function * () { yield * chunks(GOOD, size) })(), 'EUR', l => { seen.push(l) })
      assert.deepEqual(seen, whole.lines, `chunks of ${size}`)
      assert.deepEqual(r.batches, whole.batches)
    }
    const bad = GOOD.replace('47.50,2.55,44.95', '47.51,2.55,44.96')
    await assert.rejects(readSettlementCsv((async function * () { yield * chunks(bad, 13) })(), 'EUR', () => {}), (e: Error) => e instanceof SettlementFileError && e.kind === 'batch_control_mismatch')
    await assert.rejects(readSettlementCsv((async function * () { yield Buffer.from('"unterminated\n') })(), 'EUR', () => {}), /not a CSV file|not a settlement report/)
  })
})

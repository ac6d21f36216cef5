/**
 * The bank's statement as camt.053 (001.02 and 001.08): written by the embedded processor's
 * bank and read back to the cent; any bank's file written as the contract says reads; a
 * DOCTYPE or an external entity, a schema-invalid file, too many decimals, another currency or
 * account, a batch that does not add up: each refused whole, with a reason.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseCamt053, SettlementFileError, toCamt053, type BankEntry, type CamtVersion } from '../src/index.ts'

const IBAN = 'FR7630006000011234567890189'
const entry: BankEntry = {
  amountCents: 4495, bookingDay: '2026-03-04', status: 'BOOK', ref: 'PO1', batch: null,
  transactions: [
    { processorRef: 'PSP001', paymentId: 'S1-1-P1', netCents: 1225, grossCents: 1250, feeCents: 25 },
    { processorRef: 'PSP002', paymentId: 'S1-1-P2', netCents: 3920, grossCents: 4000, feeCents: 80 },
    { processorRef: 'PSP003', paymentId: 'S1-1-P3', netCents: -500, grossCents: -500, feeCents: 0 },
    { processorRef: 'FEE1', paymentId: null, netCents: -150, grossCents: 0, feeCents: 150 }
  ]
}
const file = (version: CamtVersion): string => toCamt053({ version, messageId: 'MSG1', statementId: 'STMT1', account: IBAN, currency: 'EUR', createdAt: '2026-03-04T06:00:00Z', entries: [entry] })

function refused (xml: string, why: RegExp, expect: { currency: string, account?: string } = { currency: 'EUR', account: IBAN }): void {
  assert.throws(() => parseCamt053(xml, expect), (e: Error) => e instanceof SettlementFileError && why.test(e.message), why.source)
}

describe('camt.053 bank statement', () => {
  it('001.08: written and read back to the cent, each payout an entry with its transactions', () => {
    const s = parseCamt053(file('001.08'), { currency: 'EUR', account: IBAN })
    assert.equal(s.version, '001.08')
    assert.equal(s.account, IBAN)
    assert.equal(s.entries.length, 1)
    assert.deepEqual({ ...s.entries[0], batch: null }, entry)
    assert.deepEqual(s.entries[0]?.batch, { count: 4, totalCents: 4495 })
  })

  it('001.02 (a transaction signed only by its entry): a payout\'s money in and out as two entries, the same transactions to the cent', () => {
    const s = parseCamt053(file('001.02'), { currency: 'EUR', account: IBAN })
    assert.equal(s.version, '001.02')
    assert.deepEqual(s.entries.map(e => [e.ref, e.amountCents]), [['PO1', 1225 + 3920], ['PO1', -500 - 150]])
    assert.deepEqual(s.entries.flatMap(e => e.transactions), entry.transactions)
  })

  it('what it writes is valid against the ISO 20022 schemas (xmllint)', function () {
    if (spawnSync('xmllint', ['--version']).status !== 0) this.skip() // .ci/run installs libxml2-utils
    for (const version of ['001.02', '001.08'] as const) {
      const r = spawnSync('xmllint', ['--noout', '--nonet', '--schema', fileURLToPath(new URL(`../schemas/camt.053.${version}.xsd`, import.meta.url)), '-'], { input: file(version) })
      assert.equal(r.status, 0, `${version}: ${r.stderr.toString()}`)
    }
  })

  it('refuses a DOCTYPE and any entity it would declare: nothing is ever resolved', () => {
    const xxe = file('001.08').replace('<?xml version="1.0" encoding="UTF-8"?>\n', '<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n').replace('<MsgId>MSG1</MsgId>', '<MsgId>&x;</MsgId>')
    refused(xxe, /DOCTYPE/)
    refused(file('001.08').replace('<MsgId>MSG1</MsgId>', '<MsgId>&x;</MsgId>'), /not a well-formed statement/)
    refused(file('001.08').replace('<Document', '<?evil x?><Document'), /processing instruction/)
  })

  it('refuses schema-invalid files, amounts with too many decimals, another currency or account', () => {
    refused(file('001.08').replace('camt.053.001.08', 'camt.052.001.08'), /not a camt\.053 statement/)
    refused(file('001.08').replace(/<GrpHdr>.*?<\/GrpHdr>/, ''), /schema: BkToCstmrStmt has no GrpHdr\/MsgId/)
    refused(file('001.08').replace('<BookgDt><Dt>2026-03-04</Dt></BookgDt>', ''), /schema: Ntry 1 has no BookgDt/)
    refused(file('001.08').replace('<Ntry><Amt Ccy="EUR">44.95</Amt>', '<Ntry><Amt>44.95</Amt>'), /schema: Ntry 1 Amt has no Ccy/)
    refused(file('001.08').replace('<Amt Ccy="EUR">12.25</Amt>', '<Amt Ccy="EUR">12.250</Amt>'), /12\.250 has 3 decimals: EUR has 2/)
    refused(file('001.08'), /in EUR: the books are in USD|an account in EUR/, { currency: 'USD' })
    refused(file('001.08'), /a statement of account FR76.*, not DE89/, { currency: 'EUR', account: 'DE89370400440532013000' })
    refused('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>', /not a well-formed statement/)
  })

  it('refuses a pending entry, a charge marked as a credit, a count that is not a count, two batches in one entry', () => {
    refused(file('001.08').replace('<Sts><Cd>BOOK</Cd></Sts>', '<Sts><Cd>PDNG</Cd></Sts>'), /PDNG, not booked/)
    refused(file('001.08').replace('<Rcrd><Amt Ccy="EUR">0.25</Amt><CdtDbtInd>DBIT</CdtDbtInd></Rcrd>', '<Rcrd><Amt Ccy="EUR">0.25</Amt><CdtDbtInd>CRDT</CdtDbtInd></Rcrd>'), /charges are debits/)
    for (const nb of ['0x4', '4.0', '']) refused(file('001.08').replace('<NbOfTxs>4</NbOfTxs>', `<NbOfTxs>${nb}</NbOfTxs>`), /not a count|has no/)
    const twice = file('001.08').replace(/<NtryDtls>(<Btch>.*?<\/Btch>)/, '<NtryDtls>$1$1')
    refused(twice, /more than one Btch/)
  })

  it('refuses a batch or an entry whose transactions do not add up: the whole file (batch_control_mismatch)', () => {
    assert.throws(() => parseCamt053(file('001.08').replace('<NbOfTxs>4</NbOfTxs>', '<NbOfTxs>5</NbOfTxs>'), { currency: 'EUR' }), (e: Error) => e instanceof SettlementFileError && e.kind === 'batch_control_mismatch' && /NbOfTxs says 5, it holds 4/.test(e.message))
    refused(file('001.08').replace('<TtlAmt Ccy="EUR">44.95</TtlAmt>', '<TtlAmt Ccy="EUR">44.96</TtlAmt>'), /TtlAmt says 44\.96, its transactions add up to 44\.95/)
    refused(file('001.08').replace('<Amt Ccy="EUR">44.95</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>', '<Amt Ccy="EUR">45.95</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>'), /Ntry 1 Amt is 45\.95, its transactions add up to 44\.95/)
    refused(file('001.08').replace('<TxAmt><Amt Ccy="EUR">12.50</Amt></TxAmt>', '<TxAmt><Amt Ccy="EUR">12.51</Amt></TxAmt>'), /net 12\.25 is not gross 12\.51 less charges 0\.25/)
  })
})

/**
 * The bank's statement of the payouts, as ISO 20022 camt.053 (BankToCustomerStatement),
 * versions 001.02 and 001.08: read (any bank's file written the way the contract says
 * reconciles) and written (the embedded processor's bank).
 *
 * What is read: per statement, the account (IBAN, or another id) and currency; per entry
 * (`Ntry`: booked, credit or debit, one per payout) its amount and booking day; its
 * transactions (`NtryDtls/TxDtls`), each with `Refs/AcctSvcrRef` (the processor's reference),
 * `Refs/EndToEndId` (our payment id), `Amt` (the net), `AmtDtls/TxAmt/Amt` (the gross) and the
 * fee (`Chrgs/Rcrd/Amt` in 001.08, `Chrgs/Amt` in 001.02); a batch's `Btch/NbOfTxs` and
 * `TtlAmt` are checked against its transactions, and an entry's amount against their sum.
 *
 * XML is parsed by saxes (strict, well-formedness checked) with no entity ever resolved: a file
 * with a DOCTYPE (where entities are declared) is refused before anything else, an undefined
 * entity is an error. The file is refused whole, with a reason, for anything it does not have
 * that the schema requires of what is read, a namespace of another message, amounts with more
 * decimals than the currency has, a currency or an account other than the one expected.
 */
import { SaxesParser } from 'saxes'
import { exponentOf, formatMinorUnits, parseMinorUnits } from './amount.ts'
import { CAMT_BYTES_MAX } from './constants.ts'
import { PaymentsError, SettlementFileError } from './errors.ts'

export type CamtVersion = '001.02' | '001.08'
const NAMESPACES: Record<string, CamtVersion> = {
  'urn:iso:std:iso:20022:tech:xsd:camt.053.001.02': '001.02',
  'urn:iso:std:iso:20022:tech:xsd:camt.053.001.08': '001.08'
}
/** Elements in one document, at most (a tree of this many is built in memory). */
const ELEMENTS_MAX = 2_000_000

export interface BankTransaction { processorRef: string, paymentId: string | null, netCents: number, grossCents: number, feeCents: number }
export interface BankEntry { amountCents: number, bookingDay: string, status: string, ref: string | null, batch: { count: number, totalCents: number } | null, transactions: BankTransaction[] }
export interface BankStatement { version: CamtVersion, messageId: string, statementId: string, account: string, currency: string, entries: BankEntry[] }

interface El { name: string, attrs: Record<string, string>, children: El[], text: string }

/** A strict, entity-free XML tree (local names; the root's namespace returned). */
function parseXml (xml: string): { root: El, ns: string } {
  if (typeof xml !== 'string') throw new SettlementFileError('a statement is text')
  if (xml.length > CAMT_BYTES_MAX) throw new SettlementFileError(`the file is over ${CAMT_BYTES_MAX} bytes`)
  const parser = new SaxesParser({ xmlns: true, position: true })
  const stack: El[] = []
  let root: El | null = null
  let ns = ''
  let count = 0
  let failure: string | null = null
  parser.on('doctype', () => { failure ??= 'a DOCTYPE: refused (no entity is ever resolved)' })
  parser.on('processinginstruction', pi => { if (pi.target !== 'xml') failure ??= `a processing instruction <?${pi.target}?>: refused` })
  parser.on('opentag', tag => {
    if (++count > ELEMENTS_MAX) { failure ??= `more than ${ELEMENTS_MAX} elements`; return }
    const el: El = { name: tag.local, attrs: Object.fromEntries(Object.values(tag.attributes).map(a => [a.local, a.value])), children: [], text: '' }
    if (stack.length === 0) { root = el; ns = tag.uri } else stack[stack.length - 1]?.children.push(el)
    stack.push(el)
  })
  parser.on('text', t => { const top = stack[stack.length - 1]; if (top !== undefined) top.text += t })
  parser.on('closetag', () => { stack.pop() })
  parser.on('error', err => { failure ??= err.message })
  try {
    parser.write(xml).close()
  } catch (err) {
    failure ??= (err as Error).message
  }
  if (failure !== null) throw new SettlementFileError(`not a well-formed statement: ${failure}`)
  if (root === null) throw new SettlementFileError('an empty document')
  return { root, ns }
}

const child = (e: El, name: string): El | undefined => e.children.find(c => c.name === name)
const children = (e: El, name: string): El[] => e.children.filter(c => c.name === name)
function need (e: El | undefined, path: string[], where: string): El {
  let at = e
  for (const p of path) {
    at = at === undefined ? undefined : child(at, p)
    if (at === undefined) throw new SettlementFileError(`schema: ${where} has no ${path.join('/')}`)
  }
  return at as El
}
const textOf = (e: El | undefined, path: string[], where: string): string => need(e, path, where).text.trim()

/**
 * Read a camt.053 file. `expect`: the currency the books are in, and the account the payouts
 * go to (if given, another account's statement is refused). Throws SettlementFileError.
 */
export function parseCamt053 (xml: string, expect: { currency: string, account?: string }): BankStatement {
  exponentOf(expect.currency)
  const { root, ns } = parseXml(xml)
  const version = NAMESPACES[ns]
  if (root.name !== 'Document' || version === undefined) throw new SettlementFileError(`not a camt.053 statement: <${root.name}> in ${JSON.stringify(ns.slice(0, 80))}`)
  const msg = need(root, ['BkToCstmrStmt'], 'Document')
  const messageId = textOf(msg, ['GrpHdr', 'MsgId'], 'BkToCstmrStmt')
  const stmts = children(msg, 'Stmt')
  if (stmts.length !== 1) throw new SettlementFileError(`schema: one Stmt per file is read, this one has ${stmts.length}`)
  const stmt = stmts[0] as El
  const statementId = textOf(stmt, ['Id'], 'Stmt')
  const acctId = need(stmt, ['Acct', 'Id'], 'Stmt')
  const account = (child(acctId, 'IBAN')?.text ?? child(child(acctId, 'Othr') ?? acctId, 'Id')?.text ?? '').trim()
  if (account === '') throw new SettlementFileError('schema: Stmt/Acct/Id has neither IBAN nor Othr/Id')
  if (expect.account !== undefined && account !== expect.account) throw new SettlementFileError(`a statement of account ${account}, not ${expect.account}`)
  const acctCcy = child(need(stmt, ['Acct'], 'Stmt'), 'Ccy')?.text.trim()
  if (acctCcy !== undefined && acctCcy !== expect.currency) throw new SettlementFileError(`an account in ${acctCcy}: the books are in ${expect.currency}`)
  const amount = (e: El, where: string, signedBy?: El): number => {
    const ccy = e.attrs.Ccy
    if (ccy === undefined) throw new SettlementFileError(`schema: ${where} has no Ccy`)
    if (ccy !== expect.currency) throw new SettlementFileError(`${where} in ${ccy}: the books are in ${expect.currency}`)
    let minor: number
    try {
      minor = parseMinorUnits(e.text.trim(), ccy)
    } catch (err) {
      throw new SettlementFileError(`${where}: ${(err as PaymentsError).message}`)
    }
    if (signedBy === undefined) return minor
    const ind = textOf(signedBy, ['CdtDbtInd'], where)
    if (ind !== 'CRDT' && ind !== 'DBIT') throw new SettlementFileError(`schema: ${where} CdtDbtInd is ${ind}`)
    return ind === 'DBIT' ? -minor : minor
  }
  const entries: BankEntry[] = children(stmt, 'Ntry').map((ntry, i) => {
    const where = `Ntry ${i + 1}`
    const amountCents = amount(need(ntry, ['Amt'], where), `${where} Amt`, ntry)
    const sts = need(ntry, ['Sts'], where)
    const status = (version === '001.08' ? child(sts, 'Cd')?.text ?? '' : sts.text).trim()
    if (status === '') throw new SettlementFileError(`schema: ${where} has no status`)
    // Only booked entries are money on the account: pending or informational ones are not reconciled.
    if (status !== 'BOOK') throw new SettlementFileError(`${where} is ${status}, not booked (BOOK): a statement of booked entries is read`)
    const bookg = need(ntry, ['BookgDt'], where)
    const bookingDay = (child(bookg, 'Dt')?.text ?? child(bookg, 'DtTm')?.text ?? '').trim().slice(0, 10)
    if (!/^\d{4}-\d{2}-\d{2}$/.test(bookingDay)) throw new SettlementFileError(`schema: ${where} BookgDt has no date`)
    let batch: BankEntry['batch'] = null
    const transactions: BankTransaction[] = []
    for (const dtls of children(ntry, 'NtryDtls')) {
      const btch = child(dtls, 'Btch')
      const txs = children(dtls, 'TxDtls').map((tx, k) => {
        const at = `${where} TxDtls ${k + 1}`
        const processorRef = textOf(tx, ['Refs', 'AcctSvcrRef'], at)
        const e2e = child(need(tx, ['Refs'], at), 'EndToEndId')?.text.trim()
        let feeCents = 0
        for (const c of children(tx, 'Chrgs')) {
          const records = version === '001.08' ? children(c, 'Rcrd') : [c]
          for (const r of records) {
            // A charge is a debit: one marked as a credit (a rebate) is not a fee, and is not read as one.
            const ind = child(r, 'CdtDbtInd')?.text.trim()
            if (ind !== undefined && ind !== 'DBIT') throw new SettlementFileError(`${at}: a charge marked ${ind}: charges are debits`)
            feeCents += amount(need(r, ['Amt'], `${at} Chrgs`), `${at} Chrgs Amt`)
          }
        }
        const grossEl = child(child(tx, 'AmtDtls') ?? tx, 'TxAmt')
        let netCents: number
        let grossCents: number
        if (child(tx, 'Amt') !== undefined) {
          // 001.08: the net signed by the transaction's own CdtDbtInd; TxAmt (unsigned) the gross, which
          // has the sign of what the net and the charges make (a refund's is negative).
          netCents = amount(need(tx, ['Amt'], at), `${at} Amt`, tx)
          const g = grossEl !== undefined ? amount(need(grossEl, ['Amt'], at), `${at} AmtDtls/TxAmt/Amt`) : Math.abs(netCents + feeCents)
          grossCents = netCents + feeCents < 0 && g !== 0 ? -g : g
        } else {
          // 001.02 has no amount of the transaction's own: the gross is TxAmt, signed by the entry
          // (credits and debits of a payout are two entries), and the net is the gross less the charges.
          if (grossEl === undefined) throw new SettlementFileError(`schema: ${at} has neither Amt nor AmtDtls/TxAmt`)
          const g = amount(need(grossEl, ['Amt'], at), `${at} AmtDtls/TxAmt/Amt`)
          grossCents = amountCents < 0 && g !== 0 ? -g : g
          netCents = grossCents - feeCents
        }
        if (grossCents - feeCents !== netCents) throw new SettlementFileError(`${at}: net ${formatMinorUnits(netCents, expect.currency)} is not gross ${formatMinorUnits(grossCents, expect.currency)} less charges ${formatMinorUnits(feeCents, expect.currency)}`)
        return { processorRef, paymentId: e2e === undefined || e2e === '' || e2e === 'NOTPROVIDED' ? null : e2e, netCents, grossCents, feeCents }
      })
      if (children(dtls, 'Btch').length > 1) throw new SettlementFileError(`schema: ${where} has more than one Btch in its NtryDtls`)
      if (btch !== undefined) {
        const nb = textOf(btch, ['NbOfTxs'], `${where} Btch`)
        if (!/^[0-9]{1,15}$/.test(nb)) throw new SettlementFileError(`schema: ${where} Btch/NbOfTxs is ${JSON.stringify(nb.slice(0, 20))}, not a count`)
        const count = Number(nb)
        const ttl = child(btch, 'TtlAmt')
        const totalCents = ttl === undefined ? null : amount(ttl, `${where} Btch TtlAmt`, child(btch, 'CdtDbtInd') !== undefined ? btch : undefined)
        const sum = txs.reduce((s, t) => s + t.netCents, 0)
        if (!Number.isSafeInteger(count) || count !== txs.length) throw new SettlementFileError(`batch_control_mismatch: ${where} Btch/NbOfTxs says ${count}, it holds ${txs.length} transactions`, [], 'batch_control_mismatch')
        if (totalCents !== null && totalCents !== sum) throw new SettlementFileError(`batch_control_mismatch: ${where} Btch/TtlAmt says ${formatMinorUnits(totalCents, expect.currency)}, its transactions add up to ${formatMinorUnits(sum, expect.currency)}`, [], 'batch_control_mismatch')
        if (batch !== null) throw new SettlementFileError(`schema: ${where} has more than one batch`)
        batch = { count, totalCents: totalCents ?? sum }
      }
      // Not spread: a payout's entry may hold every transaction of a day (a spread of ~125,000 overflows the stack).
      for (const t of txs) transactions.push(t)
    }
    if (transactions.length > 0) {
      const sum = transactions.reduce((s, t) => s + t.netCents, 0)
      if (sum !== amountCents) throw new SettlementFileError(`batch_control_mismatch: ${where} Amt is ${formatMinorUnits(amountCents, expect.currency)}, its transactions add up to ${formatMinorUnits(sum, expect.currency)}`, [], 'batch_control_mismatch')
    }
    return { amountCents, bookingDay, status, ref: child(ntry, 'AcctSvcrRef')?.text.trim() ?? null, batch, transactions }
  })
  return { version, messageId, statementId, account, currency: expect.currency, entries }
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** A statement written as camt.053 (the embedded processor's bank): every entry a payout with its transactions. */
export function toCamt053 (s: Omit<BankStatement, 'entries'> & { createdAt: string, entries: BankEntry[], openingBalanceCents?: number }): string {
  const amt = (minor: number, tag = 'Amt'): string => `<${tag} Ccy="${esc(s.currency)}">${formatMinorUnits(Math.abs(minor), s.currency)}</${tag}>`
  const cd = (minor: number): string => `<CdtDbtInd>${minor < 0 ? 'DBIT' : 'CRDT'}</CdtDbtInd>`
  const sts = (code: string): string => s.version === '001.08' ? `<Sts><Cd>${esc(code)}</Cd></Sts>` : `<Sts>${esc(code)}</Sts>`
  const chrgs = (fee: number): string => fee === 0 ? '' : s.version === '001.08' ? `<Chrgs><Rcrd>${amt(fee)}<CdtDbtInd>DBIT</CdtDbtInd></Rcrd></Chrgs>` : `<Chrgs>${amt(fee)}<CdtDbtInd>DBIT</CdtDbtInd></Chrgs>`
  const refs = (t: BankTransaction): string => `<Refs><AcctSvcrRef>${esc(t.processorRef)}</AcctSvcrRef><EndToEndId>${esc(t.paymentId ?? 'NOTPROVIDED')}</EndToEndId></Refs>`
  // 001.02 signs a transaction only by its entry: a payout's money in and money out are two entries.
  const split = s.version === '001.08'
    ? s.entries
    : s.entries.flatMap(e => {
      const credit = e.transactions.filter(t => t.grossCents > 0)
      const debit = e.transactions.filter(t => t.grossCents <= 0)
      return [credit, debit].filter(txs => txs.length > 0).map(txs => ({ ...e, transactions: txs, amountCents: txs.reduce((n, t) => n + t.netCents, 0) }))
    })
  const entries = split.map(e => {
    const txs = e.transactions.map(t => s.version === '001.08'
      ? `<TxDtls>${refs(t)}${amt(t.netCents)}${cd(t.netCents)}<AmtDtls><TxAmt>${amt(t.grossCents)}</TxAmt></AmtDtls>${chrgs(t.feeCents)}</TxDtls>`
      : `<TxDtls>${refs(t)}<AmtDtls><TxAmt>${amt(t.grossCents)}</TxAmt></AmtDtls>${chrgs(t.feeCents)}</TxDtls>`).join('')
    const total = e.transactions.reduce((n, t) => n + t.netCents, 0)
    const btch = `<Btch><NbOfTxs>${e.transactions.length}</NbOfTxs>${amt(total, 'TtlAmt')}${cd(total)}</Btch>`
    return `<Ntry>${amt(e.amountCents)}${cd(e.amountCents)}${sts(e.status)}<BookgDt><Dt>${e.bookingDay}</Dt></BookgDt><ValDt><Dt>${e.bookingDay}</Dt></ValDt>${e.ref !== null ? `<AcctSvcrRef>${esc(e.ref)}</AcctSvcrRef>` : ''}<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls>${btch}${txs}</NtryDtls></Ntry>`
  }).join('')
  // The schema requires balances: the opening and closing booked balance of the statement's day.
  const opening = s.openingBalanceCents ?? 0
  const closing = opening + split.reduce((n, e) => n + e.amountCents, 0)
  const day = s.createdAt.slice(0, 10)
  const bal = (code: string, minor: number): string => `<Bal><Tp><CdOrPrtry><Cd>${code}</Cd></CdOrPrtry></Tp>${amt(minor)}${cd(minor)}<Dt><Dt>${day}</Dt></Dt></Bal>`
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.${s.version}"><BkToCstmrStmt><GrpHdr><MsgId>${esc(s.messageId)}</MsgId><CreDtTm>${esc(s.createdAt)}</CreDtTm></GrpHdr><Stmt><Id>${esc(s.statementId)}</Id><CreDtTm>${esc(s.createdAt)}</CreDtTm><Acct><Id><IBAN>${esc(s.account)}</IBAN></Id><Ccy>${esc(s.currency)}</Ccy></Acct>${bal('OPBD', opening)}${bal('CLBD', closing)}${entries}</Stmt></BkToCstmrStmt></Document>\n`
}

/** A settlement file as the books take it (ledger's Settlement), whichever kind it was read from. */
import type { Settlement, SettledLine } from '@tillbooks/ledger'
import { lineKeys, type ImportedFile } from '@tillbooks/payments'
import { asBusinessDay } from '@tillbooks/protocol'

export function settlementOf (file: ImportedFile, processor: string): Settlement {
  const keys = lineKeys(file.lines)
  const lines: SettledLine[] = file.lines.map((l, i) => ({
    ref: keys[i] as string,
    kind: l.type === 'Fee' ? 'fee' : l.type === 'Chargeback' ? 'chargeback' : 'settled',
    grossCents: l.grossCents,
    feeCents: l.feeCents,
    netCents: l.netCents
  }))
  return { id: file.id, processor, day: asBusinessDay(file.day), lines, payouts: file.payouts.map(p => ({ ref: p.ref, amountCents: p.amountCents })) }
}

/** The human-readable report of a `tillbooks net` run. Amounts print from integer cents. */
import { centsText } from '../report.ts'
import type { NetResult } from './launcher.ts'

const MB = 1024 * 1024

function table (rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map(r => (r[i] ?? '').length))) ?? []
  return rows.map((r, ri) => {
    const line = r.map((c, i) => i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join('   ')
    return ri === 0 ? `${line}\n${widths.map(w => '-'.repeat(w)).join('   ')}` : line
  }).join('\n')
}

const WHAT: Record<string, string> = {
  B3_resendAddsNothing: 'every entry of 20 % of the tills resent twice (+ /sync): 0 accepted, books unchanged',
  B4_booksEqualOracle: 'HQ books == oracle, account by account and store takings, to the cent',
  B4_debitsEqualCredits: 'trial balance: debits == credits, accounts sum to 0',
  B5_noAckedRecordLost: 'HQ SIGKILLed mid close wave: every record a till saw acked is at HQ after restart',
  B5_rebuildIdentical: 'HQ SIGKILLed at the end and rebuilt from its log: identical /books',
  B6_fireRecoveredLastClose: 'burnt store: last close recovered from a neighbour == the one that burnt; numbering continues',
  B6_forgedReplicaRejected: 'forged successor planted in a neighbour replica: refused at recovery, never reaches HQ',
  G1_noDocNoClash: 'no document number issued twice across all tills',
  G1_docNosContiguous: 'per till 1, 2, 3, ... with no gap, across the replacement till',
  allClosesFolded: 'every till outbox empty and its whole log folded at HQ',
  storeCutOffCaughtUp: 'the store cut off from HQ for a day held its records back, then caught up',
  forgeriesRejected: 'forged/tampered/unenrolled/malformed entries at HQ: all rejected, books unchanged',
  pointsEqualOracle: 'loyalty points per member == oracle',
  salesTotalsMatchShelfPrices: 'every sale total answered == shelf prices summed',
  catalogueMatchesOracle: 'tills serve the catalogue the oracle prices with',
  allProcessesStopped: 'every process started is gone (by pid)',
  K1_soakKillsAsPlanned: 'soak: every planned SIGKILL made (the pid gone) and the process back',
  K2_tillsIntactAfterKill: 'soak: each killed till back with its head seq, next document number and day state',
  K3_noAckedRecordLostOnHqKill: 'soak: HQ SIGKILLed at random moments: every record a till saw acked is at HQ after restart'
}

interface SoakDetails { seed: number, tillStore: string, kills: Array<{ day: number, date: string, kind: string, target: string, phase: string, atPercent: number, intact: boolean, downMs: number }>, killed: { tills: number, stores: number, hq: number } }

export function formatNetResult (r: NetResult): string {
  const out: string[] = []
  out.push(`tillbooks net: seed ${r.seed}, ${r.tills} tills in ${r.stores} stores (${r.tillsPerStore} each), ${r.days} day(s), ${r.processes.started} processes started`)
  out.push(`${r.sales} sales posted over HTTP; total ${(r.timingsMs.totalMs ?? 0) / 1000} s`)
  out.push('')
  out.push('Books at HQ (debit positive)')
  out.push(table([['account', 'balance'], ...Object.entries(r.books.accounts).filter(([, v]) => v !== 0).map(([k, v]) => [k, centsText(v)])]))
  out.push('')
  out.push(table([['takings', 'cents'], ['all stores (HQ)', centsText(r.booksCents)], ['oracle', centsText(r.oracleCents)]]))
  out.push('')
  out.push('Checks')
  out.push(table([['check', 'result', 'what'], ...Object.entries(r.invariants).map(([k, v]) => [k, v ? 'PASS' : 'FAIL', WHAT[k] ?? ''])]).replace(/ +$/gm, ''))
  out.push('')
  out.push('Timings (ms): ' + Object.entries(r.timingsMs).map(([k, v]) => `${k.replace(/Ms$/, '')} ${v}`).join(', '))
  const m = r.memory
  out.push(`Memory: peak ${Math.round(m.peakTotalRssBytes / MB)} MB RSS over ${m.peakProcesses} processes + launcher; HQ ${Math.round(m.hqPeakRssBytes / MB)} MB; till median ${Math.round(m.tillPeakRssBytes.median / MB)} MB (max ${Math.round(m.tillPeakRssBytes.max / MB)}); enrol ${Math.round(m.enrolPeakRssBytes / MB)} MB; launcher ${Math.round(m.launcherPeakRssBytes / MB)} MB`)
  const cpu = r.cpuMs.byRole
  const cpuTotal = Object.values(cpu).reduce((a, b) => a + b, 0)
  out.push(`CPU: ${(cpuTotal / 1000).toFixed(1)} s in all (${Object.entries(cpu).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')}), i.e. at least ${(cpuTotal / 2000).toFixed(0)} s of wall time on 2 cores`)
  const soak = r.details.soak as SoakDetails | undefined
  if (soak !== undefined) {
    out.push('')
    out.push(`Soak (seed ${soak.seed}; the tills of ${soak.tillStore} a process each): ${soak.killed.tills} till, ${soak.killed.stores} store and ${soak.killed.hq} HQ SIGKILLs`)
    out.push(table([['day', 'killed', 'at', 'back in ms', 'as it was'], ...soak.kills.map(k => [`${k.day + 1} ${k.date}`, k.kind === 'hq' ? 'HQ' : `${k.kind} ${k.target}`, `${k.phase} ${k.atPercent} %`, String(k.downMs), k.intact ? 'yes' : 'NO'])]))
  }
  for (const w of r.warnings) out.push(`WARNING: ${w}`)
  const failed = Object.entries(r.invariants).filter(([, v]) => !v).map(([k]) => k)
  out.push('')
  out.push(failed.length === 0 ? 'All checks hold.' : `FAILED: ${failed.join(', ')} — replay with: npx tillbooks net --stores ${r.stores} --tills-per-store ${r.tillsPerStore} ${soak !== undefined ? `--soak ${r.days}` : `--days ${r.days}`} --seed ${r.seed} --keep`)
  return out.join('\n')
}

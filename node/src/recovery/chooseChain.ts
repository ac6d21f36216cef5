/**
 * Recovering a burnt till's log: several places may hold a copy (a neighbouring store's
 * replica, HQ, an email backup). None of them is trusted: every copy is checked against
 * HQ's enrolment (which key may sign which seq) and its own hash chain, and the longest
 * verified chain wins. What was wrong with each copy is reported, never silently dropped.
 */
import { Enrolment, openEntry, rejectionOf, type Entry, type EntryHash, type PublicKey, type TillId } from '@tillbooks/protocol'
import { TillLog, type LogReport } from '@tillbooks/crdt'

export interface LogCandidate {
  /** Where the copy came from, for the report: 'neighbour:S2', 'hq', 'mail:<file>'. */
  source: string
  entries: Uint8Array[]
}

export interface CandidateRejection { source: string, reason: string }

export interface ChainChoice {
  tillId: TillId
  /** The winning verified chain, seq 1..k; empty if no copy had anything valid. */
  entries: Entry[]
  head: { seq: number, hash: EntryHash } | null
  /** Where the winning chain came from; null if nothing was recovered. */
  from: string | null
  /** Every problem found, per copy: forged or unenrolled entries, breaks in the chain, forks, foreign entries. */
  rejected: CandidateRejection[]
  /** Per source, the verified chain length it offered. */
  offered: Record<string, number>
}

/** An enrolment built from HQ's root key and the slot's certificates. */
export function enrolmentOf (rootKey: PublicKey, certificates: Uint8Array[]): Enrolment {
  const enrolment = new Enrolment(rootKey)
  for (const c of certificates) enrolment.add(c)
  return enrolment
}

/** Verify one copy: what chain it proves, and what in it is wrong. */
export function verifyCandidate (tillId: TillId, enrolment: Enrolment, c: LogCandidate): { report: LogReport, rejected: CandidateRejection[] } {
  const rejected: CandidateRejection[] = []
  const log = TillLog.create(tillId)
  for (const bytes of c.entries) {
    let entry: Entry
    try {
      entry = openEntry(bytes, { verify: false })
    } catch (err) {
      rejected.push({ source: c.source, reason: `malformed entry: ${rejectionOf(err).reason}` })
      continue
    }
    if (entry.tillId !== tillId) {
      rejected.push({ source: c.source, reason: `entry for ${entry.tillId}, not ${tillId}` })
      continue
    }
    log.ingest(entry)
  }
  const report = log.verify((id, seq) => enrolment.keyFor(id, seq))
  for (const bad of report.invalid) rejected.push({ source: c.source, reason: `${bad.code}: ${bad.reason}` })
  for (const f of report.forks) rejected.push({ source: c.source, reason: `FORK: two signed entries at seq ${f.seq}` })
  if (report.stop !== null) rejected.push({ source: c.source, reason: `chain stops at seq ${report.stop.seq}: ${report.stop.code}: ${report.stop.reason}` })
  return { report, rejected }
}

/**
 * The longest verified chain among the copies. Ties go to the first source given, so the
 * caller lists sources in order of preference. Comparing the winner with what is already
 * known (HQ's held seq, the till's own head) is the caller's job: an old backup replayed
 * must not roll a till back.
 */
export function chooseChain (tillId: TillId, enrolment: Enrolment, candidates: LogCandidate[]): ChainChoice {
  const rejected: CandidateRejection[] = []
  const offered: Record<string, number> = {}
  let best: { entries: Entry[], from: string } | null = null
  for (const c of candidates) {
    const v = verifyCandidate(tillId, enrolment, c)
    rejected.push(...v.rejected)
    offered[c.source] = v.report.chain.length
    if (v.report.chain.length > 0 && (best === null || v.report.chain.length > best.entries.length)) best = { entries: v.report.chain, from: c.source }
  }
  const last = best?.entries[best.entries.length - 1]
  return {
    tillId,
    entries: best?.entries ?? [],
    head: last === undefined ? null : { seq: last.record.seq, hash: last.hash },
    from: best?.from ?? null,
    rejected,
    offered
  }
}

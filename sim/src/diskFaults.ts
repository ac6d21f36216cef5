/**
 * The diskFaults fault: HQ's and the tills' disks fail (node's FaultyKvStore around their
 * MemoryStores), and the run checks what must hold all the same:
 *
 *   - HQ's disk refuses every write for a stretch of the close wave (EIO or ENOSPC, drawn):
 *     its group commits fail, their entries are answered busy (no answer reaches the till,
 *     which resends on its backoff), none is folded. B4 (books equal the oracle's, to the cent)
 *     and B5 (no acknowledged entry lost) then say nothing acked was lost, nothing folded twice.
 *   - A till's disk refuses a sale's write now and then (the customer is told to wait: the
 *     same sale again a moment later is the simulator's real sale). D1: the refused sale changed
 *     nothing (number, drawer, day, log), and gave no receipt. Likewise a close, now and then
 *     (D1 too: the day stays open, the log as it was), then closed for real.
 *   - D2, at the end: every receipt a till printed is in its journal, and its journal holds
 *     no document it did not print (no refused sale came back as a ghost).
 *
 * HQ's store reopens before its first good write after a failure, as LevelStore does, and
 * what was in doubt (a failed batch LevelDB's log may yet replay) comes back then, or not,
 * on a coin from the seed; HQ writes a failed commit's entries again with its next commit and
 * folds them in that step (B5 then still finds its rebuilt books equal to those before a crash). The crash day's outage comes after HQ's
 * crash, so hqCrash's B5 compares books that no in-doubt batch is pending under. Tills do not
 * lose power in the simulator; their in-doubt writes are always lost here.
 */
import { FaultyKvStore, TillDiskError, TillNode, type MemoryStore } from '@tillbooks/node'
import type { TillId, BusinessDay } from '@tillbooks/protocol'
import type { Prng } from './Prng.ts'
import type { Scheduler } from './Scheduler.ts'

const HOUR_MS = 3_600_000
/** Chance a sale's write fails first (the same sale is made once the disk answers). */
const SALE_REFUSED_CHANCE = 0.08
/** Chance a close's write fails first. */
const CLOSE_REFUSED_CHANCE = 0.2
/** HQ's disk fails for this long, at most, once per business day (drawn from a quarter of it). */
const HQ_OUTAGE_MS_MAX = 3 * HOUR_MS

/** What a till looks like before a write its disk refused: the same after, or the refusal changed something. */
function stateOf (node: TillNode): string {
  const s = node.status()
  return JSON.stringify({ next: node.nextDocN, state: s.state, day: s.businessDay, drawer: s.drawerCashCents, head: s.headSeq, outbox: s.outbox })
}

export interface DiskFaultCounts {
  hqOutages: number
  hqBatchesFailed: number
  salesRefused: number
  closesRefused: number
}

export class SimDiskFaults {
  readonly hq: FaultyKvStore
  readonly #tills = new Map<TillId, FaultyKvStore>()
  readonly #scheduler: Scheduler
  /** D1's evidence: each refusal that changed something or was not a TillDiskError. */
  readonly violations: string[] = []
  readonly #counts: DiskFaultCounts = { hqOutages: 0, hqBatchesFailed: 0, salesRefused: 0, closesRefused: 0 }

  /** What happened: with HQ's failed batches that its log replayed at a reopen, and those it did not. */
  get counts (): DiskFaultCounts & { hqInDoubtKept: number, hqInDoubtLost: number } {
    return { ...this.#counts, hqInDoubtKept: this.hq.counters.inDoubtKept, hqInDoubtLost: this.hq.counters.inDoubtLost }
  }

  constructor (o: { scheduler: Scheduler, prng: Prng, hqKv: MemoryStore }) {
    this.#scheduler = o.scheduler
    const p = o.prng.fork('hq-disk')
    this.hq = new FaultyKvStore(o.hqKv, { random: () => p.u32() / 2 ** 32, reopensAfterFailure: true, inDoubtKeptChance: 0.5 })
  }

  /** The till's disk as its TillNode writes through it. */
  tillStore (tillId: TillId, kv: MemoryStore, prng: Prng): FaultyKvStore {
    const p = prng.fork(`till-disk:${tillId}`)
    const disk = new FaultyKvStore(kv, { random: () => p.u32() / 2 ** 32, inDoubtKeptChance: 0 })
    this.#tills.set(tillId, disk)
    return disk
  }

  /**
   * HQ's disk fails through a stretch of the day's close wave (from 20:00–20:20, or 21:30 on the day
   * HQ loses power, after it is back: a crash of its own is hqCrash's), healed before morning.
   */
  schedule (dayStartMs: number, p: Prng, opts: { hqCrashDay: boolean }): void {
    const from = dayStartMs + (opts.hqCrashDay ? 21.5 * HOUR_MS : 20 * HOUR_MS) + p.int(0, 20) * 60_000
    const until = from + p.int(HQ_OUTAGE_MS_MAX / 4, HQ_OUTAGE_MS_MAX)
    const code = p.chance(0.5) ? 'EIO' as const : 'ENOSPC' as const
    const failedBefore = { n: 0 }
    this.#scheduler.at(from, () => {
      this.#counts.hqOutages++
      failedBefore.n = this.hq.counters.failed
      this.hq.failUntilHealed({ code })
    })
    this.#scheduler.at(until, () => {
      this.hq.heal()
      this.#counts.hqBatchesFailed += this.hq.counters.failed - failedBefore.n
    })
  }

  /** Before a sale: now and then its write fails first; the till must refuse it and be as it was. */
  async beforeSale (t: { tillId: TillId, node: TillNode }, lines: Array<{ sku: string, qty: number }>, p: Prng): Promise<void> {
    if (!p.chance(SALE_REFUSED_CHANCE)) return
    const disk = this.#tills.get(t.tillId)
    if (disk === undefined) return
    const code = p.chance(0.5) ? 'EIO' as const : 'ENOSPC' as const
    // The till may be mid-sale (a card waiting on the processor): this customer waits their
    // turn, and the fault is aimed at this sale's own journal write, so no other write on the
    // disk (that sale's, the catalogue's, the pump's) takes it. No await from here to the sale.
    while (t.node.busy) await t.node.idle()
    const before = stateOf(t.node)
    disk.failNext(1, { code, syncOnly: true, key: TillNode.journalKey(t.node.nextDocN) })
    try {
      // Cash, exact: the sale's only write is its journal entry, the one that fails.
      const receipt = await t.node.sell({ lines })
      this.violations.push(`${t.tillId}: a sale on a failing disk was made (${receipt.docNo})`)
    } catch (err) {
      if (!(err instanceof TillDiskError)) this.violations.push(`${t.tillId}: a sale on a failing disk failed with ${String(err)}`)
    } finally {
      disk.heal()
    }
    this.#counts.salesRefused++
    const after = stateOf(t.node)
    if (after !== before) this.violations.push(`${t.tillId}: a refused sale changed the till: ${before} → ${after}`)
  }

  /** Before a close: now and then its write fails first; the day must stay open, the log as it was. */
  async beforeClose (t: { tillId: TillId, node: TillNode }, day: BusinessDay, p: Prng): Promise<void> {
    if (!p.chance(CLOSE_REFUSED_CHANCE)) return
    const disk = this.#tills.get(t.tillId)
    if (disk === undefined) return
    while (t.node.busy) await t.node.idle()
    const before = stateOf(t.node)
    disk.failNext(1, { code: 'EIO', syncOnly: true, key: TillNode.dayStateKey })
    try {
      await t.node.closeDay()
      this.violations.push(`${t.tillId}: a close of ${day} on a failing disk was made`)
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EIO') this.violations.push(`${t.tillId}: a close on a failing disk failed with ${String(err)}`)
    } finally {
      disk.heal()
    }
    this.#counts.closesRefused++
    const after = stateOf(t.node)
    if (after !== before) this.violations.push(`${t.tillId}: a refused close changed the till: ${before} → ${after}`)
  }

  /**
   * D2: each till's journal holds exactly the documents it printed (their numbers, `printed`):
   * none lost, none there that was refused. Tills replaced after a fire are left out (their
   * journals burned with them: their numbering is G1's).
   */
  async journalsMatch (tills: Iterable<{ tillId: TillId, node: TillNode, generation: number, burnt: boolean, docNs: number[] }>): Promise<string[]> {
    const out: string[] = []
    for (const t of tills) {
      if (t.burnt || t.generation !== 0) continue
      const printed = [...t.docNs].sort((a, b) => a - b)
      const journal = (await t.node.journal(1, t.node.nextDocN + 1)).map(d => d.n)
      if (JSON.stringify(printed) !== JSON.stringify(journal)) out.push(`${t.tillId}: printed ${printed.length} (${printed.slice(-3).join(',')}), journal ${journal.length} (${journal.slice(-3).join(',')})`)
    }
    return out
  }
}

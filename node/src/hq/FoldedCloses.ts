/**
 * An index of what HQ's folded Closes say beyond the books' sums, kept up to date incrementally:
 * per till, the entries folded since the last read (its folded prefix, from the books); a till
 * whose folded prefix shrank (a fork found below it) is read again from its start. One refresh
 * at a time, shared by whoever asks meanwhile, so no Close is ever counted twice. Each reader
 * keeps only the parts of a Close it needs (`pick`): reconciliation the card parts, members the
 * points per member and day.
 */
import { openEntry, type Close, type TillId } from '@tillbooks/protocol'
import { FOLDED_CLOSES_READS_AT_ONCE } from './constants.ts'
import type { HqNode } from './HqNode.ts'

export class FoldedCloses<T> {
  readonly #hq: HqNode
  readonly #pick: (c: Close, signer: Uint8Array) => T | null
  readonly #index = new Map<string, { seq: number, items: T[] }>()
  #refreshing: Promise<void> | null = null

  /** `pick`: what to keep of a folded Close, given the key that signed it (null: nothing). */
  constructor (hq: HqNode, pick: (c: Close, signer: Uint8Array) => T | null) {
    this.#hq = hq
    this.#pick = pick
  }

  /** What each till's folded Closes gave, in seq order, brought up to date first. */
  async read (): Promise<ReadonlyMap<string, { readonly items: readonly T[] }>> {
    this.#refreshing ??= this.#refresh().finally(() => { this.#refreshing = null })
    await this.#refreshing
    return this.#index
  }

  async #refresh (): Promise<void> {
    const due: Array<{ tillId: string, ix: { seq: number, items: T[] }, lastSeq: number }> = []
    for (const [tillId, t] of Object.entries(this.#hq.fleet())) {
      let ix = this.#index.get(tillId)
      if (ix !== undefined && ix.seq > t.lastSeq) ix = undefined
      if (ix === undefined) {
        ix = { seq: 0, items: [] }
        this.#index.set(tillId, ix)
      }
      if (ix.seq !== t.lastSeq) due.push({ tillId, ix, lastSeq: t.lastSeq })
    }
    // Several tills' logs read at once: each read waits on the store (after a start, on
    // LevelDB's cold tables: ~7 ms a till one after another, measured), not on this thread.
    for (let i = 0; i < due.length; i += FOLDED_CLOSES_READS_AT_ONCE) {
      await Promise.all(due.slice(i, i + FOLDED_CLOSES_READS_AT_ONCE).map(async ({ tillId, ix, lastSeq }) => {
        for (const bytes of await this.#hq.tillLogRange(tillId as TillId, ix.seq, lastSeq)) {
          // HQ's own log, verified when it came in: read, not verified again.
          const e = openEntry(bytes, { verify: false })
          const r = e.record
          if (r.kind !== 'close') continue
          const item = this.#pick(r, e.signer)
          if (item !== null) ix.items.push(item)
        }
        ix.seq = lastSeq
      }))
    }
  }
}

/**
 * Entries of each till counted by seq: those HQ has in flight, or keeps waiting for the
 * catalogue, neither in the books yet. The bound on what a till may have HQ hold (HqNode's
 * #heldRoom) counts them beside the books' held entries, and takes a seq one of them is at.
 */
import type { TillId } from '@tillbooks/protocol'

export class TillSeqs {
  readonly #tills = new Map<TillId, { count: number, seqs: Map<number, number> }>()

  add (tillId: TillId, seq: number): void {
    let t = this.#tills.get(tillId)
    if (t === undefined) this.#tills.set(tillId, t = { count: 0, seqs: new Map() })
    t.count++
    t.seqs.set(seq, (t.seqs.get(seq) ?? 0) + 1)
  }

  /** One added before leaves (throws if none was: a bug in the caller's bookkeeping). */
  remove (tillId: TillId, seq: number): void {
    const t = this.#tills.get(tillId)
    const n = t?.seqs.get(seq)
    if (t === undefined || n === undefined) throw new Error(`bug: ${tillId} seq ${seq} counted out, and it was not counted in`)
    if (n > 1) t.seqs.set(seq, n - 1)
    else t.seqs.delete(seq)
    if (--t.count === 0) this.#tills.delete(tillId)
  }

  count (tillId: TillId): number {
    return this.#tills.get(tillId)?.count ?? 0
  }

  has (tillId: TillId, seq: number): boolean {
    return this.#tills.get(tillId)?.seqs.has(seq) ?? false
  }

  clear (): void {
    this.#tills.clear()
  }
}

/**
 * One till's hash chain as HQ has seen it: which of its entries are folded into the books,
 * which are held back, and whether the till forked.
 *
 * The state is a function of the SET of distinct entries seen, not of the order they
 * arrived in. Over the set E of one till's entries:
 *
 *   forks  = { s : E has two or more distinct entries (by hash) at seq s }
 *   breaks = { s : E has exactly one entry at s and exactly one at s − 1 (seq 0 is the
 *                  genesis hash), and the one at s does not name the one at s − 1 as prevHash }
 *   halt   = min(forks ∪ breaks), or ∞ when the till never equivocated
 *   gap    = the least seq ≥ 1 with no entry
 *   folded = the entries at seqs 1 .. min(halt, gap) − 1        (a verified, linked prefix)
 *   held   = E − folded                       (pending behind a gap, or evidence after a halt)
 *
 * Maintained incrementally, in O(1) amortised per in-order entry. The incremental halt is
 * the minimum of every fork or break ever observed, and that equals the halt of the set:
 *  - every fork or break of the set is observed: a fork when its second entry arrives, a
 *    break when the later of its two entries arrives (both are unique then, as in the set);
 *  - an observed break at s can stop being a break of the set only if s or s − 1 later
 *    gains a second entry, which is a fork at a seq ≤ s: the minimum cannot be lowered by a
 *    candidate the set does not have.
 * Adding entries only ever lowers the halt and raises the gap. When the halt drops to or
 * below the folded prefix, the entries from the halt on are UN-folded (their effects are
 * subtracted; addition is commutative, so the result is exact) and kept as hash-only
 * evidence. Entries at or after the halt can never fold again, so nothing but their hash
 * is kept.
 *
 * Memory: a folded entry costs 32 bytes of packed hash plus its summary `S` (the caller
 * keeps that compact); the entry's bytes and decoded record are never retained.
 */
import { bytesEqual, fromHex, GENESIS_HASH, HASH_BYTES, invariant, toHex, type EntryHash, type TillId } from '@tillbooks/protocol'
import { HELD_ENTRIES_PER_TILL_MAX, TILL_HASHES_INITIAL } from './constants.ts'
import { HeldLimitError } from './errors.ts'
import { bug } from './bug.ts'

/**
 * What adding an entry did:
 * - `folded`: it joined the folded prefix (and so may have some held successors);
 * - `duplicate`: the same entry (by hash) was already there; nothing changed;
 * - `pending`: held until the entries before it arrive;
 * - `fork`: it is at or after a fork or chain break of its till, so it will never fold;
 *   if it revealed the fork, entries already folded from that seq on were un-folded.
 */
export type AddOutcome = 'folded' | 'duplicate' | 'pending' | 'fork'

/** Receives the effect of each entry as it joins or leaves the folded prefix. */
export interface ChainSink<S> {
  /** Entry `seq` joined the folded prefix: add its effect. */
  fold (summary: S, seq: number): void
  /** Entry `seq` left the folded prefix (a fork or break at or before it): subtract its effect. */
  unfold (summary: S, seq: number): void
}

/** Why a till stopped folding, at the first seq where it did. */
export interface ForkEvidence {
  tillId: TillId
  /** The halt: nothing at or after this seq is folded. */
  seq: number
  /** `fork`: two or more entries at `seq`. `chain`: the one entry at `seq` does not link to the one before. */
  reason: 'fork' | 'chain'
  /** The distinct entries at `seq`, by hash, sorted. */
  hashes: EntryHash[]
  /** For `chain`: the hash of the entry at seq − 1 (all zeros for genesis) that `hashes[0]` fails to name. */
  predecessorHash: EntryHash | null
}

export interface TillChainOptions<S = unknown> {
  heldEntriesMax?: number
  hashesInitial?: number
  /** Decodes a block of `count` summaries (see restoreFolded). */
  decode?: (bytes: Uint8Array, count: number) => S[]
}

interface Held<S> {
  hash: EntryHash
  prevHash: EntryHash
  /** Null once the entry can never fold (at or after the halt): no point keeping its effect. */
  summary: S | null
}

const GENESIS_HEX = toHex(GENESIS_HASH) as EntryHash

export class TillChain<S> {
  readonly tillId: TillId
  readonly #sink: ChainSink<S>
  readonly #heldMax: number
  #foldedSeq = 0
  /** Hashes of the folded entries, packed: seq s at [(s − 1) × 32, s × 32). */
  #hashes: Uint8Array
  /**
   * Summaries of the folded entries: seq s at index s − 1 − (the lazy block's count). A chain
   * restored from a checkpoint keeps its prefix's summaries as one encoded block, decoded the
   * first time one of them is asked for (a fork, an export): most never are.
   */
  #summaries: S[] = []
  #lazy: { bytes: Uint8Array, count: number } | null = null
  readonly #decode: ((bytes: Uint8Array, count: number) => S[]) | undefined
  /** Entries not folded, by seq, each list sorted by hash. Null while empty (most tills, most of the time). */
  #held: Map<number, Array<Held<S>>> | null = null
  #heldCount = 0
  #haltSeq = Number.POSITIVE_INFINITY

  constructor (tillId: TillId, sink: ChainSink<S>, opts: TillChainOptions<S> = {}) {
    this.tillId = tillId
    this.#sink = sink
    this.#heldMax = opts.heldEntriesMax ?? HELD_ENTRIES_PER_TILL_MAX
    invariant(Number.isSafeInteger(this.#heldMax) && this.#heldMax >= 1, 'heldEntriesMax must be a positive integer')
    this.#hashes = new Uint8Array(HASH_BYTES * Math.max(1, opts.hashesInitial ?? TILL_HASHES_INITIAL))
    this.#decode = opts.decode
  }

  /**
   * Start an empty chain as the folded prefix 1..count of a checkpoint: its packed hashes and
   * its summaries as one encoded block (decoded when first needed). The caller restores the
   * books' sums over them; nothing is folded through the sink here.
   */
  restoreFolded (hashes: Uint8Array, count: number, encoded: Uint8Array): void {
    invariant(this.#foldedSeq === 0 && this.#held === null && this.#summaries.length === 0 && this.#lazy === null, 'a chain is restored only when empty')
    invariant(hashes.length === count * HASH_BYTES, 'restoreFolded: one hash per entry')
    invariant(this.#decode !== undefined, 'restoreFolded needs a decode option')
    this.#hashes = new Uint8Array(HASH_BYTES * Math.max(count + 2, TILL_HASHES_INITIAL))
    this.#hashes.set(hashes)
    this.#foldedSeq = count
    this.#lazy = count > 0 ? { bytes: encoded, count } : null
  }

  /**
   * The folded prefix as a checkpoint keeps it: its packed hashes (a view) and its summaries
   * as one block — the restored block as it was, then the ones folded since, encoded.
   */
  foldedBlock (encode: (summaries: readonly S[]) => Uint8Array): { hashes: Uint8Array, summaries: Uint8Array } {
    const hashes = this.#hashes.subarray(0, this.#foldedSeq * HASH_BYTES)
    // Already one block (restored, or compacted, and nothing folded since): as it is.
    if (this.#lazy !== null && this.#summaries.length === 0) return { hashes, summaries: this.#lazy.bytes }
    const fresh = encode(this.#summaries)
    if (this.#lazy === null) return { hashes, summaries: fresh }
    const both = new Uint8Array(this.#lazy.bytes.length + fresh.length)
    both.set(this.#lazy.bytes)
    both.set(fresh, this.#lazy.bytes.length)
    return { hashes, summaries: both }
  }

  /** Keep the folded prefix's summaries as this block of them (what foldedBlock gave): frees their objects. */
  compactTo (encoded: Uint8Array): void {
    if (this.#decode === undefined || this.#foldedSeq === 0) return
    this.#lazy = { bytes: encoded, count: this.#foldedSeq }
    this.#summaries = []
  }

  /** Whether the entry (seq, hash) is in the encoded block this chain was restored or compacted to. */
  inBlock (seq: number, hashBytes: Uint8Array): boolean {
    return this.#lazy !== null && seq >= 1 && seq <= this.#lazy.count && this.#foldedHashEquals(seq, hashBytes)
  }

  /** The summary of folded `seq` (decoding the lazy block first if it holds it). */
  #summaryAt (seq: number): S | undefined {
    const lazy = this.#lazy
    if (lazy !== null) {
      if (seq > lazy.count) return this.#summaries[seq - 1 - lazy.count]
      this.decodeBlock()
    }
    return this.#summaries[seq - 1]
  }

  /** Decode the encoded block (if any) into summaries: what it names is read now, through the decode option. */
  decodeBlock (): void {
    const lazy = this.#lazy
    if (lazy === null) return
    const decoded = (this.#decode as (bytes: Uint8Array, count: number) => S[])(lazy.bytes, lazy.count)
    invariant(decoded.length === lazy.count, 'a block decodes to its count of summaries')
    this.#summaries = decoded.concat(this.#summaries)
    this.#lazy = null
  }

  /** Entries 1..foldedSeq are folded. */
  get foldedSeq (): number { return this.#foldedSeq }
  /** Entries held (pending or evidence), not folded. */
  get heldCount (): number { return this.#heldCount }
  /** The first seq of a fork or chain break, or null. */
  get haltSeq (): number | null { return Number.isFinite(this.#haltSeq) ? this.#haltSeq : null }
  get forked (): boolean { return Number.isFinite(this.#haltSeq) }

  /** Whether this exact entry (seq and hash) is already folded or held. O(1). */
  contains (seq: number, hash: EntryHash | null, hashBytes: Uint8Array): boolean {
    if (seq <= this.#foldedSeq) return this.#foldedHashEquals(seq, hashBytes)
    const list = this.#held?.get(seq)
    if (list === undefined) return false
    const hex = hash ?? toHex(hashBytes)
    return list.some(h => h.hash === hex)
  }

  /** How many entries are held (not folded) at `seq`. */
  heldAt (seq: number): number {
    return this.#held?.get(seq)?.length ?? 0
  }

  /**
   * Add an entry the chain does not contain (check `contains` first: a duplicate needs no
   * summary, and summarising costs). Throws HeldLimitError, changing nothing, if the entry
   * would be held and the till already holds heldEntriesMax.
   */
  add (seq: number, hash: EntryHash | null, hashBytes: Uint8Array, prevHash: Uint8Array, summary: S): Exclude<AddOutcome, 'duplicate'> {
    if (!(Number.isSafeInteger(seq) && seq >= 1)) bug(`seq must be a positive integer, is ${seq}`)
    invariant(hashBytes.length === HASH_BYTES && prevHash.length === HASH_BYTES, 'hashes are 32 bytes')
    if (this.contains(seq, hash, hashBytes)) bug(`entry ${hash ?? toHex(hashBytes)} at seq ${seq} is already in the chain`)
    const k = this.#foldedSeq

    if (seq <= k) {
      // A second, different entry at a folded seq: the till signed two histories.
      this.#checkRoom()
      this.#halt(seq)
      this.#hold(seq, { hash: hash ?? toHex(hashBytes) as EntryHash, prevHash: toHex(prevHash) as EntryHash, summary: null })
      return 'fork'
    }

    if (seq === k + 1 && seq < this.#haltSeq) {
      // The common case, the next entry in order: compare bytes, no hex, no held map.
      invariant(this.#held?.has(seq) !== true, 'an entry at foldedSeq + 1 below the halt would have been folded')
      if (!this.#linksTo(seq, prevHash)) {
        this.#checkRoom()
        this.#halt(seq)
        this.#hold(seq, { hash: hash ?? toHex(hashBytes) as EntryHash, prevHash: toHex(prevHash) as EntryHash, summary: null })
        return 'fork'
      }
      // The hash as text only if a held successor needs comparing (rarely: in order, none is held).
      if (this.#held?.has(seq + 1) === true) this.#checkSuccessor(seq, hash ?? toHex(hashBytes) as EntryHash)
      this.#appendFolded(hashBytes, summary)
      this.#sink.fold(summary, seq)
      this.#advance()
      return 'folded'
    }

    // Out of order, or at/after the halt.
    this.#checkRoom()
    hash ??= toHex(hashBytes) as EntryHash
    const prevHex = toHex(prevHash) as EntryHash
    const others = this.#held?.get(seq)?.length ?? 0
    const belowHalt = seq < this.#haltSeq
    this.#hold(seq, { hash, prevHash: prevHex, summary: belowHalt ? summary : null })
    if (belowHalt) {
      if (others > 0) {
        this.#halt(seq) // a fork among held entries
      } else {
        const predecessor = this.#uniqueHashAt(seq - 1)
        if (predecessor !== null && predecessor !== prevHex) this.#halt(seq)
        this.#checkSuccessor(seq, hash)
      }
      this.#advance()
    }
    return seq >= this.#haltSeq ? 'fork' : seq <= this.#foldedSeq ? 'folded' : 'pending'
  }

  /** The hash of folded entry `seq`. */
  foldedHash (seq: number): EntryHash {
    if (!(seq >= 1 && seq <= this.#foldedSeq)) bug(`seq ${seq} is not folded`)
    return toHex(this.#hashes.subarray((seq - 1) * HASH_BYTES, seq * HASH_BYTES)) as EntryHash
  }

  /** The summary of folded entry `seq`. */
  foldedSummary (seq: number): S {
    const s = seq >= 1 && seq <= this.#foldedSeq ? this.#summaryAt(seq) : undefined
    if (s === undefined) bug(`seq ${seq} is not folded`)
    return s
  }

  /**
   * The summary this chain keeps for the entry (seq, hash), or null: not in the chain, or
   * held at or after the halt (only its hash is kept there).
   */
  summaryOf (seq: number, hashBytes: Uint8Array, hash: EntryHash): S | null {
    if (seq >= 1 && seq <= this.#foldedSeq) return this.#foldedHashEquals(seq, hashBytes) ? (this.#summaryAt(seq) ?? null) : null
    return this.#held?.get(seq)?.find(h => h.hash === hash)?.summary ?? null
  }

  /** The prevHash the entry (seq, hash) named, if the chain holds it (folded: its predecessor's hash). */
  prevHashOf (seq: number, hashBytes: Uint8Array): Uint8Array | null {
    if (seq >= 1 && seq <= this.#foldedSeq) {
      if (!this.#foldedHashEquals(seq, hashBytes)) return null
      return seq === 1 ? GENESIS_HASH : this.#hashes.slice((seq - 2) * HASH_BYTES, (seq - 1) * HASH_BYTES)
    }
    const hex = toHex(hashBytes)
    const h = this.#held?.get(seq)?.find(x => x.hash === hex)
    return h === undefined ? null : fromHex(h.prevHash)
  }

  /**
   * Every entry of the chain, folded ones first in seq order, then held ones: its seq,
   * hash, the prevHash it names, and its summary (null where only the hash is kept). What a
   * checkpoint keeps; adding them all to an empty chain gives this chain again.
   */
  * entries (): Generator<{ seq: number, hash: Uint8Array, prevHash: Uint8Array, summary: S | null }> {
    for (let seq = 1; seq <= this.#foldedSeq; seq++) {
      yield {
        seq,
        hash: this.#hashes.subarray((seq - 1) * HASH_BYTES, seq * HASH_BYTES),
        prevHash: seq === 1 ? GENESIS_HASH : this.#hashes.subarray((seq - 2) * HASH_BYTES, (seq - 1) * HASH_BYTES),
        summary: this.#summaryAt(seq) ?? bug(`no summary at folded seq ${seq}`)
      }
    }
    yield * this.held()
  }

  /** The held entries (pending, or at and after a fork), by seq: as `entries` gives them. */
  * held (): Generator<{ seq: number, hash: Uint8Array, prevHash: Uint8Array, summary: S | null }> {
    if (this.#held === null) return
    for (const [seq, list] of [...this.#held].sort((a, b) => a[0] - b[0])) {
      for (const h of list) yield { seq, hash: fromHex(h.hash), prevHash: fromHex(h.prevHash), summary: h.summary }
    }
  }

  /** Why the till stopped folding, or null if it never did. A function of the set of entries. */
  evidence (): ForkEvidence | null {
    if (!Number.isFinite(this.#haltSeq)) return null
    const seq = this.#haltSeq
    const list = this.#held?.get(seq)
    // Whatever set the halt left at least one entry at it, and nothing at or after the
    // halt is folded, so they are all held.
    if (list === undefined || list.length < 1) bug(`no entry held at the halt ${seq}`)
    const hashes = list.map(h => h.hash)
    if (list.length >= 2) return { tillId: this.tillId, seq, reason: 'fork', hashes, predecessorHash: null }
    const predecessorHash = this.#uniqueHashAt(seq - 1)
    if (!(predecessorHash !== null && predecessorHash !== list[0]?.prevHash)) bug(`halt ${seq} is neither a fork nor a break`)
    return { tillId: this.tillId, seq, reason: 'chain', hashes, predecessorHash }
  }

  // -------------------------------------------------------------------------------------

  #checkRoom (): void {
    if (this.#heldCount >= this.#heldMax) {
      throw new HeldLimitError(`till ${this.tillId} already holds ${this.#heldCount} unfolded entries (limit ${this.#heldMax})`)
    }
  }

  /** A held, unique entry at seq + 1 that does not name this entry is a break at seq + 1. */
  #checkSuccessor (seq: number, hash: EntryHash): void {
    const next = this.#held?.get(seq + 1)
    if (next !== undefined && next.length === 1 && next[0]?.prevHash !== hash) this.#halt(seq + 1)
  }

  /** Whether prevHash names the folded entry (or genesis) at seq − 1. */
  #linksTo (seq: number, prevHash: Uint8Array): boolean {
    if (seq === 1) return bytesEqual(prevHash, GENESIS_HASH)
    return this.#foldedHashEquals(seq - 1, prevHash)
  }

  #foldedHashEquals (seq: number, hashBytes: Uint8Array): boolean {
    const at = (seq - 1) * HASH_BYTES
    for (let i = 0; i < HASH_BYTES; i++) if (this.#hashes[at + i] !== hashBytes[i]) return false
    return true
  }

  /** The hash of the only entry at `seq` (genesis for 0), or null if none or several. */
  #uniqueHashAt (seq: number): EntryHash | null {
    if (seq === 0) return GENESIS_HEX
    if (seq <= this.#foldedSeq) return this.foldedHash(seq)
    const list = this.#held?.get(seq)
    return list !== undefined && list.length === 1 ? (list[0]?.hash ?? null) : null
  }

  #hold (seq: number, held: Held<S>): void {
    this.#held ??= new Map()
    const list = this.#held.get(seq)
    if (list === undefined) {
      this.#held.set(seq, [held])
    } else {
      // Sorted by hash, so evidence lists the same way whatever the arrival order.
      let i = 0
      while (i < list.length && (list[i]?.hash ?? '') < held.hash) i++
      list.splice(i, 0, held)
    }
    this.#heldCount++
  }

  #appendFolded (hashBytes: Uint8Array, summary: S): void {
    const seq = this.#foldedSeq + 1
    if (seq * HASH_BYTES > this.#hashes.length) {
      const grown = new Uint8Array(this.#hashes.length * 2)
      grown.set(this.#hashes)
      this.#hashes = grown
    }
    this.#hashes.set(hashBytes, (seq - 1) * HASH_BYTES)
    this.#summaries.push(summary)
    this.#foldedSeq = seq
  }

  /** Lower the halt to `seq` (if lower), un-folding what must be and dropping dead summaries. */
  #halt (seq: number): void {
    if (seq >= this.#haltSeq) return
    this.#haltSeq = seq
    if (this.#foldedSeq >= seq) this.#unfoldFrom(seq)
    // The halt only ever decreases, so entries at or after it can never fold: free their effects.
    if (this.#held !== null) {
      for (const [s, list] of this.#held) if (s >= seq) for (const h of list) h.summary = null
    }
  }

  /** Move folded entries seq..foldedSeq back to held (hash only), subtracting their effects. */
  #unfoldFrom (seq: number): void {
    for (let s = this.#foldedSeq; s >= seq; s--) {
      this.#sink.unfold(this.foldedSummary(s), s)
      const prevHash = this.#uniqueHashAt(s - 1)
      invariant(prevHash !== null, 'a folded entry has a unique predecessor')
      this.#hold(s, { hash: this.foldedHash(s), prevHash, summary: null })
    }
    // Every summary from `seq` on was read above: a lazy block holding any of them is decoded.
    this.#summaries.length = seq - 1 - (this.#lazy?.count ?? 0)
    this.#foldedSeq = seq - 1
  }

  /** Fold held entries while the next seq is present and below the halt. */
  #advance (): void {
    while (this.#held !== null && this.#foldedSeq + 1 < this.#haltSeq) {
      const seq = this.#foldedSeq + 1
      const list = this.#held.get(seq)
      if (list === undefined) break
      const h = list[0]
      // Two entries at seq would be a fork, so the halt would be ≤ seq.
      if (!(list.length === 1 && h !== undefined && h.summary !== null)) bug(`held entry at ${seq} cannot fold`)
      // Pair check: its link to the predecessor was verified when the later of the two
      // arrived (a mismatch would have halted here); check again before it counts.
      if (h.prevHash !== this.#uniqueHashAt(seq - 1)) bug(`held entry at ${seq} does not link`)
      this.#held.delete(seq)
      this.#heldCount--
      this.#appendFolded(fromHex(h.hash), h.summary)
      this.#sink.fold(h.summary, seq)
    }
    if (this.#held !== null && this.#held.size === 0) this.#held = null
  }
}

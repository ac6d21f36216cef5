/**
 * The settled lines HQ holds, on disk: what its settlement files say, line by line, kept beside
 * the files so that neither a start nor a reconciliation reads them again, and HQ's memory holds
 * per file only its sums and per till only the totals of its settled lines, whatever a year of
 * card payments at thousands of tills comes to.
 *
 * Written with the file, in its one fsync'd batch (so always as the log has it):
 * - `t!l!<processor>\0<key>`: each distinct line (key: lineKeys), once whichever files hold it:
 *   what the books make of it (the file that carries it in the journal, its kind and amounts:
 *   ledger's HeldLine) and what reconciliation matches (the line of the file that says it first:
 *   the smallest id, a chargeback over anything else, as HqSettlements always took it);
 * - `t!p!<processor>\0<ref>`: each distinct payout, with the file that carries it;
 * - `t!f!<file id>`: each file's kind and size, and what the journal says of it (its sums);
 * - `t!t!<processor>\0<till>\0<key>`: the lines of each till (their payment ids name it), and
 *   `t!a!<processor>\0<till>`: their count, amount and set hash (paymentSet.ts), so a
 *   reconciliation reads a till's lines only when its Closes' totals disagree with them;
 * - `t!x!<processor>\0<key>`: the rest (fees, chargebacks, lines naming no till's payment);
 * - `t!b!<processor>\0<day>\0<till>`: what the till's totals moved by on that day, below zero
 *   where lines left it (each line keeps the day of its earliest file, and of its earliest
 *   that calls it a chargeback: from then on it is not the till's), so a reconciliation
 *   through a day before the processor's last file (a bank statement that came after the next
 *   day's report) takes from each till's totals what moved after it, and reads no file;
 * - `t!v!<processor>`: present once two files have named one line (one key) otherwise than as
 *   a chargeback of the other (another payment, gross or fee, a fee and not): what the file of
 *   an earlier day said of it is not kept, so through an earlier day the files are read;
 * - `t!n`: how many files these records are made from (absent: a log written before them),
 *   and `t!V`: their format (another, or none: made again).
 * A start reads the sums and totals back (`restore`); a log without them, or `--rebuild full`,
 * makes them again from the files (`rederive`).
 */
import type { Books, HeldLine, HeldPayout, PreparedSettlement, SettledLine, SettlementFileSums } from '@tillbooks/ledger'
import type { ImportedFile, SettlementLine } from '@tillbooks/payments'
import { addPaymentSets, canonicalDecode, canonicalEncode, PAYMENT_SET_EMPTY, paymentHash, subtractPaymentSets, type Canonical } from '@tillbooks/protocol'
import { getMany, prefixEnd, scanBatches, type KvOp, type KvStore } from '../storage/KvStore.ts'
import { SETTLEMENT_PREFIX } from './keys.ts'
import { settlementOf } from './settlement.ts'

const LINE_PREFIX = 't!l!'
const PAYOUT_PREFIX = 't!p!'
const FILE_PREFIX = 't!f!'
const TILL_LINE_PREFIX = 't!t!'
const TILL_TOTALS_PREFIX = 't!a!'
const LOOSE_PREFIX = 't!x!'
const DAY_TOTALS_PREFIX = 't!b!'
const VARIES_PREFIX = 't!v!'
const FILES_KEY = 't!n'
const FORMAT_KEY = 't!V'
/** The records' format: 2 since each line keeps its first day (with `t!b!` and `t!v!`). */
const FORMAT = 2
/** Everything this module writes: `rederive` clears it. */
const ALL_PREFIX = 't!'
/** Keys looked up (or deleted) at once. */
const LOOKUP_BATCH = 4_096
const SCAN_BATCH = 1_024

/** A payment id names its till: `<till>-<key8>-P<n>` (a reversal `…-V`). */
const PAYMENT_ID_RE = /^(.+)-[0-9a-f]{8}-P\d+(?:-V)?$/

export function tillOfPayment (paymentId: string): string | null {
  return PAYMENT_ID_RE.exec(paymentId)?.[1] ?? null
}

/** The till whose Closes a settled line answers to (null: a fee, a chargeback, or no till's payment). */
export function tillOfLine (l: SettlementLine): string | null {
  return l.type === 'Chargeback' ? null : tillOfDays(l)
}

/** A till's settled lines of one processor, in total. */
export interface TillSettled {
  count: number
  amountCents: number
  /** The set hash of the lines' payments (paymentHash of each payment id and gross). */
  setHash: Uint8Array
}

export const TILL_SETTLED_NONE: TillSettled = Object.freeze({ count: 0, amountCents: 0, setHash: PAYMENT_SET_EMPTY })

/** A settlement file HQ holds, without its lines. */
export interface SettlementFileMeta {
  id: string
  processor: string
  kind: ImportedFile['kind']
  day: string
  lines: number
  payouts: number
}

/**
 * One distinct line as kept: the books' view, the line reconciliation matches (from file
 * `from`), the day of the earliest file holding it and of the earliest calling it a chargeback.
 */
interface StoredLine { held: HeldLine, line: SettlementLine, from: string, firstDay: string, chargebackDay: string | null }

function lineKey (processor: string, key: string): string { return `${LINE_PREFIX}${processor}\u0000${key}` }
function payoutKey (processor: string, ref: string): string { return `${PAYOUT_PREFIX}${processor}\u0000${ref}` }
function tillLineKey (processor: string, till: string, key: string): string { return `${TILL_LINE_PREFIX}${processor}\u0000${till}\u0000${key}` }
function tillTotalsKey (processor: string, till: string): string { return `${TILL_TOTALS_PREFIX}${processor}\u0000${till}` }
function looseKey (processor: string, key: string): string { return `${LOOSE_PREFIX}${processor}\u0000${key}` }
function dayTotalsKey (processor: string, day: string, till: string): string { return `${DAY_TOTALS_PREFIX}${processor}\u0000${day}\u0000${till}` }

/**
 * What reconciliation reads of a line but whether it is a chargeback (a fee or not; its
 * payment, gross and fee), so what two files must say alike of one key for the record of one,
 * and the day the other first called it a chargeback, to stand for both.
 */
function tupleOf (l: SettlementLine): string {
  return `${l.type === 'Fee' || l.paymentId === null ? 'fee' : 'line'}\u0000${l.paymentId ?? ''}\u0000${l.grossCents}\u0000${l.feeCents}`
}

/** The till whose totals a line is in on the days it is not a chargeback (null: a fee, or no till's payment). */
function tillOfDays (l: SettlementLine): string | null {
  return l.paymentId === null || l.type === 'Fee' ? null : tillOfPayment(l.paymentId)
}

const earlier = (a: string | null, b: string): string => a === null || b < a ? b : a

/**
 * A line's record: a JSON array of its fields, in this order (a million a day: canonical CBOR
 * took ~47 µs a line to encode, this a few; these records are HQ's own, made again from the
 * files by `rederive`, never signed nor sent).
 */
type LineFields = [file: string, kind: SettledLine['kind'], gross: number, fee: number, net: number, from: string,
  line: number, type: SettlementLine['type'], ref: string, payment: string | null, method: string, day: string, lineGross: number, lineFee: number, lineNet: number, batch: string, payout: string,
  firstDay: string, chargebackDay: string | null]

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

function encodeLine (s: StoredLine): Uint8Array {
  const h = s.held.line
  const l = s.line
  const fields: LineFields = [s.held.file, h.kind, h.grossCents, h.feeCents, h.netCents, s.from,
    l.line, l.type, l.processorRef, l.paymentId, l.paymentMethod, l.bookingDay, l.grossCents, l.feeCents, l.netCents, l.batch, l.payoutId, s.firstDay, s.chargebackDay]
  return utf8.encode(JSON.stringify(fields))
}

function decodeLine (processor: string, key: string, bytes: Uint8Array): StoredLine {
  const f = JSON.parse(fromUtf8.decode(bytes)) as LineFields
  if (!Array.isArray(f) || f.length !== 19) throw new Error(`HQ log corrupt: settled line ${key} is not a line record`)
  return {
    held: { file: f[0], processor, line: { ref: key, kind: f[1], grossCents: f[2], feeCents: f[3], netCents: f[4] } },
    from: f[5],
    firstDay: f[17],
    chargebackDay: f[18],
    line: { line: f[6], type: f[7], processorRef: f[8], paymentId: f[9], paymentMethod: f[10], bookingDay: f[11], grossCents: f[12], feeCents: f[13], netCents: f[14], batch: f[15], payoutId: f[16] }
  }
}

function encodeTotals (t: TillSettled): Uint8Array {
  return canonicalEncode({ count: t.count, amount: t.amountCents, hash: t.setHash })
}

function decodeTotals (bytes: Uint8Array): TillSettled {
  const o = canonicalDecode(bytes) as unknown as { count: number, amount: number, hash: Uint8Array }
  return { count: o.count, amountCents: o.amount, setHash: o.hash }
}

function encodeFile (meta: SettlementFileMeta, sums: SettlementFileSums): Uint8Array {
  return canonicalEncode({ kind: meta.kind, lines: meta.lines, payouts: meta.payouts, sums: { processor: sums.processor, day: sums.day, lines: sums.lines, payouts: sums.payouts, sums: sums.sums } } as unknown as Canonical)
}

function decodeFile (id: string, bytes: Uint8Array): { meta: SettlementFileMeta, sums: SettlementFileSums } {
  const o = canonicalDecode(bytes) as unknown as { kind: ImportedFile['kind'], lines: number, payouts: number, sums: SettlementFileSums }
  return { meta: { id, processor: o.sums.processor, kind: o.kind, day: o.sums.day, lines: o.lines, payouts: o.payouts }, sums: o.sums }
}

/** A file planned: the books' plan, and everything to write with the file; `commit` once it is durable. */
export interface PlannedSettlement {
  prepared: PreparedSettlement
  ops: KvOp[]
  commit: () => void
}

export class SettledLines {
  readonly #store: KvStore
  readonly #books: () => Books
  readonly #files = new Map<string, SettlementFileMeta>()
  /** Per processor, per till: the totals of its settled lines. */
  readonly #tills = new Map<string, Map<string, TillSettled>>()
  /** Processors two of whose files named one line differently (`t!v!`). */
  readonly #varies = new Set<string>()
  #held = 0
  #generation = 0
  #writing = false

  constructor (store: KvStore, books: () => Books) {
    this.#store = store
    this.#books = books
  }

  /** The files held, by id (their lines stay on disk). */
  get files (): ReadonlyMap<string, SettlementFileMeta> { return this.#files }

  /** Distinct settled lines and payouts held. */
  get held (): number { return this.#held }

  /**
   * Files committed (or whose write failed, so in doubt) since this start: a reader that awaited
   * between reads knows whether the records on disk may have changed meanwhile.
   */
  get generation (): number { return this.#generation }

  /**
   * A file's write begins: what is on disk moves before what is in memory (at `commit`), so a
   * reader that read across it, or began during it, reads again.
   */
  writing (): void {
    this.#writing = true
    this.#generation++
  }

  /** A file is being written (`writing`), not yet committed nor found in doubt: what a reader reads now may mix before and after. */
  get isWriting (): boolean { return this.#writing }

  /** A file's write failed: the store may yet replay it onto disk, under readers. */
  inDoubt (): void {
    this.#writing = false
    this.#generation++
  }

  /** Per till, the totals of its settled lines of `processor`. */
  tills (processor: string): ReadonlyMap<string, TillSettled> {
    return this.#tills.get(processor) ?? new Map()
  }

  /**
   * Whether two files of `processor` named one line with another payment or as another class
   * of line: then what the files through an earlier day say is not in these records (the files
   * are read for it).
   */
  varies (processor: string): boolean { return this.#varies.has(processor) }

  /**
   * Per till, the totals of its settled lines of `processor` in files of days through `day`:
   * its totals less those of its lines first settled after that day (`t!b!`, read from disk:
   * the days after `day` only). Not exact when `varies`.
   */
  async tillsThrough (processor: string, day: string): Promise<Map<string, TillSettled>> {
    const out = new Map(this.tills(processor))
    // Every key of a later day sorts after `day` followed by U+0001 (a key of `day` itself has U+0000 there).
    const prefix = `${DAY_TOTALS_PREFIX}${processor}\u0000`
    for await (const batch of scanBatches(this.#store, { gte: `${prefix}${day}\u0001`, lt: prefixEnd(prefix) }, SCAN_BATCH)) {
      for (const [k, v] of batch) {
        const till = k.slice(k.lastIndexOf('\u0000') + 1)
        const later = decodeTotals(v)
        // A till may have none in all and some through the day (all of them called chargebacks
        // since); and a day's move may be below zero: the sums are checked once all are taken.
        const t = out.get(till) ?? TILL_SETTLED_NONE
        out.set(till, { count: t.count - later.count, amountCents: t.amountCents - later.amountCents, setHash: subtractPaymentSets(t.setHash, later.setHash) })
      }
    }
    for (const [till, t] of out) {
      if (t.count < 0 || (t.count === 0 && (t.amountCents !== 0 || !Buffer.from(t.setHash).equals(Buffer.from(PAYMENT_SET_EMPTY))))) throw new Error(`HQ log corrupt: the settled lines of ${till} through ${day} come to ${t.count}`)
      if (t.count === 0) out.delete(till)
    }
    return out
  }

  /** A till's settled lines of `processor`, read from disk. */
  async linesOf (processor: string, till: string): Promise<SettlementLine[]> {
    return (await this.#indexed(processor, `${TILL_LINE_PREFIX}${processor}\u0000${till}\u0000`)).map(s => s.line)
  }

  /** The lines of `processor` no till's Closes answer to (fees, chargebacks, strangers), read from disk. */
  async looseLines (processor: string): Promise<SettlementLine[]> {
    return (await this.#indexed(processor, `${LOOSE_PREFIX}${processor}\u0000`)).map(s => s.line)
  }

  /**
   * The settled lines of `processor` in its files of days through `day`, as `linesOf` and
   * `looseLines` give them for all (not exact when `varies`): a line first settled after that
   * day is not there; one a later file called a chargeback was, through that day, the
   * payment's line it was before (a chargeback's own fields, as the books hold it, but its type).
   */
  async through (processor: string, day: string): Promise<{ linesOf: (till: string) => Promise<SettlementLine[]>, loose: SettlementLine[] }> {
    const loose: SettlementLine[] = []
    const back = new Map<string, SettlementLine[]>()
    for (const s of await this.#indexed(processor, `${LOOSE_PREFIX}${processor}\u0000`)) {
      if (s.firstDay > day) continue
      const till = tillOfDays(s.line)
      if (s.chargebackDay === null || s.chargebackDay <= day || till === null) {
        loose.push(s.chargebackDay !== null && s.chargebackDay > day ? { ...s.line, type: 'Refunded' } : s.line)
        continue
      }
      const list = back.get(till)
      const line: SettlementLine = { ...s.line, type: 'Refunded' }
      if (list === undefined) back.set(till, [line])
      else list.push(line)
    }
    return {
      loose,
      linesOf: async till => {
        const out: SettlementLine[] = []
        for (const s of await this.#indexed(processor, `${TILL_LINE_PREFIX}${processor}\u0000${till}\u0000`)) if (s.firstDay <= day) out.push(s.line)
        for (const l of back.get(till) ?? []) out.push(l)
        return out
      }
    }
  }

  /** The lines an index names under `prefix` (its keys end with the line's key). */
  async #indexed (processor: string, prefix: string): Promise<StoredLine[]> {
    const keys: string[] = []
    for await (const batch of scanBatches(this.#store, { gte: prefix, lt: prefixEnd(prefix) }, SCAN_BATCH)) for (const [k] of batch) keys.push(k.slice(prefix.length))
    return (await this.#lines(processor, keys)).map(s => {
      if (s === undefined) throw new Error(`HQ log corrupt: an index under ${prefix.slice(0, 4)} names a line that is not held`)
      return s
    })
  }

  async #lines (processor: string, keys: readonly string[]): Promise<Array<StoredLine | undefined>> {
    const out: Array<StoredLine | undefined> = []
    for (let i = 0; i < keys.length; i += LOOKUP_BATCH) {
      const chunk = keys.slice(i, i + LOOKUP_BATCH)
      const got = await getMany(this.#store, chunk.map(k => lineKey(processor, k)))
      got.forEach((b, j) => out.push(b === undefined ? undefined : decodeLine(processor, chunk[j] as string, b)))
    }
    return out
  }

  async #payouts (processor: string, refs: readonly string[]): Promise<Array<HeldPayout | undefined>> {
    const out: Array<HeldPayout | undefined> = []
    for (let i = 0; i < refs.length; i += LOOKUP_BATCH) {
      const chunk = refs.slice(i, i + LOOKUP_BATCH)
      const got = await getMany(this.#store, chunk.map(r => payoutKey(processor, r)))
      got.forEach((b, j) => {
        if (b === undefined) { out.push(undefined); return }
        const o = canonicalDecode(b) as unknown as { file: string, amount: number }
        out.push({ file: o.file, processor, payout: { ref: chunk[j] as string, amountCents: o.amount } })
      })
    }
    return out
  }

  /**
   * Plan a file for `processor` against what is held: the books' plan (throws as
   * Books.prepareSettlement does: a conflict, nothing changed) and what to write with it.
   * 'duplicate': the books hold it. Plans are made and committed one at a time (HqNode's turn).
   */
  async plan (file: ImportedFile, processor: string): Promise<PlannedSettlement | 'duplicate'> {
    const books = this.#books()
    const settlement = settlementOf(file, processor)
    if (books.settlementFile(file.id) !== undefined) return 'duplicate'
    const keys = settlement.lines.map(l => l.ref)
    const stored = await this.#lines(processor, keys)
    const payoutRefs = settlement.payouts.map(p => p.ref)
    const storedPayouts = await this.#payouts(processor, payoutRefs)
    const known = {
      lines: new Map<string, HeldLine>(),
      payouts: new Map<string, HeldPayout>()
    }
    stored.forEach((s, i) => { if (s !== undefined) known.lines.set(`${processor}\u0000${keys[i] as string}`, s.held) })
    storedPayouts.forEach((p, i) => { if (p !== undefined) known.payouts.set(`${processor}\u0000${payoutRefs[i] as string}`, p) })
    const prepared = books.prepareSettlement(settlement, known)
    if (prepared === 'duplicate') return 'duplicate'
    const ops: KvOp[] = []
    const heldNow = new Map(prepared.lines.map(([k, h]) => [k, h]))
    // Per till touched: its totals as they will be.
    const tills = new Map<string, TillSettled>()
    const totalsOf = (till: string): TillSettled => tills.get(till) ?? this.tills(processor).get(till) ?? TILL_SETTLED_NONE
    // Totals with a line (its payment's hash `h`) added or taken out.
    const moved = (t: TillSettled, l: SettlementLine, h: Uint8Array, sign: 1 | -1): TillSettled =>
      ({ count: t.count + sign, amountCents: t.amountCents + sign * l.grossCents, setHash: sign === 1 ? addPaymentSets(t.setHash, h) : subtractPaymentSets(t.setHash, h) })
    const count = (l: SettlementLine, h: Uint8Array, sign: 1 | -1): void => {
      const till = tillOfLine(l)
      if (till !== null) tills.set(till, moved(totalsOf(till), l, h, sign))
    }
    // Per till and first day touched: what the file moves of its totals (`t!b!`), added to the disk's after.
    const dayDeltas = new Map<string, TillSettled>()
    const moveDay = (till: string, l: SettlementLine, h: Uint8Array, day: string, sign: 1 | -1): void => {
      const k = dayTotalsKey(processor, day, till)
      dayDeltas.set(k, moved(dayDeltas.get(k) ?? TILL_SETTLED_NONE, l, h, sign))
    }
    // A line is its till's from its first day, and no more from the day a file calls it a chargeback.
    const moveDays = (s: { line: SettlementLine, firstDay: string, chargebackDay: string | null }, h: Uint8Array, sign: 1 | -1): void => {
      const till = tillOfDays(s.line)
      if (till === null) return
      moveDay(till, s.line, h, s.firstDay, sign)
      if (s.chargebackDay !== null) moveDay(till, s.line, h, s.chargebackDay, sign === 1 ? -1 : 1)
    }
    let varies = false
    for (const [i, l] of file.lines.entries()) {
      // A file of a million lines is planned in turns: tills' entries are taken and acked meanwhile.
      if (i % LOOKUP_BATCH === LOOKUP_BATCH - 1) await new Promise(resolve => setImmediate(resolve))
      const key = keys[i] as string
      const old = stored[i]
      const held = heldNow.get(`${processor}\u0000${key}`) ?? old?.held
      if (held === undefined) throw new Error(`bug: line ${key} of ${file.id.slice(0, 16)} neither held nor planned`)
      // The line reconciliation matches: the smallest id's, a chargeback over anything else.
      const takes = old === undefined ||
        (l.type === 'Chargeback' ? old.line.type !== 'Chargeback' || file.id < old.from : old.line.type !== 'Chargeback' && file.id < old.from)
      const line = takes ? l : old.line
      const firstDay = earlier(old?.firstDay ?? null, file.day)
      const chargebackDay = l.type === 'Chargeback' ? earlier(old?.chargebackDay ?? null, file.day) : old?.chargebackDay ?? null
      if (old !== undefined && tupleOf(old.line) !== tupleOf(l)) varies = true
      if (!takes && held === old.held && firstDay === old.firstDay && chargebackDay === old.chargebackDay) continue
      const now = { held, line, from: takes ? file.id : old.from, firstDay, chargebackDay }
      ops.push({ type: 'put', key: lineKey(processor, key), value: encodeLine(now) })
      // Its days move when it is new, another file's line, or its first or chargeback day is
      // earlier now (else only its `held` changed: nothing more to count, nothing to hash).
      if (old !== undefined && !takes && firstDay === old.firstDay && chargebackDay === old.chargebackDay) continue
      // Each payment hashed once: what it moves of the days and of its till's totals.
      const oldHash = old === undefined ? null : paymentHash(old.line.paymentId ?? '', old.line.grossCents)
      const hash = takes || oldHash === null ? paymentHash(line.paymentId ?? '', line.grossCents) : oldHash
      if (old !== undefined) moveDays(old, oldHash as Uint8Array, -1)
      moveDays(now, hash, 1)
      if (!takes) continue
      if (old !== undefined) {
        const was = tillOfLine(old.line)
        if (was === null) ops.push({ type: 'del', key: looseKey(processor, key) })
        else ops.push({ type: 'del', key: tillLineKey(processor, was, key) })
        count(old.line, oldHash as Uint8Array, -1)
      }
      const till = tillOfLine(line)
      ops.push({ type: 'put', key: till === null ? looseKey(processor, key) : tillLineKey(processor, till, key), value: new Uint8Array(0) })
      count(line, hash, 1)
    }
    for (const [k, p] of prepared.payouts) ops.push({ type: 'put', key: payoutKey(processor, k.slice(k.indexOf('\u0000') + 1)), value: canonicalEncode({ file: p.file, amount: p.payout.amountCents }) })
    const meta: SettlementFileMeta = { id: file.id, processor, kind: file.kind, day: file.day, lines: file.lines.length, payouts: file.payouts.length }
    for (const [id, sums] of prepared.files) {
      const m = id === file.id ? meta : this.#files.get(id)
      if (m === undefined) throw new Error(`bug: the books carry lines in file ${id.slice(0, 16)}, which HQ does not hold`)
      ops.push({ type: 'put', key: `${FILE_PREFIX}${id}`, value: encodeFile(m, sums) })
    }
    // A till left with no settled line has no totals, on disk as in memory (`commit`).
    for (const [till, t] of tills) ops.push(t.count === 0 ? { type: 'del', key: tillTotalsKey(processor, till) } : { type: 'put', key: tillTotalsKey(processor, till), value: encodeTotals(t) })
    // A record rewritten without moving its days (another file's version of it) moves nothing.
    const dayKeys = [...dayDeltas].filter(([, d]) => d.count !== 0 || d.amountCents !== 0 || !Buffer.from(d.setHash).equals(Buffer.from(PAYMENT_SET_EMPTY))).map(([k]) => k)
    for (let i = 0; i < dayKeys.length; i += LOOKUP_BATCH) {
      const chunk = dayKeys.slice(i, i + LOOKUP_BATCH)
      const had = await getMany(this.#store, chunk)
      chunk.forEach((k, j) => {
        const b = had[j]
        const t = b === undefined ? TILL_SETTLED_NONE : decodeTotals(b)
        const d = dayDeltas.get(k) as TillSettled
        // What a day moved: below zero where lines left the till that day (called chargebacks).
        const now = { count: t.count + d.count, amountCents: t.amountCents + d.amountCents, setHash: addPaymentSets(t.setHash, d.setHash) }
        const nothing = now.count === 0 && now.amountCents === 0 && Buffer.from(now.setHash).equals(Buffer.from(PAYMENT_SET_EMPTY))
        ops.push(nothing ? { type: 'del', key: k } : { type: 'put', key: k, value: encodeTotals(now) })
      })
    }
    if (varies && !this.#varies.has(processor)) ops.push({ type: 'put', key: `${VARIES_PREFIX}${processor}`, value: new Uint8Array(0) })
    ops.push({ type: 'put', key: FILES_KEY, value: canonicalEncode(this.#files.size + 1) })
    ops.push({ type: 'put', key: FORMAT_KEY, value: canonicalEncode(FORMAT) })
    return {
      prepared,
      ops,
      commit: () => {
        try {
          books.commitSettlement(prepared)
          this.#files.set(file.id, meta)
          let byTill = this.#tills.get(processor)
          if (byTill === undefined) this.#tills.set(processor, byTill = new Map())
          for (const [till, t] of tills) {
            if (t.count === 0) byTill.delete(till)
            else byTill.set(till, t)
          }
          if (varies) this.#varies.add(processor)
          this.#held += prepared.newLines + prepared.newPayouts
        } finally {
          // Even when the books refuse it (their own invariant): the write is over, readers read again.
          this.#writing = false
          this.#generation++
        }
      }
    }
  }

  /**
   * At a start: the files' sums into the books, the tills' totals into memory. False when the
   * store holds files these records were not made from (a log from before them): `rederive`.
   */
  async restore (): Promise<boolean> {
    const n = await this.#store.get(FILES_KEY)
    if (n === undefined) {
      // No records: right only if no file is held either.
      for await (const _ of this.#store.entries({ gte: SETTLEMENT_PREFIX, lt: prefixEnd(SETTLEMENT_PREFIX) })) return false
      return true
    }
    // Records of another format (a log written before lines kept their first day): made again.
    const format = await this.#store.get(FORMAT_KEY)
    if (format === undefined || canonicalDecode(format) !== FORMAT) return false
    // Read whole and checked before the books are given any: a set that is not what was written
    // last (a start making them again, stopped before its end; a failed write replayed after a
    // later one) is made again from the files by the caller, on books that hold none of it.
    const files: Array<{ meta: SettlementFileMeta, sums: SettlementFileSums }> = []
    for await (const batch of scanBatches(this.#store, { gte: FILE_PREFIX, lt: prefixEnd(FILE_PREFIX) }, SCAN_BATCH)) {
      for (const [k, v] of batch) files.push(decodeFile(k.slice(FILE_PREFIX.length), v))
    }
    if (files.length !== (canonicalDecode(n) as unknown as number)) return false
    const books = this.#books()
    for (const { meta, sums } of files) {
      books.restoreSettlementFile(meta.id, sums)
      this.#files.set(meta.id, meta)
      this.#held += sums.lines + sums.payouts
    }
    for await (const batch of scanBatches(this.#store, { gte: TILL_TOTALS_PREFIX, lt: prefixEnd(TILL_TOTALS_PREFIX) }, SCAN_BATCH)) {
      for (const [k, v] of batch) {
        const [processor, till] = k.slice(TILL_TOTALS_PREFIX.length).split('\u0000') as [string, string]
        let byTill = this.#tills.get(processor)
        if (byTill === undefined) this.#tills.set(processor, byTill = new Map())
        byTill.set(till, decodeTotals(v))
      }
    }
    for await (const batch of scanBatches(this.#store, { gte: VARIES_PREFIX, lt: prefixEnd(VARIES_PREFIX) }, SCAN_BATCH)) {
      for (const [k] of batch) this.#varies.add(k.slice(VARIES_PREFIX.length))
    }
    return true
  }

  /**
   * Make every record again from the files (`files`: each held file's bytes and processor, in
   * any order): what is held is cleared first, and the books must hold no settlement yet.
   */
  async rederive (files: AsyncIterable<{ processor: string, file: ImportedFile }>): Promise<number> {
    if (this.#books().settlementCount !== 0) throw new Error('bug: settled lines made again on books that hold settlement files')
    this.#files.clear()
    this.#tills.clear()
    this.#varies.clear()
    this.#held = 0
    // The count first, out and durable, and written back last: a start stopped on the way finds
    // none, and makes them all again.
    await this.#store.batch([{ type: 'del', key: FILES_KEY }], { sync: true })
    let dels: KvOp[] = []
    for await (const batch of scanBatches(this.#store, { gte: ALL_PREFIX, lt: prefixEnd(ALL_PREFIX) }, LOOKUP_BATCH)) {
      for (const [k] of batch) dels.push({ type: 'del', key: k })
      if (dels.length >= LOOKUP_BATCH) {
        await this.#store.batch(dels, { sync: false })
        dels = []
      }
    }
    if (dels.length > 0) await this.#store.batch(dels, { sync: false })
    let n = 0
    for await (const { processor, file } of files) {
      const planned = await this.plan(file, processor)
      if (planned === 'duplicate') continue
      await this.#store.batch(planned.ops.filter(op => op.key !== FILES_KEY && op.key !== FORMAT_KEY), { sync: false })
      planned.commit()
      n++
    }
    await this.#store.batch([{ type: 'put', key: FILES_KEY, value: canonicalEncode(this.#files.size) }, { type: 'put', key: FORMAT_KEY, value: canonicalEncode(FORMAT) }], { sync: true })
    return n
  }
}

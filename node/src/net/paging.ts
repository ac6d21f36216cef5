/**
 * Paging of log and replenishment answers: a handler returns everything after a point, the
 * server sends the first page and where the next one starts; the client asks again.
 */
import { openEntry, unseal } from '@tillbooks/protocol'
import { FRAME_BYTES_MAX, LOG_ANSWER_ENTRIES_MAX, LOG_PAGE_ENTRIES_MAX, REPLENISHMENT_PAGE_MAX } from './limits.ts'
import type { LogPage, ReplenishmentPage } from './messages.ts'

/** A request for a protocol this peer has no handler for (answered NO_HANDLER). */
export class NoHandlerError extends Error {
  override name = 'NoHandlerError'
}

/** Bytes a page may hold: a frame, less room for the map around the entries. */
const PAGE_BYTES_MAX = FRAME_BYTES_MAX - 4096

/**
 * The first page of a handler's answer: at most LOG_PAGE_ENTRIES_MAX entries and a frame's
 * bytes, never splitting the entries of one seq (a fork's two entries) across pages, since
 * the next page starts after a seq.
 */
export function logPage (entries: Uint8Array[], afterSeq: number): LogPage {
  if (!Array.isArray(entries)) throw new Error('log handler gave no list')
  const page: Uint8Array[] = []
  let bytes = 0
  let lastSeq = afterSeq
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]
    if (!(e instanceof Uint8Array)) throw new Error(`log handler gave a non-bytes entry at ${i}`)
    const seq = openEntry(e, { verify: false }).record.seq
    // A handler that gives the whole log (or a little more than asked) is forgiven: skip what is not after afterSeq.
    if (seq <= afterSeq) continue
    if (seq < lastSeq) throw new Error(`log handler gave seqs out of order (${seq} after ${lastSeq})`)
    const countFull = page.length >= LOG_PAGE_ENTRIES_MAX
    const bytesFull = bytes + e.length + 8 > PAGE_BYTES_MAX
    if ((countFull || bytesFull) && seq !== lastSeq) return { entries: page, lastSeq, more: true }
    if (bytesFull || page.length >= LOG_ANSWER_ENTRIES_MAX) throw new Error(`too many entries at seq ${seq} for one page`)
    page.push(e)
    bytes += e.length + 8
    lastSeq = seq
  }
  return { entries: page, lastSeq, more: false }
}

/** A page of approvals by position: those after the first `after`, within a frame. */
export function approvalsPage (approvals: readonly Uint8Array[], after: number): LogPage {
  if (!Array.isArray(approvals)) throw new Error('approvals handler gave no list')
  const page: Uint8Array[] = []
  let bytes = 0
  for (let i = after; i < approvals.length; i++) {
    const a = approvals[i]
    if (!(a instanceof Uint8Array)) throw new Error(`approvals handler gave a non-bytes approval at ${i}`)
    if (page.length >= LOG_PAGE_ENTRIES_MAX || bytes + a.length + 8 > PAGE_BYTES_MAX) return { entries: page, lastSeq: after + page.length, more: true }
    page.push(a)
    bytes += a.length + 8
  }
  return { entries: page, lastSeq: after + page.length, more: false }
}

export function replenishmentPage (orders: Uint8Array[], afterId: string | null): ReplenishmentPage {
  if (!Array.isArray(orders)) throw new Error('replenishment handler gave no list')
  const page: Uint8Array[] = []
  let bytes = 0
  let lastId = afterId
  // A handler that ignores afterId and gives every order is forgiven: start after that order if it is there.
  const start = afterId === null ? 0 : orders.findIndex(o => o instanceof Uint8Array && orderIdOf(o) === afterId) + 1
  for (let i = start; i < orders.length; i++) {
    const e = orders[i]
    if (!(e instanceof Uint8Array)) throw new Error(`replenishment handler gave a non-bytes order at ${i}`)
    if (page.length >= REPLENISHMENT_PAGE_MAX || bytes + e.length + 8 > PAGE_BYTES_MAX) return { orders: page, lastId, more: true }
    const id = orderIdOf(e)
    if (id === null) throw new Error(`replenishment handler gave something else than an order at ${i}`)
    page.push(e)
    bytes += e.length + 8
    lastId = id
  }
  return { orders: page, lastId, more: false }
}

/** The id of a replenishment order (its signature is the receiver's to check), or null if it is not one. */
function orderIdOf (bytes: Uint8Array): string | null {
  try {
    const opened = unseal(bytes, { verify: false })
    const id = (opened.value as { id?: unknown }).id
    return opened.kind === 'replenishment' && typeof id === 'string' ? id : null
  } catch {
    return null
  }
}

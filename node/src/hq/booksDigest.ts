/**
 * What replicas compare (`GET /books/digest`): how many records the books folded, a digest of
 * the set of them (their ids, sorted), and a hash of the canonical books (the journal as
 * hledger reads it, and the snapshot without what depends on the order things came in: the
 * count of duplicates). Two HQs holding the same set of signed records answer the same three,
 * byte for byte, whatever order the records reached them in.
 */
import { createHash } from 'node:crypto'
import { canonicalEncode } from '@tillbooks/protocol'
import type { Books } from '@tillbooks/ledger'

export interface BooksDigest {
  records: number
  setDigest: string
  booksHash: string
}

/** The digest made last for each books, with their version: asked for often (replicas, monitors), made once per change. */
const made = new WeakMap<Books, { version: number, digest: BooksDigest }>()

export function booksDigest (books: Books): BooksDigest {
  const last = made.get(books)
  if (last !== undefined && last.version === books.version) return last.digest
  const digest = computeDigest(books)
  made.set(books, { version: books.version, digest })
  return digest
}

function computeDigest (books: Books): BooksDigest {
  const ids = books.transactions().map(t => t.id).sort()
  const set = createHash('sha256')
  for (const id of ids) set.update(id).update('\n')
  const snapshot = books.snapshot()
  const { duplicates: _arrivalOrder, ...counts } = snapshot.counts
  const canonical = { ...snapshot, counts }
  const hash = createHash('sha256').update(books.toHledger()).update(canonicalEncode(JSON.parse(JSON.stringify(canonical)) as never))
  return { records: ids.length, setDigest: set.digest('hex'), booksHash: hash.digest('hex') }
}

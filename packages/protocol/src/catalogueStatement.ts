/**
 * A signed catalogue statement: what HQ or a store says about a product (the content's
 * rules are @tillbooks/catalogue's statements.ts), in an envelope of kind `catalogue`:
 *
 *   body = { v: 1, kind: 'catalogue', author: { kind: 'hq' } | { kind: 'store', store }, atMs, content, cert? }
 *
 * HQ's statements are signed by HQ's root key. A store's are signed by one of its tills'
 * keys and carry that till's HQ certificate (`cert`), so anyone holding HQ's root key alone
 * can tell that the signer may speak for the store: no enrolment database is needed to read
 * the catalogue. A statement's id is the digest of its envelope's bytes: the key it is kept
 * under in the catalogue document, so two writers never overwrite each other.
 */
import { hash } from 'node:crypto'
import { bytesEqual, canonicalEncode, type Canonical } from './canonical.ts'
import { openCertificate } from './certificate.ts'
import { seal, unseal } from './envelope.ts'
import { ForgedError, InvalidRecordError } from './errors.ts'
import { asStoreId, type StoreId } from './ids.ts'
import type { PublicKey, Signer } from './keys.ts'
import { int, obj } from './validate.ts'

export type StatementAuthor = { kind: 'hq' } | { kind: 'store', store: StoreId }

export interface OpenedStatement {
  /** Hex digest of the envelope's bytes (128 bits): the statement's key. */
  id: string
  author: StatementAuthor
  atMs: number
  /** What is said: checked by the catalogue's rules, not here. */
  content: Canonical
  signer: PublicKey
  /** A store's statement: the till whose certificate it carries. */
  till?: number
}

/** Hex digits of a statement's id. */
export const STATEMENT_ID_HEX = 32

/** The id of a statement's envelope bytes. */
export function statementIdOf (bytes: Uint8Array): string {
  return hash('sha256', bytes, 'hex').slice(0, STATEMENT_ID_HEX)
}

/**
 * Sign a statement. HQ signs with its root key (`author.kind: 'hq'`); a store's till signs
 * with its own key and passes its certificate.
 */
export function signStatement (signer: Signer, s: { author: StatementAuthor, atMs: number, content: Canonical, cert?: Uint8Array }): Uint8Array {
  const body: { [k: string]: Canonical } = {
    v: 1,
    kind: 'catalogue',
    author: s.author.kind === 'hq' ? { kind: 'hq' } : { kind: 'store', store: s.author.store },
    atMs: s.atMs,
    content: s.content
  }
  if (s.cert !== undefined) body.cert = s.cert
  return seal('catalogue', canonicalEncode(body), signer)
}

/**
 * Open a statement and check who signed it: HQ's root key for HQ's, a till of the store
 * (by the certificate it carries, signed by `rootKey`) for a store's. Throws ForgedError
 * (bad signature, wrong signer, a certificate not HQ's or of another store),
 * MalformedError or InvalidRecordError with the reason.
 */
export function openStatement (bytes: Uint8Array, rootKey: PublicKey): OpenedStatement {
  const opened = unseal(bytes, { verify: true })
  if (opened.kind !== 'catalogue') throw new InvalidRecordError(`not a catalogue statement: ${opened.kind}`)
  const value = opened.value as { [k: string]: Canonical }
  const o = obj(value, 'statement', 'cert' in value ? ['v', 'kind', 'author', 'atMs', 'content', 'cert'] : ['v', 'kind', 'author', 'atMs', 'content'])
  if (o.v !== 1) throw new InvalidRecordError('unsupported statement version')
  const author0 = o.author as { [k: string]: Canonical } | undefined
  const a = obj(author0, 'statement.author', author0 !== null && typeof author0 === 'object' && 'store' in author0 ? ['kind', 'store'] : ['kind'])
  const atMs = int(o.atMs, 'statement.atMs', 0, Number.MAX_SAFE_INTEGER)
  let author: StatementAuthor
  let till: number | undefined
  if (a.kind === 'hq' && a.store === undefined) {
    if (!bytesEqual(opened.signer, rootKey)) throw new ForgedError('an HQ statement not signed by HQ\'s root key')
    if (o.cert !== undefined) throw new InvalidRecordError('an HQ statement carries no certificate')
    author = { kind: 'hq' }
  } else if (a.kind === 'store') {
    const store = asStoreId(a.store)
    if (!(o.cert instanceof Uint8Array)) throw new InvalidRecordError('a store\'s statement carries its till\'s certificate')
    const cert = openCertificate(o.cert, rootKey)
    if (cert.cert.store !== store) throw new ForgedError(`a statement for store ${store} signed by a till of ${cert.cert.store}`)
    if (!bytesEqual(cert.cert.tillKey, opened.signer)) throw new ForgedError('a store\'s statement not signed by the key its certificate names')
    author = { kind: 'store', store }
    till = cert.cert.till
  } else {
    throw new InvalidRecordError('statement.author is HQ or a store')
  }
  return { id: statementIdOf(bytes), author, atMs, content: o.content as Canonical, signer: opened.signer, ...(till !== undefined ? { till } : {}) }
}

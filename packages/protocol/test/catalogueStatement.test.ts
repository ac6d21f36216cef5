/**
 * Catalogue statements: HQ's signed by its root key, a store's by one of its tills' keys
 * with that till's HQ certificate inside, so HQ's root key alone tells who may say what.
 */
import assert from 'node:assert/strict'
import { canonicalDecode, canonicalEncode, type Canonical } from '../src/canonical.ts'
import { openStatement, signStatement, statementIdOf } from '../src/catalogueStatement.ts'
import { issueCertificate } from '../src/certificate.ts'
import { seal } from '../src/envelope.ts'
import { ForgedError, InvalidRecordError } from '../src/errors.ts'
import { asStoreId } from '../src/ids.ts'
import { root, signerOf, STORE, till1 } from './helpers/fixtures.ts'

const content = { type: 'price', sku: 'mug', priceCents: 800, from: '2026-03-01', prev: [] }
const certOf = (store: string, signer = till1, by = root): Uint8Array => issueCertificate(by, { store: asStoreId(store), till: 1, tillKey: signer.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes

describe('catalogue statements', () => {
  it('HQ\'s, signed by its root key, and a store\'s, by a till with its certificate, open with the root key alone', () => {
    const hq = signStatement(root, { author: { kind: 'hq' }, atMs: 5, content })
    const s = openStatement(hq, root.publicKey)
    assert.deepEqual([s.author, s.atMs, s.content, s.id], [{ kind: 'hq' }, 5, content, statementIdOf(hq)])
    assert.equal(s.id.length, 32)
    const invent = { type: 'invent', sku: `${STORE}.1.1`, name: 'Gnome', priceCents: 1299, taxRateBp: 2000, costCents: 0, from: '2026-03-02' }
    const byTill = signStatement(till1, { author: { kind: 'store', store: STORE }, atMs: 6, content: invent, cert: certOf(STORE) })
    assert.deepEqual(openStatement(byTill, root.publicKey).author, { kind: 'store', store: STORE })
    // The same statement again is the same bytes and the same id (Ed25519 is deterministic).
    assert.equal(statementIdOf(signStatement(root, { author: { kind: 'hq' }, atMs: 5, content })), s.id)
  })

  it('refuses, with a reason, an HQ statement not signed by HQ, a store\'s by a key its certificate does not name, for another store, or with a certificate HQ did not issue', () => {
    const mallory = signerOf('mallory')
    assert.throws(() => openStatement(signStatement(till1, { author: { kind: 'hq' }, atMs: 1, content }), root.publicKey), (e: Error) => e instanceof ForgedError && /root key/.test(e.message))
    assert.throws(() => openStatement(signStatement(mallory, { author: { kind: 'store', store: STORE }, atMs: 1, content, cert: certOf(STORE) }), root.publicKey), (e: Error) => e instanceof ForgedError && /not signed by the key its certificate names/.test(e.message))
    assert.throws(() => openStatement(signStatement(till1, { author: { kind: 'store', store: asStoreId('S9') }, atMs: 1, content, cert: certOf(STORE) }), root.publicKey), (e: Error) => e instanceof ForgedError && /signed by a till of/.test(e.message))
    assert.throws(() => openStatement(signStatement(till1, { author: { kind: 'store', store: STORE }, atMs: 1, content, cert: certOf(STORE, till1, mallory) }), root.publicKey), ForgedError)
    assert.throws(() => openStatement(signStatement(till1, { author: { kind: 'store', store: STORE }, atMs: 1, content }), root.publicKey), (e: Error) => e instanceof InvalidRecordError && /certificate/.test(e.message))
    // A flipped bit anywhere in the signed body: a bad signature.
    const good = signStatement(root, { author: { kind: 'hq' }, atMs: 1, content })
    const env = canonicalDecode(good) as { [k: string]: Canonical }
    const body = new Uint8Array(env.body as Uint8Array)
    body[body.length - 2] = (body[body.length - 2] as number) ^ 1
    assert.throws(() => openStatement(canonicalEncode({ ...env, body }), root.publicKey), ForgedError)
    // Another kind of envelope, signed by HQ, is not a statement.
    assert.throws(() => openStatement(seal('replenishment', canonicalEncode({ v: 1, kind: 'replenishment' }), root), root.publicKey), /not a catalogue statement/)
  })
})

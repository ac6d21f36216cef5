/**
 * Receipts: Base45 as RFC 9285 writes it, COSE_Sign1 as RFC 9052 structures it (checked with
 * an independent Ed25519 and cborg's own tag reading), verified offline with HQ's root key
 * alone; any one bit changed anywhere, a certificate from another HQ, a key the certificate
 * does not certify, a document of another till: each refused with its reason.
 */
import assert from 'node:assert/strict'
import * as ed from '@noble/ed25519'
import { decode, Tagged } from 'cborg'
import { issueCertificate, keyPairFromSeed, Signer, toHex, type PublicKey } from '@tillbooks/protocol'
import { fromBase45, linesDigest, linesMatch, readSign1, signReceipt, sigStructure, toBase45, verifyReceipt, WalletError, type ReceiptLine } from '../src/index.ts'

const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(1)))
const till = new Signer(keyPairFromSeed(new Uint8Array(32).fill(2)))
const cert = issueCertificate(root, { store: 'S1' as never, till: 1, tillKey: till.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes
const lines: ReceiptLine[] = [{ sku: 'latte', qty: 2, priceCents: 420 }, { sku: 'croissant', qty: 1, priceCents: 250 }]
const receipt = {
  docNo: 'S1-1-17', kind: 'sale' as const, atMs: Date.parse('2026-03-02T09:15:00Z'), businessDay: '2026-03-02', currency: 'EUR', totalCents: 1090,
  tax: [{ rateBp: 2000, netCents: 908, taxCents: 182 }], tenders: [{ type: 'card' as const, amountCents: 1090 }], member: 'm-AAAAAAAAAAAAAAAAAAAAAA', points: 10, linesDigest: linesDigest(lines)
}

describe('wallet: Base45 (RFC 9285)', () => {
  it('encodes and decodes the RFC\'s examples, and refuses what is not Base45', () => {
    const enc = (s: string): string => toBase45(new TextEncoder().encode(s))
    assert.equal(enc('AB'), 'BB8')
    assert.equal(enc('Hello!!'), '%69 VD92EX0')
    assert.equal(enc('base-45'), 'UJCLQE7W581')
    assert.equal(new TextDecoder().decode(fromBase45('QED8WEX0')), 'ietf!')
    for (const bad of ['GGW', 'A', 'bb8', 'BB8~']) assert.throws(() => fromBase45(bad), WalletError, bad)
  })
})

describe('wallet: signed receipts', () => {
  it('signs a receipt as a COSE_Sign1 in a TB1: QR that verifies offline with HQ\'s root key alone', () => {
    const { cose, qr } = signReceipt(receipt, till, cert)
    assert.match(qr, /^TB1:[0-9A-Z $%*+\-./:]+$/)
    const v = verifyReceipt(qr, root.publicKey)
    assert.equal(v.tillId, 'S1-1')
    assert.equal(v.tillKey, toHex(till.publicKey))
    assert.deepEqual({ ...v.receipt, linesDigest: [...v.receipt.linesDigest] }, { v: 1, ...receipt, linesDigest: [...receipt.linesDigest] })
    assert.equal(linesMatch(v.receipt, lines), true)
    assert.equal(linesMatch(v.receipt, [{ ...lines[0] as ReceiptLine, qty: 3 }, lines[1] as ReceiptLine]), false)
    assert.deepEqual(verifyReceipt(cose, root.publicKey).receipt.docNo, 'S1-1-17')
  })

  it('is RFC 9052\'s COSE_Sign1: tag 18, [protected {1: -8}, unprotected, payload, signature], signed over the Sig_structure (checked with another Ed25519)', async () => {
    const { cose } = signReceipt(receipt, till, cert)
    // cborg's own reading of the tag (a tag decoder is handed a control that decodes its content).
    const tagged = decode(cose, { tags: Object.assign([], { 18: (content: () => unknown) => new Tagged(18, content()) }), useMaps: true }) as Tagged
    assert.equal(tagged.tag, 18)
    const [prot, unprot, payload, sig] = tagged.value as [Uint8Array, Map<unknown, unknown>, Uint8Array, Uint8Array]
    assert.deepEqual(decode(prot, { useMaps: true }), new Map([[1, -8]]))
    assert.deepEqual(unprot.get(4), till.publicKey)
    // Sig_structure = ["Signature1", protected, external_aad = h'', payload], as RFC 9052 §4.4 writes it.
    const toSign = sigStructure(prot, payload)
    assert.deepEqual(decode(toSign), ['Signature1', prot, new Uint8Array(0), payload])
    assert.equal(await ed.verifyAsync(sig, toSign, till.publicKey), true)
    assert.equal(readSign1(cose).signature.length, 64)
  })

  it('refuses it with one bit changed anywhere, signed under another HQ, by a key its certificate does not certify, or for another till', () => {
    const { cose } = signReceipt(receipt, till, cert)
    let refused = 0
    for (let i = 0; i < cose.length; i++) {
      const t = new Uint8Array(cose)
      t[i] = (t[i] as number) ^ (1 << (i % 8))
      try { verifyReceipt(t, root.publicKey) } catch { refused++ }
    }
    assert.equal(refused, cose.length, 'every one-bit change refused')
    const otherRoot = new Signer(keyPairFromSeed(new Uint8Array(32).fill(9)))
    assert.throws(() => verifyReceipt(cose, otherRoot.publicKey as PublicKey), /root key|not signed/i)
    const impostor = new Signer(keyPairFromSeed(new Uint8Array(32).fill(3)))
    assert.throws(() => verifyReceipt(signReceipt(receipt, impostor, cert).cose, root.publicKey), /does not certify/)
    assert.throws(() => verifyReceipt(signReceipt({ ...receipt, docNo: 'S2-1-17' }, till, cert).cose, root.publicKey), /not of till S1-1/)
    assert.throws(() => signReceipt({ ...receipt, member: '+447700900123' }, till, cert), /never a phone number/)
    assert.throws(() => verifyReceipt('HC1:ABC', root.publicKey), /TB1:/)
  })
})

import assert from 'node:assert/strict'
import fc from 'fast-check'
import { canonicalDecode, canonicalEncode, type Canonical } from '../src/canonical.ts'
import { Enrolment, issueCertificate, openCertificate, type SignedCertificate } from '../src/certificate.ts'
import { openEntry, signEntry } from '../src/entry.ts'
import { seal } from '../src/envelope.ts'
import { ForgedError, InvalidRecordError, MalformedError } from '../src/errors.ts'
import { tillIdOf, type TillId } from '../src/ids.ts'
import type { PublicKey, Signer } from '../src/keys.ts'
import { close, root, signerOf, STORE, stockIn, thrown, till1 } from './helpers/fixtures.ts'
import { check } from './helpers/seed.ts'

const S1_1 = tillIdOf(STORE, 1)
const S1_2 = tillIdOf(STORE, 2)
const replacement = signerOf('replacement till S1-1')

function certFor (signer: Signer, fromSeq: number, till = 1, by: Signer = root): SignedCertificate {
  return issueCertificate(by, { store: STORE, till, tillKey: signer.publicKey, fromSeq, issuedAtMs: 1_764_000_000_000 + fromSeq })
}

/** A root-signed certificate body of our choosing (HQ is trusted; this probes the parser). */
function rootSigned (fields: { [key: string]: Canonical }): Uint8Array {
  return seal('cert', canonicalEncode(fields), root)
}

function certFields (over: { [key: string]: Canonical } = {}): { [key: string]: Canonical } {
  return { v: 1, kind: 'cert', store: 'S1', till: 1, tillKey: till1.publicKey, fromSeq: 1, issuedAtMs: 0, ...over }
}

function hex (key: PublicKey | undefined): string | undefined {
  return key === undefined ? undefined : Buffer.from(key).toString('hex')
}

describe('certificate and Enrolment', () => {
  describe('issue and open', () => {
    it('round trips the certificate', () => {
      const issued = certFor(till1, 1)
      const opened = openCertificate(issued.bytes, root.publicKey)
      assert.deepStrictEqual(opened.cert, issued.cert)
      assert.deepStrictEqual(opened.cert, { v: 1, kind: 'cert', store: STORE, till: 1, tillKey: till1.publicKey, fromSeq: 1, issuedAtMs: 1_764_000_000_001 })
      assert.equal(opened.tillId, 'S1-1')
      assert.equal(issued.tillId, 'S1-1')
      assert.deepStrictEqual(opened.bytes, issued.bytes)
    })

    it('opened as checked bytes (HQ\'s own log), a certificate gives the same; the root and the fields are still checked', () => {
      const issued = certFor(till1, 7, 2)
      const checked = openCertificate(issued.bytes, root.publicKey, { verify: false, checked: true })
      assert.deepStrictEqual(checked, openCertificate(issued.bytes, root.publicKey))
      const mallory = signerOf('mallory')
      assert.throws(() => openCertificate(certFor(mallory, 1, 1, mallory).bytes, root.publicKey, { verify: false, checked: true }), ForgedError)
      assert.throws(() => openCertificate(rootSigned(certFields({ fromSeq: 0 })), root.publicKey, { verify: false, checked: true }), InvalidRecordError)
      assert.throws(() => openCertificate(signEntry(close(), till1).bytes, root.publicKey, { verify: false, checked: true }), InvalidRecordError)
      const enrolment = new Enrolment(root.publicKey)
      enrolment.add(issued.bytes, { verify: false, checked: true })
      assert.equal(hex(enrolment.keyFor(tillIdOf(STORE, 2), 7)), hex(till1.publicKey))
    })

    it('a certificate signed by a key other than the root is ForgedError', () => {
      const mallory = signerOf('mallory')
      const forged = certFor(mallory, 1, 1, mallory)
      assert.throws(() => openCertificate(forged.bytes, root.publicKey), ForgedError)
      assert.throws(() => new Enrolment(root.publicKey).add(forged.bytes), ForgedError)
      // the same certificate is fine for a verifier whose root it is: the check is against the given root
      assert.doesNotThrow(() => openCertificate(forged.bytes, mallory.publicKey))
    })

    it('a till record is not a certificate', () => {
      assert.throws(() => openCertificate(signEntry(close(), till1).bytes, root.publicKey), InvalidRecordError)
    })

    it('a certificate is not a till record', () => {
      assert.throws(() => openEntry(certFor(till1, 1).bytes), MalformedError)
    })

    it('no single-byte change to a certificate is accepted', () => {
      const bytes = certFor(till1, 1).bytes
      for (let i = 0; i < bytes.length; i++) {
        const b = new Uint8Array(bytes)
        b[i]! ^= 0x01
        const err = thrown(() => openCertificate(b, root.publicKey))
        assert.ok(err instanceof ForgedError || err instanceof MalformedError, `byte ${i}: ${err.name}: ${err.message}`)
      }
    })

    describe('a root-signed certificate with a bad field is InvalidRecordError', () => {
      const cases: Array<[string, { [key: string]: Canonical }]> = [
        ['version 2', certFields({ v: 2 })],
        ['fromSeq 0', certFields({ fromSeq: 0 })],
        ['fromSeq beyond SEQ_MAX', certFields({ fromSeq: 2 ** 40 + 1 })],
        ['a 31-byte till key', certFields({ tillKey: new Uint8Array(31) })],
        ['a bad store id', certFields({ store: 's1' })],
        ['till 0', certFields({ till: 0 })],
        ['a negative issuedAtMs', certFields({ issuedAtMs: -1 })],
        ['an unknown field', certFields({ note: 'x' })]
      ]
      for (const [name, fields] of cases) {
        it(name, () => {
          assert.doesNotThrow(() => openCertificate(rootSigned(certFields()), root.publicKey)) // the unchanged fields are fine
          const err = thrown(() => openCertificate(rootSigned(fields), root.publicKey))
          assert.ok(err instanceof InvalidRecordError, `${err.name}: ${err.message}`)
        })
      }
    })
  })

  describe('Enrolment', () => {
    it('keyFor picks the certificate with the greatest fromSeq ≤ seq: the old key below the replacement\'s fromSeq, the new key from it on', () => {
      const enrolment = new Enrolment(root.publicKey)
      enrolment.add(certFor(till1, 1).bytes)
      enrolment.add(certFor(replacement, 10).bytes)
      assert.equal(enrolment.keyFor(S1_1, 0), undefined)
      for (const seq of [1, 2, 9]) assert.equal(hex(enrolment.keyFor(S1_1, seq)), hex(till1.publicKey), `seq ${seq}`)
      for (const seq of [10, 11, 1_000_000]) assert.equal(hex(enrolment.keyFor(S1_1, seq)), hex(replacement.publicKey), `seq ${seq}`)
      assert.equal(enrolment.keyFor(S1_2, 5), undefined)
    })

    it('check: passes for the enrolled key at its seqs, ForgedError otherwise', () => {
      const enrolment = new Enrolment(root.publicKey)
      enrolment.add(certFor(till1, 1).bytes)
      enrolment.add(certFor(replacement, 10).bytes)
      assert.doesNotThrow(() => enrolment.check(S1_1, 9, till1.publicKey))
      assert.doesNotThrow(() => enrolment.check(S1_1, 10, replacement.publicKey))
      assert.throws(() => enrolment.check(S1_1, 10, till1.publicKey), ForgedError, 'old key after its replacement')
      assert.throws(() => enrolment.check(S1_1, 9, replacement.publicKey), ForgedError, 'new key before its fromSeq')
      assert.throws(() => enrolment.check(S1_1, 5, signerOf('stranger').publicKey), ForgedError, 'a wrong key')
      assert.throws(() => enrolment.check(S1_2, 1, till1.publicKey), /not enrolled/, 'an unenrolled till')
      assert.throws(() => enrolment.check(S1_2, 1, till1.publicKey), ForgedError)
      assert.throws(() => enrolment.check(S1_1, 0, till1.publicKey), ForgedError, 'before any certificate')
    })

    it('end to end: a record from an unenrolled key opens, and enrolment.check refuses it', () => {
      const enrolment = new Enrolment(root.publicKey)
      enrolment.add(certFor(till1, 1).bytes)
      const genuine = openEntry(signEntry(stockIn(), till1).bytes)
      assert.doesNotThrow(() => enrolment.check(genuine.tillId, genuine.record.seq, genuine.signer))
      const impostor = openEntry(signEntry(stockIn(), signerOf('impostor')).bytes)
      assert.throws(() => enrolment.check(impostor.tillId, impostor.record.seq, impostor.signer), ForgedError)
    })

    it('adding the same certificate twice changes nothing', () => {
      const once = new Enrolment(root.publicKey)
      const twice = new Enrolment(root.publicKey)
      const a = certFor(till1, 1)
      const b = certFor(replacement, 10)
      once.add(a.bytes)
      once.add(b.bytes)
      assert.deepStrictEqual(twice.add(a.bytes), twice.add(a.bytes))
      twice.add(b.bytes)
      twice.add(a.bytes)
      twice.add(b.bytes)
      assert.deepStrictEqual(twice.tills(), once.tills())
      for (let seq = 0; seq <= 12; seq++) assert.equal(hex(twice.keyFor(S1_1, seq)), hex(once.keyFor(S1_1, seq)))
    })

    it('has and tills list what was enrolled', () => {
      const enrolment = new Enrolment(root.publicKey)
      assert.equal(enrolment.has(S1_1), false)
      enrolment.add(certFor(till1, 1).bytes)
      enrolment.add(certFor(signerOf('till S1-2'), 1, 2).bytes)
      assert.equal(enrolment.has(S1_1), true)
      assert.deepStrictEqual(enrolment.tills().sort(), ['S1-1', 'S1-2'])
      assert.equal(enrolment.rootKey, root.publicKey)
    })

    it('a forged certificate leaves the enrolment unchanged', () => {
      const enrolment = new Enrolment(root.publicKey)
      const mallory = signerOf('mallory')
      assert.throws(() => enrolment.add(certFor(mallory, 1, 1, mallory).bytes), ForgedError)
      assert.equal(enrolment.has(S1_1), false)
    })

    it('the order certificates are added in (with repeats) does not change any answer, and matches a model (property)', () => {
      const keys = ['k0', 'k1', 'k2', 'k3'].map(signerOf)
      const tills = [1, 2, 3]
      // Issue every combination once up front; the property picks among them.
      const pool = new Map<string, SignedCertificate>()
      const certAt = (k: number, till: number, fromSeq: number): SignedCertificate => {
        const id = `${k}/${till}/${fromSeq}`
        let c = pool.get(id)
        if (c === undefined) pool.set(id, c = certFor(keys[k]!, fromSeq, till))
        return c
      }
      const certArb = fc.record({ k: fc.nat({ max: keys.length - 1 }), till: fc.constantFrom(...tills), fromSeq: fc.integer({ min: 1, max: 12 }) })
      check(fc.property(
        fc.array(certArb, { minLength: 1, maxLength: 10 }).chain(certs => fc.tuple(fc.constant(certs), fc.shuffledSubarray(certs, { minLength: certs.length, maxLength: certs.length }), fc.subarray(certs))),
        ([certs, shuffled, repeats]) => {
          const a = new Enrolment(root.publicKey)
          const b = new Enrolment(root.publicKey)
          for (const c of certs) a.add(certAt(c.k, c.till, c.fromSeq).bytes)
          for (const c of [...shuffled, ...repeats]) b.add(certAt(c.k, c.till, c.fromSeq).bytes)
          assert.deepStrictEqual(a.tills().sort(), b.tills().sort())
          for (const till of tills) {
            const tillId: TillId = tillIdOf(STORE, till)
            for (let seq = 0; seq <= 14; seq++) {
              // the model: greatest fromSeq ≤ seq; among equal fromSeq, the greatest key bytes
              const eligible = certs.filter(c => c.till === till && c.fromSeq <= seq)
              const best = eligible.map(c => ({ fromSeq: c.fromSeq, key: hex(keys[c.k]!.publicKey)! })).sort((x, y) => x.fromSeq - y.fromSeq || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)).pop()
              assert.equal(hex(a.keyFor(tillId, seq)), best?.key, `model, ${tillId} seq ${seq}`)
              assert.equal(hex(b.keyFor(tillId, seq)), best?.key, `shuffled, ${tillId} seq ${seq}`)
            }
          }
        }
      ), 150)
    })
  })
})

import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { canonicalDecode, canonicalEncode, type Canonical } from '../src/canonical.ts'
import { ENTRY_BYTES_MAX, GENESIS_HASH, LINES_MAX, MEMBERS_MAX } from '../src/constants.ts'
import { entryHashInto, entryHashOf, openEntry, signEntry } from '../src/entry.ts'
import { seal, signingBytes } from '../src/envelope.ts'
import { ForgedError, MalformedError, OversizedError } from '../src/errors.ts'
import { noble, SHA256_OPENSSL_FROM_BYTES, sha256Into } from '../src/keys.ts'
import { encodeRecord, validateRecord, type Close } from '../src/records.ts'
import { close, hexOf, root, signerOf, stockIn, thrown, till1 } from './helpers/fixtures.ts'
import { seeded } from './helpers/seed.ts'

type Fields = { [key: string]: Canonical }

function fieldsOf (bytes: Uint8Array): Fields {
  return canonicalDecode(bytes) as Fields
}

/** A Close with `members` loyalty members: valid for validateRecord up to MEMBERS_MAX, but large. */
function closeWithMembers (members: number): Close {
  const points = Array.from({ length: members }, (_, i) => ({ member: `+4477009${String(i).padStart(5, '0')}`, points: 1000 }))
  return close({ points })
}

/** Every way of changing one byte (three masks per byte), truncating, or extending: never accepted. */
function assertEveryTamperingRejected (bytes: Uint8Array): Record<string, number> {
  const outcomes: Record<string, number> = {}
  const attempt = (b: Uint8Array, what: string): void => {
    let name = 'ACCEPTED'
    try {
      openEntry(b)
    } catch (err) {
      name = (err as Error).name
      assert.ok(err instanceof ForgedError || err instanceof MalformedError, `${what}: ${name}: ${(err as Error).message}`)
    }
    assert.notEqual(name, 'ACCEPTED', `${what} was accepted`)
    outcomes[name] = (outcomes[name] ?? 0) + 1
  }
  for (let i = 0; i < bytes.length; i++) {
    for (const mask of [0x01, 0x40, 0xff]) {
      const b = new Uint8Array(bytes)
      b[i]! ^= mask
      attempt(b, `byte ${i} ^ ${mask}`)
    }
  }
  for (let n = 0; n < bytes.length; n++) attempt(bytes.subarray(0, n), `truncated to ${n}`)
  attempt(Uint8Array.of(...bytes, 0), 'extended by 0x00')
  return outcomes
}

describe('entry: signed, hash-chained records', () => {
  it('signEntry then openEntry round trips a StockIn and a Close', () => {
    for (const record of [stockIn(), close()]) {
      const signed = signEntry(record, till1)
      const opened = openEntry(signed.bytes)
      assert.deepStrictEqual(opened.record, record)
      assert.equal(opened.hash, signed.hash)
      assert.deepStrictEqual(opened.hashBytes, signed.hashBytes)
      assert.equal(opened.tillId, 'S1-1')
      assert.equal(signed.tillId, 'S1-1')
      assert.deepStrictEqual(opened.signer, till1.publicKey)
      assert.deepStrictEqual(opened.bytes, signed.bytes)
    }
  })

  it('an entry carries its signed body and signature, the same whether signed here or opened from bytes', () => {
    const record = close()
    const signed = signEntry(record, till1)
    const opened = openEntry(signed.bytes)
    assert.equal(hexOf(signed.body), hexOf(encodeRecord(record)))
    assert.equal(hexOf(opened.body), hexOf(signed.body))
    assert.equal(hexOf(opened.sig), hexOf(signed.sig))
    assert.equal(noble.verify(signed.sig, signingBytes('close', signed.body), till1.publicKey), true)
  })

  it('is deterministic: one record and one key give one entry, byte for byte', () => {
    assert.equal(hexOf(signEntry(close(), till1).bytes), hexOf(signEntry(close(), till1).bytes))
  })

  it('the envelope is { v, kind, body, signer, sig }, body = the record\'s canonical bytes, sig over the domain-tagged body', () => {
    const record = close()
    const f = fieldsOf(signEntry(record, till1).bytes)
    assert.deepStrictEqual(Object.keys(f).sort(), ['body', 'kind', 'sig', 'signer', 'v'])
    assert.equal(f.v, 1)
    assert.equal(f.kind, 'close')
    assert.equal(hexOf(f.body as Uint8Array), hexOf(encodeRecord(record)))
    assert.equal(noble.verify(f.sig as Uint8Array, new Uint8Array([...new TextEncoder().encode('tillbooks/close/v1\u0000'), ...(f.body as Uint8Array)]), till1.publicKey), true)
  })

  describe('hash chaining', () => {
    it('the hash is SHA-256("tillbooks/entry/v1" ‖ 0x00 ‖ body), and hash is its hex', () => {
      const signed = signEntry(close(), till1)
      const expected = createHash('sha256').update('tillbooks/entry/v1\u0000').update(encodeRecord(close())).digest('hex')
      assert.equal(signed.hash, expected)
      assert.equal(hexOf(signed.hashBytes), expected)
      assert.equal(hexOf(entryHashOf(encodeRecord(close()))), expected)
      // The same hash written in place, at an offset, for bodies under and over the scratch size.
      for (const body of [encodeRecord(close()), new Uint8Array(70 * 1024).fill(5)]) {
        const out = new Uint8Array(80).fill(0xee)
        entryHashInto(body, out, 9)
        assert.deepEqual(out.subarray(9, 41), entryHashOf(body))
        assert.ok(out.subarray(0, 9).every(b => b === 0xee) && out.subarray(41).every(b => b === 0xee))
      }
    })

    it('libsodium\'s SHA-256 (the hash of every entry) equals OpenSSL\'s for random bodies of every size class, up to the largest entry and past it', () => {
      seeded(rng => {
        const sizes = [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, ENTRY_BYTES_MAX - 1, ENTRY_BYTES_MAX, ENTRY_BYTES_MAX + 1]
        for (let i = 0; i < 200; i++) sizes.push(rng.below(i < 150 ? 2048 : ENTRY_BYTES_MAX + 1))
        for (const size of sizes) {
          const body = size <= 4096 ? rng.bytes(size) : new Uint8Array(size).map((_, k) => (k * 131 + size) & 0xff)
          const expected = createHash('sha256').update('tillbooks/entry/v1\u0000').update(body).digest('hex')
          assert.equal(hexOf(entryHashOf(body)), expected, `a body of ${size} bytes`)
          const out = new Uint8Array(40)
          entryHashInto(body, out, 8)
          assert.equal(hexOf(out.subarray(8)), expected, `a body of ${size} bytes, in place`)
        }
      })
    })

    it('sha256Into (libsodium in place for short data, OpenSSL for long) equals node:crypto\'s SHA-256 for random data at random offsets, touching nothing else, and refuses an offset with no room', () => {
      seeded(rng => {
        for (let i = 0; i < 300; i++) {
          // Both sides of SHA256_OPENSSL_FROM_BYTES (libsodium below it, OpenSSL from it on).
          const data = rng.bytes(i < 20 ? SHA256_OPENSSL_FROM_BYTES - 10 + i : rng.below(i < 250 ? 1024 : 70 * 1024))
          const offset = rng.below(16)
          const out = new Uint8Array(offset + 32 + rng.below(8)).fill(0xa5)
          // A view into a larger buffer, as the threads hash subarrays of a job's bytes.
          const within = new Uint8Array(data.length + 10)
          within.set(data, 5)
          sha256Into(within.subarray(5, 5 + data.length), out, offset)
          assert.equal(hexOf(out.subarray(offset, offset + 32)), createHash('sha256').update(data).digest('hex'), `${data.length} bytes at offset ${offset}`)
          assert.ok(out.subarray(0, offset).every(b => b === 0xa5) && out.subarray(offset + 32).every(b => b === 0xa5))
        }
      })
      assert.throws(() => { sha256Into(new Uint8Array(1), new Uint8Array(40), 9) }, RangeError)
    })

    it('seq 2\'s prevHash is seq 1\'s hashBytes, and so on down a chain of days', () => {
      const entries = []
      let prevHash: Uint8Array = GENESIS_HASH
      for (let seq = 1; seq <= 6; seq++) {
        const day = `2026-11-${String(20 + Math.ceil(seq / 2)).padStart(2, '0')}`
        const record = seq % 2 === 1 ? stockIn({ seq, prevHash, businessDay: day as never }) : close({ seq, prevHash, businessDay: day as never })
        const entry = openEntry(signEntry(record, till1).bytes)
        entries.push(entry)
        prevHash = entry.hashBytes
      }
      assert.deepStrictEqual(entries[0]!.record.prevHash, GENESIS_HASH)
      for (let i = 1; i < entries.length; i++) {
        assert.deepStrictEqual(entries[i]!.record.prevHash, entries[i - 1]!.hashBytes, `seq ${i + 1}`)
        assert.equal(entries[i]!.record.seq, i + 1)
      }
      assert.equal(new Set(entries.map(e => e.hash)).size, entries.length)
    })

    it('changing any field of a record changes its hash (so the next entry no longer chains to it)', () => {
      const base = signEntry(close(), till1).hash
      const variants: Array<Partial<Close>> = [{ atMs: close().atMs + 1 }, { cashCountedCents: 20_999 }, { seq: 3 }, { points: [] }, { prevHash: new Uint8Array(32).fill(0xac) }]
      for (const v of variants) assert.notEqual(signEntry(close(v), till1).hash, base, JSON.stringify(Object.keys(v)))
    })

    it('the hash covers the record body, not the signature: a replacement key signing the same record gets the same hash', () => {
      const other = signerOf('replacement till S1-1')
      const a = signEntry(close(), till1)
      const b = signEntry(close(), other)
      assert.equal(a.hash, b.hash)
      assert.notEqual(hexOf(a.bytes), hexOf(b.bytes))
    })
  })

  describe('tampering', () => {
    it('no change to any byte of a Close entry, no truncation and no extension is accepted (ForgedError or MalformedError)', () => {
      const outcomes = assertEveryTamperingRejected(signEntry(close(), till1).bytes)
      assert.ok((outcomes.ForgedError ?? 0) > 0 && (outcomes.MalformedError ?? 0) > 0, JSON.stringify(outcomes))
    })

    it('likewise for a StockIn entry', () => {
      assertEveryTamperingRejected(signEntry(stockIn(), till1).bytes)
    })

    it('random multi-byte corruption is never accepted', () => {
      seeded(rng => {
        const bytes = signEntry(close(), till1).bytes
        for (let i = 0; i < 500; i++) {
          const b = new Uint8Array(bytes)
          const n = 1 + rng.below(8)
          for (let j = 0; j < n; j++) b[rng.below(b.length)] = rng.below(256)
          if (b.every((x, k) => x === bytes[k])) continue
          const err = thrown(() => openEntry(b))
          assert.ok(err instanceof ForgedError || err instanceof MalformedError, `${err.name}: ${err.message}`)
        }
      })
    })

    it('the record re-signed by another key opens (its own signature is good) but names the other signer', () => {
      const other = signerOf('not enrolled')
      const opened = openEntry(signEntry(close(), other).bytes)
      assert.deepStrictEqual(opened.signer, other.publicKey)
      assert.notDeepEqual(opened.signer, till1.publicKey) // enrolment.check refuses it: see certificate.test.ts
    })

    it('swapping the signer field for another key is ForgedError', () => {
      const f = fieldsOf(signEntry(close(), till1).bytes)
      f.signer = signerOf('someone else').publicKey
      assert.throws(() => openEntry(canonicalEncode(f)), ForgedError)
    })

    it('{ verify: false } skips only the signature (bytes from our own, already verified, log)', () => {
      const f = fieldsOf(signEntry(close(), till1).bytes)
      f.sig = new Uint8Array(64)
      const bytes = canonicalEncode(f)
      assert.throws(() => openEntry(bytes), ForgedError)
      assert.deepStrictEqual(openEntry(bytes, { verify: false }).record, close())
      const invalid = fieldsOf(seal('close', canonicalEncode({ ...close(), seq: 0 } as unknown as Canonical), till1))
      assert.throws(() => openEntry(canonicalEncode(invalid), { verify: false }), /seq must be in/)
    })

    it('a custom verifier (noble) gives the same answers as the default', () => {
      const good = signEntry(close(), till1).bytes
      assert.deepStrictEqual(openEntry(good, { verify: true, verifier: noble.verify }).record, close())
      const f = fieldsOf(good)
      ;(f.sig as Uint8Array)[0]! ^= 1
      assert.throws(() => openEntry(canonicalEncode(f), { verify: true, verifier: noble.verify }), ForgedError)
    })
  })

  describe(`size: ENTRY_BYTES_MAX = ${ENTRY_BYTES_MAX}`, () => {
    it('bytes over the limit are OversizedError before anything is decoded', () => {
      assert.throws(() => openEntry(new Uint8Array(ENTRY_BYTES_MAX + 1)), OversizedError)
      assert.throws(() => openEntry(new Uint8Array(ENTRY_BYTES_MAX)), MalformedError) // at the limit: read, and refused as junk
    })

    it('the largest Close the record limits allow (MEMBERS_MAX members, LINES_MAX long skus) still fits under the limit', () => {
      const consumed = Array.from({ length: LINES_MAX }, (_, i) => ({ sku: `component-${String(i).padStart(5, '0')}-${'x'.repeat(22)}`, qty: -1_000_000_000 + i }))
      const record = { ...closeWithMembers(MEMBERS_MAX), consumed }
      assert.doesNotThrow(() => validateRecord(record as unknown as Canonical))
      const entry = signEntry(record, till1)
      assert.ok(entry.bytes.length <= ENTRY_BYTES_MAX, `${entry.bytes.length} bytes`)
      assert.equal(openEntry(entry.bytes).record.kind, 'close')
    })

    it('seal refuses to produce an envelope over the limit, whatever the kind (no entry nobody would accept is ever signed)', () => {
      const body = new Uint8Array(ENTRY_BYTES_MAX)
      for (const kind of ['close', 'stockIn', 'cert', 'replenishment'] as const) assert.throws(() => seal(kind, body, till1), OversizedError, kind)
    })

    it('an envelope over the limit is OversizedError on open, signed or not', () => {
      const body = new Uint8Array(ENTRY_BYTES_MAX)
      const bytes = canonicalEncode({ v: 1, kind: 'close', body, signer: till1.publicKey, sig: till1.sign(signingBytes('close', body)) })
      assert.throws(() => openEntry(bytes), OversizedError)
      assert.throws(() => openEntry(bytes, { verify: false }), OversizedError)
    })
  })

  describe('domain separation', () => {
    it('a signature made for a certificate cannot be replayed as a record, even over a valid record body', () => {
      const body = encodeRecord(close())
      const asCert = fieldsOf(seal('cert', body, till1))
      const relabelled = canonicalEncode({ ...asCert, kind: 'close' })
      assert.throws(() => openEntry(relabelled), ForgedError)
      // ...and it is the domain tag alone that stops it: without the signature check it would open
      assert.deepStrictEqual(openEntry(relabelled, { verify: false }).record, close())
    })

    it('a StockIn signature cannot be replayed as a Close (or the reverse), nor a replenishment\'s as either', () => {
      for (const [from, to] of [['stockIn', 'close'], ['close', 'stockIn'], ['replenishment', 'close'], ['close', 'cert']] as const) {
        const f = fieldsOf(seal(from, encodeRecord(close()), root))
        assert.throws(() => openEntry(canonicalEncode({ ...f, kind: to })), ForgedError, `${from} → ${to}`)
      }
    })

    it('a well-signed certificate is not a till record', () => {
      const body = canonicalEncode({ kind: 'cert' })
      assert.throws(() => openEntry(seal('cert', body, root)), MalformedError)
    })

    it('no domain tag is a prefix of another, and each is "tillbooks/<kind>/v1" ‖ 0x00', () => {
      const kinds = ['stockIn', 'close', 'cert', 'replenishment'] as const
      const empty = new Uint8Array(0)
      for (const a of kinds) {
        assert.equal(Buffer.from(signingBytes(a, empty)).toString('latin1'), `tillbooks/${a}/v1\u0000`)
        for (const b of kinds) {
          if (a === b) continue
          const ta = Buffer.from(signingBytes(a, empty))
          const tb = Buffer.from(signingBytes(b, empty))
          assert.notEqual(tb.subarray(0, ta.length).equals(ta), true, `${a} is a prefix of ${b}`)
        }
      }
      assert.throws(() => signingBytes('receipt' as never, empty), MalformedError)
    })
  })
})

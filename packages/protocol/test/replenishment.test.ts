import assert from 'node:assert/strict'
import { canonicalDecode, canonicalEncode, type Canonical } from '../src/canonical.ts'
import { openCertificate } from '../src/certificate.ts'
import { openEntry } from '../src/entry.ts'
import { seal } from '../src/envelope.ts'
import { ForgedError, InvalidRecordError, MalformedError } from '../src/errors.ts'
import { openReplenishment, signReplenishment, type Replenishment } from '../src/replenishment.ts'
import { DAY, root, signerOf, STORE, thrown, till1 } from './helpers/fixtures.ts'

function order (over: Partial<Omit<Replenishment, 'v' | 'kind'>> = {}): Omit<Replenishment, 'v' | 'kind'> {
  return { id: 'R-2026-11-25-S1', store: STORE, businessDay: DAY, lines: [{ sku: 'BREAD-1', qty: 20 }, { sku: 'MILK-1', qty: 12 }], ...over }
}

describe('replenishment orders', () => {
  it('signReplenishment then openReplenishment round trips', () => {
    const opened = openReplenishment(signReplenishment(root, order()), root.publicKey)
    assert.deepStrictEqual(opened, { v: 1, kind: 'replenishment', ...order() })
  })

  it('only the listed fields are signed (extra properties on the input are dropped)', () => {
    const withExtra = { ...order(), lines: [{ sku: 'BREAD-1', qty: 20, note: 'x' }], comment: 'y' } as unknown as Omit<Replenishment, 'v' | 'kind'>
    assert.deepStrictEqual(openReplenishment(signReplenishment(root, withExtra), root.publicKey).lines, [{ sku: 'BREAD-1', qty: 20 }])
  })

  it('opened as checked bytes (HQ\'s own log), an order gives the same; the root, the kind and the fields are still checked', () => {
    const bytes = signReplenishment(root, order())
    assert.deepStrictEqual(openReplenishment(bytes, root.publicKey, { verify: false, checked: true }), openReplenishment(bytes, root.publicKey))
    assert.throws(() => openReplenishment(signReplenishment(signerOf('mallory'), order()), root.publicKey, { verify: false, checked: true }), ForgedError)
    const v2 = seal('replenishment', canonicalEncode({ v: 2, kind: 'replenishment', ...order() } as unknown as Canonical), root)
    assert.throws(() => openReplenishment(v2, root.publicKey, { verify: false, checked: true }), InvalidRecordError)
    const cert = seal('cert', canonicalEncode({ v: 1, kind: 'cert' }), root)
    assert.throws(() => openReplenishment(cert, root.publicKey, { verify: false, checked: true }), InvalidRecordError)
    // `checked` never skips a signature that was asked for.
    const forged = new Uint8Array(bytes)
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1
    assert.throws(() => openReplenishment(forged, root.publicKey, { verify: true, checked: true }))
  })

  it('an order signed by a key other than the root is ForgedError', () => {
    const mallory = signerOf('mallory')
    assert.throws(() => openReplenishment(signReplenishment(mallory, order()), root.publicKey), ForgedError)
    assert.throws(() => openReplenishment(signReplenishment(till1, order()), root.publicKey), ForgedError)
  })

  it('no single-byte change is accepted', () => {
    const bytes = signReplenishment(root, order())
    for (let i = 0; i < bytes.length; i++) {
      const b = new Uint8Array(bytes)
      b[i]! ^= 0x01
      const err = thrown(() => openReplenishment(b, root.publicKey))
      assert.ok(err instanceof ForgedError || err instanceof MalformedError, `byte ${i}: ${err.name}: ${err.message}`)
    }
  })

  it('HQ never signs an order it would refuse', () => {
    for (const bad of [
      order({ lines: [{ sku: 'BREAD-1', qty: 0 }] }),
      order({ lines: [{ sku: 'BREAD-1', qty: -2 }] }),
      order({ lines: [{ sku: 'MILK-1', qty: 1 }, { sku: 'BREAD-1', qty: 1 }] }),
      order({ lines: [{ sku: 'MILK-1', qty: 1 }, { sku: 'MILK-1', qty: 1 }] }),
      order({ businessDay: '2026-02-30' as never }),
      order({ store: 's1' as never }),
      order({ id: '' })
    ]) {
      assert.throws(() => signReplenishment(root, bad), InvalidRecordError, JSON.stringify(bad))
    }
  })

  it('a root-signed order with version 2 or an unknown field is InvalidRecordError', () => {
    const fields = { v: 1, kind: 'replenishment', ...order() } as unknown as { [key: string]: Canonical }
    assert.doesNotThrow(() => openReplenishment(seal('replenishment', canonicalEncode(fields), root), root.publicKey))
    assert.throws(() => openReplenishment(seal('replenishment', canonicalEncode({ ...fields, v: 2 }), root), root.publicKey), InvalidRecordError)
    assert.throws(() => openReplenishment(seal('replenishment', canonicalEncode({ ...fields, urgent: true }), root), root.publicKey), InvalidRecordError)
  })

  it('is neither a till record nor a certificate, and they are not orders', () => {
    const bytes = signReplenishment(root, order())
    assert.throws(() => openEntry(bytes), MalformedError)
    assert.throws(() => openCertificate(bytes, root.publicKey), InvalidRecordError)
    // a root signature over the order cannot be relabelled as a certificate
    const f = canonicalDecode(bytes) as { [key: string]: Canonical }
    assert.throws(() => openCertificate(canonicalEncode({ ...f, kind: 'cert' }), root.publicKey), ForgedError)
  })
})

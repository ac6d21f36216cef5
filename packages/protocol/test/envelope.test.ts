import assert from 'node:assert/strict'
import { canonicalDecode, canonicalEncode, type Canonical } from '../src/canonical.ts'
import { seal, unseal } from '../src/envelope.ts'
import { ForgedError, InvalidRecordError, invariant, MalformedError, OversizedError, rejectionOf } from '../src/errors.ts'
import { encodeRecord } from '../src/records.ts'
import { close, root, thrown, till1 } from './helpers/fixtures.ts'

type Fields = { [key: string]: Canonical }

function goodFields (): Fields {
  return canonicalDecode(seal('close', encodeRecord(close()), till1)) as Fields
}

describe('envelope: seal / unseal', () => {
  it('unseal returns the kind, body, decoded value, signer and signature', () => {
    const body = encodeRecord(close())
    const opened = unseal(seal('close', body, till1))
    assert.equal(opened.kind, 'close')
    assert.deepStrictEqual(opened.body, body)
    assert.deepStrictEqual(opened.value, canonicalDecode(body))
    assert.deepStrictEqual(opened.signer, till1.publicKey)
    assert.equal(opened.sig.length, 64)
  })

  describe('a malformed envelope is MalformedError (nothing in it is signed yet, so it is never "invalid record")', () => {
    const cases: Array<[string, (f: Fields) => Canonical]> = [
      ['an unknown envelope field', f => ({ ...f, extra: 1 })],
      ['a missing signature', f => { const { sig: _, ...rest } = f; return rest }],
      ['version 2', f => ({ ...f, v: 2 })],
      ['version "1"', f => ({ ...f, v: '1' })],
      ['an unknown kind', f => ({ ...f, kind: 'receipt' })],
      ['a kind that is not letters', f => ({ ...f, kind: 'close!' })],
      ['a kind that is not a string', f => ({ ...f, kind: 7 })],
      ['a body that is not bytes', f => ({ ...f, body: canonicalDecode(f.body as Uint8Array) })],
      ['a 31-byte signer', f => ({ ...f, signer: (f.signer as Uint8Array).subarray(1) })],
      ['a 63-byte signature', f => ({ ...f, sig: (f.sig as Uint8Array).subarray(1) })],
      ['an array instead of a map', f => [f.v!, f.kind!, f.body!, f.signer!, f.sig!]],
      ['a bare integer', () => 1]
    ]
    for (const [name, change] of cases) {
      it(name, () => {
        const err = thrown(() => unseal(canonicalEncode(change(goodFields()))))
        assert.ok(err instanceof MalformedError, `${err.name}: ${err.message}`)
      })
    }

    it('input that is not a Uint8Array', () => {
      assert.throws(() => unseal('hello' as unknown as Uint8Array), MalformedError)
      assert.throws(() => unseal([1, 2] as unknown as Uint8Array), MalformedError)
    })

    it('a signed body whose kind differs from the envelope\'s kind', () => {
      assert.throws(() => unseal(seal('stockIn', encodeRecord(close()), till1)), MalformedError)
    })

    it('a signed body that is not a map, or is not canonical CBOR', () => {
      assert.throws(() => unseal(seal('close', canonicalEncode([1, 2]), till1)), MalformedError)
      assert.throws(() => unseal(seal('close', Uint8Array.of(0x18, 0x01), till1)), MalformedError)
      assert.throws(() => unseal(seal('close', new Uint8Array(0), till1)), MalformedError)
    })
  })

  it('the signature is checked before the body is decoded (junk under a bad signature is ForgedError)', () => {
    const f = goodFields()
    assert.throws(() => unseal(canonicalEncode({ ...f, body: Uint8Array.of(0xff, 0x00) })), ForgedError)
  })

  it('a signature by the wrong key is ForgedError', () => {
    const f = goodFields()
    assert.throws(() => unseal(canonicalEncode({ ...f, signer: root.publicKey })), ForgedError)
  })
})

describe('errors', () => {
  it('rejectionOf maps each expected failure to its code, and rethrows anything else', () => {
    assert.deepStrictEqual(rejectionOf(new MalformedError('m')), { code: 'MALFORMED', reason: 'm' })
    assert.deepStrictEqual(rejectionOf(new InvalidRecordError('i')), { code: 'INVALID', reason: 'i' })
    assert.deepStrictEqual(rejectionOf(new ForgedError('f')), { code: 'FORGED', reason: 'f' })
    assert.deepStrictEqual(rejectionOf(new OversizedError('o')), { code: 'OVERSIZED', reason: 'o' })
    const bug = new TypeError('a bug')
    assert.throws(() => rejectionOf(bug), e => e === bug)
  })

  it('each error class has its name and static code', () => {
    for (const [Cls, name, code] of [[MalformedError, 'MalformedError', 'MALFORMED'], [InvalidRecordError, 'InvalidRecordError', 'INVALID'], [ForgedError, 'ForgedError', 'FORGED'], [OversizedError, 'OversizedError', 'OVERSIZED']] as const) {
      assert.equal(new Cls('x').name, name)
      assert.equal(Cls.code, code)
      assert.ok(new Cls('x') instanceof Error)
    }
  })

  it('invariant throws a plain Error (a bug, not a rejection) when broken', () => {
    assert.doesNotThrow(() => invariant(true, 'fine'))
    const err = thrown(() => invariant(0, 'debits equal credits'))
    assert.equal(err.message, 'invariant broken: debits equal credits')
    assert.throws(() => rejectionOf(err), e => e === err)
  })
})

/** Members: random ids, phone numbers normalised to E.164 and kept only as a keyed hash. */
import assert from 'node:assert/strict'
import { isMemberId, MembersError, newMemberId, normalisePhone, phoneKey } from '../src/index.ts'

describe('members', () => {
  it('a member id is 128 random bits, never derived from the phone', () => {
    const a = newMemberId()
    assert.ok(isMemberId(a), a)
    assert.notEqual(newMemberId(), a)
    assert.equal(newMemberId(() => new Uint8Array(16)), 'm-AAAAAAAAAAAAAAAAAAAAAA')
    assert.equal(isMemberId('+447700900123'), false)
  })

  it('normalises a phone number to E.164, and refuses one without its country code', () => {
    assert.equal(normalisePhone(' +44 (0)7700-900.123 '.replace('(0)', '')), '+447700900123')
    assert.equal(normalisePhone('0044 7700 900123'), '+447700900123')
    for (const bad of ['07700 900123', '+0447700900123', '+44', '+44770090012345678', '+44 7700 90012a', '']) {
      assert.throws(() => normalisePhone(bad), MembersError, bad)
    }
  })

  it('keeps a keyed hash of the number: the same for any way of writing it, another under another key, never the number', () => {
    const key = new Uint8Array(32).fill(1)
    const h = phoneKey(key, '+44 7700 900123')
    assert.equal(h, phoneKey(key, '00447700900123'))
    assert.notEqual(h, phoneKey(new Uint8Array(32).fill(2), '+447700900123'))
    assert.match(h, /^[0-9a-f]{64}$/)
    assert.ok(!h.includes('7700900123'))
    assert.throws(() => phoneKey(new Uint8Array(16), '+447700900123'), /at least 32 bytes/)
  })
})

import assert from 'node:assert/strict'
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto'
import * as ed from '@noble/ed25519'
import fc from 'fast-check'
import { MalformedError } from '../src/errors.ts'
import { asPublicKey, asSecretKey, keyPairFromSeed, native, noble, noblePublicKey, sha256, Signer, sodium, verifySignature, type PublicKey } from '../src/keys.ts'
import { bytesOfHex, hexOf } from './helpers/fixtures.ts'
import { check, seeded } from './helpers/seed.ts'

/** The group order L of Ed25519 (RFC 8032 §5.1). */
const L = 2n ** 252n + 27742317777372353535851937790883648493n

const implementations = { native, noble } as const

/** RFC 8032 §7.1, test vectors for Ed25519. */
const RFC8032 = [
  {
    name: 'TEST 1',
    secretKey: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'
  },
  {
    name: 'TEST 2',
    secretKey: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'
  },
  {
    name: 'TEST 3',
    secretKey: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a'
  },
  {
    name: 'TEST 1024',
    secretKey: 'f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5',
    publicKey: '278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e',
    message: [
      '08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1',
      'e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d',
      '658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a',
      '7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e',
      '06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10',
      '3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1',
      '85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d',
      '502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270',
      '88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b',
      'eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba',
      'b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b',
      'e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7',
      '51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d',
      'cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df',
      'f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7',
      '984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4',
      '88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09',
      '43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f',
      'b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161',
      '0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d',
      'b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca',
      'c60c905c15fc910840b94c00a0b9d0'
    ].join(''),
    signature: '0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03'
  },
  {
    name: 'TEST SHA(abc)',
    secretKey: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    publicKey: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message: 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature: 'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704'
  }
] as const

/** The public key OpenSSL derives from a seed, written here independently of keys.ts. */
function nativePublicKeyOf (seed: Uint8Array): Uint8Array {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed])
  const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' })
  return new Uint8Array(spki.subarray(spki.length - 32))
}

function flipBit (bytes: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(bytes)
  out[bit >> 3]! ^= 1 << (bit & 7)
  return out
}

function scalarLE (bytes: Uint8Array): bigint {
  return BigInt('0x' + (hexOf(Uint8Array.from(bytes).reverse()) || '0'))
}

function scalarBytesLE (n: bigint): Uint8Array {
  return Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse())
}

/** The same signature with S replaced by S + L: the same value mod L, but not canonical (RFC 8032 §5.1.7 requires S < L). */
function withSPlusL (sig: Uint8Array): Uint8Array {
  const s = scalarLE(sig.subarray(32))
  assert.ok(s < L)
  const out = new Uint8Array(sig)
  out.set(scalarBytesLE(s + L), 32)
  return out
}

describe('keys: Ed25519', () => {
  describe('RFC 8032 §7.1 test vectors', () => {
    it('TEST SHA(abc) signs SHA-512("abc")', () => {
      const vector = RFC8032.find(v => v.name === 'TEST SHA(abc)')!
      assert.equal(createHash('sha512').update('abc').digest('hex'), vector.message)
    })

    it('TEST 1024 signs a 1023-byte message', () => {
      assert.equal(RFC8032.find(v => v.name === 'TEST 1024')!.message.length, 2 * 1023)
    })

    for (const vector of RFC8032) {
      const seed = bytesOfHex(vector.secretKey)
      const message = bytesOfHex(vector.message)
      const publicKey = asPublicKey(bytesOfHex(vector.publicKey))
      const secretKey = asSecretKey(seed)

      it(`${vector.name}: public key from seed (keyPairFromSeed, noble, and OpenSSL directly)`, () => {
        assert.equal(hexOf(keyPairFromSeed(seed).publicKey), vector.publicKey)
        assert.equal(hexOf(noblePublicKey(secretKey)), vector.publicKey)
        assert.equal(hexOf(nativePublicKeyOf(seed)), vector.publicKey)
      })

      for (const [name, impl] of Object.entries(implementations)) {
        it(`${vector.name}: ${name} signs to the exact bytes and verifies`, () => {
          assert.equal(hexOf(impl.sign(message, secretKey)), vector.signature)
          assert.equal(impl.verify(bytesOfHex(vector.signature), message, publicKey), true)
        })

        it(`${vector.name}: ${name} rejects the vector's signature on another message, or with S + L`, () => {
          const other = message.length === 0 ? Uint8Array.of(0) : flipBit(message, 0)
          assert.equal(impl.verify(bytesOfHex(vector.signature), other, publicKey), false)
          assert.equal(impl.verify(withSPlusL(bytesOfHex(vector.signature)), message, publicKey), false)
        })
      }

      it(`${vector.name}: sodium verifies the vector, and rejects it on another message or with S + L`, () => {
        const other = message.length === 0 ? Uint8Array.of(0) : flipBit(message, 0)
        assert.equal(sodium.verify(bytesOfHex(vector.signature), message, publicKey), true)
        assert.equal(sodium.verify(bytesOfHex(vector.signature), other, publicKey), false)
        assert.equal(sodium.verify(withSPlusL(bytesOfHex(vector.signature)), message, publicKey), false)
      })

      it(`${vector.name}: Signer signs to the exact bytes`, () => {
        assert.equal(hexOf(new Signer(keyPairFromSeed(seed)).sign(message)), vector.signature)
      })
    }
  })

  it('a Signer refuses a key pair whose public key is not its secret key\'s (libsodium would sign with it as given)', () => {
    const a = keyPairFromSeed(new Uint8Array(32).fill(1))
    const b = keyPairFromSeed(new Uint8Array(32).fill(2))
    assert.throws(() => new Signer({ secretKey: a.secretKey, publicKey: b.publicKey }), /not the secret key's/)
    assert.throws(() => new Signer({ secretKey: a.secretKey, publicKey: asPublicKey(new Uint8Array(32)) }), /not the secret key's/)
    assert.equal(new Signer(a).publicKey, a.publicKey)
  })

  describe('native, noble and sodium agree on random keys and messages', () => {
    it('same signature bytes, each verifies the other, all reject bit flips and S + L', () => {
      check(fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(),
        (seed, message, pick) => {
          const pair = keyPairFromSeed(seed)
          assert.deepEqual(nativePublicKeyOf(seed), new Uint8Array(pair.publicKey), 'public key')
          assert.deepEqual(new Uint8Array(noblePublicKey(pair.secretKey)), new Uint8Array(pair.publicKey), 'noble derives the same public key')
          const bySigner = new Signer(pair).sign(message)
          const byNative = native.sign(message, pair.secretKey)
          const byNoble = noble.sign(message, pair.secretKey)
          assert.equal(hexOf(byNative), hexOf(byNoble), 'native and noble sign the same bytes')
          assert.equal(hexOf(bySigner), hexOf(byNative), 'Signer signs what native.sign signs')
          assert.equal(native.verify(byNoble, message, pair.publicKey), true, 'native verifies noble')
          assert.equal(noble.verify(byNative, message, pair.publicKey), true, 'noble verifies native')
          assert.equal(sodium.verify(byNoble, message, pair.publicKey), true, 'sodium verifies noble')

          const badMessage = message.length === 0 ? Uint8Array.of(pick & 0xff) : flipBit(message, pick % (message.length * 8))
          const badSig = flipBit(byNative, pick % 512)
          const badKey = asPublicKey(flipBit(pair.publicKey, pick % 256))
          const nonCanonical = withSPlusL(byNative)
          for (const [what, sig, msg, key] of [
            ['message bit', byNative, badMessage, pair.publicKey],
            ['signature bit', badSig, message, pair.publicKey],
            ['key bit', byNative, message, badKey],
            ['S + L', nonCanonical, message, pair.publicKey]
          ] as const) {
            assert.equal(native.verify(sig, msg, key), false, `native accepted a flipped ${what}`)
            assert.equal(noble.verify(sig, msg, key), false, `noble accepted a flipped ${what}`)
            assert.equal(sodium.verify(sig, msg, key), false, `sodium accepted a flipped ${what}`)
          }
        }
      ), 100)
    })

    it('every single-bit flip of one signature is rejected (native and sodium: all 512 bits; noble: every 4th, it is slow)', () => {
      seeded(rng => {
        const pair = keyPairFromSeed(rng.bytes(32))
        const message = rng.bytes(1 + rng.below(100))
        const sig = native.sign(message, pair.secretKey)
        for (let bit = 0; bit < 512; bit++) {
          const bad = flipBit(sig, bit)
          assert.equal(native.verify(bad, message, pair.publicKey), false, `native, bit ${bit}`)
          assert.equal(sodium.verify(bad, message, pair.publicKey), false, `sodium, bit ${bit}`)
          if (bit % 4 === 0) assert.equal(noble.verify(bad, message, pair.publicKey), false, `noble, bit ${bit}`)
        }
      })
    })
  })

  describe('edge cases where a lax verifier would accept', () => {
    // The 8 points of order dividing 8, computed rather than transcribed: multiples of one order-8 point.
    const order8 = ed.Point.fromBytes(bytesOfHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'))
    const smallOrder = Array.from({ length: 8 }, (_, i) => i === 0 ? ed.Point.ZERO : order8.multiply(BigInt(i)))

    it('the torsion points are what they claim to be', () => {
      assert.equal(new Set(smallOrder.map(p => hexOf(p.toBytes()))).size, 8)
      for (const p of smallOrder) assert.equal(p.isSmallOrder(), true)
      assert.equal(order8.multiply(4n).is0(), false)
    })

    it('both refuse every small-order public key, whatever the signature (no trivial forgery)', () => {
      seeded(rng => {
        for (const A of smallOrder) {
          const key = asPublicKey(A.toBytes())
          for (const R of smallOrder) {
            for (let i = 0; i < 4; i++) {
              const sig = new Uint8Array(64)
              sig.set(R.toBytes(), 0) // S = 0: R + k·A = 0 holds whenever k·A = −R
              const message = rng.bytes(8)
              assert.equal(native.verify(sig, message, key), false, `native, A=${hexOf(key)}`)
              assert.equal(noble.verify(sig, message, key), false, `noble, A=${hexOf(key)}`)
              assert.equal(sodium.verify(sig, message, key), false, `sodium, A=${hexOf(key)}`)
            }
          }
        }
      })
    })

    /**
     * A key's owner can add a small-order component to R or to the key. noble checks the cofactored
     * equation and accepts; OpenSSL checks the cofactorless one and (mostly) refuses. This pins the
     * direction of the difference: native never accepts what noble refuses, so native is the one to decide.
     */
    it('on signatures crafted with small-order components, sodium accepts only what native accepts, native only what noble accepts', () => {
      seeded(rng => {
        const pair = keyPairFromSeed(rng.bytes(32))
        const a = ed.utils.getExtendedPublicKey(pair.secretKey).scalar
        const A = ed.Point.fromBytes(pair.publicKey)
        const hashToScalar = (...parts: Uint8Array[]): bigint => scalarLE(new Uint8Array(createHash('sha512').update(Buffer.concat(parts)).digest())) % L
        let nativeAccepted = 0
        let nobleAccepted = 0
        for (let i = 0; i < 48; i++) {
          const T = smallOrder[1 + (i % 7)]!
          const tweakKey = i % 2 === 0
          const key = (tweakKey ? A.add(T) : A).toBytes()
          const r = scalarLE(rng.bytes(64)) % L
          const R = (tweakKey ? ed.Point.BASE.multiply(r) : ed.Point.BASE.multiply(r).add(T)).toBytes()
          const message = rng.bytes(16)
          const S = (r + hashToScalar(R, key, message) * a) % L
          const sig = new Uint8Array(64)
          sig.set(R, 0)
          sig.set(scalarBytesLE(S), 32)
          const byNative = native.verify(sig, message, asPublicKey(key))
          const byNoble = noble.verify(sig, message, asPublicKey(key))
          const bySodium = sodium.verify(sig, message, asPublicKey(key))
          assert.ok(!bySodium || byNative, `sodium accepted a signature native refused (i=${i})`)
          if (!tweakKey) assert.equal(bySodium, false, 'sodium accepted an R with a small-order component')
          if (byNative) nativeAccepted++
          if (byNoble) nobleAccepted++
          assert.ok(!byNative || byNoble, `native accepted a signature noble refused (i=${i})`)
          if (!tweakKey) assert.equal(byNative, false, 'native accepted an R with a small-order component')
        }
        assert.ok(nativeAccepted < nobleAccepted, 'expected native to be strictly stricter on crafted input')
      })
    })

    it('the production verifier is sodium', () => {
      assert.equal(verifySignature, sodium.verify)
    })
  })

  describe('shapes', () => {
    it('asPublicKey and asSecretKey take exactly 32 bytes', () => {
      for (const n of [0, 31, 33, 64]) {
        assert.throws(() => asPublicKey(new Uint8Array(n)), MalformedError)
        assert.throws(() => asSecretKey(new Uint8Array(n)), MalformedError)
      }
      assert.throws(() => asPublicKey([...new Uint8Array(32)] as unknown as Uint8Array), MalformedError)
      assert.equal(asPublicKey(new Uint8Array(32)).length, 32)
    })

    it('every verifier returns false (never throws) on a wrong-length signature or key, or an undecodable key', () => {
      const pair = keyPairFromSeed(new Uint8Array(32).fill(1))
      const message = Uint8Array.of(1, 2, 3)
      const sig = native.sign(message, pair.secretKey)
      for (const impl of [native, noble, sodium]) {
        assert.equal(impl.verify(sig.subarray(0, 63), message, pair.publicKey), false)
        assert.equal(impl.verify(sig, message, pair.publicKey.subarray(0, 31) as PublicKey), false)
        assert.equal(impl.verify(Uint8Array.of(...sig, 0), message, pair.publicKey), false)
        assert.equal(impl.verify(new Uint8Array(64), message, pair.publicKey), false)
        // y = 2^255 - 1 > p: not a canonical point encoding
        assert.equal(impl.verify(sig, message, asPublicKey(new Uint8Array(32).fill(0xff))), false)
      }
    })

    it('keyPairFromSeed copies the seed and is deterministic', () => {
      const seed = new Uint8Array(32).fill(9)
      const pair = keyPairFromSeed(seed)
      seed[0] = 0
      assert.equal(pair.secretKey[0], 9)
      assert.deepEqual(keyPairFromSeed(new Uint8Array(32).fill(9)).publicKey, pair.publicKey)
    })

    it('verifiers answer per key, whatever buffer holds it (native caches parsed keys: a verify under key A says nothing about key B)', () => {
      const a = keyPairFromSeed(new Uint8Array(32).fill(2))
      const b = keyPairFromSeed(new Uint8Array(32).fill(3))
      const message = Uint8Array.of(7)
      const sigA = native.sign(message, a.secretKey)
      for (let i = 0; i < 3; i++) {
        assert.equal(native.verify(sigA, message, a.publicKey), true)
        assert.equal(native.verify(sigA, message, b.publicKey), false)
        // a copy of A's key in another buffer (and at an offset) is the same key
        const padded = new Uint8Array(40)
        padded.set(a.publicKey, 8)
        assert.equal(native.verify(sigA, message, padded.subarray(8) as PublicKey), true)
        assert.equal(sodium.verify(sigA, message, padded.subarray(8) as PublicKey), true)
        assert.equal(sodium.verify(sigA, message, b.publicKey), false)
      }
    })

    it('sha256 hashes the concatenation of its parts', () => {
      assert.equal(hexOf(sha256(new TextEncoder().encode('ab'), new TextEncoder().encode('c'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
      assert.equal(hexOf(sha256()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    })
  })
})

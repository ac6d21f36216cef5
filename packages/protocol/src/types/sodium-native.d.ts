/** The libsodium calls we use (sodium-native ships no types; @types/sodium-native is for v2). */
declare module 'sodium-native' {
  const sodium: {
    crypto_sign_verify_detached (signature: ArrayBufferView, message: ArrayBufferView, publicKey: ArrayBufferView): boolean
    /** Ed25519: the 64-byte signature of `message` into `signature`, under `secretKey` (seed ‖ public key, 64 bytes). */
    crypto_sign_detached (signature: ArrayBufferView, message: ArrayBufferView, secretKey: ArrayBufferView): void
    /** Ed25519 key pair from a 32-byte seed: the public key (32 bytes) and the secret key (seed ‖ public key, 64 bytes). */
    crypto_sign_seed_keypair (publicKey: ArrayBufferView, secretKey: ArrayBufferView, seed: ArrayBufferView): void
    /** SHA-256 of `input` into `output` (exactly 32 bytes). */
    crypto_hash_sha256 (output: ArrayBufferView, input: ArrayBufferView): void
  }
  export default sodium
}

/** The one libsodium call we use (sodium-native ships no types; @types/sodium-native is for v2). */
declare module 'sodium-native' {
  const sodium: {
    crypto_sign_verify_detached (signature: ArrayBufferView, message: ArrayBufferView, publicKey: ArrayBufferView): boolean
  }
  export default sodium
}

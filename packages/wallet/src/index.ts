/**
 * @tillbooks/wallet: the customer's side, with no network. A receipt signed by the till
 * (COSE_Sign1, EdDSA, over canonical CBOR, with the till's certificate), as a QR (`TB1:` +
 * Base45), verified offline with HQ's root key alone; the wallet that keeps them, and its
 * encrypted backup.
 */
export * from './base45.ts'
export * from './cose.ts'
export * from './errors.ts'
export * from './receipt.ts'
export * from './store.ts'

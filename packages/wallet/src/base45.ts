/**
 * Base45 (RFC 9285), the QR-friendly encoding: the `base45` package's encoder, and its decoder
 * behind the checks RFC 9285 asks for (the package decodes any text without complaint): only
 * the 45 characters, no length of 1 mod 3, no triple above 65535, no pair above 255.
 */
import { decode, encode } from 'base45'
import { WalletError } from './errors.ts'

const CHARSET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:'

export function toBase45 (bytes: Uint8Array): string {
  return encode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
}

export function fromBase45 (text: string): Uint8Array {
  if (typeof text !== 'string') throw new WalletError('Base45 is text')
  if (text.length % 3 === 1) throw new WalletError(`Base45 of ${text.length} characters: a length of 1 mod 3 is not Base45`)
  for (let i = 0; i < text.length; i++) if (!CHARSET.includes(text[i] as string)) throw new WalletError(`Base45: ${JSON.stringify(text[i])} at ${i} is not in its alphabet`)
  for (let i = 0; i < text.length; i += 3) {
    const v = CHARSET.indexOf(text[i] as string) + CHARSET.indexOf(text[i + 1] as string) * 45 + (i + 2 < text.length ? CHARSET.indexOf(text[i + 2] as string) * 2025 : 0)
    if (v > (i + 2 < text.length ? 0xffff : 0xff)) throw new WalletError(`Base45: the group at ${i} is ${v}, past what it can hold`)
  }
  return new Uint8Array(decode(text))
}

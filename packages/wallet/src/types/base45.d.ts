declare module 'base45' {
  export function encode (input: Uint8Array | string): string
  export function decode (input: string): Buffer
}

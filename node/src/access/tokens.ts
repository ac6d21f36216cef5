/**
 * Bearer tokens: the admin token (every route) and the viewer token (the read routes). Each
 * daemon writes its own at first start, mode 0600, and keeps only their SHA-256 digests in
 * memory. Secrets are compared by digest with `timingSafeEqual`: the time a comparison takes
 * says nothing about how much of a guess was right, nor about the secret's length.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdir, readFile, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { writeFileAtomic } from '../daemon/dataDir.ts'
import { TOKEN_BYTES } from './constants.ts'

/** SHA-256 of a secret as typed: what is kept, compared and (its first bytes) logged as an id. */
export type SecretDigest = Buffer & { readonly __brand: 'SecretDigest' }

export function secretDigest (secret: string): SecretDigest {
  return createHash('sha256').update(secret, 'utf8').digest() as SecretDigest
}

/** Constant-time equality of two digests (both always 32 bytes). */
export function sameDigest (a: SecretDigest, b: SecretDigest): boolean {
  return timingSafeEqual(a, b)
}

/** A short, non-secret id for a secret in logs: the first 4 bytes of its digest, hex. */
export function secretId (d: SecretDigest): string {
  return d.subarray(0, 4).toString('hex')
}

/** A new token: `TOKEN_BYTES` random bytes, base64url (43 characters), prefixed with its role so a leaked one is recognisable. */
export function newToken (role: 'admin' | 'viewer'): string {
  return `tb${role === 'admin' ? 'a' : 'v'}_${randomBytes(TOKEN_BYTES).toString('base64url')}`
}

/** A token as written in a file or a variable: surrounding whitespace (the newline) dropped. */
export function tokenText (raw: string): string {
  return raw.trim()
}

/**
 * The token in `path`, written there first (mode 0600, atomically) if the file is absent.
 * A token file anyone else can read is refused: it would be a credential on show.
 */
export async function readOrCreateToken (path: string, role: 'admin' | 'viewer'): Promise<string> {
  let text: string | undefined
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (text === undefined) {
    await mkdir(dirname(path), { recursive: true })
    const token = newToken(role)
    await writeFileAtomic(path, token + '\n', 0o600)
    return token
  }
  const mode = (await stat(path)).mode & 0o777
  if ((mode & 0o077) !== 0) throw new Error(`${path} is readable by others (mode ${mode.toString(8)}): chmod 600 it`)
  const token = tokenText(text)
  if (token.length < 22 || token.length > 200 || !/^[\x21-\x7e]+$/.test(token)) throw new Error(`${path} does not hold a token (22..200 printable characters)`)
  return token
}

/**
 * How the CLI reaches a daemon's HTTP API: with a bearer credential (`--token-file FILE`, or
 * the TILLBOOKS_TOKEN environment variable; a command that takes `--code` sends the code
 * instead) and, for HTTPS with a private CA, `--ca FILE`. undici's fetch with its own Agent:
 * Node's global fetch cannot be told to trust a CA for one call.
 */
import { readFile } from 'node:fs/promises'
import { Agent, fetch as undiciFetch } from 'undici'
import { tokenText } from './tokens.ts'

export interface ClientAuth {
  /** The bearer credential: a token, or an enrolment code. */
  bearer?: string
  /** PEM of the CA that signed the daemon's certificate, when it is not a public one. */
  ca?: string
}

export interface ClientAuthFlags { tokenFile?: string | undefined, code?: string | undefined, ca?: string | undefined }

/** `--code`, else `--token-file`, else TILLBOOKS_TOKEN; and `--ca`. */
export async function clientAuthFrom (f: ClientAuthFlags, env: NodeJS.ProcessEnv = process.env): Promise<ClientAuth> {
  const out: ClientAuth = {}
  if (f.code !== undefined) out.bearer = f.code.trim()
  else if (f.tokenFile !== undefined) out.bearer = tokenText(await readFile(f.tokenFile, 'utf8'))
  else if (env.TILLBOOKS_TOKEN !== undefined && env.TILLBOOKS_TOKEN.trim() !== '') out.bearer = tokenText(env.TILLBOOKS_TOKEN)
  if (f.ca !== undefined) {
    const pem = await readFile(f.ca, 'utf8')
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`--ca ${f.ca} holds no PEM certificate`)
    out.ca = pem
  }
  return out
}

export type AuthedFetch = (url: string, init?: { method?: string, body?: string | Uint8Array, headers?: Record<string, string>, signal?: AbortSignal }) => Promise<Response>

const agents = new Map<string, Agent>()

/** fetch with the credential in `Authorization` and the CA trusted, when given. */
export function authedFetch (auth: ClientAuth = {}): AuthedFetch {
  let dispatcher: Agent | undefined
  if (auth.ca !== undefined) {
    dispatcher = agents.get(auth.ca)
    if (dispatcher === undefined) agents.set(auth.ca, dispatcher = new Agent({ connect: { ca: auth.ca } }))
  }
  return async (url, init = {}) => {
    const headers: Record<string, string> = { ...(init.headers ?? {}) }
    if (auth.bearer !== undefined) headers.authorization = `Bearer ${auth.bearer}`
    const res = await undiciFetch(url, { ...init, headers, ...(dispatcher !== undefined ? { dispatcher } : {}) })
    return res as unknown as Response
  }
}

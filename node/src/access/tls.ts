/**
 * Where a daemon's HTTP may listen, and with what. On loopback (127.0.0.0/8, ::1, localhost)
 * plain HTTP is allowed: nothing but this machine can reach it. Beyond loopback a daemon
 * serves HTTPS or refuses to start, saying why: tokens and codes must not cross a network in
 * clear. The listen address decides, not each client's: a proxy on the same machine would
 * otherwise make every caller look local.
 */
import { readFile } from 'node:fs/promises'
import { isIPv4, isIPv6 } from 'node:net'

export function isLoopbackHost (host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost') return true
  if (isIPv4(h)) return h.startsWith('127.')
  if (isIPv6(h)) return h === '::1' || /^::ffff:127\./.test(h) || h === '0:0:0:0:0:0:0:1'
  return false
}

export interface TlsFiles { certFile?: string | undefined, keyFile?: string | undefined }

export interface ServerTls { cert: Buffer, key: Buffer }

/** The TLS material a daemon listening on `host` must serve with, or null for plain HTTP on loopback. */
export async function serverTls (daemon: string, host: string, f: TlsFiles): Promise<ServerTls | null> {
  if ((f.certFile === undefined) !== (f.keyFile === undefined)) throw new Error(`${daemon}: --tls-cert and --tls-key go together`)
  if (f.certFile === undefined || f.keyFile === undefined) {
    if (!isLoopbackHost(host)) throw new Error(`${daemon}: HTTP would listen on ${host}, beyond loopback, in clear: give --tls-cert FILE and --tls-key FILE to serve HTTPS, or listen on 127.0.0.1`)
    return null
  }
  const [cert, key] = await Promise.all([readFile(f.certFile), readFile(f.keyFile)])
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${daemon}: ${f.certFile} holds no PEM certificate`)
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) throw new Error(`${daemon}: ${f.keyFile} holds no PEM private key`)
  return { cert, key }
}

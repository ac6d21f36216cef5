/**
 * A private CA and a server certificate it signed for 127.0.0.1 and localhost, made in
 * memory with @peculiar/x509 (WebCrypto, no openssl binary), written as PEM files: what an
 * operator's own CA would hand HQ for `--tls-cert`/`--tls-key`, and the CLI for `--ca`.
 */
// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API first.
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as x509 from '@peculiar/x509'

x509.cryptoProvider.set(webcrypto as never)

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const

export interface TestPki { caFile: string, certFile: string, keyFile: string, caPem: string, otherCaFile: string }

async function selfSignedCa (name: string): Promise<{ cert: x509.X509Certificate, keys: webcrypto.CryptoKeyPair }> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: `CN=${name}`, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000),
    keys, signingAlgorithm: ALG,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)]
  })
  return { cert, keys }
}

/** Write ca.pem, server.pem, server.key (and another CA nobody used) into `dir`. */
export async function makeTestPki (dir: string): Promise<TestPki> {
  const ca = await selfSignedCa('tillbooks test CA')
  const other = await selfSignedCa('some other CA')
  const leafKeys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02', subject: 'CN=127.0.0.1', issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000),
    signingKey: ca.keys.privateKey, publicKey: leafKeys.publicKey, signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }, { type: 'dns', value: 'localhost' }])
    ]
  })
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey)
  const out: TestPki = { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key'), caPem: ca.cert.toString('pem'), otherCaFile: join(dir, 'other-ca.pem') }
  await writeFile(out.caFile, out.caPem)
  await writeFile(out.otherCaFile, other.cert.toString('pem'))
  await writeFile(out.certFile, leaf.toString('pem'))
  await writeFile(out.keyFile, x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), { mode: 0o600 })
  return out
}

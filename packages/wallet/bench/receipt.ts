/**
 * Signing a receipt at the till and verifying it in the wallet (issue 18's figures: ≤ 1 ms and
 * ≤ 2 ms): N of each, medians and p95, and the QR text's length.
 * Not a test: `node packages/wallet/bench/receipt.ts [N]` from the repo root.
 */
import { cpus } from 'node:os'
import { issueCertificate, keyPairFromSeed, Signer } from '@tillbooks/protocol'
import { linesDigest, signReceipt, verifyReceipt } from '../src/index.ts'

const N = Number(process.argv[2] ?? 2000)
const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(1)))
const till = new Signer(keyPairFromSeed(new Uint8Array(32).fill(2)))
const cert = issueCertificate(root, { store: 'S1' as never, till: 1, tillKey: till.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes
const receipt = (n: number) => ({
  docNo: `S1-1-${n}`, kind: 'sale' as const, atMs: 1_770_000_000_000 + n, businessDay: '2026-03-02', currency: 'EUR', totalCents: 1090,
  tax: [{ rateBp: 2000, netCents: 908, taxCents: 182 }], tenders: [{ type: 'cash' as const, amountCents: 1090 }], linesDigest: linesDigest([{ sku: 'latte', qty: 2, priceCents: 420 }])
})
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0 }
const p95 = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length * 0.95)] ?? 0 }
const signMs: number[] = []
const verifyMs: number[] = []
let qr = ''
for (let i = 0; i < N; i++) {
  let t = performance.now()
  qr = signReceipt(receipt(i), till, cert).qr
  signMs.push(performance.now() - t)
  t = performance.now()
  verifyReceipt(qr, root.publicKey)
  verifyMs.push(performance.now() - t)
}
const f = (x: number): string => x.toFixed(3)
console.log(`receipt: sign median ${f(median(signMs))} ms (p95 ${f(p95(signMs))}), verify median ${f(median(verifyMs))} ms (p95 ${f(p95(verifyMs))}), QR text ${qr.length} characters (${N} each; ${cpus().length} cores, ${cpus()[0]?.model ?? ''}, Node ${process.version})`)
console.log(JSON.stringify({ n: N, signMedianMs: median(signMs), verifyMedianMs: median(verifyMs), qrChars: qr.length }))

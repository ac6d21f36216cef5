/**
 * The wallet: receipts verified before they are kept, kept once, points and returnable sales
 * shown, and an encrypted backup that opens only with its passphrase and refuses any change.
 */
import assert from 'node:assert/strict'
import { issueCertificate, keyPairFromSeed, Signer } from '@tillbooks/protocol'
import { linesDigest, signReceipt, WalletError, WalletStore, type ReceiptLine } from '../src/index.ts'

const root = new Signer(keyPairFromSeed(new Uint8Array(32).fill(1)))
const till = new Signer(keyPairFromSeed(new Uint8Array(32).fill(2)))
const cert = issueCertificate(root, { store: 'S1' as never, till: 1, tillKey: till.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes
const M = 'm-AAAAAAAAAAAAAAAAAAAAAA'
const lines: ReceiptLine[] = [{ sku: 'latte', qty: 1, priceCents: 420 }]
const qrOf = (n: number, day: string, over: Record<string, unknown> = {}): string => signReceipt({
  docNo: `S1-1-${n}`, kind: 'sale', atMs: Date.parse(`${day}T10:00:00Z`) + n, businessDay: day, currency: 'EUR', totalCents: 420,
  tax: [{ rateBp: 2000, netCents: 350, taxCents: 70 }], tenders: [{ type: 'cash', amountCents: 420 }], member: M, points: 4, linesDigest: linesDigest(lines), ...over
}, till, cert).qr

describe('wallet store', () => {
  it('keeps verified receipts once, shows points and what may still be returned', () => {
    const w = new WalletStore(root.publicKey)
    assert.equal(w.add(qrOf(1, '2026-03-01'), lines), 'added')
    assert.equal(w.add(qrOf(1, '2026-03-01')), 'duplicate')
    assert.equal(w.add(qrOf(2, '2026-01-10')), 'added')
    assert.throws(() => w.add(qrOf(3, '2026-03-02'), [{ sku: 'latte', qty: 2, priceCents: 420 }]), /not those of receipt/)
    const forged = signReceipt({ docNo: 'S1-1-9', kind: 'sale', atMs: 0, businessDay: '2026-03-01', currency: 'EUR', totalCents: 1, tax: [], tenders: [], linesDigest: linesDigest([]) }, new Signer(keyPairFromSeed(new Uint8Array(32).fill(4))), cert).qr
    assert.throws(() => w.add(forged), WalletError)
    assert.deepEqual(w.list().map(k => k.receipt.docNo), ['S1-1-1', 'S1-1-2'])
    assert.deepEqual(w.points(), { [M]: 8 })
    assert.deepEqual(w.returnable('2026-03-05').map(k => k.receipt.docNo), ['S1-1-1'])
  })

  it('backs up encrypted: opens with its passphrase only, refuses a changed backup, and every receipt is verified again', () => {
    const w = new WalletStore(root.publicKey)
    w.add(qrOf(1, '2026-03-01'), lines)
    w.add(qrOf(2, '2026-03-02'))
    const backup = w.exportBackup('correct horse battery')
    assert.ok(!backup.includes('TB1:'), 'the receipts are not readable in the backup')
    const other = new WalletStore(root.publicKey)
    assert.throws(() => other.importBackup(backup, 'wrong passphrase'), /does not open/)
    const b = JSON.parse(backup) as { data: string }
    const flipped = Buffer.from(b.data, 'base64')
    flipped[3] = (flipped[3] as number) ^ 1
    assert.throws(() => other.importBackup(JSON.stringify({ ...b, data: flipped.toString('base64') }), 'correct horse battery'), /does not open/)
    assert.deepEqual(other.importBackup(backup, 'correct horse battery'), { added: 2, duplicate: 0 })
    assert.deepEqual(other.list().map(k => [k.receipt.docNo, k.lines?.length ?? null]), [['S1-1-2', null], ['S1-1-1', 1]])
    assert.deepEqual(other.importBackup(backup, 'correct horse battery'), { added: 0, duplicate: 2 })
    // Another retailer's wallet (another root key) takes none of them.
    assert.throws(() => new WalletStore(new Signer(keyPairFromSeed(new Uint8Array(32).fill(6))).publicKey).importBackup(backup, 'correct horse battery'), /root key|not signed/i)
    assert.throws(() => w.exportBackup('short'), /at least 8/)
  })
})

/**
 * The daemons as real OS processes, as a store and head office run them: `tillbooks hq`,
 * `tillbooks enrol`, `tillbooks till`, over real TCP on 127.0.0.1. HQ is SIGKILLed in the
 * middle of the close wave: nothing it acknowledged is lost, nothing is counted twice, and
 * the books equal what the tills rang up, to the cent. Every process started here is ended
 * here, by its pid.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, until } from '../node/test/helpers/daemons.ts'
import { startMaildirSink } from '../node/src/mail/sink.ts'
import { call, kill, killAll, run, startDaemon } from './helpers/processes.ts'

describe('daemons as processes: SIGKILL of HQ in the close wave', function () {
  this.timeout(120_000)
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'tillbooks-procs-')) })
  after(async () => {
    await killAll()
    await rm(dir, { recursive: true, force: true })
  })

  it('loses no acknowledged close, counts none twice, and the books match the till receipts to the cent', async () => {
    const hqPort = await freePort()
    const hqArgs = ['hq', '--data', join(dir, 'hq'), '--listen', `/ip4/127.0.0.1/tcp/${hqPort}`, '--http', '0', '--checkpoint-every', '4']
    let hq = await startDaemon(hqArgs)
    assert.match(hq.ready.peerId, /^12D3/)
    assert.match(hq.ready.http, /^http:\/\/127\.0\.0\.1:\d+$/)
    const stores = ['A', 'B']
    const tills: Array<{ id: string, http: string }> = []
    for (const s of stores) {
      for (const n of [1, 2, 3]) {
        const tillDir = join(dir, `${s}-${n}`)
        // As an operator does it: a code issued at HQ with the admin token, the till enrolled with the code alone.
        const issued = JSON.parse((await run(['codes', 'new', '--hq', hq.ready.http, '--store', s, '--till', String(n), '--ttl', '10m', '--token-file', join(dir, 'hq', 'admin.token'), '--json'])).trim().split('\n').pop() as string) as { code: string, store: string, till: number, expiresAt: string }
        assert.deepEqual([issued.store, issued.till], [s, n])
        assert.ok(Date.parse(issued.expiresAt) > Date.now())
        const enrolled = JSON.parse((await run(['enrol', '--hq', hq.ready.http, '--code', issued.code, '--data', tillDir, '--store', s, '--till', String(n), '--json'])).trim().split('\n').pop() as string) as { tillId: string, fromSeq: number }
        assert.deepEqual([enrolled.tillId, enrolled.fromSeq], [`${s}-${n}`, 1])
        const t = await startDaemon(['till', '--data', tillDir, '--store', s, '--till', String(n), '--hq', hq.ready.multiaddrs[0] as string, '--http', '0', '--retry-max-ms', '300'])
        tills.push({ id: `${s}-${n}`, http: t.ready.http })
      }
    }
    const expected: Record<string, number> = { A: 0, B: 0 }
    for (const [i, t] of tills.entries()) {
      await call(t.http, 'POST', '/day/open', { businessDay: '2026-04-01' })
      for (let k = 0; k < 4; k++) {
        const r = await call<{ totalCents: number }>(t.http, 'POST', '/sales', { lines: [{ sku: k % 2 === 0 ? 'latte' : 'patio-set', qty: 1 + ((i + k) % 3) }], ...(k === 3 ? { tenders: [{ type: 'card', amountCents: 500 }, { type: 'cash', amountCents: 1_000_000 }] } : {}) })
        expected[t.id.slice(0, 1)] = (expected[t.id.slice(0, 1)] as number) + r.totalCents
      }
    }
    // The close wave: every till closes at once, and HQ dies in the middle of it.
    const closing = tills.map(async t => await call(t.http, 'POST', '/day/close', {}))
    await new Promise(resolve => setTimeout(resolve, 15))
    await kill(hq.child, 'SIGKILL')
    await Promise.all(closing)
    const ackedBeforeKill = await Promise.all(tills.map(async t => (await call<{ hqAckedSeq: number }>(t.http, 'GET', '/status')).hqAckedSeq))

    // HQ comes back on a port the tills do not know, so what it holds is only what it had on disk.
    const isolated = await startDaemon(['hq', '--data', join(dir, 'hq'), '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '0'])
    const fleet = await call<{ tills: Record<string, { lastSeq: number }> }>(isolated.ready.http, 'GET', '/fleet')
    tills.forEach((t, i) => { assert.ok((fleet.tills[t.id]?.lastSeq ?? 0) >= (ackedBeforeKill[i] as number), `${t.id}: acked ${ackedBeforeKill[i]} before the kill, HQ holds ${fleet.tills[t.id]?.lastSeq ?? 0}`) })
    await kill(isolated.child, 'SIGTERM')

    // Back at its address: the tills' outboxes drain by themselves.
    hq = await startDaemon(hqArgs)
    for (const t of tills) await until(`${t.id} drained`, async () => (await call<{ outbox: number }>(t.http, 'GET', '/status')).outbox === 0)
    const books = await call<{ stores: Record<string, { takingsCents: number }>, trialBalance: { debitsCents: number, creditsCents: number } }>(hq.ready.http, 'GET', '/books')
    assert.equal(books.stores.A?.takingsCents, expected.A)
    assert.equal(books.stores.B?.takingsCents, expected.B)
    assert.equal(books.trialBalance.debitsCents, books.trialBalance.creditsCents)
    // Resends (every till syncs again) add nothing.
    for (const t of tills) await call(t.http, 'POST', '/sync', {})
    const again = await call<{ stores: Record<string, { takingsCents: number }> }>(hq.ready.http, 'GET', '/books')
    assert.deepEqual(again.stores, books.stores)
    // A checkpoint of the books is written as records come (every 4 here): HQ SIGKILLed after
    // one starts from it and the log after it, with the same books.
    await until('a checkpoint of the books', async () => (await call<{ checkpoints: { last: unknown } }>(hq.ready.http, 'GET', '/counters')).checkpoints.last !== null)
    const beforeKill = await call(hq.ready.http, 'GET', '/books')
    await kill(hq.child, 'SIGKILL')
    hq = await startDaemon(hqArgs)
    const restarted = await call<{ checkpoints: { rebuilt: { checkpoint?: { watermark: number, items: number } } } }>(hq.ready.http, 'GET', '/counters')
    assert.ok((restarted.checkpoints.rebuilt.checkpoint?.items ?? 0) > 0, `started from a checkpoint: ${JSON.stringify(restarted.checkpoints.rebuilt)}`)
    assert.deepEqual(await call(hq.ready.http, 'GET', '/books'), beforeKill)
    // HQ as it starts by default projects its books into PGlite in DIR/books-db (the other tests
    // turn it off: a fresh PGlite costs seconds of CPU): after every kill above, it is caught up.
    assert.equal((hq.ready as unknown as { booksDb: string }).booksDb, join(dir, 'hq', 'books-db'))
    await until('the books projected in PGlite', async () => {
      const p = await call<{ error: string | null, lagRecords: number, projectedRecords: number }>(hq.ready.http, 'GET', '/books/projection')
      return p.error === null && p.lagRecords === 0 && p.projectedRecords > 0
    }, 60_000)
    // A graceful stop answers SIGTERM with exit 0.
    await kill(hq.child, 'SIGTERM')
    assert.equal(hq.child.exitCode, 0)
  })

  it('a store burns: its last close comes back from the emailed backup (real SMTP), and a replacement till numbers on', async () => {
    const maildir = join(dir, 'backups')
    const smtp = await startMaildirSink({ maildir })
    try {
      const hqPort = await freePort()
      const hq = await startDaemon(['hq', '--data', join(dir, 'hq2'), '--listen', `/ip4/127.0.0.1/tcp/${hqPort}`, '--http', '0', '--books-db', 'off'])
      const tillDir = join(dir, 'M-1')
      // The admin token through the environment instead of a code.
      const asAdmin = { TILLBOOKS_TOKEN: (await readFile(join(dir, 'hq2', 'admin.token'), 'utf8')).trim() }
      await run(['enrol', '--hq', hq.ready.http, '--data', tillDir, '--store', 'M', '--till', '1'], 20_000, asAdmin)
      const tillArgs = ['till', '--data', tillDir, '--store', 'M', '--till', '1', '--hq', hq.ready.multiaddrs[0] as string, '--http', '0', '--smtp', smtp.url, '--backup-to', 'backups@hq.example']
      let till = await startDaemon(tillArgs)
      const closes: Array<{ takingsCents: number, docLast: number, seq: number }> = []
      for (const day of ['2026-05-01', '2026-05-02']) {
        await call(till.ready.http, 'POST', '/day/open', { businessDay: day })
        for (const sku of ['patio-set', 'latte', 'croissant']) await call(till.ready.http, 'POST', '/sales', { lines: [{ sku, qty: 1 }] })
        closes.push(await call(till.ready.http, 'POST', '/day/close', {}))
        if (day === '2026-05-01') await until('day 1 at HQ', async () => (await call<{ hqAckedSeq: number }>(till.ready.http, 'GET', '/status')).hqAckedSeq === 1)
        // Day 2: the link to HQ dies with the store before the close gets out; only the mail does.
        else await kill(hq.child, 'SIGKILL')
      }
      await until('both backups mailed', async () => smtp.delivered.length >= 2)
      await kill(till.child, 'SIGKILL')
      await rm(tillDir, { recursive: true, force: true })
      const hqBack = await startDaemon(['hq', '--data', join(dir, 'hq2'), '--listen', `/ip4/127.0.0.1/tcp/${hqPort}`, '--http', '0', '--books-db', 'off'])
      // The replacement till's key needs a fresh code for its slot, as after any fire.
      const code = (JSON.parse((await run(['codes', 'new', '--hq', hqBack.ready.http, '--store', 'M', '--till', '1', '--json'], 20_000, asAdmin)).trim().split('\n').pop() as string) as { code: string }).code
      const out = JSON.parse((await run(['recover', '--from-mail', maildir, '--store', 'M', '--till', '1', '--hq', hqBack.ready.http, '--code', code, '--to-dir', tillDir, '--json'])).trim().split('\n').pop() as string) as { restored: Array<{ till: string | number, lastSeq: number, takingsCents: number }>, rejected: unknown[] }
      const last = closes[1] as { takingsCents: number, docLast: number, seq: number }
      assert.equal(out.restored.length, 1, JSON.stringify(out))
      assert.equal(out.restored[0]?.lastSeq, last.seq)
      assert.equal(out.restored[0]?.takingsCents, last.takingsCents)
      const books = await call<{ stores: Record<string, { takingsCents: number }> }>(hqBack.ready.http, 'GET', '/books')
      assert.equal(books.stores.M?.takingsCents, (closes[0]?.takingsCents as number) + last.takingsCents, 'both closes, each once')
      till = await startDaemon(tillArgs.map(a => a === hq.ready.multiaddrs[0] ? hqBack.ready.multiaddrs[0] as string : a))
      await call(till.ready.http, 'POST', '/day/open', { businessDay: '2026-05-03' })
      const sale = await call<{ docNo: string }>(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'espresso', qty: 1 }] })
      assert.equal(sale.docNo, `M-1-${last.docLast + 1}`)
    } finally {
      await smtp.close()
    }
  })
})

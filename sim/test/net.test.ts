/**
 * The multi-node launcher (`tillbooks net`): its parts without daemons (process supervision,
 * the TCP gate, addresses, the sales driver, the oracle adapter, the checks), and a run that
 * fails part-way leaving nothing. A small fleet end to end with real processes, real TCP on
 * loopback and every fault is test/net.test.ts's, through the CLI as the contract is checked.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { demoCatalogue } from '@tillbooks/catalogue'
import { Prng } from '../src/Prng.ts'
import { ephemeralRange, peerIdOfEd25519, reservePorts } from '../src/net/addr.ts'
import { checkDocNos, compareBooks, sameBooks, type BooksJson } from '../src/net/checks.ts'
import { TcpGate, portOf, withPort } from '../src/net/gate.ts'
import { pool } from '../src/net/http.ts'
import { pidAlive, ReadyTimeoutError, Supervisor } from '../src/net/proc.ts'
import { basketTotal, drawSale, GroundTruth } from '../src/net/truth.ts'
import { runNet, survivors } from '../src/net/launcher.ts'

describe('net launcher: parts', function () {
  this.timeout(30_000)
  let dir = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-net-unit-'))
    await writeFile(join(dir, 'ready.mjs'), 'process.stdout.write("starting\\n"); setTimeout(() => { process.stdout.write(`ready ${JSON.stringify({ pid: process.pid, args: process.argv.slice(2) })}\\n`) }, 50); setInterval(() => {}, 1000)\n')
    await writeFile(join(dir, 'silent.mjs'), 'process.stderr.write("thinking\\n"); setInterval(() => {}, 1000)\n')
    await writeFile(join(dir, 'dies.mjs'), 'process.stderr.write("boom\\n"); process.exit(3)\n')
    await writeFile(join(dir, 'stubborn.mjs'), 'process.on("SIGTERM", () => {}); process.stdout.write("ready {}\\n"); setInterval(() => {}, 1000)\n')
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('starts a daemon, reads its ready line, kills it by pid', async () => {
    const sup = new Supervisor({ logDir: dir })
    const d = await sup.startDaemon<{ pid: number, args: string[] }>('fake', join(dir, 'ready.mjs'), ['--x', '1'], 5_000)
    assert.equal(d.ready.pid, d.pid)
    assert.deepEqual(d.ready.args, ['--x', '1'])
    assert.ok(pidAlive(d.pid))
    await sup.kill(d.pid, 'SIGKILL')
    assert.equal(pidAlive(d.pid), false)
    assert.deepEqual(sup.livePids, [])
  })

  it('a daemon that never says ready is killed after the timeout, with its log in the error', async () => {
    const sup = new Supervisor({ logDir: dir })
    await assert.rejects(sup.startDaemon('mute', join(dir, 'silent.mjs'), [], 400), (err: Error) => err instanceof ReadyTimeoutError && /thinking/.test(err.message))
    assert.deepEqual(sup.livePids, [])
    assert.equal(survivors(sup.started).length, 0)
  })

  it('a daemon that dies first is reported with its exit and log', async () => {
    const sup = new Supervisor({ logDir: dir })
    await assert.rejects(sup.startDaemon('dies', join(dir, 'dies.mjs'), [], 5_000), /exited \(3\).*\n.*boom/s)
  })

  it('SIGTERM falls back to SIGKILL; stopAll leaves nothing; a closed supervisor starts nothing', async () => {
    const sup = new Supervisor({ logDir: dir })
    const a = await sup.startDaemon('stubborn', join(dir, 'stubborn.mjs'), [], 5_000)
    const b = await sup.startDaemon('fake', join(dir, 'ready.mjs'), [], 5_000)
    const t0 = performance.now()
    await sup.stopAll(300)
    assert.ok(performance.now() - t0 < 3_000)
    assert.equal(pidAlive(a.pid), false)
    assert.equal(pidAlive(b.pid), false)
    sup.close()
    await assert.rejects(sup.startDaemon('late', join(dir, 'ready.mjs'), [], 1_000), /closed/)
    const r = await new Supervisor({ logDir: dir }).run('dies', join(dir, 'dies.mjs'), [], 5_000)
    assert.equal(r.code, 3)
    assert.match(r.stderr, /boom/)
  })

  it('peer ids follow from Ed25519 keys as libp2p makes them', () => {
    // Observed from a real till daemon: its enrolled key and the peer id in its ready line.
    assert.equal(peerIdOfEd25519('5ca1e58d1039f19541217a910aa0c8242365be361497e754cbc45d4f8b3df36f'), '12D3KooWG3xrnn4p3QVwq5LJyS5rXVtxp8bbFqUa5phc5dE1NJtN')
    assert.throws(() => peerIdOfEd25519('zz'))
  })

  it('reserves distinct free ports below the ephemeral range', async () => {
    const ports = await reservePorts(20)
    assert.equal(new Set(ports).size, 20)
    const [lo] = ephemeralRange()
    assert.ok(ports.every(p => p >= 10_000 && p < lo))
  })

  it('the TCP gate relays, cuts every connection, refuses while cut, and heals', async () => {
    const echo = createServer(s => { s.pipe(s) })
    await new Promise<void>(resolve => { echo.listen(0, '127.0.0.1', () => { resolve() }) })
    const port = (echo.address() as { port: number }).port
    const gate = new TcpGate({ host: '127.0.0.1', port })
    await gate.listen()
    const roundTrip = async (): Promise<string> => await new Promise((resolve, reject) => {
      const c = connect(gate.port, '127.0.0.1', () => { c.write('ping') })
      c.setTimeout(2_000, () => { c.destroy(); reject(new Error('timeout')) })
      c.once('data', d => { c.end(); resolve(d.toString()) })
      c.once('error', reject)
      c.once('close', () => { reject(new Error('closed')) })
    })
    try {
      assert.equal(await roundTrip(), 'ping')
      const held = connect(gate.port, '127.0.0.1')
      await new Promise(resolve => held.once('connect', resolve))
      const closed = new Promise(resolve => held.once('close', resolve))
      gate.cut()
      await closed
      await assert.rejects(roundTrip())
      assert.ok(gate.refused >= 1)
      gate.heal()
      assert.equal(await roundTrip(), 'ping')
    } finally {
      await gate.close()
      await new Promise(resolve => echo.close(resolve))
    }
    assert.equal(withPort('/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo', 9), '/ip4/127.0.0.1/tcp/9/p2p/12D3Koo')
    assert.equal(portOf('/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo'), 4001)
  })

  it('pool keeps the order and the bound', async () => {
    let inFlight = 0
    let peak = 0
    const out = await pool([5, 1, 4, 2, 3], 2, async x => {
      inFlight++
      peak = Math.max(peak, inFlight)
      await new Promise(resolve => setTimeout(resolve, x * 3))
      inFlight--
      return x * 10
    })
    assert.deepEqual(out, [50, 10, 40, 20, 30])
    assert.equal(peak, 2)
  })

  it('the sales driver is seeded, and every tender it draws covers the total', () => {
    const cat = demoCatalogue()
    const sellable = cat.products().filter(p => p.sellable).map(p => p.sku)
    const prices = new Map(cat.products().map(p => [p.sku, p.priceCents]))
    const a = new Prng(5)
    const b = new Prng(5)
    for (let i = 0; i < 500; i++) {
      const s = drawSale(a, sellable, prices)
      assert.deepEqual(drawSale(b, sellable, prices), s)
      assert.equal(s.total, basketTotal(prices, s.lines))
      const card = s.tenders.filter(t => t.type === 'card').reduce((x, t) => x + t.amountCents, 0)
      const cash = s.tenders.filter(t => t.type === 'cash').reduce((x, t) => x + t.amountCents, 0)
      assert.ok(s.tenders.every(t => t.amountCents > 0))
      assert.ok(card <= s.total)
      assert.ok(s.tenders.length === 0 || card + cash >= s.total)
      assert.equal(s.cardCents, card)
    }
  })

  it('the ground truth feeds the oracle: a day of sales, a delivery, a miscounted drawer', () => {
    const cat = demoCatalogue()
    const truth = new GroundTruth()
    truth.dispatched.push({ id: 'R1', store: 'S001', day: '2026-03-02', lines: [{ sku: 'patio-chair', qty: 4 }] })
    assert.equal(truth.recordDelivery('S001', 'S001-1', '2026-03-02', 'R1'), true)
    assert.equal(truth.recordDelivery('S001', 'S001-1', '2026-03-02', 'R-unknown'), false)
    truth.recordSale('S001', { tillId: 'S001-1', day: '2026-03-02', docNo: 'S001-1-1', lines: [{ sku: 'patio-chair', qty: 1 }], tenders: [{ type: 'card', amountCents: 7900 }], member: null, expectedTotalCents: 7900, answeredTotalCents: 7900, cardCents: 7900 })
    truth.recordSale('S001', { tillId: 'S001-1', day: '2026-03-02', docNo: 'S001-1-2', lines: [{ sku: 'patio-chair', qty: 2 }], tenders: [], member: '+447700910000', expectedTotalCents: 15800, answeredTotalCents: 15800, cardCents: 0 })
    assert.equal(truth.cashTakings('S001-1', '2026-03-02'), 15800)
    truth.recordClose('S001', 'S001-1', '2026-03-02', 15700)
    const o = truth.books(cat.products())
    assert.equal(o.takingsCents, 23700)
    assert.equal(Object.values(o.accounts).reduce((a, b) => a + b, 0), 0)
    assert.equal(o.accounts['expenses:cash over short'], 100)
    assert.equal(o.members['+447700910000'], 158)
    const books: BooksJson = { accounts: { ...o.accounts }, stores: { S001: { takingsCents: 23700 } }, trialBalance: { debitsCents: 1, creditsCents: 1 }, members: { ...o.members } }
    const c = compareBooks(books, o)
    assert.ok(c.accountsEqual && c.storesEqual && c.pointsEqual === true && c.debitsEqualCredits)
    const off = compareBooks({ ...books, accounts: { ...books.accounts, 'revenue:sales': (books.accounts['revenue:sales'] ?? 0) - 1 } }, o)
    assert.equal(off.accountsEqual, false)
    assert.equal(off.debitsEqualCredits, false)
    assert.deepEqual(Object.keys(off.accountDiff), ['revenue:sales'])
    assert.ok(sameBooks({ ...books, counts: { duplicates: 1 } }, { ...books, counts: { duplicates: 9 } }))
  })

  it('document numbers: clashes, gaps and foreign numbers are counted', () => {
    assert.deepEqual(checkDocNos(new Map([['S1-1', ['S1-1-1', 'S1-1-2', 'S1-1-3']], ['S1-2', ['S1-2-1']]])), { documents: 4, clashes: 0, gaps: 0, foreign: 0 })
    assert.equal(checkDocNos(new Map([['S1-1', ['S1-1-1', 'S1-1-1']]])).clashes, 1)
    assert.ok(checkDocNos(new Map([['S1-1', ['S1-1-1', 'S1-1-3']]])).gaps > 0)
    assert.equal(checkDocNos(new Map([['S1-1', ['S1-2-1']]])).foreign, 1)
  })
})

describe('net launcher: a run that fails part-way', function () {
  this.timeout(60_000)

  it('cleans up by pid when a run fails part-way', async () => {
    // A temporary directory of this run's own (other test files may run launchers at the same time).
    const own = await mkdtemp(join(tmpdir(), 'tillbooks-net-own-'))
    const was = process.env.TMPDIR
    process.env.TMPDIR = own
    try {
      // A CLI path that does not exist: HQ cannot start, the run must fail and leave nothing.
      await assert.rejects(runNet({ stores: 2, tillsPerStore: 1, days: 1, seed: 1, cli: join(own, 'no-such-cli.ts'), timeoutMs: 30_000 }))
      const { readdir } = await import('node:fs/promises')
      assert.deepEqual((await readdir(own)).filter(d => d.startsWith('tillbooks-net-')), [])
    } finally {
      if (was === undefined) delete process.env.TMPDIR
      else process.env.TMPDIR = was
      await rm(own, { recursive: true, force: true })
    }
  })
})

/**
 * Three HQ replicas as real processes (`tillbooks hq --replica-of …`), tills dual-homed
 * (`--hq A,B`): B is SIGKILLed in the middle of the close wave and catches up by itself once
 * restarted; C is cut off from A and B (TCP gates on every link between them) while its store
 * closes into it alone, and everything converges when the links heal: every replica's
 * `booksHash` equal, each store's takings what its tills rang up, to the cent. An HQ with
 * another root key claiming to be a replica is refused and counted. Every process started
 * here is ended here, by its pid.
 */
import assert from 'node:assert/strict'
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, request, until } from '../node/test/helpers/daemons.ts'
import { TcpGate } from '../sim/src/net/gate.ts'
import { call, kill, killAll, run, startDaemon, type Daemon } from './helpers/processes.ts'

interface Digest { records: number, setDigest: string, booksHash: string }

describe('three HQ replicas as processes', function () {
  this.timeout(300_000)
  let dir: string
  const gates: TcpGate[] = []
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'tillbooks-replicas-')) })
  after(async () => {
    await killAll()
    for (const g of gates) await g.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('a replica killed mid-wave catches up, a partitioned one converges when healed: equal booksHash, takings to the cent; another root key is refused', async () => {
    const hqArgs = (name: string, port: number, replicaOf: string[]): string[] =>
      ['hq', '--data', join(dir, name), '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--http', '0', '--books-db', 'off', ...(replicaOf.length > 0 ? ['--replica-of', replicaOf.join(',')] : [])]
    const [portA, portB, portC] = [await freePort(), await freePort(), await freePort()]
    let a = await startDaemon(hqArgs('A', portA, []))
    // A replica signs as the HQ it replicates: its root key (and member key) copied from A.
    for (const name of ['B', 'C']) {
      await mkdir(join(dir, name), { recursive: true })
      for (const f of ['root.key', 'member.key']) {
        await copyFile(join(dir, 'A', f), join(dir, name, f))
        await chmod(join(dir, name, f), 0o600)
      }
    }
    const addr = (d: Daemon): string => d.ready.multiaddrs[0] as string
    let b = await startDaemon(hqArgs('B', portB, [addr(a)]))
    assert.notEqual(b.ready.peerId, a.ready.peerId, 'a replica has its own identity')
    assert.equal((b.ready as unknown as { rootKey: string }).rootKey, (a.ready as unknown as { rootKey: string }).rootKey)
    // Every link to and from C runs through a gate (to cut it later).
    const gate = async (port: number): Promise<TcpGate> => {
      const g = new TcpGate({ host: '127.0.0.1', port })
      await g.listen()
      gates.push(g)
      return g
    }
    const [toA, toB, toC] = [await gate(portA), await gate(portB), await gate(portC)]
    const via = (g: TcpGate, d: Daemon): string => `/ip4/127.0.0.1/tcp/${g.port}/p2p/${d.ready.peerId}`
    const c = await startDaemon(hqArgs('C', portC, [via(toA, a), via(toB, b)]))
    // A and B name C through its gate (restarted to do so: their logs are durable, their identities kept).
    await kill(a.child, 'SIGTERM')
    a = await startDaemon(hqArgs('A', portA, [via(toC, c)]))
    await kill(b.child, 'SIGTERM')
    b = await startDaemon(hqArgs('B', portB, [addr(a), via(toC, c)]))

    // Store S1's tills are homed on A then B; store S2's on C alone. S2's till is enrolled at C:
    // its certificate reaches A and B by replication.
    const tills: Array<{ id: string, http: string, store: string }> = []
    const enrolAndStart = async (store: string, n: number, hq: Daemon, hqName: string, homes: string): Promise<void> => {
      const tillDir = join(dir, `${store}-${n}`)
      await run(['enrol', '--hq', hq.ready.http, '--data', tillDir, '--store', store, '--till', String(n), '--token-file', join(dir, hqName, 'admin.token'), '--json'])
      const t = await startDaemon(['till', '--data', tillDir, '--store', store, '--till', String(n), '--hq', homes, '--http', '0', '--retry-max-ms', '300'])
      tills.push({ id: `${store}-${n}`, http: t.ready.http, store })
    }
    await enrolAndStart('S1', 1, a, 'A', `${addr(a)},${addr(b)}`)
    await enrolAndStart('S1', 2, a, 'A', `${addr(a)},${addr(b)}`)
    await enrolAndStart('S2', 1, c, 'C', addr(c))
    const expected: Record<string, number> = { S1: 0, S2: 0 }
    const sell = async (businessDay: string, who: typeof tills): Promise<void> => {
      for (const [i, t] of who.entries()) {
        await call(t.http, 'POST', '/day/open', { businessDay })
        for (let k = 0; k < 3; k++) {
          const r = await call<{ totalCents: number }>(t.http, 'POST', '/sales', { lines: [{ sku: k % 2 === 0 ? 'latte' : 'patio-set', qty: 1 + ((i + k) % 3) }] })
          expected[t.store] = (expected[t.store] as number) + r.totalCents
        }
      }
    }
    const drained = async (): Promise<void> => {
      for (const t of tills) await until(`${t.id} drained`, async () => (await call<{ outbox: number }>(t.http, 'GET', '/status')).outbox === 0, 60_000)
    }
    const digests = async (ds: Daemon[]): Promise<Digest[]> => await Promise.all(ds.map(async d => await call<Digest>(d.ready.http, 'GET', '/books/digest')))
    const converged = async (ds: Daemon[]): Promise<Digest> => {
      let last: Digest[] = []
      await until('the replicas converge', async () => {
        last = await digests(ds)
        return last.every(d => d.booksHash === last[0]?.booksHash && d.setDigest === last[0]?.setDigest)
      }, 90_000)
      return last[0] as Digest
    }
    const takings = async (d: Daemon): Promise<Record<string, number>> => {
      const books = await call<{ stores: Record<string, { takingsCents: number }> }>(d.ready.http, 'GET', '/books')
      return Object.fromEntries(Object.entries(books.stores).map(([s, v]) => [s, v.takingsCents]))
    }

    // Day 1: B dies in the middle of the close wave; S1's tills carry on with A.
    await sell('2026-04-01', tills)
    const closing = tills.map(async t => await call(t.http, 'POST', '/day/close', {}))
    await new Promise(resolve => setTimeout(resolve, 20))
    await kill(b.child, 'SIGKILL')
    await Promise.all(closing)
    await drained()
    b = await startDaemon(hqArgs('B', portB, [addr(a), via(toC, c)]))
    const day1 = await converged([a, b, c])
    assert.ok(day1.records > 0)
    for (const d of [a, b, c]) assert.deepEqual(await takings(d), expected)
    // A member enrolled at A is known at C, and the same number at B is the same member.
    const token = async (name: string): Promise<string> => (await readFile(join(dir, name, 'admin.token'), 'utf8')).trim()
    const enrolled = await request<{ member: string, created: boolean }>(a.ready.http, 'POST', '/admin/members', { phone: '+44 20 7946 0018' }, await token('A'))
    assert.equal(enrolled.json.created, true)
    await until('C knows the member', async () => (await request<{ enrolled: boolean }>(c.ready.http, 'GET', `/members/${enrolled.json.member}`)).json.enrolled === true)
    await until('B knows the number', async () => (await request<{ enrolled: boolean }>(b.ready.http, 'GET', `/members/${enrolled.json.member}`)).json.enrolled === true)
    const again = await request<{ member: string, created: boolean }>(b.ready.http, 'POST', '/admin/members', { phone: '+44 20 7946 0018' }, await token('B'))
    assert.deepEqual(again.json, { ...again.json, member: enrolled.json.member, created: false })

    // Day 2: C is cut off from A and B (both ways); S2 closes into C alone, S1 into A and B.
    for (const g of [toA, toB, toC]) g.cut()
    await sell('2026-04-02', tills)
    await Promise.all(tills.map(async t => await call(t.http, 'POST', '/day/close', {})))
    await drained()
    const cutOff = await converged([a, b])
    assert.notEqual((await digests([c]))[0]?.booksHash, cutOff.booksHash, 'C holds S2\'s day alone meanwhile')
    assert.notDeepEqual(await takings(a), expected)
    for (const g of [toA, toB, toC]) g.heal()
    const healed = await converged([a, b, c])
    assert.ok(healed.records > day1.records)
    for (const d of [a, b, c]) assert.deepEqual(await takings(d), expected)
    const status = await call<{ counters: { recordsAdopted: number, entriesAdded: number, tillsPulled: number, tillsPulledAsEntries: number, tillsPulledInBulk: number } }>(c.ready.http, 'GET', '/replicas')
    assert.ok(status.counters.recordsAdopted > 0, 'C adopted A\'s certificates')
    assert.ok(status.counters.entriesAdded > 0)
    // S1's tills, of which C held nothing on day 1, came whole in bulk; their day 2 by Automerge sync.
    assert.ok(status.counters.tillsPulledInBulk > 0 && status.counters.tillsPulled > status.counters.tillsPulledInBulk, JSON.stringify(status.counters))
    assert.equal(status.counters.tillsPulledAsEntries, 0, 'every till log came in bulk or by Automerge sync, none as bare entries')

    // An HQ with its own root key naming A as its replica: refused (and counted) on both sides.
    const d = await startDaemon(hqArgs('D', 0, []))
    await kill(d.child, 'SIGTERM')
    const rogue = await startDaemon(hqArgs('D', 0, [addr(a)]))
    await until('A refuses the other root key', async () => (await call<{ counters: { refused: { rootKey: number } } }>(a.ready.http, 'GET', '/replicas')).counters.refused.rootKey > 0)
    assert.equal((await digests([rogue]))[0]?.records, 0, 'nothing of A reached it')
    assert.deepEqual(await digests([a]), [healed])
  })
})

/**
 * What paying with points costs the till (issue 18: a redemption within the till's rights adds
 * no network round trip; beyond them, one to HQ over libp2p): a real HQ daemon and till daemon
 * on loopback, N sales each way — cash, points within the rights escrowed at the till, points
 * beyond them (HQ grants the difference) — timed at the till's HTTP API, with HQ's count of
 * grants per sale. Medians and p95. Not a test: `node node/bench/redemption.ts [N]`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { asStoreId } from '@tillbooks/protocol'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon } from '../src/daemon/tillDaemon.ts'
import { enrolStores, request, tokenOf, untilFolded } from '../test/helpers/daemons.ts'

const N = Number(process.argv[2] ?? 200)
const POINTS = 10
const dir = await mkdtemp(join(tmpdir(), 'tillbooks-redeem-bench-'))
const hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0 })
const admin = await tokenOf(join(dir, 'hq'))
await enrolStores(hq, join(dir, 'hq'), dir, ['S1'])
const till = await startTillDaemon({ dataDir: join(dir, 'S1'), store: asStoreId('S1'), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], neighbours: [], logger: silentLogger, gossipRing: null })
const stats = (xs: number[]): { medianMs: number, p95Ms: number } => {
  const s = [...xs].sort((a, b) => a - b)
  return { medianMs: Math.round((s[Math.floor(s.length / 2)] ?? 0) * 100) / 100, p95Ms: Math.round((s[Math.floor(s.length * 0.95)] ?? 0) * 100) / 100 }
}
const ok = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const r = await request<T>(till.ready.http, method, path, body)
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`)
  return r.json
}
const closeAndFold = async (): Promise<void> => {
  await ok('POST', '/day/close', {})
  await untilFolded(hq.ready.http, till.ready.http, 'S1-1')
}
const granted = async (): Promise<number> => (await request<{ members: { rightsGranted: number } }>(hq.ready.http, 'GET', '/counters', undefined, admin)).json.members.rightsGranted
const run = async (extra: Record<string, unknown>): Promise<number[]> => {
  const ms: number[] = []
  for (let i = 0; i < N; i++) {
    const t0 = performance.now()
    await ok('POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }], ...extra })
    ms.push(performance.now() - t0)
  }
  return ms
}
try {
  // A member with enough vested points: earned on one day, vested once the till has closed through the return window.
  const member = (await request<{ member: string }>(hq.ready.http, 'POST', '/admin/members', { phone: '+447700900111' }, admin)).json.member
  await ok('POST', '/day/open', { businessDay: '2026-01-05' })
  await ok('POST', '/sales', { lines: [{ sku: 'patio-chair', qty: 100 }], member })
  await closeAndFold()
  await ok('POST', '/day/open', { businessDay: '2026-02-03' })
  await closeAndFold()
  await ok('POST', '/day/open', { businessDay: '2026-02-04' })
  await run({}) // warm-up
  const cash = stats(await run({}))
  await ok('POST', `/members/${member}/rights`, { points: N * POINTS })
  const g0 = await granted()
  const within = stats(await run({ member, redeemPoints: POINTS }))
  const g1 = await granted()
  const beyond = stats(await run({ member, redeemPoints: POINTS }))
  const g2 = await granted()
  const result = { n: N, cash, withinRights: within, beyondRights: beyond, grantsPerSaleWithin: (g1 - g0) / N, grantsPerSaleBeyond: (g2 - g1) / N }
  console.log(`points at the till (${N} each, loopback, median/p95 ms): cash ${cash.medianMs}/${cash.p95Ms}; points within the till's rights ${within.medianMs}/${within.p95Ms} (${result.grantsPerSaleWithin} HQ round trips per sale); beyond them ${beyond.medianMs}/${beyond.p95Ms} (${result.grantsPerSaleBeyond} per sale) (${cpus().length} cores, ${cpus()[0]?.model ?? ''}, Node ${process.version})`)
  console.log(JSON.stringify(result))
} finally {
  await till.stop()
  await hq.stop()
  await rm(dir, { recursive: true, force: true })
}

/**
 * What a card sale costs the till (issue 17: one round trip to the processor and nothing more;
 * store-and-forward never blocks a sale): a real till daemon and a real `tillbooks processor`
 * process on loopback, N sales each way — cash, card online, and card with the processor
 * SIGKILLed (stored offline) — timed at the till's HTTP API. Medians and p95, and the count
 * of requests the processor saw per card sale (one). Not a test: `node node/bench/cardSale.ts [N]`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { asStoreId } from '@tillbooks/protocol'
import { silentLogger } from '../src/components.ts'
import { startHqDaemon } from '../src/daemon/hqDaemon.ts'
import { startTillDaemon } from '../src/daemon/tillDaemon.ts'
import { enrolStores, freePort, request } from '../test/helpers/daemons.ts'
import { startProcessor, stopProcess } from '../test/helpers/processor.ts'

const N = Number(process.argv[2] ?? 200)
const dir = await mkdtemp(join(tmpdir(), 'tillbooks-cardsale-'))
const port = await freePort()
let processor = await startProcessor(join(dir, 'processor'), port)
const hq = await startHqDaemon({ dataDir: join(dir, 'hq'), listen: ['/ip4/127.0.0.1/tcp/0'], httpPort: 0, logger: silentLogger, verifyWorkers: 0 })
await enrolStores(hq, join(dir, 'hq'), dir, ['S1'])
const till = await startTillDaemon({
  dataDir: join(dir, 'S1'), store: asStoreId('S1'), till: 1, hq: hq.ready.multiaddrs[0] as string, httpPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], neighbours: [],
  logger: silentLogger, gossipRing: null, processor: processor.url, processorTimeoutMs: 2_000
})
const stats = (xs: number[]): { medianMs: number, p95Ms: number } => {
  const s = [...xs].sort((a, b) => a - b)
  return { medianMs: Math.round((s[Math.floor(s.length / 2)] ?? 0) * 100) / 100, p95Ms: Math.round((s[Math.floor(s.length * 0.95)] ?? 0) * 100) / 100 }
}
const run = async (tender: Record<string, unknown> | null): Promise<number[]> => {
  const ms: number[] = []
  for (let i = 0; i < N; i++) {
    const t0 = performance.now()
    const r = await request(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }], ...(tender !== null ? { tenders: [{ ...tender, amountCents: 420 }] } : {}) })
    ms.push(performance.now() - t0)
    if (r.status !== 200) throw new Error(`sale ${i}: ${r.status} ${JSON.stringify(r.json)}`)
  }
  return ms
}
try {
  await request(till.ready.http, 'POST', '/day/open', {})
  await run(null) // warm-up
  const cash = stats(await run(null))
  const before = await (await fetch(`${processor.url}/counters`)).json() as { payments: number, lookups: number }
  const online = stats(await run({ type: 'card' }))
  const after = await (await fetch(`${processor.url}/counters`)).json() as { payments: number, lookups: number }
  await stopProcess(processor.child)
  // The default profile stores at most 20 payments; beyond, the till refuses (never blocks): measure within it.
  const stored = stats((await (async () => { const ms: number[] = []; for (let i = 0; i < 20; i++) { const t0 = performance.now(); await request(till.ready.http, 'POST', '/sales', { lines: [{ sku: 'latte', qty: 1 }], tenders: [{ type: 'card', amountCents: 420 }] }); ms.push(performance.now() - t0) } return ms })()))
  processor = await startProcessor(join(dir, 'processor'), port)
  const perSale = (after.payments + after.lookups - before.payments - before.lookups) / N
  console.log(`card sale at the till (${N} each, loopback, median/p95 ms): cash ${cash.medianMs}/${cash.p95Ms}; card online ${online.medianMs}/${online.p95Ms} (${perSale} processor request per sale); card with the processor down (stored) ${stored.medianMs}/${stored.p95Ms} (${cpus().length} cores, ${cpus()[0]?.model ?? ''}, Node ${process.version})`)
  console.log(JSON.stringify({ n: N, cash, online, stored, processorRequestsPerSale: perSale }))
} finally {
  await till.stop()
  await hq.stop()
  await stopProcess(processor.child)
  await rm(dir, { recursive: true, force: true })
}

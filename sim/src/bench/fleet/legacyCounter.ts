/**
 * The legacy baseline's head office: one central "next document number" counter, served over
 * the same transport as tillbooks (libp2p TCP + noise + yamux, TillbooksPeer's pipelined
 * long-lived streams: a request is a submit of one entry, the till id's bytes; the answer's
 * `seq` is the number). Each allocation holds the counter's lock through its own durable
 * commit (LevelDB put with fsync), as an ERP's sequence row does under SELECT … FOR UPDATE:
 * a number once printed on a receipt is never handed out again, even after a crash.
 *
 *   node legacyCounter.ts --dir DIR --seed-hex HEX      (prints `ready {multiaddrs}`; `stats {}`, `quit {}` on stdin)
 */
import { parseArgs } from 'node:util'
import { fromHex, parseTillId } from '@tillbooks/protocol'
import { silentLogger } from '../../../../node/src/components.ts'
import { LevelStore } from '../../../../node/src/storage/LevelStore.ts'
import { TillbooksPeer, type SubmitAnswer } from '../../../../node/src/net/TillbooksPeer.ts'
import { childChannel } from './proc.ts'

const { values: a } = parseArgs({ options: { dir: { type: 'string' }, 'seed-hex': { type: 'string' } } })
if (a.dir === undefined || a['seed-hex'] === undefined) throw new Error('usage: legacyCounter.ts --dir DIR --seed-hex HEX')
const store = new LevelStore(a.dir)
await store.open()
let counter = 0
let commits = 0
let lock: Promise<unknown> = Promise.resolve()
const decoder = new TextDecoder()

/** The next number, durable before it is returned; one at a time. */
function allocate (): Promise<number> {
  const next = lock.then(async () => {
    const n = counter + 1
    await store.batch([{ type: 'put', key: 'next-doc-no', value: new TextEncoder().encode(String(n)) }], { sync: true })
    commits++
    counter = n
    return n
  })
  lock = next.catch(() => {})
  return next
}

const peer = await TillbooksPeer.create({ seed: fromHex(a['seed-hex']), listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, handlerTimeoutMs: 600_000 })
peer.handleSubmit(async entries => {
  const out: SubmitAnswer[] = []
  for (const e of entries) {
    let tillId: string
    try {
      tillId = decoder.decode(e)
      parseTillId(tillId)
    } catch {
      out.push({ status: 'rejected', code: 'MALFORMED', reason: 'not a till id' })
      continue
    }
    out.push({ status: 'accepted', seq: await allocate(), tillId })
  }
  return out
})

childChannel({
  stats: async () => {
    const cpu = process.cpuUsage()
    return { counter, commits, cpuMs: (cpu.user + cpu.system) / 1000, rssBytes: process.memoryUsage.rss(), maxRssBytes: process.resourceUsage().maxRSS * 1024, net: peer.stats() }
  },
  quit: async () => {
    await peer.stop()
    await store.close()
    setImmediate(() => process.exit(0))
    return { counter }
  }
})
process.on('SIGTERM', () => { void peer.stop().finally(() => process.exit(0)) })
process.stdout.write(`ready ${JSON.stringify({ multiaddrs: peer.multiaddrs() })}\n`)

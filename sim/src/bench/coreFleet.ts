/**
 * bench:core's load: N tills × (StockIn + Close), built by the real TillNode from a day of
 * sales and signed at each till's close, before anything is timed. The fleet is written to
 * two files that HQ's own process reads, so HQ's CPU and RSS are measured without the
 * generator in them: `<base>.v8`, the tills and where each record ends, and `<base>.bin`,
 * the signed records back to back, which HQ reads a batch at a time as it would from its
 * sockets (only what is in flight is in its memory). A fleet is cached per (tills, seed):
 * building 10,000 tills takes ~25 s and is not what the benchmark measures.
 */
import { existsSync } from 'node:fs'
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { deserialize, serialize } from 'node:v8'
import { asBusinessDay, asStoreId, keyPairFromSeed, Signer, type PublicKey, type StoreId } from '@tillbooks/protocol'
import { Prng } from '../Prng.ts'

export const TILLS_PER_STORE = 4
export const BENCH_DAY = asBusinessDay('2026-03-02')
/** HQ's root key in the benchmark (a fixed seed: the fleet file is only valid under it). */
export const benchRoot = (): Signer => new Signer(keyPairFromSeed(new Uint8Array(32).fill(7)))

export interface Fleet {
  tills: Array<{ store: StoreId, till: number, publicKey: PublicKey }>
  /** Every till's signed entries, in till order (StockIn, Close, next till, ...). */
  entries: Uint8Array[]
  buildMs: number
}

/** What HQ's process reads first: the tills to enrol, and where each record ends in `<base>.bin`. */
export interface FleetIndex {
  /** 3: records inside their changes (2: bare envelopes). */
  version: 3
  tills: Fleet['tills']
  ends: Uint32Array
  buildMs: number
}

/** The files' common path, without extension. */
export function fleetPath (tills: number, seed: number): string {
  return `build/bench/fleet-${tills}-seed${seed}`
}

export async function buildFleet (tillCount: number, seed: number): Promise<Fleet> {
  // Imported here, not above: HQ's process reads fleets through this module and must not
  // load what it does not run (the till, the network stack).
  const { demoCatalogue } = await import('@tillbooks/catalogue')
  const { HqNode, MemoryStore, silentLogger, TillNode, systemClock } = await import('@tillbooks/node')
  const t0 = performance.now()
  const prng = new Prng(seed)
  const catalogue = demoCatalogue()
  const root = benchRoot()
  const sellable = catalogue.products().filter(p => p.sellable).map(p => p.sku)
  const stocked = catalogue.stockedSkus()
  const hq = new HqNode({ store: new MemoryStore(), clock: systemClock, logger: silentLogger }, { root, costCents: s => catalogue.costCents(s) })
  await hq.start()
  const fleet: Fleet = { tills: [], entries: [], buildMs: 0 }
  for (let i = 0; i < tillCount; i++) {
    const store = asStoreId(`S${String(Math.floor(i / TILLS_PER_STORE) + 1).padStart(5, '0')}`)
    const tillNo = (i % TILLS_PER_STORE) + 1
    const signer = new Signer(keyPairFromSeed(prng.bytes(32)))
    const node = new TillNode({ store: new MemoryStore(), clock: systemClock, logger: silentLogger }, { store, till: tillNo, signer, catalogue, hqRootKey: root.publicKey })
    await node.start()
    const lines = prng.sample(stocked, 3).sort().map(sku => ({ sku, qty: prng.int(1, 20) }))
    const order = await hq.dispatchReplenishment({ id: `R-${store}-${tillNo}`, store, businessDay: BENCH_DAY, lines })
    await node.openDay(BENCH_DAY, { order })
    for (let s = prng.int(5, 12); s > 0; s--) {
      await node.sell({ lines: prng.sample(sellable, prng.int(1, 3)).map(sku => ({ sku, qty: prng.int(1, 2) })), ...(prng.chance(0.5) ? {} : { tenders: [] }) })
    }
    await node.closeDay()
    // What a till sends HQ: each record inside the change of its log that put it.
    fleet.entries.push(...node.outboxChanges().map(c => c.bytes))
    fleet.tills.push({ store, till: tillNo, publicKey: signer.publicKey })
  }
  fleet.buildMs = performance.now() - t0
  return fleet
}

/** The cached fleet for (tills, seed), building and writing it first if absent (or `fresh`). */
export async function loadOrBuildFleet (tills: number, seed: number, opts: { fresh?: boolean, log?: (s: string) => void } = {}): Promise<{ path: string, index: FleetIndex, cached: boolean }> {
  const path = fleetPath(tills, seed)
  if (opts.fresh !== true && existsSync(`${path}.v8`) && existsSync(`${path}.bin`)) {
    const index = await readFleetIndex(path)
    if (index.version === 3 && index.tills.length === tills) return { path, index, cached: true }
  }
  opts.log?.(`building ${tills} tills' records through TillNode...\n`)
  const fleet = await buildFleet(tills, seed)
  await mkdir(dirname(path), { recursive: true })
  const ends = new Uint32Array(fleet.entries.length)
  let at = 0
  fleet.entries.forEach((e, i) => { at += e.length; ends[i] = at })
  const bin = new Uint8Array(at)
  fleet.entries.forEach((e, i) => { bin.set(e, (ends[i] as number) - e.length) })
  const index: FleetIndex = { version: 3, tills: fleet.tills, ends, buildMs: fleet.buildMs }
  await writeFile(`${path}.bin.tmp`, bin)
  await writeFile(`${path}.v8.tmp`, serialize(index))
  await rename(`${path}.bin.tmp`, `${path}.bin`)
  await rename(`${path}.v8.tmp`, `${path}.v8`)
  opts.log?.(`built ${fleet.entries.length} signed records in ${Math.round(fleet.buildMs)} ms, cached in ${path}.{v8,bin}\n`)
  return { path, index, cached: false }
}

export async function readFleetIndex (path: string): Promise<FleetIndex> {
  return deserialize(await readFile(`${path}.v8`)) as FleetIndex
}

/** Reads records [from, to) of a fleet from `<base>.bin`, one read per call, as views of one buffer. */
export async function openFleetRecords (path: string, index: FleetIndex): Promise<{ read: (from: number, to: number) => Promise<Uint8Array[]>, close: () => Promise<void> }> {
  const file = await open(`${path}.bin`, 'r')
  const endOf = (i: number): number => i <= 0 ? 0 : index.ends[i - 1] as number
  return {
    read: async (from, to) => {
      to = Math.min(to, index.ends.length)
      const start = endOf(from)
      const buf = new Uint8Array(endOf(to) - start)
      await file.read(buf, 0, buf.length, start)
      const out: Uint8Array[] = []
      for (let i = from; i < to; i++) out.push(buf.subarray(endOf(i) - start, endOf(i + 1) - start))
      return out
    },
    close: async () => { await file.close() }
  }
}

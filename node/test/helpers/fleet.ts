/** Small fixtures: an HQ root, enrolled tills, a catalogue, a clock that only moves when told. */
import { asBusinessDay, asStoreId, keyPairFromSeed, Signer, type BusinessDay, type StoreId } from '@tillbooks/protocol'
import { demoCatalogue } from '@tillbooks/catalogue'
import { HqNode, MemoryStore, silentLogger, TillNode, type Clock, type HqInit, type KvStore } from '../../src/index.ts'

export const catalogue = demoCatalogue()
export const DAY1: BusinessDay = asBusinessDay('2026-03-02')
export const DAY2: BusinessDay = asBusinessDay('2026-03-03')

export function seedBytes (label: string): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < label.length; i++) out[i % 32] = ((out[i % 32] as number) * 31 + label.charCodeAt(i)) & 0xff
  return out
}

export class ManualClock implements Clock {
  ms: number
  constructor (ms = Date.parse('2026-03-02T08:00:00Z')) { this.ms = ms }
  nowMs (): number { return this.ms }
}

export const root = new Signer(keyPairFromSeed(seedBytes('hq-root')))

export async function startHq (store: KvStore = new MemoryStore(), clock: Clock = new ManualClock(), init: Partial<HqInit> = {}): Promise<HqNode> {
  const hq = new HqNode({ store, clock, logger: silentLogger }, { root, costCents: sku => catalogue.costCents(sku), ...init })
  await hq.start()
  return hq
}

export async function startTill (hq: HqNode | null, opts: { store?: string, till?: number, kv?: KvStore, signer?: Signer, fromSeq?: number } = {}): Promise<{ till: TillNode, signer: Signer, kv: KvStore, storeId: StoreId }> {
  const storeId = asStoreId(opts.store ?? 'S001')
  const tillNo = opts.till ?? 1
  const signer = opts.signer ?? new Signer(keyPairFromSeed(seedBytes(`till-${storeId}-${tillNo}`)))
  const kv = opts.kv ?? new MemoryStore()
  if (hq !== null) await hq.enrol({ store: storeId, till: tillNo, tillKey: signer.publicKey, fromSeq: opts.fromSeq ?? 1 })
  const till = new TillNode({ store: kv, clock: new ManualClock(), logger: silentLogger }, { store: storeId, till: tillNo, signer, catalogue, hqRootKey: root.publicKey })
  await till.start()
  return { till, signer, kv, storeId }
}

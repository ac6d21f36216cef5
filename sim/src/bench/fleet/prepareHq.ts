/**
 * HQ's data directory, prepared in-process before the real `tillbooks hq` process starts on
 * it: the root key, every till enrolled (the fleet's and the warm-up tills) (HqNode.enrolMany, one fsync per chunk) and every
 * till's HQ-signed replenishment order for the day (written in batches with the same keys
 * HqNode.dispatchReplenishment uses; one fsync per chunk instead of one per order). A fleet
 * roll-out, not what the benchmark times.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { keyPairFromSeed, signReplenishment, Signer, toHex, type SkuQty } from '@tillbooks/protocol'
import { demoCatalogue } from '@tillbooks/catalogue'
import { silentLogger } from '../../../../node/src/components.ts'
import { HqNode } from '../../../../node/src/hq/HqNode.ts'
import { replenishmentKey } from '../../../../node/src/hq/keys.ts'
import { LevelStore } from '../../../../node/src/storage/LevelStore.ts'
import { hqDbDir } from '../../../../node/src/daemon/dataDir.ts'
import { hqTillIndices, orderIdOf, orderLines, rootSeed, storeOf, tillNoOf, tillSeed, type FleetPlan } from './plan.ts'

const CHUNK = 5_000

export interface PreparedHq {
  rootKeyHex: string
  /** Every order's lines as shipped (the oracle's `dispatched`). */
  dispatched: Array<{ lines: SkuQty[] }>
  ms: number
}

export async function prepareHqDir (plan: FleetPlan, dir: string): Promise<PreparedHq> {
  const t0 = performance.now()
  await mkdir(dir, { recursive: true })
  const seed = rootSeed(plan)
  await writeFile(join(dir, 'root.key'), toHex(seed) + '\n', { mode: 0o600 })
  const root = new Signer(keyPairFromSeed(seed))
  const catalogue = demoCatalogue()
  const stocked = catalogue.stockedSkus()
  const store = new LevelStore(hqDbDir(dir))
  // A fixed clock: certificates are then the same bytes on every run of the same plan.
  const clock = { nowMs: () => Date.parse(`${plan.day}T00:00:00Z`) }
  const hq = new HqNode({ store, clock, logger: silentLogger }, { root, costCents: s => catalogue.costCents(s) })
  await hq.start()
  const dispatched: Array<{ lines: SkuQty[] }> = []
  try {
    const all = [...hqTillIndices(plan)]
    for (let from = 0; from < all.length; from += CHUNK) {
      const list = []
      const orders: Array<{ type: 'put', key: string, value: Uint8Array }> = []
      for (const i of all.slice(from, from + CHUNK)) {
        list.push({ store: storeOf(plan, i), till: tillNoOf(plan, i), tillKey: keyPairFromSeed(tillSeed(plan, i)).publicKey })
        const lines = orderLines(plan, i, stocked)
        dispatched.push({ lines })
        const id = orderIdOf(plan, i)
        orders.push({ type: 'put', key: replenishmentKey(id), value: signReplenishment(root, { id, store: storeOf(plan, i), businessDay: plan.day, lines }) })
      }
      await hq.enrolMany(list)
      await store.batch(orders, { sync: true })
    }
  } finally {
    await hq.stop()
  }
  return { rootKeyHex: toHex(root.publicKey), dispatched, ms: performance.now() - t0 }
}

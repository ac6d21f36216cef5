/**
 * A year of one till's log (730 entries: a StockIn and a Close a day), measured.
 * Not a test: `node crdt/test/bench/year.ts` from the repo root (Node 24).
 */
import { TillLog, actorIdFor } from '../../src/index.ts'
import { TILL_ID, TillWriter, enrolment, keyForOf } from '../helpers/fixtures.ts'

const ENTRIES = 730
const keyFor = keyForOf(enrolment())

function ms (t0: number): string {
  return `${(performance.now() - t0).toFixed(1)} ms`
}

const w = new TillWriter()
let t = performance.now()
const entries = w.chain(ENTRIES + 2)
const year = entries.slice(0, ENTRIES)
console.log(`sign ${ENTRIES} entries: ${ms(t)}; envelope bytes total ${year.reduce((s, e) => s + e.bytes.length, 0)} (mean ${Math.round(year.reduce((s, e) => s + e.bytes.length, 0) / ENTRIES)})`)

for (let round = 0; round < 2; round++) {
  console.log(`--- round ${round + 1}`)
  t = performance.now()
  const log = TillLog.create(TILL_ID, { actorId: actorIdFor(TILL_ID, 'till'), keyFor })
  for (const e of year) log.append(e)
  console.log(`append ${ENTRIES} (each: signature check + enrolment + Automerge change): ${ms(t)}`)
  t = performance.now()
  const saved = log.save()
  console.log(`save: ${ms(t)}, ${saved.length} bytes (${(saved.length / ENTRIES).toFixed(0)} per entry)`)
  t = performance.now()
  const loaded = TillLog.load(saved)
  console.log(`load: ${ms(t)}`)
  t = performance.now()
  const report = loaded.verify(keyFor)
  console.log(`verify after load (cold: ${ENTRIES} signature checks): ${ms(t)}; head ${report.head?.seq}`)
  t = performance.now()
  loaded.verify(keyFor)
  console.log(`verify again (warm cache): ${ms(t)}`)
  t = performance.now()
  const bytes = loaded.entryBytes()
  console.log(`entryBytes (${bytes.length}): ${ms(t)}`)

  // HQ's hot path: load a till's saved document, apply the day's two new changes.
  log.append(entries[ENTRIES]!)
  log.append(entries[ENTRIES + 1]!)
  const changes = log.getChangesSince(loaded.getHeads())
  const N = 20
  t = performance.now()
  for (let i = 0; i < N; i++) TillLog.load(saved).applyChanges(changes)
  console.log(`HQ: load + applyChanges(2 new, screened): ${((performance.now() - t) / N).toFixed(2)} ms per till`)
  t = performance.now()
  const fresh = TillLog.create(TILL_ID)
  fresh.merge(loaded)
  console.log(`merge the year into an empty replica (${ENTRIES} changes screened): ${ms(t)}`)
}

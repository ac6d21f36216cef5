/**
 * bench:core's HQ process: one run, alone in its own process, so that its CPU time and RSS
 * are HQ's (its verify threads included) and not the load generator's. The parent
 * (core.ts) built and signed the fleet's records beforehand and wrote them to files
 * (coreFleet.ts); this process enrols the tills, then `concurrency` concurrent callers, as
 * relays would, each read their next batch of records from the file (as from a socket:
 * what is in flight is in HQ's memory, not the whole fleet) and submit it, timing only that
 * wave. Then it rebuilds from the log, re-verifying and trusting, and prints one JSON line.
 *
 * With `--warmup N` (default 0), N records first go through throwaway HQs (4,000 records
 * each, the fleet's first ones) that share the verify threads, so that the wave runs
 * JIT-compiled code, as in an HQ that has been up for a day; the timed HQ is fresh (its own
 * log, books, enrolment) all the same.
 *
 *   node sim/src/bench/coreHq.ts FLEET_BASE_PATH [--concurrency 16] [--batch 256] [--threads N] [--warmup N]
 *                                [--profile FILE] [--profile-rebuild FILE] [--no-rebuild]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { demoCatalogue } from '@tillbooks/catalogue'
import { asPublicKey, verifySignature } from '@tillbooks/protocol'
// HQ's own modules only, not the whole @tillbooks/node package: its index also loads the
// network stack and mail (libp2p, nodemailer: ~45 MB of RSS at start), which this
// benchmark does not run. See the README's benchmark notes.
import { systemClock, silentLogger } from '../../../node/src/components.ts'
import { HqNode } from '../../../node/src/hq/HqNode.ts'
import { LevelStore } from '../../../node/src/storage/LevelStore.ts'
import { WorkerVerifier } from '../../../node/src/verify/WorkerVerifier.ts'
import { peakRssBytes, threadCpuDelta, threadCpuSnapshot } from '../../../node/src/daemon/threadCpu.ts'
import { benchRoot, openFleetRecords, readFleetIndex } from './coreFleet.ts'

/**
 * Ed25519 verifications/s on one core right now: libsodium (HQ's verifier: this machine's
 * ceiling for the run) and OpenSSL with a parsed key (the ceiling as first defined).
 */
function verifyCalibration (): { sodium: number, openssl: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const raw = asPublicKey(new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12)))
  const msg = new Uint8Array(450).fill(7)
  const sig = new Uint8Array(sign(null, msg, privateKey))
  const n = 2000
  const rate = (f: () => boolean): number => {
    const c0 = process.threadCpuUsage()
    for (let i = 0; i < n; i++) if (!f()) throw new Error('calibration signature refused')
    const c = process.threadCpuUsage(c0)
    return n / ((c.user + c.system) / 1e6)
  }
  return { sodium: rate(() => verifySignature(sig, msg, raw)), openssl: rate(() => verify(null, msg, publicKey, sig)) }
}

export interface HqRunResult {
  records: number
  recordsPerSec: number
  wallMs: number
  /** CPU of this whole process (every thread) during the wave, per record. */
  cpuMsPerRecord: number
  /** The same, HQ's main thread alone (the rest is the verify threads). */
  mainCpuMsPerRecord: number
  /** Peak RSS of this process during the wave, sampled every 20 ms; and once the tills' list was loaded, before HQ started. */
  rssPeakBytes: number
  rssFleetLoadedBytes: number
  rssAfterWaveBytes: number
  split: { decodeMs: number, verifyMs: number, commitMs: number, foldMs: number }
  commits: number
  verifyPerSecPerCoreOpenSsl: number
  /** Records first run through a throwaway HQ to warm the JIT (0: a cold process). */
  warmupRecords: number
  rebuildVerifiedPerSec: number
  rebuildUnverifiedPerSec: number
  /** RSS at each stage: process started, fleet loaded, HQ started, tills enrolled, after the wave, peak. */
  rssStages: Record<string, number>
  /** CPU ms during the wave by thread name (Linux /proc). */
  threadCpuMs: Record<string, number>
  /** Native verifies/s on one core, measured just before the wave (the machine's state at the time). */
  verifyPerSecPerCore: number
}

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    concurrency: { type: 'string', default: '16' },
    batch: { type: 'string', default: '256' },
    threads: { type: 'string' },
    warmup: { type: 'string', default: '0' },
    /** Write a CPU profile of the main thread during the wave only, here. */
    profile: { type: 'string' },
    'profile-rebuild': { type: 'string' },
    'no-rebuild': { type: 'boolean', default: false }
  }
})
const CONCURRENCY = Number(args.concurrency)
/** Records per throwaway warm-up HQ. */
const WARMUP_ROUND = 4_000
const BATCH = Number(args.batch)
const THREADS = args.threads !== undefined ? Number(args.threads) : availableParallelism()
const fleetFile = positionals[0]
if (fleetFile === undefined) throw new Error('usage: coreHq.ts FLEET_BASE_PATH')

const rss: Record<string, number> = { started: process.memoryUsage().rss }
const fleet = await readFleetIndex(fleetFile)
const records = await openFleetRecords(fleetFile, fleet)
const RECORDS = fleet.ends.length
const catalogue = demoCatalogue()
const root = benchRoot()
const rssFleetLoaded = process.memoryUsage().rss
rss.fleetLoaded = rssFleetLoaded
const dir = await mkdtemp(join(tmpdir(), 'tillbooks-bench-core-'))
try {
  const verifier = new WorkerVerifier({ threads: THREADS })
  const warmup = Number(args.warmup)
  // Rounds of at most WARMUP_ROUND records, each through a throwaway HQ of its own (store,
  // books, enrolment), cycling over the first records of the fleet: the code is exercised
  // as by `warmup` records, while what each round leaves on the heap stays small.
  for (let done = 0, round = 0; done < warmup; round++) {
    const n = Math.min(WARMUP_ROUND, warmup - done, RECORDS)
    // Not stopped (that would close the shared verifier): its store is closed directly.
    const warmDir = `${dir}-warmup-${round}`
    const warmStore = new LevelStore(warmDir)
    const warmHq = new HqNode({ store: warmStore, clock: systemClock, logger: silentLogger }, { root, costCents: s => catalogue.costCents(s), verifier })
    await warmHq.start()
    // The tills whose records warm it up (two records each, in till order), no more.
    await warmHq.enrolMany(fleet.tills.slice(0, Math.ceil(n / 2)).map(t => ({ store: t.store, till: t.till, tillKey: t.publicKey })))
    let at = 0
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (at < n) {
        const from = at
        at += BATCH
        await warmHq.submit(await records.read(from, Math.min(from + BATCH, n)))
      }
    }))
    await warmStore.close()
    await rm(warmDir, { recursive: true, force: true })
    done += n
  }
  const hq = new HqNode({ store: new LevelStore(dir), clock: systemClock, logger: silentLogger }, { root, costCents: s => catalogue.costCents(s), verifier })
  await hq.start()
  rss.hqStarted = process.memoryUsage().rss
  await hq.enrolMany(fleet.tills.map(t => ({ store: t.store, till: t.till, tillKey: t.publicKey })))
  // The tills' list was the enrolment's input, not HQ's state: let it go.
  fleet.tills = []
  rss.enrolled = process.memoryUsage().rss
  let rssPeak = process.memoryUsage().rss
  const calibration = verifyCalibration()
  const verifyPerSecPerCore = calibration.sodium
  // Started after the calibration: the profile is the wave's alone.
  const session = args.profile !== undefined ? new Session() : null
  if (session !== null) {
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
  }
  const threads0 = threadCpuSnapshot()
  const cpu0 = process.cpuUsage()
  const main0 = process.threadCpuUsage()
  const t0 = performance.now()
  let next = 0
  let accepted = 0
  // Each caller reads its next batch from the file, as from a socket: only what is in flight is in memory.
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < RECORDS) {
      const from = next
      next += BATCH
      const answers = await hq.submit(await records.read(from, from + BATCH))
      for (const a of answers) if (a.status === 'accepted') accepted++
    }
  }))
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const main = process.threadCpuUsage(main0)
  const threadCpu = threadCpuDelta(threads0, threadCpuSnapshot())
  if (session !== null && args.profile !== undefined) {
    const { profile } = await session.post('Profiler.stop')
    await writeFile(args.profile, JSON.stringify(profile))
    session.disconnect()
  }
  const rssAfterWave = process.memoryUsage().rss
  // The kernel's high-water mark of this process's RSS (warm-up and fleet loading included:
  // conservative). A timer sampling RSS every few ms cost the main thread ~5% of the wave.
  rssPeak = Math.max(rssPeak, rssAfterWave, peakRssBytes())
  rss.afterWave = rssAfterWave
  rss.peak = rssPeak
  if (accepted !== RECORDS) throw new Error(`only ${accepted} of ${RECORDS} accepted`)
  const accounts = JSON.stringify(hq.books.snapshot().accounts)
  const split = { ...hq.timings }
  const commits = hq.counters.commits
  await hq.stop()
  const rebuild = async (verify: boolean): Promise<number> => {
    const v = new WorkerVerifier({ threads: THREADS })
    const again = new HqNode({ store: new LevelStore(dir), clock: systemClock, logger: silentLogger }, { root, costCents: s => catalogue.costCents(s), verifier: v, rebuildVerify: verify })
    const profileTo = verify ? undefined : args['profile-rebuild']
    const profiler = profileTo !== undefined ? new Session() : null
    if (profiler !== null) {
      profiler.connect()
      await profiler.post('Profiler.enable')
      await profiler.post('Profiler.start')
    }
    const r = await again.start()
    if (profiler !== null && profileTo !== undefined) {
      const { profile } = await profiler.post('Profiler.stop')
      await writeFile(profileTo, JSON.stringify(profile))
      profiler.disconnect()
    }
    if (JSON.stringify(again.books.snapshot().accounts) !== accounts) throw new Error('rebuild differs')
    await again.stop()
    return r.entries / (r.ms / 1000)
  }
  const result: HqRunResult = {
    records: RECORDS,
    recordsPerSec: RECORDS / (wallMs / 1000),
    wallMs,
    // process.cpuUsage counts every thread of the process: the verify workers included.
    cpuMsPerRecord: (cpu.user + cpu.system) / 1000 / RECORDS,
    mainCpuMsPerRecord: (main.user + main.system) / 1000 / RECORDS,
    rssPeakBytes: rssPeak,
    rssFleetLoadedBytes: rssFleetLoaded,
    rssAfterWaveBytes: rssAfterWave,
    split,
    commits,
    verifyPerSecPerCoreOpenSsl: calibration.openssl,
    warmupRecords: warmup,
    rebuildVerifiedPerSec: args['no-rebuild'] === true ? 0 : await rebuild(true),
    rebuildUnverifiedPerSec: args['no-rebuild'] === true ? 0 : await rebuild(false),
    rssStages: rss,
    threadCpuMs: threadCpu,
    verifyPerSecPerCore
  }
  process.stdout.write(JSON.stringify(result) + '\n')
} finally {
  await records.close()
  await rm(dir, { recursive: true, force: true })
}

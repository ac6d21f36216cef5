/**
 * CPU time per thread of this process, from /proc (Linux): which thread spends what. Node's
 * own `process.cpuUsage()` sums every thread; HQ's cost per report is spread over its main
 * thread, its verify threads, V8's helper threads (compilers, concurrent GC) and libuv's pool
 * (LevelDB writes and fsyncs), and only this split says which one a change moved.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** USER_HZ: /proc reports CPU time in ticks of 10 ms on Linux. */
const TICK_MS = 10

/** CPU ms of each thread by `name#tid`; empty where /proc is not there. */
export function threadCpuSnapshot (): Map<string, number> {
  const out = new Map<string, number>()
  let tids: string[] = []
  try { tids = readdirSync('/proc/self/task') } catch { return out }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const name = stat.slice(stat.indexOf('(') + 1, close)
      const fields = stat.slice(close + 2).split(' ')
      out.set(`${name}#${tid}`, (Number(fields[11]) + Number(fields[12])) * TICK_MS)
    } catch { /* the thread ended meanwhile */ }
  }
  return out
}

/** CPU ms per thread name (threads of one name summed) between two snapshots; `before` empty: since each thread began. */
export function threadCpuDelta (before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, ms] of after) {
    const name = k.slice(0, k.lastIndexOf('#'))
    out[name] = (out[name] ?? 0) + ms - (before.get(k) ?? 0)
  }
  return out
}

/** This process's peak RSS so far (VmHWM, Linux); 0 where /proc is not there. */
export function peakRssBytes (): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
    return m !== null ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

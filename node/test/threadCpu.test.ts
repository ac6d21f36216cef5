import assert from 'node:assert/strict'
import { peakRssBytes, threadCpuDelta, threadCpuSnapshot } from '../src/daemon/threadCpu.ts'

describe('threadCpu (per-thread CPU from /proc, for /metrics and the benchmarks)', () => {
  it('charges a busy loop on this thread to this thread, in ms', function () {
    if (threadCpuSnapshot().size === 0) this.skip() // no /proc here
    const before = threadCpuSnapshot()
    const t0 = process.threadCpuUsage()
    let x = 0
    while ((process.threadCpuUsage(t0).user) < 150_000) x += Math.sqrt(x + 1)
    const delta = threadCpuDelta(before, threadCpuSnapshot())
    assert.ok(x > 0)
    const total = Object.values(delta).reduce((s, ms) => s + ms, 0)
    // 150 ms of user time, counted in 10 ms ticks: at least 100 of it shows, on one thread name.
    const [name, ms] = Object.entries(delta).sort((a, b) => b[1] - a[1])[0] as [string, number]
    assert.ok(ms >= 100 && ms <= total, `${name}: ${ms} ms of ${total}`)
    assert.ok(Object.values(delta).every(v => v >= 0))
  })

  it('sums threads of one name, and reads the peak RSS', () => {
    const before = new Map([['WorkerThread#1', 10], ['WorkerThread#2', 5]])
    const after = new Map([['WorkerThread#1', 30], ['WorkerThread#2', 25], ['MainThread#9', 7]])
    assert.deepEqual(threadCpuDelta(before, after), { WorkerThread: 40, MainThread: 7 })
    if (threadCpuSnapshot().size > 0) assert.ok(peakRssBytes() >= process.memoryUsage.rss() / 2)
  })
})

/**
 * OneAtATime: work runs in the order asked, one at a time, whether the work before succeeded or
 * not; `busy` says whether any is running or waiting (the simulator waits on it before aiming a
 * disk fault at one sale).
 */
import assert from 'node:assert/strict'
import { OneAtATime } from '../src/OneAtATime.ts'

describe('OneAtATime', () => {
  it('runs work in order, one at a time, past a failure; busy until the last has settled', async () => {
    const q = new OneAtATime()
    assert.equal(q.busy, false)
    const order: string[] = []
    let release = (): void => {}
    const gate = new Promise<void>(resolve => { release = resolve })
    let running = 0
    const step = (name: string, fail = false) => async (): Promise<string> => {
      running++
      assert.equal(running, 1, 'one at a time')
      order.push(`${name} start`)
      if (name === 'a') await gate
      await Promise.resolve()
      order.push(`${name} end`)
      running--
      if (fail) throw new Error(name)
      return name
    }
    const a = q.run(step('a'))
    const b = q.run(step('b', true))
    const c = q.run(step('c'))
    assert.equal(q.busy, true)
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(order, ['a start'], 'b and c wait for a')
    assert.equal(q.busy, true)
    release()
    assert.equal(await a, 'a')
    await assert.rejects(b, /b/)
    assert.equal(await c, 'c')
    assert.deepEqual(order, ['a start', 'a end', 'b start', 'b end', 'c start', 'c end'])
    assert.equal(q.busy, false)
    await q.idle()
    assert.equal(q.busy, false)
  })
})

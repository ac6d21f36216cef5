/**
 * LevelStore on a disk that really fills up (a 256 KiB tmpfs): a write refused with ENOSPC,
 * reads served meanwhile, and once space is freed the next write is made *after a reopen*, so
 * it survives the next open. Without the reopen LevelDB answers that write OK and then drops
 * it when it replays its log (the failed write left a torn record before it): an acknowledged
 * write lost. Needs root to mount the tmpfs; skipped, saying so, where it cannot.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { diskErrorCode, LevelStore } from '../src/index.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('LevelStore on a full disk (tmpfs)', function () {
  this.timeout(30_000)
  let dir = ''
  let mounted = false
  /** The store the test has open: closed before the tmpfs is unmounted, whatever failed. */
  let open: LevelStore | null = null

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'tillbooks-fulldisk-'))
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { stdio: 'ignore' })
      mounted = true
    } catch {
      console.log('    (skipped: mounting a small tmpfs needs root; run the tests as root to include this one)')
      this.skip()
    }
  })
  after(async () => {
    await open?.close().catch(() => {})
    if (mounted) execFileSync('umount', [dir])
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses a write with a disk error, serves reads, and after space is freed keeps what it acknowledges across a reopen', async () => {
    const db = join(dir, 'db')
    let store = new LevelStore(db)
    open = store
    await store.open()
    await store.batch([{ type: 'put', key: 'a', value: enc('before') }], { sync: true })
    // Fill the disk.
    const fillers: string[] = []
    for (;;) {
      const f = join(dir, `fill-${fillers.length}`)
      try { await writeFile(f, Buffer.alloc(4096)) } catch { break }
      fillers.push(f)
    }
    let refused: unknown = null
    for (let i = 0; i < 64 && refused === null; i++) {
      try {
        await store.batch([{ type: 'put', key: `k${i}`, value: new Uint8Array(2000) }], { sync: true })
      } catch (err) {
        refused = err
      }
    }
    assert.ok(refused !== null, 'the full disk refused a write')
    assert.equal(diskErrorCode(refused), 'LEVEL_IO_ERROR', String(refused))
    assert.equal(new TextDecoder().decode(await store.get('a')), 'before', 'reads go on')
    for (const f of fillers) await rm(f)
    await store.batch([{ type: 'put', key: 'after', value: enc('acknowledged') }], { sync: true })
    const reopens = store.reopens
    await store.close()
    store = new LevelStore(db)
    open = store
    await store.open()
    assert.equal(new TextDecoder().decode(await store.get('after')), 'acknowledged', 'a write answered OK after the failure survives the next open')
    assert.equal(new TextDecoder().decode(await store.get('a')), 'before')
    await store.close()
    assert.equal(reopens, 1, 'reopened before the first write after the failure')
  })
})

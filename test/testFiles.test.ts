/**
 * `npm test` runs every test file of every package, once: the root's .mocharc.json lists the
 * thousand worlds first (the longest, started first while the other files share the second
 * parallel worker), so its globs are not one per package, and a file outside them would be
 * silently skipped, one matched twice run twice.
 */
import assert from 'node:assert/strict'
import { globSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

describe('npm test\'s list of test files', () => {
  it('every *.test.ts of the workspaces is in the root spec exactly once, and the thousand worlds come first', () => {
    const config = JSON.parse(readFileSync(`${ROOT}.mocharc.json`, 'utf8')) as { spec: string[], parallel?: boolean }
    const listed = config.spec.flatMap(pattern => globSync(pattern, { cwd: ROOT }))
    const everyTest = globSync('{packages/*,crdt,node,sim,cli,test}/test/**/*.test.ts', { cwd: ROOT }).concat(globSync('test/**/*.test.ts', { cwd: ROOT }))
    const all = [...new Set(everyTest)].filter(f => !f.includes('node_modules')).sort()
    assert.ok(all.length > 100, `only ${all.length} test files found`)
    assert.deepEqual([...new Set(listed)].sort(), all, 'a test file outside the spec')
    const twice = listed.filter((f, i) => listed.indexOf(f) !== i)
    assert.deepEqual(twice, [], 'a test file listed twice')
    assert.equal(listed[0], 'sim/test/worlds/thousandWorlds.test.ts')
  })
})

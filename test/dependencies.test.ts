/**
 * Every package declares the packages it imports and imports none above it; production code
 * never reaches the simulator (issue 21). The checker (helpers/dependencies.ts) runs on this
 * repository, and on small made-up repositories that break each rule, to show it notices.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkDependencies, formatViolations, importSpecifiers, layersOf, type DependencyReport } from './helpers/dependencies.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** What only the command assembled above it, and the end-to-end tests, may reach. */
const SIMULATOR = '@tillbooks/sim'

describe('workspace dependencies', function () {
  describe('this repository', () => {
    let report: DependencyReport
    before(() => { report = checkDependencies(ROOT) })

    it('declares every import, and none is of a package at its own layer or above', () => {
      assert.ok(report.files > 100, `only ${report.files} files scanned`)
      assert.equal(report.violations.length, 0, '\n' + formatViolations(report.violations))
    })

    it('has a dependency graph without cycles, in the layers of the README (protocol lowest, the end-to-end tests highest)', () => {
      const l = report.layers
      assert.equal(l['@tillbooks/protocol'], 0)
      for (const [lower, upper] of [
        ['@tillbooks/protocol', '@tillbooks/catalogue'], ['@tillbooks/catalogue', '@tillbooks/crdt'], ['@tillbooks/crdt', '@tillbooks/node'],
        ['@tillbooks/ledger', '@tillbooks/node'], ['@tillbooks/payments', '@tillbooks/node'], ['@tillbooks/members', '@tillbooks/node'], ['@tillbooks/wallet', '@tillbooks/node'],
        ['@tillbooks/node', '@tillbooks/sim'], ['@tillbooks/sim', '@tillbooks/cli'], ['@tillbooks/cli', '@tillbooks/e2e']
      ] as const) assert.ok((l[lower] as number) < (l[upper] as number), `${lower} (${l[lower]}) is not below ${upper} (${l[upper]})`)
    })

    it('no production package depends on the simulator, even through another; only @tillbooks/cli and the end-to-end tests do', () => {
      const deps = new Map(report.packages.map(p => [p.name, [...p.dependencies, ...p.devDependencies]]))
      const reaches = (from: string, to: string, seen = new Set<string>()): boolean => {
        if (seen.has(from)) return false
        seen.add(from)
        return (deps.get(from) ?? []).some(d => d === to || reaches(d, to, seen))
      }
      assert.deepEqual(report.packages.filter(p => reaches(p.name, SIMULATOR)).map(p => p.name).sort(), ['@tillbooks/cli', '@tillbooks/e2e'])
    })
  })

  describe('reading imports', () => {
    it('finds static, side-effect, dynamic, re-exported, resolved and required imports', () => {
      const src = [
        "import { a } from 'alpha'",
        "import type { B } from '@scope/beta/sub'",
        "import 'gamma'",
        "export { d } from './delta.ts'",
        "export * from \"epsilon\"",
        'const z = await import(`zeta`)',
        "const e = await import ( 'eta' )",
        "const t = import.meta.resolve('theta')",
        "const r = require('iota'); require.resolve('kappa/x.js')"
      ].join('\n')
      assert.deepEqual(importSpecifiers(src), ['alpha', '@scope/beta/sub', 'gamma', './delta.ts', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa/x.js'])
    })

    it('takes nothing from comments, strings, regular expressions, templates with substitutions, or calls that merely look alike', () => {
      const src = [
        "// import { x } from 'in-line-comment'",
        "/* import 'in-block-comment'\n   export * from 'still-comment' */",
        "const s = \"import x from 'in-a-string'\"",
        "const re = /from 'in-a-regex'/",
        "const q = x / 2; const w = y / 3 // from 'after-divisions'",
        'const t = `${"a"} from \'in-a-template\'`',
        "const dyn = await import(`./${name}.ts`)",
        "const u = Array.from('abc'); const p = path.resolve('not-an-import'); obj.import('nor-this')",
        "import { real } from 'real'"
      ].join('\n')
      assert.deepEqual(importSpecifiers(src), ['real'])
    })

    it('layersOf: each package one above its highest dependency; a cycle named, and no layers', () => {
      assert.deepEqual(layersOf({ a: [], b: ['a', 'third-party'], c: ['a', 'b'] }), { layers: { a: 0, b: 1, c: 2 }, cycles: [] })
      const cyclic = layersOf({ a: ['c'], b: ['a'], c: ['b'] })
      assert.deepEqual(cyclic.layers, {})
      assert.deepEqual(cyclic.cycles, [['a', 'c', 'b', 'a']])
    })
  })

  describe('a made-up repository that breaks the rules', () => {
    let root: string
    beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'tillbooks-deps-')) })
    afterEach(() => { rmSync(root, { recursive: true, force: true }) })

    /** Writes files (path → text; an object is written as JSON). */
    function write (files: Record<string, string | object>): void {
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(dirname(join(root, path)), { recursive: true })
        writeFileSync(join(root, path), typeof content === 'string' ? content : JSON.stringify(content))
      }
    }

    /** A low package, a middle one on it, a top one on both. */
    function base (): void {
      write({
        'package.json': { workspaces: ['low', 'mid', 'top'], devDependencies: { mocha: '*' } },
        'low/package.json': { name: '@x/low', dependencies: { left: '*' } },
        'low/src/index.ts': "import { pad } from 'left'\nimport { readFile } from 'node:fs/promises'\nimport 'fs'\nexport const low = 1\n",
        'mid/package.json': { name: '@x/mid', dependencies: { '@x/low': '*' }, devDependencies: { chai: '*' } },
        'mid/src/index.ts': "import { low } from '@x/low'\nexport { helper } from './helper.ts'\n",
        'mid/src/helper.ts': 'export const helper = 2\n',
        'mid/test/mid.test.ts': "import { expect } from 'chai'\nimport 'mocha'\nimport { low } from '@x/low'\n",
        'top/package.json': { name: '@x/top', dependencies: { '@x/mid': '*', '@x/low': '*' } },
        'top/src/main.ts': "const { mid } = await import('@x/mid')\nimport { low } from '../../low/src/index.ts'\n"
      })
    }

    it('a repository that keeps the rules has no violation, and its layers', () => {
      base()
      const r = checkDependencies(root)
      assert.deepEqual(r.violations, [])
      assert.deepEqual(r.layers, { '@x/low': 0, '@x/mid': 1, '@x/top': 2 })
      assert.equal(r.files, 5)
    })

    it('an undeclared import of a package above: the file and the import named', () => {
      base()
      write({ 'low/src/upward.ts': "export async function f () { return await import('@x/top') }\n" })
      const r = checkDependencies(root)
      assert.deepEqual(r.violations, [{ file: 'low/src/upward.ts', specifier: '@x/top', reason: '@x/top is not declared in low/package.json dependencies' }])
      assert.match(formatViolations(r.violations), /^low\/src\/upward\.ts: '@x\/top': @x\/top is not declared/)
    })

    it('declaring the import upwards closes cycles, each named', () => {
      base()
      write({ 'low/package.json': { name: '@x/low', dependencies: { left: '*', '@x/top': '*' } }, 'low/src/upward.ts': "import '@x/top'\n" })
      const r = checkDependencies(root)
      assert.deepEqual(r.violations.map(v => v.reason), [
        'workspace dependency cycle: @x/low → @x/top → @x/low',
        'workspace dependency cycle: @x/low → @x/top → @x/mid → @x/low'
      ])
      assert.deepEqual(r.layers, {})
    })

    it('a relative path into another package counts as importing it', () => {
      base()
      write({ 'low/test/reach.test.ts': "import { helper } from '../../mid/src/helper.ts'\n" })
      assert.deepEqual(checkDependencies(root).violations, [{ file: 'low/test/reach.test.ts', specifier: '../../mid/src/helper.ts', reason: '@x/mid (by a relative path into mid/) is not declared in low/package.json dependencies or devDependencies' }])
    })

    it('a package imported by its own name, and a relative path out of every package', () => {
      base()
      write({ 'mid/src/self.ts': "import { helper } from '@x/mid'\nimport '../../outside.ts'\n", 'outside.ts': '' })
      assert.deepEqual(checkDependencies(root).violations.map(v => `${v.specifier}: ${v.reason}`), [
        '@x/mid: @x/mid imports itself by name: use a relative path',
        '../../outside.ts: a relative import that leaves every package'
      ])
    })

    it('third-party: production code needs dependencies; tests may use devDependencies or the root\'s', () => {
      base()
      write({
        'mid/src/uses-dev.ts': "import { expect } from 'chai'\nimport mocha from 'mocha'\nimport { x } from 'nowhere/sub'\n",
        'mid/bench/b.ts': "import { expect } from 'chai'\nimport 'mocha'\nimport { y } from '@nowhere/pkg/deep'\n"
      })
      assert.deepEqual(checkDependencies(root).violations.map(v => `${v.file} ${v.specifier}: ${v.reason}`), [
        'mid/bench/b.ts @nowhere/pkg/deep: @nowhere/pkg is not declared in mid/package.json dependencies or devDependencies (nor in the root devDependencies)',
        'mid/src/uses-dev.ts chai: chai is not declared in mid/package.json dependencies',
        'mid/src/uses-dev.ts mocha: mocha is not declared in mid/package.json dependencies',
        'mid/src/uses-dev.ts nowhere/sub: nowhere is not declared in mid/package.json dependencies'
      ])
    })

    it('a workspace package declared only in devDependencies is not enough for production code', () => {
      base()
      write({ 'mid/package.json': { name: '@x/mid', devDependencies: { '@x/low': '*', chai: '*' } } })
      assert.deepEqual(checkDependencies(root).violations.map(v => `${v.file} ${v.specifier}`), ['mid/src/index.ts @x/low'])
    })
  })
})

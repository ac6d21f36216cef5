/**
 * The house rule of the monorepo, as a pure check over its files: every package declares the
 * packages it imports, and no package imports one above it (issue 21).
 *
 * - The layers come from the declared graph of workspace dependencies (`dependencies` and
 *   `devDependencies`): a package with none is layer 0, any other one above its highest
 *   dependency. The graph must have no cycle, so a layer is well defined and "above" means
 *   "depends, directly or not, on this one".
 * - Every import of a workspace package, by name or by a relative path into its folder, must
 *   be declared: in `dependencies` from `src/` (what runs in production), in `dependencies` or
 *   `devDependencies` from anywhere else (tests, benchmarks); and it must be of a lower layer.
 * - Every import of a third-party package likewise, where tests and benchmarks may also use
 *   the root's `devDependencies` (mocha, fast-check…). Node's built-ins are exempt.
 *
 * Imports are read with a small lexer rather than a regular expression over the text, so a
 * `from '…'` in a comment, a string or a regular expression is not taken for an import.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { isBuiltin } from 'node:module'
import { dirname, join, relative, resolve, sep } from 'node:path'

/** Folders never scanned: installed packages, build output. */
const SKIPPED_DIRS = new Set(['node_modules', 'build', 'dist', '.git'])
/** Files longer than this are not source a person wrote: refused, so the scan stays bounded. */
const SOURCE_BYTES_MAX = 4 * 1024 * 1024
/** Words after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER_WORDS = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await'])

export interface Violation {
  /** The file at fault, relative to the repository root (package.json for a graph fault). */
  file: string
  /** The import as written ('' for a graph fault). */
  specifier: string
  reason: string
}

export interface WorkspacePackage {
  name: string
  /** Relative to the repository root, '/'-separated. */
  dir: string
  dependencies: string[]
  devDependencies: string[]
}

export interface DependencyReport {
  packages: WorkspacePackage[]
  /** Layer of each workspace package by name (0: depends on no other workspace package); empty when the graph has a cycle. */
  layers: Record<string, number>
  /** Files scanned, relative to the root. */
  files: number
  violations: Violation[]
}

/** One string literal of a source file (or a template literal without substitutions). */
interface StringToken { value: string, start: number }

/**
 * The string literals of a TypeScript or JavaScript source, and the source with every comment
 * and literal blanked (same length), from which to read what precedes each literal.
 */
export function lex (src: string): { code: string, strings: StringToken[] } {
  const out = src.split('')
  const strings: StringToken[] = []
  const blank = (from: number, to: number): void => { for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ' }
  const isIdent = (c: string | undefined): boolean => c !== undefined && /[\w$]/.test(c)

  /** Whether a `/` at i starts a regular expression, from the code before it. */
  const regexAt = (i: number): boolean => {
    let k = i - 1
    while (k >= 0 && /\s/.test(out[k] as string)) k--
    if (k < 0) return true
    const c = out[k] as string
    if (isIdent(c)) {
      let s = k
      while (s > 0 && isIdent(out[s - 1])) s--
      return REGEX_AFTER_WORDS.has(out.slice(s, k + 1).join(''))
    }
    return '(,=:[!&|?{};+-*%<>~^'.includes(c)
  }

  /** A quoted string from its opening quote at i; the index after it. */
  const quoted = (i: number): number => {
    const q = src[i]
    let k = i + 1
    let value = ''
    while (k < src.length && src[k] !== q && src[k] !== '\n') {
      if (src[k] === '\\') { value += src[k + 1] ?? ''; k += 2 } else value += src[k++]
    }
    strings.push({ value, start: i })
    blank(i + 1, k)
    return k + 1
  }

  /** A template literal from its backtick at i; the index after it. */
  const template = (i: number): number => {
    let k = i + 1
    let value = ''
    let substitutions = false
    while (k < src.length && src[k] !== '`') {
      if (src[k] === '\\') { blank(k, k + 2); k += 2; continue }
      if (src[k] === '$' && src[k + 1] === '{') {
        substitutions = true
        k = code(k + 2, true) // up to and past the matching '}'
        continue
      }
      value += src[k]
      blank(k, k + 1)
      k++
    }
    if (!substitutions) strings.push({ value, start: i })
    return k + 1
  }

  /** A regular expression literal from its slash at i; the index after its flags. */
  const regex = (i: number): number => {
    let k = i + 1
    let inClass = false
    while (k < src.length && src[k] !== '\n') {
      const c = src[k]
      if (c === '\\') { k += 2; continue }
      if (c === '[') inClass = true
      else if (c === ']') inClass = false
      else if (c === '/' && !inClass) break
      k++
    }
    blank(i + 1, k)
    k++
    while (isIdent(src[k])) k++
    return k
  }

  /** Code from i, to the end or (inside a template's `${`) past its unmatched '}'. */
  function code (i: number, untilBrace: boolean): number {
    let depth = 0
    let k = i
    while (k < src.length) {
      const c = src[k]
      const next = src[k + 1]
      if (c === '/' && next === '/') {
        const e = src.indexOf('\n', k)
        const end = e === -1 ? src.length : e
        blank(k, end)
        k = end
      } else if (c === '/' && next === '*') {
        const e = src.indexOf('*/', k + 2)
        const end = e === -1 ? src.length : e + 2
        blank(k, end)
        k = end
      } else if (c === '"' || c === "'") {
        k = quoted(k)
      } else if (c === '`') {
        k = template(k)
      } else if (c === '/' && regexAt(k)) {
        k = regex(k)
      } else {
        if (c === '{') depth++
        else if (c === '}') {
          if (untilBrace && depth === 0) return k + 1
          depth--
        }
        k++
      }
    }
    return k
  }

  code(0, false)
  return { code: out.join(''), strings }
}

/**
 * The module specifiers a source imports: `import … from 's'`, `export … from 's'`,
 * `import 's'`, `import('s')`, `import.meta.resolve('s')`, `require('s')` and `require.resolve('s')`, with a
 * literal specifier. A computed one (`import(name)`) is not seen.
 */
export function importSpecifiers (src: string): string[] {
  const { code, strings } = lex(src)
  const found: string[] = []
  for (const s of strings) {
    const before = code.slice(Math.max(0, s.start - 200), s.start).replace(/\s+$/, '')
    if (/(?:^|[^\w$.])(?:from|import)$/.test(before) || /(?:^|[^\w$.])(?:import|require|require\s*\.\s*resolve|import\s*\.\s*meta\s*\.\s*resolve)\s*\($/.test(before)) found.push(s.value)
  }
  return found
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
export function packageOf (specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0] as string
}

function readJson (path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
}

function keysOf (v: unknown): string[] {
  return v !== null && typeof v === 'object' ? Object.keys(v) : []
}

/** The workspace folders of the root package.json (a trailing `/*` is one level of folders). */
function workspaceDirs (root: string, patterns: string[]): string[] {
  const dirs: string[] = []
  for (const p of patterns) {
    if (p.endsWith('/*')) {
      const parent = p.slice(0, -2)
      for (const d of readdirSync(join(root, parent)).sort()) if (statSync(join(root, parent, d)).isDirectory()) dirs.push(`${parent}/${d}`)
    } else dirs.push(p)
  }
  return dirs.filter(d => statSync(join(root, d, 'package.json'), { throwIfNoEntry: false }) !== undefined)
}

/** `.ts` files under dir, not entering other workspaces' folders nor installed packages. */
function sourceFiles (dir: string, otherWorkspaces: Set<string>): string[] {
  const files: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : 1)) {
      const p = join(d, e.name)
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name) && !otherWorkspaces.has(p)) walk(p)
      } else if (e.isFile() && e.name.endsWith('.ts')) files.push(p)
    }
  }
  walk(dir)
  return files
}

/**
 * Layers of a dependency graph (name → the names it depends on), or the cycles that forbid
 * them. Only edges between the graph's own nodes count.
 */
export function layersOf (graph: Record<string, string[]>): { layers: Record<string, number>, cycles: string[][] } {
  const layers: Record<string, number> = {}
  const cycles: string[][] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const path: string[] = []
  const visit = (n: string): number => {
    if (state.get(n) === 'done') return layers[n] as number
    if (state.get(n) === 'visiting') {
      cycles.push([...path.slice(path.indexOf(n)), n])
      return 0
    }
    state.set(n, 'visiting')
    path.push(n)
    let layer = 0
    for (const d of (graph[n] ?? []).filter(d => d in graph).sort()) layer = Math.max(layer, visit(d) + 1)
    path.pop()
    state.set(n, 'done')
    layers[n] = layer
    return layer
  }
  for (const n of Object.keys(graph).sort()) visit(n)
  return cycles.length > 0 ? { layers: {}, cycles } : { layers, cycles }
}

/** Checks the monorepo at root; see the comment at the top of this file for the rules. */
export function checkDependencies (root: string): DependencyReport {
  const rootJson = readJson(join(root, 'package.json'))
  const rootDevDeps = new Set(keysOf(rootJson.devDependencies))
  const dirs = workspaceDirs(root, (rootJson.workspaces ?? []) as string[])
  const packages: WorkspacePackage[] = dirs.map(dir => {
    const j = readJson(join(root, dir, 'package.json'))
    if (typeof j.name !== 'string') throw new Error(`${dir}/package.json has no name`)
    return { name: j.name, dir, dependencies: keysOf(j.dependencies).sort(), devDependencies: keysOf(j.devDependencies).sort() }
  })
  const byName = new Map(packages.map(p => [p.name, p]))
  const violations: Violation[] = []

  const graph: Record<string, string[]> = {}
  for (const p of packages) graph[p.name] = [...p.dependencies, ...p.devDependencies].filter(d => byName.has(d))
  const { layers, cycles } = layersOf(graph)
  for (const c of cycles) violations.push({ file: 'package.json', specifier: '', reason: `workspace dependency cycle: ${c.join(' → ')}` })

  // The workspace a path lies in: the longest folder that holds it.
  const absDirs = packages.map(p => ({ p, abs: resolve(root, p.dir) })).sort((a, b) => b.abs.length - a.abs.length)
  const workspaceAt = (path: string): WorkspacePackage | undefined => absDirs.find(d => path === d.abs || path.startsWith(d.abs + sep))?.p

  let files = 0
  for (const p of packages) {
    const dir = resolve(root, p.dir)
    const others = new Set(absDirs.filter(d => d.p !== p).map(d => d.abs))
    const deps = new Set(p.dependencies)
    const devDeps = new Set(p.devDependencies)
    for (const file of sourceFiles(dir, others)) {
      files++
      const rel = relative(root, file).split(sep).join('/')
      const production = relative(dir, file).split(sep)[0] === 'src'
      const size = statSync(file).size
      if (size > SOURCE_BYTES_MAX) { violations.push({ file: rel, specifier: '', reason: `${size} bytes: larger than a source file may be (${SOURCE_BYTES_MAX})` }); continue }
      const fault = (specifier: string, reason: string): void => { violations.push({ file: rel, specifier, reason }) }
      const where = production ? 'dependencies' : 'dependencies or devDependencies'
      for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
        if (isBuiltin(specifier)) continue
        let target: WorkspacePackage | undefined
        if (specifier.startsWith('./') || specifier.startsWith('../')) {
          const to = resolve(dirname(file), specifier)
          target = workspaceAt(to)
          if (target === undefined) { fault(specifier, 'a relative import that leaves every package'); continue }
          if (target === p) continue
        } else if (specifier.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(specifier)) {
          fault(specifier, 'an absolute path or URL: import a package by name, or a file of this package by a relative path')
          continue
        } else {
          const name = packageOf(specifier)
          target = byName.get(name)
          if (target === undefined) {
            const declared = deps.has(name) || (!production && (devDeps.has(name) || rootDevDeps.has(name)))
            if (!declared) fault(specifier, `${name} is not declared in ${p.dir}/package.json ${where}${production ? '' : ' (nor in the root devDependencies)'}`)
            continue
          }
        }
        const how = specifier.startsWith('.') ? ` (by a relative path into ${target.dir}/)` : ''
        if (target === p) { fault(specifier, `${p.name} imports itself by name: use a relative path`); continue }
        if (!(deps.has(target.name) || (!production && devDeps.has(target.name)))) fault(specifier, `${target.name}${how} is not declared in ${p.dir}/package.json ${where}`)
        else if (cycles.length === 0 && (layers[target.name] as number) >= (layers[p.name] as number)) fault(specifier, `${target.name}${how} is not below ${p.name} (layers ${layers[target.name]} and ${layers[p.name]})`)
      }
    }
  }
  return { packages, layers, files, violations }
}

/** One line per violation: the file, the import, why. */
export function formatViolations (violations: Violation[]): string {
  return violations.map(v => `${v.file}${v.specifier === '' ? '' : `: '${v.specifier}'`}: ${v.reason}`).join('\n')
}

/** The hand-written CSV record splitter agrees with csv-parse (the definition) on any input, cut into chunks anywhere (property). */
import assert from 'node:assert/strict'
import { parse } from 'csv-parse/sync'
import fc from 'fast-check'
import { csvRecords } from '../src/csvRecords.ts'
import { fcParams } from './helpers/fc.ts'

async function all (text: string, cuts: number[]): Promise<string[][]> {
  const bytes = Buffer.from(text)
  const points = [...new Set(cuts.map(c => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let at = 0
  for (const p of [...points, bytes.length]) { chunks.push(bytes.subarray(at, p)); at = p }
  const out: string[][] = []
  for await (const r of csvRecords((async function * () { yield * chunks })())) out.push(r.fields)
  return out
}

describe('CSV records (fast path, quotes by the library)', () => {
  it('the same records as csv-parse, whatever the fields and wherever the chunks are cut (property)', async () => {
    // Quoted fields may hold commas, quotes, line feeds and CRLFs.
    const field = fc.oneof(fc.stringMatching(/^[a-z0-9.é -]{0,8}$/), fc.stringMatching(/^[a-z,"\n.é]{0,8}$/).map(s => `"${s.replaceAll('"', '""')}"`), fc.constantFrom('"a\r\nb"', '"\r\n"', '"x""\r\ny"'))
    const record = fc.array(field, { minLength: 1, maxLength: 6 }).map(fs => fs.join(','))
    await fc.assert(fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 8 }), fc.constantFrom('\n', '\r\n'), fc.array(fc.nat(), { maxLength: 6 }), async (records, eol, cuts) => {
      const text = records.join(eol) + eol
      const want = (parse(text, { relax_column_count: true, skip_empty_lines: true }) as string[][])
      assert.deepEqual(await all(text, cuts), want)
    }), fcParams())
  })

  it('reports where a record starts, skips a BOM and blank lines, and refuses a quote never closed', async () => {
    const lines: number[] = []
    for await (const r of csvRecords((async function * () { yield '\ufeffa,b\n\n"x\ny",z\nc,d' })())) lines.push(r.line)
    assert.deepEqual(lines, [1, 3, 5])
    await assert.rejects((async () => { for await (const _ of csvRecords((async function * () { yield 'a,"b\nc' })())) { /* drain */ } })(), /never closed/)
  })

  it('bounded: a quote never closed is refused at the record cap; so is a line without end; a stray carriage return', async () => {
    const drain = async (chunks: string[]): Promise<void> => { for await (const _ of csvRecords((async function * () { yield * chunks })())) { /* drain */ } }
    await assert.rejects(drain(['a,"open\n', ...Array.from({ length: 20_000 }, () => 'x,y,z\n')]), /over 65536 characters/)
    await assert.rejects(drain([Array.from({ length: 100 }, () => 'x'.repeat(1000)).join('')]), /over 65536 characters/)
    await assert.rejects(drain(['a,b\rc,d\n']), /carriage return inside/)
  })
})

/**
 * CSV records from a stream of text, fast: a line without a quote (every line a processor
 * writes, in practice) is split on commas by hand; a record with quotes (quoted commas, quoted
 * line breaks, doubled quotes) is handed whole to csv-parse, the definition. The property test
 * (test/csvRecords.test.ts) checks the two agree on any input. Profiled: csv-parse's streaming
 * parser was a quarter of reconciling a million-line report.
 */
import { parse } from 'csv-parse/sync'

/** Characters of one record, at most (a line, or a quoted record spanning lines): past it the file is refused. */
export const CSV_RECORD_CHARS_MAX = 64 * 1024

/** A record splitter's state across chunks: `take` each chunk (with what was left of the last), then `finish`. */
function splitter (): { take: (text: string) => Generator<{ fields: string[], line: number }>, rest: () => string, finish: () => Generator<{ fields: string[], line: number }> } {
  let rest = ''
  let line = 0
  /** A record with an open quoted field, spanning lines, and whether its quotes are unbalanced so far. */
  let pending: string | null = null
  let pendingLine = 0
  let first = true
  const take = function * (text: string): Generator<{ fields: string[], line: number }> {
    let start = 0
    for (;;) {
      const nl = text.indexOf('\n', start)
      if (nl < 0) {
        rest = text.slice(start)
        if (rest.length > CSV_RECORD_CHARS_MAX) throw new Error(`line ${line + 1} is over ${CSV_RECORD_CHARS_MAX} characters`)
        return
      }
      let raw = text.slice(start, nl)
      start = nl + 1
      line++
      if (first) { first = false; if (raw.charCodeAt(0) === 0xfeff) raw = raw.slice(1) }
      if (pending !== null) {
        // Inside a quoted field that spans lines (its line break kept as it was): until the quotes
        // balance, counting only the new line's (the parity so far is odd).
        pending += '\n' + raw
        if (pending.length > CSV_RECORD_CHARS_MAX) throw new Error(`the record from line ${pendingLine} is over ${CSV_RECORD_CHARS_MAX} characters`)
        if (quotesIn(raw) % 2 === 1) { yield { fields: library(pending), line: pendingLine }; pending = null }
        continue
      }
      if (raw.includes('"')) {
        if (quotesIn(raw) % 2 === 0) yield { fields: library(raw), line }
        else { pending = raw; pendingLine = line }
        continue
      }
      if (raw.endsWith('\r')) raw = raw.slice(0, -1)
      if (raw === '') continue
      // A carriage return left inside a line is a line break of the old Mac kind: not read here.
      if (raw.includes('\r')) throw new Error(`line ${line} has a carriage return inside it: lines end with \\n or \\r\\n`)
      yield { fields: raw.split(','), line }
    }
  }
  const finish = function * (): Generator<{ fields: string[], line: number }> {
    yield * take(rest + '\n')
    if (pending !== null) throw new Error(`a quoted field opened on line ${pendingLine} is never closed`)
  }
  return { take, rest: () => rest, finish }
}

/** Each record (its fields, and the line it starts on, 1-based), from chunks of UTF-8 text. */
export async function * csvRecords (source: AsyncIterable<string | Uint8Array>): AsyncGenerator<{ fields: string[], line: number }> {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  const s = splitter()
  for await (const chunk of source) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
    yield * s.take(s.rest() + text)
  }
  const tail = decoder.decode()
  if (tail !== '') yield * s.take(s.rest() + tail)
  yield * s.finish()
}

/** The same records from one text held whole (a file already read): no stream, the same rules. */
export function * csvRecordsOfText (text: string): Generator<{ fields: string[], line: number }> {
  const s = splitter()
  yield * s.take(text)
  yield * s.finish()
}

function quotesIn (s: string): number {
  let n = 0
  for (let i = s.indexOf('"'); i >= 0; i = s.indexOf('"', i + 1)) n++
  return n
}

/** One record with quotes, by the library (its line ending, outside the quotes, dropped). */
function library (record: string): string[] {
  const rows = parse(record.endsWith('\r') ? record.slice(0, -1) : record, { relax_column_count: true }) as string[][]
  if (rows.length !== 1) throw new Error(`not one CSV record: ${JSON.stringify(record.slice(0, 40))}`)
  return rows[0] as string[]
}

/** `tillbooks bench`'s outputs: the tables on stdout and in bench.log, and the SVG chart. */
import type { BenchResult, SizeResult } from './run.ts'

const f0 = (n: number | null | undefined): string => n === null || n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-GB')
const f1 = (n: number | null | undefined): string => n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(1)
const f2 = (n: number | null | undefined): string => n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(2)
const mb = (b: number): string => `${Math.round(b / 2 ** 20)}`

function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map(r => (r[c] ?? '').length)))
  const line = (cells: string[]): string => cells.map((s, c) => s.padStart(widths[c] as number)).join('  ')
  return [line(header), line(widths.map(w => '─'.repeat(w))), ...rows.map(line)].join('\n')
}

const failed = (r: SizeResult): string[] => Object.entries(r.checks).filter(([, v]) => !v).map(([k]) => k)

export function formatTable (res: BenchResult): string {
  const m = res.machine
  const out: string[] = []
  out.push(`tillbooks bench, ${res.date.slice(0, 10)}: ${m.cpus} cores (${m.model}), Node ${m.node}; ${m.shared}.`)
  out.push(`HQ = the real \`tillbooks hq\` process (LevelDB, every signature verified, fsync before each ack); tills in ${String(res.options.loadgens)} load-generator processes, each a store relay with one libp2p connection to HQ; medians of ${String(res.options.runs)} runs.`)
  out.push('')
  out.push(table(
    ['tills', 'pitch published/s', 'pitch as pitched/s', 'pitch + guarantees/s', 'tillbooks/s', '÷ guarded', '÷ as pitched', 'verify ceiling/s', '% of ceiling', 'OpenSSL ceiling/s', '% of it'],
    res.runs.map(r => [
      f0(r.tills), f0(r.publishedReportsPerSec), f0(r.baselineReportsPerSec), f0(r.guardedBaselineReportsPerSec), f0(r.reportsPerSec),
      f2(r.ratios.vsGuardedBaseline), f2(r.ratios.vsBaseline), f0(r.verifyCeilingPerSec), `${Math.round(r.ratios.ofVerifyCeiling * 100)} %`, f0(r.verifyCeilingOpenSslPerSec), `${Math.round(r.ratios.ofOpenSslVerifyCeiling * 100)} %`
    ])
  ))
  out.push('')
  out.push(table(
    ['tills', 'ack p50/p99 ms', 'connect ms', 'HQ µs CPU/report', 'HQ CPU-s/1k', 'HQ peak RSS MB', 'HQ conns', 'bytes/till/day (frames/socket)', 'rebuild rec/s verify/trust', 'legacy numbers/s', 'legacy fleet-day s', 'checks'],
    res.runs.map(r => [
      f0(r.tills), `${f1(r.p50Ms)}/${f1(r.p99Ms)}`, f1(r.connectMs), f0(r.hqCpuUsPerReport), f2(r.hqCpuSecondsPer1000Reports), mb(r.hqRssBytes), f0(r.hqConnections),
      `${f0(r.bytesPerTillPerDay.frames)}/${f0(r.bytesPerTillPerDay.socket)}`, `${f0(r.rebuild?.recordsPerSec)}/${f0(r.rebuildTrusted?.recordsPerSec)}`, f0(r.legacy?.docNosPerSec),
      r.legacy === null ? '–' : `${f1(r.legacy.fleetDayNumbersSec)}${r.legacy.cutShort ? '*' : ''}`,
      failed(r).length === 0 ? `all ${Object.keys(r.checks).length} ok` : `FAIL: ${failed(r).join(', ')}`
    ])
  ))
  out.push('')
  out.push('beyond one machine (issue 20): the SQL projection of the books (PGlite, HQ\'s default) at the end of the wave, the whole log projected from nothing, a replica catching up on the whole log, intake with a replica syncing from HQ')
  out.push(table(
    ['tills', 'SQL lag at wave end', 'SQL caught up ms', 'SQL rec/s (wave+catch-up)', 'from nothing rec/s PGlite/server', 'replica catch-up rec/s', 'intake with a replica /s (÷ without)', 'replica same books ms after wave'],
    res.runs.map(r => [
      f0(r.tills), f0(r.sql?.lagAtWaveEnd), f0(r.sql?.catchUpMs), f0(r.sql?.recordsPerSec),
      `${f0(r.sql?.fromNothingPglite?.recordsPerSec)}/${f0(r.sql?.fromNothingServer?.recordsPerSec)}`, f0(r.replicas?.catchUp?.recordsPerSec),
      r.replicas?.intakeWithReplica == null ? '–' : `${f0(r.replicas.intakeWithReplica.reportsPerSec)} (${f2(r.replicas.intakeWithReplica.vsWithout)})`, f0(r.replicas?.intakeWithReplica?.convergedMsAfterWave)
    ])
  ))
  const probes = res.runs.filter(r => r.probe !== null)
  if (probes.length > 0) {
    out.push('')
    out.push('direct till→HQ connections (each till its own libp2p identity; connect + noise + yamux + first round trip): ' +
      probes.map(r => `${f0(r.tills)} tills: ${r.probe?.connections} conns, p50 ${f1(r.probe?.p50Ms)} ms, p99 ${f1(r.probe?.p99Ms)} ms, all in ${f0(r.probe?.allMs)} ms (${f0(r.probe?.perSec)}/s), HQ ${signedKb(r.probe?.hqRssPerConnectionBytes ?? 0)} RSS each`).join('; '))
  }
  if (res.runs.some(r => r.legacy?.cutShort === true)) out.push('* legacy baseline cut short at its time budget; the fleet-day time is extrapolated from the measured rate.')
  return out.join('\n')
}

/** Throughput vs fleet size, grouped bars, hand-written SVG. */
export function renderSvg (res: BenchResult): string {
  const series: Array<{ name: string, color: string, get: (r: SizeResult) => number | null }> = [
    { name: 'pitch, published', color: '#bbbbbb', get: r => r.publishedReportsPerSec },
    { name: 'pitch relay as pitched (here)', color: '#f28e2b', get: r => r.baselineReportsPerSec },
    { name: 'pitch relay + our guarantees (here)', color: '#e15759', get: r => r.guardedBaselineReportsPerSec },
    { name: 'tillbooks over libp2p (here)', color: '#4e79a7', get: r => r.reportsPerSec }
  ]
  const W = 860
  const H = 440
  const left = 70
  const right = 20
  const top = 50
  const bottom = 90
  const plotW = W - left - right
  const plotH = H - top - bottom
  const maxY = Math.max(1, ...res.runs.flatMap(r => [...series.map(s => s.get(r) ?? 0), r.verifyCeilingPerSec]))
  const niceMax = (() => {
    const p = 10 ** Math.floor(Math.log10(maxY))
    for (const k of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (k * p >= maxY) return k * p
    return 10 * p
  })()
  const y = (v: number): number => top + plotH - (v / niceMax) * plotH
  const groupW = plotW / Math.max(1, res.runs.length)
  const barW = Math.min(36, (groupW - 24) / series.length)
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Reports acknowledged per second vs fleet size (${esc(res.date.slice(0, 10))}, ${res.machine.cpus} cores, shared)</text>`)
  for (let k = 0; k <= 5; k++) {
    const v = niceMax * k / 5
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#eeeeee"/>`)
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v).toLocaleString('en-GB')}</text>`)
  }
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`)
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`)
  parts.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">reports/s</text>`)
  res.runs.forEach((r, g) => {
    const x0 = left + g * groupW + (groupW - barW * series.length) / 2
    series.forEach((s, k) => {
      const v = s.get(r)
      if (v === null) return
      parts.push(`<rect x="${(x0 + k * barW).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${s.color}"><title>${esc(s.name)}: ${Math.round(v)}/s</title></rect>`)
      parts.push(`<text x="${(x0 + k * barW + (barW - 2) / 2).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" text-anchor="middle" font-size="9">${Math.round(v).toLocaleString('en-GB')}</text>`)
    })
    // The verification ceiling: a dashed line over the group.
    const cy = y(r.verifyCeilingPerSec)
    parts.push(`<line x1="${(x0 - 6).toFixed(1)}" x2="${(x0 + barW * series.length + 4).toFixed(1)}" y1="${cy.toFixed(1)}" y2="${cy.toFixed(1)}" stroke="#59a14f" stroke-width="2" stroke-dasharray="5 3"/>`)
    parts.push(`<text x="${(left + g * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${r.tills.toLocaleString('en-GB')} tills</text>`)
  })
  const legend = [...series.map(s => ({ name: s.name, color: s.color, dash: false })), { name: 'Ed25519 verify ceiling, libsodium (1 core × cores)', color: '#59a14f', dash: true }]
  legend.forEach((l, k) => {
    const lx = left + (k % 3) * 270
    const ly = H - 48 + Math.floor(k / 3) * 20
    parts.push(l.dash
      ? `<line x1="${lx}" x2="${lx + 14}" y1="${ly - 4}" y2="${ly - 4}" stroke="${l.color}" stroke-width="2" stroke-dasharray="5 3"/>`
      : `<rect x="${lx}" y="${ly - 10}" width="14" height="10" fill="${l.color}"/>`)
    parts.push(`<text x="${lx + 20}" y="${ly}">${esc(l.name)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

/** A change of memory in KB with its sign: RSS can fall between two readings (the heap shrank). */
export function signedKb (bytes: number): string {
  const kb = Math.round(bytes / 1024)
  return `${kb >= 0 ? '+' : '−'}${Math.abs(kb).toLocaleString('en-GB')} KB`
}

/**
 * The console's HTML: a page frame, tables, and money, with every value escaped. Server
 * rendered and readable without JavaScript; the fleet page alone adds a small script that
 * applies server-sent updates.
 */
import { formatCents } from '@tillbooks/ledger'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Text or an attribute value, escaped (everything shown passes here). */
export function esc (v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, c => ESCAPES[c] as string)
}

/** Integer cents as a decimal amount, as the books' exports write it (`-1234` → `-12.34`); anything else as a dash. */
export function money (cents: number): string {
  return Number.isSafeInteger(cents) ? formatCents(cents) : '—'
}

/** A safe piece of HTML (already escaped). */
export interface Html { readonly html: string }
export const raw = (html: string): Html => ({ html })
const isHtml = (v: unknown): v is Html => typeof v === 'object' && v !== null && 'html' in v

/** A cell: text (escaped) or HTML built here. */
export function cell (v: unknown): string {
  return isHtml(v) ? v.html : esc(v)
}

export function link (href: string, text: unknown): Html {
  return raw(`<a href="${esc(href)}">${esc(text)}</a>`)
}

/** A table with a caption (the accessible name), headers, and rows; `numeric` columns right-aligned; `ids` give rows an id. */
export function table (caption: string, headers: string[], rows: unknown[][], o: { numeric?: number[], ids?: string[], id?: string } = {}): string {
  const num = new Set(o.numeric ?? [])
  const head = headers.map((h, i) => `<th scope="col"${num.has(i) ? ' class="n"' : ''}>${esc(h)}</th>`).join('')
  const body = rows.length === 0 ? `<tr><td colspan="${headers.length}">none</td></tr>` : tableRows(rows, o)
  return `<table${o.id !== undefined ? ` id="${esc(o.id)}"` : ''}><caption>${esc(caption)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`
}

/** A table's body rows (what a live update replaces): the same markup as `table` writes. */
export function tableRows (rows: unknown[][], o: { numeric?: number[], ids?: string[] } = {}): string {
  const num = new Set(o.numeric ?? [])
  return rows.map((r, k) => `<tr${o.ids?.[k] !== undefined ? ` id="${esc(o.ids[k])}"` : ''}>${r.map((v, i) => `<td${num.has(i) ? ' class="n"' : ''}>${cell(v)}</td>`).join('')}</tr>`).join('\n')
}

export interface PageOptions {
  /** Who is signed in ('admin', 'viewer'), or null (loopback, no session). */
  role: 'admin' | 'viewer' | null
  csrf?: string
  /** Extra, trusted markup for the end of the body (the fleet page's script). */
  script?: string
}

const NAV = [['/ui/fleet', 'Fleet'], ['/ui/books', 'Books'], ['/ui/exceptions', 'Exceptions'], ['/ui/members', 'Members'], ['/openapi/', 'API']]

export function page (title: string, body: string, o: PageOptions): string {
  const who = o.role === null
    ? '<a href="/ui/signin">Sign in</a>'
    : `signed in: ${esc(o.role)} <form method="post" action="/ui/signout" class="inline"><input type="hidden" name="csrf" value="${esc(o.csrf ?? '')}"><button type="submit">Sign out</button></form>`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · tillbooks HQ</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 0; color: #1a1a1a; background: #fff; }
header { background: #14324a; color: #fff; padding: .5rem 1rem; display: flex; gap: 1.5rem; align-items: center; flex-wrap: wrap; }
header a { color: #fff; }
header .who { margin-left: auto; }
main { padding: 1rem; max-width: 75rem; }
table { border-collapse: collapse; margin: 0 0 1.5rem; min-width: 20rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border-bottom: 1px solid #c8c8c8; padding: .25rem .75rem; text-align: left; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
.bad { color: #9b1c1c; font-weight: 600; }
.ok { color: #1d5c2e; }
form.inline { display: inline; }
button, input { font: inherit; }
a { color: #0b5394; }
</style>
</head>
<body>
<header><strong>tillbooks HQ</strong><nav aria-label="Console">${NAV.map(([href, text]) => `<a href="${href as string}">${esc(text)}</a>`).join(' · ')}</nav><span class="who">${who}</span></header>
<main>
<h1>${esc(title)}</h1>
${body}
</main>
${o.script ?? ''}
</body>
</html>`
}

/**
 * A horizontal bar chart as SVG (no script, no library): one bar per label, scaled to the
 * largest value, each with its amount written beside it; its title is its accessible name.
 */
export function barChart (title: string, bars: Array<{ label: string, cents: number }>): string {
  const rowH = 28
  const labelW = 120
  const barW = 360
  const max = Math.max(1, ...bars.map(b => b.cents))
  const h = Math.max(1, bars.length) * rowH + 8
  const rows = bars.map((b, i) => {
    const w = Math.max(0, Math.round((Math.max(0, b.cents) / max) * barW))
    const y = 4 + i * rowH
    return `<text x="0" y="${y + 18}" font-size="14">${esc(b.label)}</text><rect x="${labelW}" y="${y + 4}" width="${w}" height="${rowH - 10}" fill="#14324a"></rect><text x="${labelW + w + 6}" y="${y + 18}" font-size="14">${esc(money(b.cents))}</text>`
  }).join('')
  const id = `chart-${title.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase()}`
  return `<figure><svg role="img" aria-labelledby="${esc(id)}" width="${labelW + barW + 110}" height="${h}" viewBox="0 0 ${labelW + barW + 110} ${h}"><title id="${esc(id)}">${esc(title)}</title>${rows}</svg><figcaption>${esc(title)}</figcaption></figure>`
}

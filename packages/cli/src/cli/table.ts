import { type Output, paint } from './output.js'

/** Renders rows as aligned columns under a bold header; the last column is not padded. */
export function renderTable(out: Pick<Output, 'color'>, header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [paint(out.color, 'bold', line(header)), ...rows.map(line)].map((l) => `${l}\n`).join('')
}

/** `512 MiB`, `12.3 GiB` from mebibytes. */
export function formatMb(mb: number): string {
  if (mb < 1024) return `${Math.round(mb)} MiB`
  return `${(mb / 1024).toFixed(mb < 10 * 1024 ? 2 : 1)} GiB`
}

export { formatBytes } from '@rbee/common/base'

/** `42s`, `3m05s`, `2h01m`, `3d04h`. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`
}

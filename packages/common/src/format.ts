/** Human units for byte counts: `512 B`, `12.3 MiB`, `1.02 GiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`
}

/** A duration in milliseconds as seconds for a message: `0.05 s`, `0.3 s`, `2.5 s`, `30 s`. */
export function formatSeconds(ms: number): string {
  const s = ms / 1000
  return `${s >= 10 ? s.toFixed(0) : Number(s.toFixed(s >= 1 ? 1 : 2))} s`
}

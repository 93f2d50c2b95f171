/** A small line chart of the last values (inline SVG, no library): title, latest value, peak. */
export function SparkChart(props: {
  title: string
  unit: string
  values: (number | null)[]
  digits?: number
}) {
  const w = 300
  const h = 80
  const vals = props.values
  const known = vals.filter((v): v is number => v !== null)
  const max = Math.max(...known, 0)
  const top = max > 0 ? max : 1
  const step = vals.length > 1 ? w / (vals.length - 1) : w
  // Gaps (no data in an interval) break the line rather than dropping it to zero.
  const segments: string[] = []
  let current: string[] = []
  vals.forEach((v, i) => {
    if (v === null) {
      if (current.length > 0) segments.push(current.join(' '))
      current = []
    } else current.push(`${(i * step).toFixed(1)},${(h - 4 - (v / top) * (h - 8)).toFixed(1)}`)
  })
  if (current.length > 0) segments.push(current.join(' '))
  const latest = [...vals].reverse().find((v) => v !== null) ?? null
  const fmt = (v: number | null) => (v === null ? '–' : `${v.toFixed(props.digits ?? 1)} ${props.unit}`)
  return (
    <figure class="card chart" data-chart={props.title}>
      <figcaption>
        <strong>{props.title}</strong>{' '}
        <span class="muted">
          now {fmt(latest)} · peak {fmt(known.length ? max : null)}
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${w} ${h}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${props.title}, last ${vals.length} intervals, latest ${fmt(latest)}`}
      >
        <line x1="0" y1={h - 4} x2={w} y2={h - 4} stroke="currentColor" stroke-opacity="0.2" />
        {segments.map((pts) => {
          // A lone point (one interval with data between gaps) is a dot, not an invisible line.
          const [x, y] = pts.includes(' ') ? [] : pts.split(',')
          return x === undefined ? <polyline points={pts} /> : <circle cx={x} cy={y} r="3" />
        })}
      </svg>
    </figure>
  )
}

interface BarProps {
  label: string
  value: number
  max: number
  text: string
  /** `meter` for a gauge (VRAM, RAM, slots), `progress` for work under way (a download). */
  kind?: 'meter' | 'progress'
}

/** A labelled bar with its figures written on it; a native <meter>/<progress> beneath serves assistive tech. */
export function Meter(props: BarProps) {
  const max = props.max > 0 ? props.max : 1
  const pct = Math.max(0, Math.min(100, (props.value / max) * 100))
  const a11y = {
    class: 'sr-only',
    'aria-label': props.label,
    'aria-valuetext': props.text,
    value: props.value,
    max,
  }
  return (
    <div class="meter">
      {props.kind === 'progress' ? <progress {...a11y} /> : <meter {...a11y} min={0} />}
      <div class="meter-fill" style={{ width: `${pct}%` }} />
      <span class="meter-text">{props.text}</span>
    </div>
  )
}

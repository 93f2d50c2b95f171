/**
 * The sum of a Prometheus metric's samples (in the text exposition `/metrics` serves) whose
 * labels include every `labels` pair; 0 when there is none.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(\{[^}]*\})?\s+([-+0-9.eE]+|NaN)$/.exec(line)
    if (!m || m[1] !== name) continue
    const l = m[2] ?? ''
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3])
  }
  return sum
}

/** Whether the exposition has a metric of this name (a `# TYPE` line), samples or not. */
export function hasMetric(text: string, name: string): boolean {
  return text.split('\n').some((l) => l.startsWith(`# TYPE ${name} `))
}

import type { Narration } from '@rbee/contracts'
import { type Output, paint } from './output.js'

/** `[#########-----------]  45%`. */
export function renderBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, fraction))
  const filled = Math.round(f * width)
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(f * 100)).padStart(3)}%`
}

/**
 * Shows a job's narration on stderr. On a terminal, narration carrying `progress` redraws one
 * line in place as a bar; elsewhere (pipes, logs) each line is printed, with progress lines
 * thinned to one per 10 % so a log stays readable.
 */
export class NarrationView {
  readonly #out: Output
  readonly #verbose: boolean
  #barOpen = false
  #lastDecile = new Map<string, number>()

  constructor(out: Output, options: { verbose?: boolean } = {}) {
    this.#out = out
    this.#verbose = options.verbose ?? false
  }

  /** Shows one narration event. */
  show(n: Pick<Narration, 'action' | 'human' | 'progress' | 'actor'>): void {
    const o = this.#out
    if (n.progress !== undefined && o.stderrIsTTY) {
      const bar = renderBar(n.progress, 24)
      const room = Math.max(10, o.columns - bar.length - 2)
      const text = n.human.length > room ? `${n.human.slice(0, room - 1)}…` : n.human
      o.stderr.write(`\r\u001b[2K${paint(o.color, 'cyan', bar)} ${text}`)
      this.#barOpen = true
      return
    }
    if (n.progress !== undefined && n.progress < 1) {
      const decile = Math.floor(n.progress * 10)
      if (this.#lastDecile.get(n.action) === decile) return
      this.#lastDecile.set(n.action, decile)
    }
    this.line(`${this.#verbose ? `[${n.actor}] ` : ''}${n.human}`)
  }

  /** Prints a line of narration, closing an open bar first. */
  line(text: string): void {
    this.endBar()
    this.#out.stderr.write(`${paint(this.#out.color, 'dim', text)}\n`)
  }

  /** Ends the bar's line (so what follows starts on a fresh line). Idempotent. */
  endBar(): void {
    if (!this.#barOpen) return
    this.#barOpen = false
    this.#out.stderr.write('\n')
  }
}

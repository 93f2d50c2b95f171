/** Something text can be written to (a process stream, or a buffer in tests). */
export interface TextSink {
  write(text: string): unknown
}

/** Where a command writes: results on stdout, narration and errors on stderr. */
export interface Output {
  stdout: TextSink
  stderr: TextSink
  /** stdout is a terminal (`status --watch` redraws in place). */
  stdoutIsTTY: boolean
  /** stderr is a terminal: progress bars redraw in place. */
  stderrIsTTY: boolean
  /** Colours are on (a terminal, and neither NO_COLOR nor --no-color). */
  color: boolean
  /** Terminal width for tables and bars. @default 80 */
  columns: number
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
} as const

/** A colour name. */
export type Colour = keyof typeof CODES

/** Wraps `text` in ANSI colour codes when `on`; returns it unchanged otherwise. */
export function paint(on: boolean, colour: Colour, text: string): string {
  if (!on) return text
  const [a, b] = CODES[colour]
  return `\u001b[${a}m${text}\u001b[${b}m`
}

/** An Output that collects everything written, for tests. */
export function bufferOutput(
  options: Partial<Pick<Output, 'color' | 'stderrIsTTY' | 'stdoutIsTTY' | 'columns'>> = {},
): Output & {
  readonly out: string
  readonly err: string
} {
  let out = ''
  let err = ''
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    stdoutIsTTY: options.stdoutIsTTY ?? false,
    stderrIsTTY: options.stderrIsTTY ?? false,
    color: options.color ?? false,
    columns: options.columns ?? 80,
    get out() {
      return out
    },
    get err() {
      return err
    },
  }
}

// Strings built to break shell quoting, for the tests of every script the CLI sends over ssh.
import { seededRng } from './seeded.js'

/**
 * Commands a broken quoting would run. Each creates `marker` (an absolute path without special
 * characters), so a test sees any of them run by that file appearing.
 */
export function payloads(marker: string): string[] {
  const t = `touch ${marker}`
  return [
    `$(${t})`,
    `\`${t}\``,
    `;${t};`,
    ` && ${t}`,
    ` || ${t}`,
    `|${t}`,
    `\n${t}\n`,
    `'$(${t})'`,
    `"$(${t})"`,
    `'; ${t}; '`,
    `\\'$(${t})`,
    `'"'"'$(${t})`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${IFS}, on purpose
    `$(${t.replace(' ', '${IFS}')})`,
    `>(${t})`,
    `&${t}&`,
    `\nRBEE_EOF\n${t}\nRBEE_EOF\n`,
    `\n${t} #`,
    `"\n${t}\n"`,
    `\nExecStartPre=/bin/${t}\n`,
  ]
}

/** Pieces that are special somewhere (shell, printf/echo, systemd, paths) but run nothing. */
const PIECES = [
  "'",
  '"',
  '\\',
  '\\n',
  '\\c',
  '$',
  '$HOME',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${HOME}, on purpose
  '${HOME}',
  '$((6*7))',
  '*',
  '?',
  '[a-z]',
  '~',
  ' ',
  '  ',
  '\t',
  '\n',
  '\r',
  '-rf',
  '--',
  '-',
  'é',
  '日本語',
  '🐝',
  '\u202e',
  '%h',
  '%%',
  '%s',
  '!',
  '#',
  '{a,b}',
  'RBEE_EOF',
  '=',
  ':',
  '@',
  '&',
  ';',
  '|',
  '<',
  '>',
  '(',
  ')',
  '\u0001',
  '\u007f',
  '/',
  '.',
  'x',
]

export interface HostileStringsOptions {
  /** Path each payload creates. */
  marker: string
  /** @default 1 */
  seed?: number
  /** How many random combinations to add after the fixed cases. @default 40 */
  random?: number
}

/**
 * Hostile strings, deterministically: the empty string, every payload alone, the pieces four at
 * a time, then `random` combinations of 1 to 6 payloads and pieces (a third of them starting
 * with `-`). None contains NUL (a test adds that case itself).
 */
export function hostileStrings(options: HostileStringsOptions): string[] {
  const attacks = payloads(options.marker)
  const all = [...attacks, ...PIECES]
  const { next } = seededRng(options.seed ?? 1)
  const pick = (): string => all[Math.floor(next() * all.length)]!
  const out = ['', ...attacks]
  for (let i = 0; i < PIECES.length; i += 4) out.push(PIECES.slice(i, i + 4).join(''))
  for (let i = 0; i < (options.random ?? 40); i++) {
    let s = i % 3 === 0 ? '-' : ''
    const n = 1 + Math.floor(next() * 6)
    for (let j = 0; j < n; j++) s += pick()
    out.push(s)
  }
  return out
}

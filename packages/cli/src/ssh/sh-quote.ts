import { RbeeError } from '@rbee/common/base'

/**
 * Quotes one value as one word for a POSIX shell: inside single quotes nothing is special
 * (`$`, backticks, `\`, globs, newlines all stay literal), and each `'` becomes `'\''`. Every
 * value the CLI puts into a script or command line it runs over ssh goes through here, and
 * only here.
 * @throws RbeeError `RBEE_CONFIG` for a NUL character, which no shell word (and no path or
 *   argument) can carry: sh would cut the value short at it.
 */
export function shQuote(value: string): string {
  if (value.includes('\0')) {
    throw new RbeeError(
      'RBEE_CONFIG',
      `a NUL character cannot go into a shell command: ${JSON.stringify(value.slice(0, 200))}`,
    )
  }
  return `'${value.replace(/'/g, `'\\''`)}'`
}

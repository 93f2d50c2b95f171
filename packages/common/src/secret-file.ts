import { readFileSync, statSync } from 'node:fs'
import { ConfigError } from './config-flags.js'

/** Largest secret file read (a few thousand keys); a bigger one is a mistake, not a key list. */
const MAX_SECRET_FILE_BYTES = 1024 * 1024

/**
 * Reads a file of secrets: one per line, blank lines and `#` comments skipped. As ssh does with
 * private keys, a file that group or others may read or write is refused with the `chmod` that
 * fixes it; a file that holds no secret is an error too (an empty key file must never turn
 * authentication off).
 * @throws ConfigError naming the file and what to do.
 */
export function readSecretFile(path: string, what: string): string[] {
  let text: string
  try {
    const st = statSync(path)
    if (!st.isFile()) throw new ConfigError(`the ${what} file ${path} is not a regular file`)
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0')
      throw new ConfigError(
        `the ${what} file ${path} is open to group or others (mode ${mode}); run: chmod 600 ${path}`,
      )
    }
    if (st.size > MAX_SECRET_FILE_BYTES) {
      throw new ConfigError(`the ${what} file ${path} is larger than ${MAX_SECRET_FILE_BYTES} bytes`)
    }
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError(`cannot read the ${what} file ${path}: ${(err as Error).message}`)
  }
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
  if (lines.length === 0) throw new ConfigError(`the ${what} file ${path} holds no ${what}`)
  return lines
}

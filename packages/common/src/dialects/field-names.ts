import { RbeeError } from '../errors.js'

/** How a dialect names a chat request field it translated (`[pattern, replacement]`, first match). */
export type FieldRenames = ReadonlyArray<readonly [RegExp, string]>

/**
 * The error naming a dialect's fields instead of the chat request fields they became (a worker
 * runs a dialect's request as a chat request, and checks it as one): each issue's path, and the
 * `path:` it is named by in the message.
 */
export function renamedError(e: RbeeError, renames: FieldRenames): RbeeError {
  const issues = (e.details as { issues?: Array<{ path: string; message: string }> } | undefined)?.issues
  if (issues === undefined) return e
  const rename = (path: string): string => {
    for (const [from, to] of renames) if (from.test(path)) return path.replace(from, to)
    return path
  }
  const renamed = issues.map((i) => ({ ...i, path: rename(i.path) }))
  if (renamed.every((r, n) => r.path === issues[n]!.path)) return e
  let message = e.message
  for (const [n, i] of issues.entries()) message = message.replaceAll(`${i.path}:`, `${renamed[n]!.path}:`)
  return new RbeeError(e.code, message, {
    cause: e.cause,
    status: e.status,
    retryAfterS: e.retryAfterS,
    details: { ...(e.details as object), issues: renamed },
  })
}

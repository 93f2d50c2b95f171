import type { z } from 'zod'

/** One problem with an input, by field path (`messages.0.role`). */
export interface FieldIssue {
  path: string
  message: string
}

function joinPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(body)' : path.map(String).join('.')
}

/**
 * Flattens zod issues to `path: message` pairs; the root is named `(body)`. An unknown field of a
 * strict object is reported under its own path (`foo: Unrecognized key`), not under its parent.
 */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: joinPath([...issue.path, key]), message: 'Unrecognized key' }))
      : [{ path: joinPath(issue.path), message: issue.message }],
  )
}

/** One line naming each bad field: `temperature: Too big: expected number to be <=2`. */
export function describeIssues(error: z.ZodError): string {
  return fieldIssues(error)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ')
}

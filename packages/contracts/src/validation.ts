import { z } from 'zod'

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

/**
 * A string, or what `array` parses: as `z.union` would, but a bad array is reported by its own
 * field paths (`content.2.type: …`) instead of one "Invalid input" for the whole union.
 */
export function stringOr<T extends z.ZodType>(array: T) {
  return z.unknown().transform((v, ctx): string | z.output<T> => {
    if (typeof v === 'string') return v
    const parsed = array.safeParse(v)
    if (parsed.success) return parsed.data
    for (const issue of parsed.error.issues) {
      const { path, message } = issue
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys)
          ctx.addIssue({ code: 'custom', path: [...path, key], message: 'Unrecognized key' })
      } else {
        ctx.addIssue({
          code: 'custom',
          path,
          message: Array.isArray(v) ? message : 'expected a string or an array',
        })
      }
    }
    return z.NEVER
  })
}

/**
 * Objects whose `type` is one of `reasons`' keys, each refused with its reason (named at its
 * `type`): for the parts of an API that rbee knows and cannot honour, in a discriminated union.
 */
export function refusedTypes(reasons: Record<string, string>) {
  const types = Object.keys(reasons)
  return (
    z
      .looseObject({ type: z.enum(types as [string, ...string[]]) })
      .superRefine((v, ctx) => {
        ctx.addIssue({ code: 'custom', path: ['type'], message: reasons[v.type] ?? 'not supported' })
      })
      // Never reached (the refinement always fails): parsed data holds no such value.
      .transform((): never => {
        throw new Error('unreachable')
      })
  )
}

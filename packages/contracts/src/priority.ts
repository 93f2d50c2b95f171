import { z } from 'zod'

/**
 * The request header with a request's priority: `low`, `normal`, `high`, or an integer from
 * `MIN_PRIORITY` to `MAX_PRIORITY` (`low` = -10, `normal` = 0, `high` = 10). Each model's queue
 * is served higher first (first come, first served within one priority); a spawn for a higher
 * priority may stop idle workers of lower-priority models to make room.
 */
export const REQUEST_PRIORITY_HEADER = 'x-request-priority'

export const MIN_PRIORITY = -100
export const MAX_PRIORITY = 100

/** The named priorities and the integers they stand for. */
export const PRIORITY_NAMES = Object.freeze({ low: -10, normal: 0, high: 10 } as const)

/** A priority as a number (`PriorityNameSchema` names map to theirs). */
export const PrioritySchema = z.int().min(MIN_PRIORITY).max(MAX_PRIORITY)
export type Priority = z.infer<typeof PrioritySchema>

/** A priority in a JSON body (an `infer` job's `priority`): a name or an integer, parsed to the number. */
export const PriorityValueSchema = z.union([
  PrioritySchema,
  z.enum(['low', 'normal', 'high']).transform((n) => PRIORITY_NAMES[n]),
])

/**
 * A priority as text (a header, a models.conf or key-file value): a name or an integer.
 * Parsed to the number it stands for.
 */
export const PriorityTextSchema = z
  .string()
  .max(16)
  .transform((s, ctx) => {
    const t = s.trim().toLowerCase()
    if (Object.hasOwn(PRIORITY_NAMES, t)) return PRIORITY_NAMES[t as keyof typeof PRIORITY_NAMES]
    if (/^[+-]?\d{1,3}$/.test(t)) {
      const n = Number(t)
      if (n >= MIN_PRIORITY && n <= MAX_PRIORITY) return n
    }
    ctx.addIssue({
      code: 'custom',
      message: `must be low, normal, high or an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}`,
    })
    return z.NEVER
  })

import { type HeaderBag, RbeeError } from '@rbee/common'
import { PriorityTextSchema, REQUEST_PRIORITY_HEADER } from '@rbee/contracts'

/**
 * The request's priority from `X-Request-Priority` (`low`, `normal`, `high` or -100..100), or
 * undefined when it names none (its model's priority in models.conf then applies).
 * @throws RbeeError `RBEE_VALIDATION` (400) naming the header for any other value.
 */
export function requestPriority(headers: HeaderBag): number | undefined {
  const raw = headers[REQUEST_PRIORITY_HEADER]
  if (raw === undefined) return undefined
  const parsed = typeof raw === 'string' ? PriorityTextSchema.safeParse(raw) : undefined
  if (parsed?.success) return parsed.data
  const problem = parsed ? (parsed.error.issues[0]?.message ?? 'is invalid') : 'must be given once'
  throw new RbeeError('RBEE_VALIDATION', `invalid X-Request-Priority header: ${problem}`, {
    details: { issues: [{ path: 'X-Request-Priority', message: problem }] },
  })
}

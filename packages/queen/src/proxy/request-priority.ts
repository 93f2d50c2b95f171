import { type HeaderBag, RbeeError } from '@rbee/common'
import { PriorityTextSchema, REQUEST_PRIORITY_HEADER } from '@rbee/contracts'

/** What a caller's key says of its requests' priority. */
export interface KeyPriority {
  /** Its requests' priority when they name none (the key file's `priority=`). */
  default: number | undefined
  /** The most a request may ask for: undefined for an admin key or when keys are off. */
  max: number | undefined
}

/** No key file priority and no cap. */
export const UNCAPPED: KeyPriority = Object.freeze({ default: undefined, max: undefined })

/**
 * What a key may ask for: a user key at most its own priority (normal when it sets none), so
 * that a key cannot jump the queue of keys an admin gave a higher one; an admin key anything.
 */
export function keyPriority(role: 'user' | 'admin', own: number | undefined): KeyPriority {
  return { default: own, max: role === 'admin' ? undefined : (own ?? 0) }
}

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

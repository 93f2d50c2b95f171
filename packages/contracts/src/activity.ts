import { z } from 'zod'
import { TimestampSchema } from './common.js'

/** One interval of the queen's inference traffic. */
export const ActivityBucketSchema = z.object({
  /** When the interval began. */
  start: TimestampSchema,
  /** Inference requests that ended in it, by how they ended. */
  requests: z.int().min(0),
  errors: z.int().min(0),
  cancelled: z.int().min(0),
  /** Time to first token of the requests whose first token came in it (ms); null: none did. */
  ttft_ms_avg: z.number().min(0).nullable(),
  ttft_ms_max: z.number().min(0).nullable(),
  /** Tokens streamed back to clients by requests that ended in it. */
  tokens: z.int().min(0),
  /** `tokens` over the interval's length: the fleet's output rate. */
  tokens_per_s: z.number().min(0),
})
export type ActivityBucket = z.infer<typeof ActivityBucketSchema>

/**
 * `GET /v1/activity` on the queen: the last minutes of its own figures in fixed intervals, oldest
 * first; the last interval is the current one (still filling). Kept in memory, lost on restart.
 */
export const ActivitySchema = z.object({
  bucket_s: z.int().min(1),
  buckets: z.array(ActivityBucketSchema),
})
export type Activity = z.infer<typeof ActivitySchema>

import { z } from 'zod'
import { TimeoutSecondsSchema } from './deadline.js'
import { SamplingParamsSchema, StopReasonSchema, TimingsSchema } from './sampling.js'

/** Body of a worker's native `POST /v1/infer`. */
export const InferRequestSchema = SamplingParamsSchema.extend({
  prompt: z.string().min(1).max(1_000_000),
  request_id: z.string().max(128).optional(),
  /** Seconds the request may take (the `X-Request-Timeout` header does the same; the earliest wins). */
  timeout: TimeoutSecondsSchema.optional(),
}).strict()
export type InferRequest = z.infer<typeof InferRequestSchema>

/** Events of a worker's `/v1/infer` SSE stream; the SSE `event:` name is the `type`. */
export const InferEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('started'),
    request_id: z.string(),
    slot: z.int().min(0),
    prompt_tokens: z.int().min(0),
  }),
  z.object({ type: z.literal('token'), t: z.string(), i: z.int().min(0) }),
  z.object({
    type: z.literal('end'),
    tokens_out: z.int().min(0),
    stop_reason: StopReasonSchema,
    timings: TimingsSchema,
  }),
  z.object({ type: z.literal('error'), code: z.string(), message: z.string() }),
])
export type InferEvent = z.infer<typeof InferEventSchema>

import { z } from 'zod'
import { TimeoutSecondsSchema } from './deadline.js'
import { MAX_TOKENS_LIMIT, SamplingParamsSchema, StopSchema, TimingsSchema } from './sampling.js'

// The subset of OpenAI's API that rbee serves. Field names are OpenAI's. Unknown fields are
// accepted and ignored (clients send many), but every field we read is range-checked. OpenAI
// types most optional fields as `T | null` and typed clients do send an explicit `null`, so the
// fields we read accept `null` as "not set".

/**
 * rbee's extension: seconds the request may take, waiting included (the `X-Request-Timeout`
 * header does the same; the earliest limit wins).
 */
const RequestTimeoutSchema = TimeoutSecondsSchema.nullable().optional()

const ContentPartSchema = z.object({ type: z.literal('text'), text: z.string() })

export const ChatMessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(ContentPartSchema), z.null()]),
  name: z.string().max(256).optional(),
})
export type ChatMessage = z.infer<typeof ChatMessageSchema>

const OpenAiSamplingSchema = SamplingParamsSchema.extend({
  model: z.string().min(1).max(512),
  temperature: SamplingParamsSchema.shape.temperature.unwrap().nullable().optional(),
  top_p: SamplingParamsSchema.shape.top_p.unwrap().nullable().optional(),
  seed: SamplingParamsSchema.shape.seed.unwrap().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  n: z.literal(1).nullable().optional(),
  stop: z.union([StopSchema, z.null()]).optional(),
  max_tokens: z.int().min(1).max(MAX_TOKENS_LIMIT).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  user: z.string().max(256).optional(),
  timeout: RequestTimeoutSchema,
})

export const ChatCompletionRequestSchema = OpenAiSamplingSchema.extend({
  messages: z.array(ChatMessageSchema).min(1).max(1024),
  max_completion_tokens: z.int().min(1).max(MAX_TOKENS_LIMIT).nullable().optional(),
})
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>

export const CompletionRequestSchema = OpenAiSamplingSchema.extend({
  prompt: z.union([z.string().min(1), z.array(z.string().min(1)).length(1)]),
  echo: z.boolean().optional(),
})
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>

export const EmbeddingRequestSchema = z.object({
  model: z.string().min(1).max(512),
  input: z.union([z.string(), z.array(z.string()).min(1).max(256)]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  user: z.string().max(256).optional(),
  timeout: RequestTimeoutSchema,
})
export type EmbeddingRequest = z.infer<typeof EmbeddingRequestSchema>

export const UsageSchema = z.object({
  prompt_tokens: z.int().min(0),
  completion_tokens: z.int().min(0),
  total_tokens: z.int().min(0),
})
export type Usage = z.infer<typeof UsageSchema>

export const FinishReasonSchema = z.enum(['stop', 'length']).nullable()

export const ChatCompletionSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.int(),
      message: z.object({ role: z.literal('assistant'), content: z.string() }),
      finish_reason: FinishReasonSchema,
    }),
  ),
  usage: UsageSchema,
  /** rbee's extension (as llama.cpp's server has one): how long the prompt and generation took. */
  timings: TimingsSchema.optional(),
})
export type ChatCompletion = z.infer<typeof ChatCompletionSchema>

export const ChatCompletionChunkSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion.chunk'),
  created: z.int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.int(),
      delta: z.object({ role: z.literal('assistant').optional(), content: z.string().optional() }),
      finish_reason: FinishReasonSchema,
    }),
  ),
  usage: UsageSchema.nullable().optional(),
  /** On the last chunk (the one with a `finish_reason`). */
  timings: TimingsSchema.optional(),
})
export type ChatCompletionChunk = z.infer<typeof ChatCompletionChunkSchema>

export const CompletionSchema = z.object({
  id: z.string(),
  object: z.literal('text_completion'),
  created: z.int(),
  model: z.string(),
  choices: z.array(
    z.object({ index: z.int(), text: z.string(), finish_reason: FinishReasonSchema, logprobs: z.null() }),
  ),
  usage: UsageSchema.nullable().optional(),
  /** On a whole answer, and on the last chunk of a stream. */
  timings: TimingsSchema.optional(),
})
export type Completion = z.infer<typeof CompletionSchema>

export const EmbeddingResponseSchema = z.object({
  object: z.literal('list'),
  model: z.string(),
  data: z.array(
    z.object({
      object: z.literal('embedding'),
      index: z.int(),
      embedding: z.union([z.array(z.number()), z.string()]),
    }),
  ),
  usage: z.object({ prompt_tokens: z.int(), total_tokens: z.int() }),
})
export type EmbeddingResponse = z.infer<typeof EmbeddingResponseSchema>

export const ModelObjectSchema = z.object({
  id: z.string(),
  object: z.literal('model'),
  created: z.int(),
  owned_by: z.string(),
  /** rbee extension: whether a worker has it loaded now. */
  loaded: z.boolean().optional(),
})
export const ModelListSchema = z.object({ object: z.literal('list'), data: z.array(ModelObjectSchema) })
export type ModelList = z.infer<typeof ModelListSchema>

/** OpenAI's error shape, used on the OpenAI-compatible routes. */
export const OpenAiErrorSchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    param: z.string().nullable(),
    code: z.string().nullable(),
    /** rbee's addition: ties a server-side error to the queen's log line that holds its details. */
    error_id: z.string().max(64).optional(),
  }),
})
export type OpenAiError = z.infer<typeof OpenAiErrorSchema>

import { z } from 'zod'
import { TimeoutSecondsSchema } from './deadline.js'
import {
  MAX_TOOLS,
  type ResponseFormat,
  ResponseFormatSchema,
  refusedKinds,
  refusedUnlessNull,
  ToolCallDeltaSchema,
  ToolCallOutSchema,
  ToolCallSchema,
  type ToolChoice,
  ToolChoiceSchema,
  ToolSchema,
  textOr,
} from './openai-tools.js'
import { MAX_TOKENS_LIMIT, SamplingParamsSchema, StopSchema, TimingsSchema } from './sampling.js'

/** OpenAI's routes that both the queen and workers serve (errors on them take OpenAI's shape). */
export const OPENAI_PATHS = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
  '/v1/models',
] as const

// The subset of OpenAI's API that rbee serves. Field names are OpenAI's. Every field of a
// completion request is either honoured or refused with a 400 that names it: nothing a client
// sends is dropped unread (the README has the table). OpenAI types most optional fields as
// `T | null` and typed clients do send an explicit `null`, so those fields accept `null` as
// "not set", and a refused field passes when it asks for nothing (`null`, `false`, `n: 1`).

/**
 * rbee's extension: seconds the request may take, waiting included (the `X-Request-Timeout`
 * header does the same; the earliest limit wins).
 */
const RequestTimeoutSchema = TimeoutSecondsSchema.nullable().optional()

const TextPartSchema = z.strictObject({ type: z.literal('text'), text: z.string() })
/** Content parts rbee knows and refuses (a text-only worker). */
const REFUSED_PARTS = {
  image_url: 'image parts are not supported: this worker has no vision',
  input_audio: 'audio parts are not supported: this worker has no audio input',
  file: 'file parts are not supported',
}
const TextPartsSchema = z
  .array(z.discriminatedUnion('type', [TextPartSchema], refusedKinds('type', REFUSED_PARTS)))
  .max(1024)
/** Text, or text parts (joined). */
const TextContentSchema = textOr(z.string(), TextPartsSchema)
const AssistantPartsSchema = z
  .array(
    z.discriminatedUnion(
      'type',
      [TextPartSchema, z.strictObject({ type: z.literal('refusal'), refusal: z.string() })],
      refusedKinds('type', REFUSED_PARTS),
    ),
  )
  .max(1024)

const NO_NAMES = 'name is not supported: the chat template has no participant names'

const instructions = <R extends 'system' | 'developer'>(role: R) =>
  z.strictObject({
    role: z.literal(role),
    content: TextContentSchema,
    name: refusedUnlessNull(NO_NAMES).optional(),
  })

export const ChatMessageSchema = z.discriminatedUnion(
  'role',
  [
    instructions('system'),
    instructions('developer'),
    z.strictObject({
      role: z.literal('user'),
      content: TextContentSchema,
      name: refusedUnlessNull(NO_NAMES).optional(),
    }),
    z.strictObject({
      role: z.literal('assistant'),
      /** Absent or null when the turn is only tool calls. */
      content: textOr(z.string(), AssistantPartsSchema.nullable()).optional(),
      tool_calls: z.array(ToolCallSchema).max(MAX_TOOLS).optional(),
      /** A refusal the model gave: part of what it said. */
      refusal: z.string().nullable().optional(),
      name: refusedUnlessNull(NO_NAMES).optional(),
      audio: refusedUnlessNull('audio is not supported').optional(),
      function_call: refusedUnlessNull('function_call is not supported: use tool_calls').optional(),
    }),
    z.strictObject({
      role: z.literal('tool'),
      content: TextContentSchema,
      /** The id of the assistant's tool call this answers. */
      tool_call_id: z.string().min(1).max(256),
    }),
  ],
  refusedKinds('role', { function: 'the function role is not supported: use tool messages' }),
)
export type ChatMessage = z.infer<typeof ChatMessageSchema>

/** A field that passes only when it asks for nothing: `off` (or null, or absent). */
const onlyOff = <T extends z.ZodType>(schema: T, off: (v: z.output<T>) => boolean, message: string) =>
  schema
    .nullable()
    .optional()
    .superRefine((v, ctx) => {
      if (v !== null && v !== undefined && !off(v)) ctx.addIssue({ code: 'custom', message })
    })

/** Fields every OpenAI completion request has: sampling (with rbee's extensions) and streaming. */
const OpenAiSamplingFields = {
  ...SamplingParamsSchema.shape,
  model: z.string().min(1).max(512),
  temperature: SamplingParamsSchema.shape.temperature.unwrap().nullable().optional(),
  top_p: SamplingParamsSchema.shape.top_p.unwrap().nullable().optional(),
  seed: SamplingParamsSchema.shape.seed.unwrap().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z
    .strictObject({
      include_usage: z.boolean().nullable().optional(),
      include_obfuscation: onlyOff(z.boolean(), (v) => !v, 'obfuscation padding is not supported'),
    })
    .nullable()
    .optional(),
  n: onlyOff(z.int().min(1).max(128), (v) => v === 1, 'only n = 1 is supported (one choice per request)'),
  stop: z.union([StopSchema, z.null()]).optional(),
  max_tokens: z.int().min(1).max(MAX_TOKENS_LIMIT).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  logit_bias: onlyOff(
    z.record(z.string().max(32), z.number().min(-100).max(100)),
    (v) => Object.keys(v).length === 0,
    'logit_bias is not supported',
  ),
  /** Informational (who asked): accepted, no effect on the answer. */
  user: z.string().max(256).nullable().optional(),
  timeout: RequestTimeoutSchema,
}

/** `stream_options` only goes with `stream: true` (OpenAI's rule too). */
function checkStreamOptions(
  body: { stream?: boolean | null | undefined; stream_options?: unknown },
  ctx: z.RefinementCtx,
): void {
  if (body.stream_options != null && body.stream !== true)
    ctx.addIssue({ code: 'custom', path: ['stream_options'], message: 'only allowed with stream: true' })
}

/**
 * The checks that span fields: tool choices name declared tools, a response format leaves no
 * active tools, and the conversation pairs every tool call with its result.
 */
function checkChat(
  body: {
    stream?: boolean | null | undefined
    stream_options?: unknown
    messages: ChatMessage[]
    tools?: Array<{ function: { name: string } }> | null | undefined
    tool_choice?: ToolChoice | null | undefined
    parallel_tool_calls?: boolean | null | undefined
    response_format?: ResponseFormat | null | undefined
  },
  ctx: z.RefinementCtx,
): void {
  checkStreamOptions(body, ctx)
  const tools = body.tools ?? []
  const names = new Set<string>()
  for (const [i, t] of tools.entries()) {
    if (names.has(t.function.name))
      ctx.addIssue({ code: 'custom', path: ['tools', i, 'function', 'name'], message: 'is declared twice' })
    names.add(t.function.name)
  }
  const choice = body.tool_choice
  if (tools.length === 0) {
    if (choice != null && choice !== 'none')
      ctx.addIssue({ code: 'custom', path: ['tool_choice'], message: 'only allowed with tools' })
    if (body.parallel_tool_calls != null)
      ctx.addIssue({ code: 'custom', path: ['parallel_tool_calls'], message: 'only allowed with tools' })
  } else if (typeof choice === 'object' && choice !== null) {
    const named =
      choice.type === 'function'
        ? [{ name: choice.function.name, path: ['tool_choice', 'function', 'name'] }]
        : choice.allowed_tools.tools.map((t, i) => ({
            name: t.function.name,
            path: ['tool_choice', 'allowed_tools', 'tools', i, 'function', 'name'],
          }))
    for (const n of named)
      if (!names.has(n.name))
        ctx.addIssue({ code: 'custom', path: n.path, message: `${n.name} is not one of the tools` })
  }
  const format = body.response_format?.type ?? 'text'
  if (format !== 'text' && tools.length > 0 && choice !== 'none')
    ctx.addIssue({
      code: 'custom',
      path: ['response_format'],
      message: `${format} cannot be combined with tools the model may call (one grammar at a time): set tool_choice to "none" or send no tools`,
    })
  checkToolPairing(body.messages, ctx)
}

/**
 * OpenAI's rule for a conversation with tools: the tool messages right after an assistant
 * message answer its tool calls, each exactly once, before anything else comes.
 */
function checkToolPairing(messages: ChatMessage[], ctx: z.RefinementCtx): void {
  let open: Map<string, boolean> | undefined
  let openAt = -1
  const close = (at: number): void => {
    if (!open) return
    const missing = [...open.entries()].filter(([, answered]) => !answered).map(([id]) => id)
    if (missing.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['messages', openAt, 'tool_calls'],
        message: `tool call ${missing.join(', ')} has no tool message answering it${at < messages.length ? ` before messages.${at}` : ''}`,
      })
    open = undefined
  }
  for (const [i, m] of messages.entries()) {
    if (m.role === 'tool') {
      if (!open?.has(m.tool_call_id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['messages', i, 'tool_call_id'],
          message: 'answers no tool call of the assistant message before it',
        })
        continue
      }
      if (open.get(m.tool_call_id))
        ctx.addIssue({
          code: 'custom',
          path: ['messages', i, 'tool_call_id'],
          message: 'answers a tool call twice',
        })
      open.set(m.tool_call_id, true)
      continue
    }
    close(i)
    if (m.role === 'assistant' && m.tool_calls && m.tool_calls.length > 0) {
      open = new Map()
      openAt = i
      for (const [j, c] of m.tool_calls.entries()) {
        if (open.has(c.id))
          ctx.addIssue({
            code: 'custom',
            path: ['messages', i, 'tool_calls', j, 'id'],
            message: 'is used twice',
          })
        open.set(c.id, false)
      }
    }
  }
  close(messages.length)
}

export const ChatCompletionRequestSchema = z
  .strictObject({
    ...OpenAiSamplingFields,
    messages: z.array(ChatMessageSchema).min(1).max(1024),
    max_completion_tokens: z.int().min(1).max(MAX_TOKENS_LIMIT).nullable().optional(),
    tools: z.array(ToolSchema).max(MAX_TOOLS).nullable().optional(),
    tool_choice: ToolChoiceSchema.nullable().optional(),
    /** false: at most one tool call per answer. */
    parallel_tool_calls: z.boolean().nullable().optional(),
    response_format: ResponseFormatSchema.nullable().optional(),
    modalities: onlyOff(
      z.array(z.enum(['text', 'audio'])).max(2),
      (v) => !v.includes('audio'),
      'audio output is not supported',
    ),
    audio: refusedUnlessNull('audio output is not supported').optional(),
    prediction: refusedUnlessNull('predicted outputs are not supported').optional(),
    logprobs: onlyOff(z.boolean(), (v) => !v, 'log probabilities are not supported'),
    top_logprobs: onlyOff(z.int().min(0).max(20), (v) => v === 0, 'log probabilities are not supported'),
    store: onlyOff(z.boolean(), (v) => !v, 'stored completions are not supported'),
    /** Informational (for stored completions, which rbee has not): accepted, no effect. */
    metadata: z.record(z.string().max(64), z.string().max(512)).nullable().optional(),
    service_tier: onlyOff(
      z.enum(['auto', 'default', 'flex', 'scale', 'priority']),
      (v) => v === 'auto' || v === 'default',
      'rbee has one service tier: auto or default',
    ),
    reasoning_effort: refusedUnlessNull('reasoning_effort is not supported').optional(),
    verbosity: refusedUnlessNull('verbosity is not supported').optional(),
    web_search_options: refusedUnlessNull('web search is not supported').optional(),
    functions: refusedUnlessNull('functions is not supported: use tools').optional(),
    function_call: refusedUnlessNull('function_call is not supported: use tool_choice').optional(),
    /** Informational (identifiers): accepted, no effect on the answer. */
    prompt_cache_key: z.string().max(256).nullable().optional(),
    safety_identifier: z.string().max(256).nullable().optional(),
    prompt_cache_retention: refusedUnlessNull('prompt_cache_retention is not supported').optional(),
  })
  .superRefine(checkChat)
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>

export const CompletionRequestSchema = z
  .strictObject({
    ...OpenAiSamplingFields,
    prompt: z.union([z.string().min(1), z.array(z.string().min(1)).length(1)]),
    echo: z.boolean().nullable().optional(),
    best_of: onlyOff(z.int().min(1).max(20), (v) => v === 1, 'only best_of = 1 is supported'),
    logprobs: onlyOff(z.int().min(0).max(5), () => false, 'log probabilities are not supported'),
    suffix: onlyOff(z.string().max(1_000_000), (v) => v === '', 'suffix (insertion) is not supported'),
  })
  .superRefine(checkStreamOptions)
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>

/**
 * Every field honoured or refused by name, as on the completion routes: `dimensions` cuts each
 * vector to its first N values and puts it back at unit length (as OpenAI's does); token-id
 * inputs are refused (rbee embeds text).
 */
export const EmbeddingRequestSchema = z.strictObject({
  model: z.string().min(1).max(512),
  input: z.union([z.string(), z.array(z.string()).min(1).max(256)]),
  encoding_format: z.enum(['float', 'base64']).nullable().optional(),
  dimensions: z.int().min(1).max(65_536).nullable().optional(),
  /** Informational (who asked): accepted, no effect on the answer. */
  user: z.string().max(256).nullable().optional(),
  timeout: RequestTimeoutSchema,
})
export type EmbeddingRequest = z.infer<typeof EmbeddingRequestSchema>

export const UsageSchema = z.object({
  prompt_tokens: z.int().min(0),
  completion_tokens: z.int().min(0),
  total_tokens: z.int().min(0),
})
export type Usage = z.infer<typeof UsageSchema>

export const FinishReasonSchema = z.enum(['stop', 'length', 'tool_calls']).nullable()

export const ChatCompletionSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.int(),
      message: z.object({
        role: z.literal('assistant'),
        /** Null when the answer is only tool calls. */
        content: z.string().nullable(),
        tool_calls: z.array(ToolCallOutSchema).optional(),
      }),
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
      delta: z.object({
        role: z.literal('assistant').optional(),
        content: z.string().optional(),
        tool_calls: z.array(ToolCallDeltaSchema).optional(),
      }),
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

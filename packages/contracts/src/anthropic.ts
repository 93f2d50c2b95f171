import { z } from 'zod'
import { FunctionNameSchema, GrammarSchemaSchema, refusedKinds, textOr } from './openai-tools.js'
import { MAX_TOKENS_LIMIT, TimingsSchema } from './sampling.js'

// Anthropic's Messages API (`anthropic-version: 2023-06-01`), the part rbee serves. Like
// Anthropic's own API, a field it does not know is refused (400 naming it), and so is every
// field or block it knows but cannot honour, with the reason.

/**
 * The prompt-caching hint. Accepted: a worker keeps each slot's prompt in its KV cache and reuses
 * the longest common prefix of the next prompt by itself, with or without the hint.
 */
const CacheControlSchema = z
  .strictObject({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() })
  .nullable()
  .optional()

const TextBlockSchema = z.strictObject({
  type: z.literal('text'),
  text: z.string(),
  cache_control: CacheControlSchema,
  citations: z.array(z.unknown()).max(0, 'citations are not supported').nullable().optional(),
})

const ToolUseBlockSchema = z.strictObject({
  type: z.literal('tool_use'),
  id: z.string().min(1).max(256),
  name: FunctionNameSchema,
  input: z.record(z.string(), z.unknown()),
  cache_control: CacheControlSchema,
  /** As an answer says it: only direct calls exist here. */
  caller: z.strictObject({ type: z.literal('direct') }).optional(),
})

const ToolResultBlockSchema = z.strictObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1).max(256),
  content: textOr(z.string(), z.array(TextBlockSchema)).optional(),
  /** Honoured: the result reaches the model as `Error: …`. */
  is_error: z.boolean().optional(),
  cache_control: CacheControlSchema,
})

/** Block types Anthropic has and a worker cannot honour, each with the reason. */
const UNSUPPORTED_BLOCKS: Record<string, string> = {
  image: 'image blocks are not supported: rbee workers have no vision',
  document: 'document blocks are not supported: rbee workers read text only',
  search_result: 'search_result blocks are not supported',
  thinking: 'thinking blocks are not supported: rbee does not run extended thinking',
  redacted_thinking: 'redacted_thinking blocks are not supported: rbee does not run extended thinking',
  server_tool_use: 'server tools are not supported: rbee runs no tools itself',
  web_search_tool_result: 'server tools are not supported: rbee runs no tools itself',
  web_fetch_tool_result: 'server tools are not supported: rbee runs no tools itself',
  code_execution_tool_result: 'server tools are not supported: rbee runs no tools itself',
  bash_code_execution_tool_result: 'server tools are not supported: rbee runs no tools itself',
  text_editor_code_execution_tool_result: 'server tools are not supported: rbee runs no tools itself',
  tool_search_tool_result: 'server tools are not supported: rbee runs no tools itself',
  container_upload: 'container_upload blocks are not supported: rbee keeps no containers',
}

export const AnthropicContentBlockSchema = z.discriminatedUnion(
  'type',
  [TextBlockSchema, ToolUseBlockSchema, ToolResultBlockSchema],
  refusedKinds('type', UNSUPPORTED_BLOCKS),
)
export type AnthropicContentBlock = z.infer<typeof AnthropicContentBlockSchema>

export const AnthropicMessageParamSchema = z.strictObject({
  role: z.enum(['user', 'assistant', 'system']),
  content: textOr(z.string(), z.array(AnthropicContentBlockSchema).max(1024)),
})
export type AnthropicMessageParam = z.infer<typeof AnthropicMessageParamSchema>

export const AnthropicToolSchema = z.strictObject({
  name: FunctionNameSchema,
  description: z.string().max(65_536).optional(),
  input_schema: GrammarSchemaSchema.refine(
    (s) => s.type === 'object',
    'must be a JSON Schema of type "object"',
  ),
  /** Custom tools only: Anthropic's server tools (bash, web search, …) need Anthropic's servers. */
  type: z
    .literal('custom', { error: 'only custom tools are supported: rbee runs no server tools' })
    .nullable()
    .optional(),
  strict: z.boolean().optional(),
  cache_control: CacheControlSchema,
  /**
   * Honoured as Anthropic defines it: a deferred tool stays out of the prompt (there, only a tool
   * search brings it in; rbee runs no tool search, so the model cannot call it).
   */
  defer_loading: z.boolean().optional(),
})
export type AnthropicTool = z.infer<typeof AnthropicToolSchema>

export const AnthropicToolChoiceSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
  z.strictObject({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
  z.strictObject({
    type: z.literal('tool'),
    name: FunctionNameSchema,
    disable_parallel_tool_use: z.boolean().optional(),
  }),
  z.strictObject({ type: z.literal('none') }),
])
export type AnthropicToolChoice = z.infer<typeof AnthropicToolChoiceSchema>

const SystemSchema = textOr(z.string(), z.array(TextBlockSchema).max(1024))

const NO_THINKING =
  'extended thinking is not supported: rbee runs no thinking (only "disabled" or "adaptive")'

/**
 * `disabled`, or `adaptive` (the model decides whether to think: rbee's models never do, so an
 * answer has no thinking blocks and `display` has nothing to show); `enabled` asks for thinking.
 */
const ThinkingSchema = z.looseObject({ type: z.string() }).pipe(
  z.discriminatedUnion(
    'type',
    [
      z.strictObject({ type: z.literal('disabled') }),
      z.strictObject({
        type: z.literal('adaptive'),
        display: z.enum(['omitted', 'summarized']).optional(),
      }),
    ],
    { error: NO_THINKING },
  ),
)

/**
 * Server-side context edits: clearing earlier thinking is honoured (there is none to clear, as no
 * thinking is ever run or accepted); clearing tool results is not done here.
 */
const ContextManagementSchema = z.strictObject({
  edits: z
    .array(
      z
        .looseObject({ type: z.string() })
        .pipe(
          z.discriminatedUnion(
            'type',
            [z.strictObject({ type: z.literal('clear_thinking_20251015'), keep: z.unknown().optional() })],
            { error: 'only clear_thinking edits are supported: rbee does not clear tool results' },
          ),
        ),
    )
    .max(16),
})

/**
 * `effort: "high"` is the default (a worker spends what the request allows); the others are not
 * honoured. `format` (a JSON schema the answer must follow) becomes the chat's `response_format`.
 */
const OutputConfigSchema = z.strictObject({
  effort: z.literal('high', { error: 'only "high" (the default) is supported' }).optional(),
  format: z
    .strictObject({ type: z.literal('json_schema'), schema: GrammarSchemaSchema })
    .nullable()
    .optional(),
})

/** What both `/v1/messages` and `/v1/messages/count_tokens` take. */
const PromptFields = {
  model: z.string().min(1).max(512),
  messages: z.array(AnthropicMessageParamSchema).min(1).max(1024),
  system: SystemSchema.optional(),
  tools: z.array(AnthropicToolSchema).max(128).optional(),
  tool_choice: AnthropicToolChoiceSchema.optional(),
  thinking: ThinkingSchema.optional(),
  context_management: ContextManagementSchema.nullable().optional(),
  output_config: OutputConfigSchema.optional(),
  /** Accepted like the blocks' own hint (see `CacheControlSchema`). */
  cache_control: CacheControlSchema,
}

export const AnthropicMessagesRequestSchema = z.strictObject({
  ...PromptFields,
  max_tokens: z.int().min(1).max(MAX_TOKENS_LIMIT),
  stop_sequences: z.array(z.string().min(1).max(256)).max(4).optional(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  top_k: z.int().min(0).max(10_000).optional(),
  /** Informational (who asked, for Anthropic's abuse checks): accepted, no effect on the answer. */
  metadata: z.strictObject({ user_id: z.string().max(512).nullable().optional() }).optional(),
})
export type AnthropicMessagesRequest = z.infer<typeof AnthropicMessagesRequestSchema>

export const AnthropicCountTokensRequestSchema = z.strictObject(PromptFields)
export type AnthropicCountTokensRequest = z.infer<typeof AnthropicCountTokensRequestSchema>

export const AnthropicTokenCountSchema = z.object({ input_tokens: z.int().min(0) })
export type AnthropicTokenCount = z.infer<typeof AnthropicTokenCountSchema>

export const AnthropicStopReasonSchema = z.enum(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use'])
export type AnthropicStopReason = z.infer<typeof AnthropicStopReasonSchema>

export const AnthropicUsageSchema = z.object({ input_tokens: z.int().min(0), output_tokens: z.int().min(0) })
export type AnthropicUsage = z.infer<typeof AnthropicUsageSchema>

export const AnthropicResponseBlockSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({
    type: z.literal('tool_use'),
    id: z.string(),
    name: z.string(),
    input: z.record(z.string(), z.unknown()),
  }),
])
export type AnthropicResponseBlock = z.infer<typeof AnthropicResponseBlockSchema>

export const AnthropicMessageSchema = z.object({
  id: z.string(),
  type: z.literal('message'),
  role: z.literal('assistant'),
  model: z.string(),
  content: z.array(AnthropicResponseBlockSchema),
  stop_reason: AnthropicStopReasonSchema.nullable(),
  stop_sequence: z.string().nullable(),
  usage: AnthropicUsageSchema,
  /** rbee's extension (as on OpenAI answers): how long the prompt and generation took. */
  timings: TimingsSchema.optional(),
})
export type AnthropicMessage = z.infer<typeof AnthropicMessageSchema>

/** The events of a streamed message, in the order they come. */
export const AnthropicStreamEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('message_start'), message: AnthropicMessageSchema }),
  z.object({ type: z.literal('ping') }),
  z.object({
    type: z.literal('content_block_start'),
    index: z.int().min(0),
    content_block: AnthropicResponseBlockSchema,
  }),
  z.object({
    type: z.literal('content_block_delta'),
    index: z.int().min(0),
    delta: z.discriminatedUnion('type', [
      z.object({ type: z.literal('text_delta'), text: z.string() }),
      z.object({ type: z.literal('input_json_delta'), partial_json: z.string() }),
    ]),
  }),
  z.object({ type: z.literal('content_block_stop'), index: z.int().min(0) }),
  z.object({
    type: z.literal('message_delta'),
    delta: z.object({ stop_reason: AnthropicStopReasonSchema, stop_sequence: z.string().nullable() }),
    usage: z.object({ input_tokens: z.int().min(0).optional(), output_tokens: z.int().min(0) }),
    timings: TimingsSchema.optional(),
  }),
  z.object({ type: z.literal('message_stop') }),
  z.object({ type: z.literal('error'), error: z.object({ type: z.string(), message: z.string() }) }),
])
export type AnthropicStreamEvent = z.infer<typeof AnthropicStreamEventSchema>

export const AnthropicErrorTypeSchema = z.enum([
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
  'rate_limit_error',
  'api_error',
  'overloaded_error',
  'timeout_error',
])
export type AnthropicErrorType = z.infer<typeof AnthropicErrorTypeSchema>

/** Anthropic's error body; `code` and `error_id` are rbee's additions (its stable code, the log's id). */
export const AnthropicErrorSchema = z.object({
  type: z.literal('error'),
  error: z.object({
    type: AnthropicErrorTypeSchema,
    message: z.string(),
    code: z.string().optional(),
    error_id: z.string().max(64).optional(),
  }),
})
export type AnthropicError = z.infer<typeof AnthropicErrorSchema>

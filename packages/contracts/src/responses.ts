import { z } from 'zod'
import { FunctionNameSchema, GrammarSchemaSchema, refusedKinds, textOr } from './openai-tools.js'
import { MAX_TOKENS_LIMIT, TimingsSchema } from './sampling.js'

// OpenAI's Responses API, the stateless part rbee serves. As OpenAI's API does, a parameter it
// does not know is refused (400 naming it), and so is every parameter it knows but cannot honour,
// with the reason. rbee keeps no state: a response lives only in the answer to its request.

const NO_STATE = 'rbee keeps no state between requests: send the whole conversation in `input`'

/** Accepts only the values listed; any other value is refused with the reason. */
const only = <T extends z.ZodType>(schema: T, why: string) =>
  z.unknown().superRefine((v, ctx) => {
    if (!schema.safeParse(v).success) ctx.addIssue({ code: 'custom', message: why })
  })

const InputTextSchema = z.strictObject({ type: z.literal('input_text'), text: z.string() })
const OutputTextSchema = z.strictObject({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.unknown()).max(0, 'annotations are not supported').optional(),
  logprobs: z.array(z.unknown()).optional(),
})

const UNSUPPORTED_PARTS: Record<string, string> = {
  input_image: 'image input is not supported: rbee workers have no vision',
  input_file: 'file input is not supported: rbee workers read text only',
  input_audio: 'audio input is not supported: rbee workers read text only',
  refusal: 'refusal parts are not supported in input',
}

const ContentPartSchema = z.discriminatedUnion(
  'type',
  [InputTextSchema, OutputTextSchema],
  refusedKinds('type', UNSUPPORTED_PARTS),
)

export const ResponsesMessageItemSchema = z.strictObject({
  type: z.literal('message'),
  id: z.string().max(256).optional(),
  status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: textOr(z.string(), z.array(ContentPartSchema).max(1024)),
})

export const ResponsesFunctionCallItemSchema = z.strictObject({
  type: z.literal('function_call'),
  id: z.string().max(256).optional(),
  status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
  call_id: z.string().min(1).max(256),
  name: FunctionNameSchema,
  arguments: z.string(),
})

export const ResponsesFunctionCallOutputItemSchema = z.strictObject({
  type: z.literal('function_call_output'),
  id: z.string().max(256).nullable().optional(),
  status: z.enum(['in_progress', 'completed', 'incomplete']).nullable().optional(),
  call_id: z.string().min(1).max(256),
  output: textOr(z.string(), z.array(InputTextSchema).max(1024)),
})

const UNSUPPORTED_ITEMS: Record<string, string> = {
  item_reference: `item references are not supported: ${NO_STATE}`,
  reasoning: 'reasoning items are not supported: rbee does not run reasoning',
  file_search_call: 'built-in tools are not supported: only function tools',
  computer_call: 'built-in tools are not supported: only function tools',
  computer_call_output: 'built-in tools are not supported: only function tools',
  web_search_call: 'built-in tools are not supported: only function tools',
  image_generation_call: 'built-in tools are not supported: only function tools',
  code_interpreter_call: 'built-in tools are not supported: only function tools',
  local_shell_call: 'built-in tools are not supported: only function tools',
  local_shell_call_output: 'built-in tools are not supported: only function tools',
  shell_call: 'built-in tools are not supported: only function tools',
  shell_call_output: 'built-in tools are not supported: only function tools',
  apply_patch_call: 'built-in tools are not supported: only function tools',
  apply_patch_call_output: 'built-in tools are not supported: only function tools',
  mcp_list_tools: 'MCP tools are not supported: only function tools',
  mcp_approval_request: 'MCP tools are not supported: only function tools',
  mcp_approval_response: 'MCP tools are not supported: only function tools',
  mcp_call: 'MCP tools are not supported: only function tools',
  custom_tool_call: 'custom (free-form) tools are not supported: only function tools',
  custom_tool_call_output: 'custom (free-form) tools are not supported: only function tools',
  compaction: `compaction items are not supported: ${NO_STATE}`,
}

/** One input item: a message (its `type` may be left out), a function call or its output. */
export const ResponsesInputItemSchema = z.preprocess(
  // An item without `type` is a message (OpenAI's "easy input message").
  (v) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && !('type' in v)
      ? { ...v, type: 'message' }
      : v,
  z.discriminatedUnion(
    'type',
    [ResponsesMessageItemSchema, ResponsesFunctionCallItemSchema, ResponsesFunctionCallOutputItemSchema],
    refusedKinds('type', UNSUPPORTED_ITEMS),
  ),
)
export type ResponsesInputItem = z.infer<typeof ResponsesInputItemSchema>

export const ResponsesFunctionToolSchema = z.strictObject({
  type: z.literal('function'),
  name: FunctionNameSchema,
  description: z.string().max(65_536).nullable().optional(),
  parameters: GrammarSchemaSchema.nullable().optional(),
  strict: z.boolean().nullable().optional(),
})
export type ResponsesFunctionTool = z.infer<typeof ResponsesFunctionToolSchema>

const BUILT_IN = 'built-in tools are not supported: rbee runs no tools itself (only function tools)'
const UNSUPPORTED_TOOLS: Record<string, string> = {
  web_search: BUILT_IN,
  web_search_preview: BUILT_IN,
  file_search: BUILT_IN,
  computer_use_preview: BUILT_IN,
  code_interpreter: BUILT_IN,
  image_generation: BUILT_IN,
  local_shell: BUILT_IN,
  shell: BUILT_IN,
  apply_patch: BUILT_IN,
  mcp: 'MCP tools are not supported: only function tools',
  custom: 'custom (free-form) tools are not supported: only function tools',
  namespace: 'tool namespaces are not supported: give function tools at the top level',
}

/** A tool: function tools are honoured; every other kind is refused with the reason. */
export const ResponsesToolSchema = z.discriminatedUnion(
  'type',
  [ResponsesFunctionToolSchema],
  refusedKinds('type', UNSUPPORTED_TOOLS),
)

export const ResponsesToolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.strictObject({ type: z.literal('function'), name: FunctionNameSchema }),
])
export type ResponsesToolChoice = z.infer<typeof ResponsesToolChoiceSchema>

export const ResponsesTextFormatSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text') }),
  z.strictObject({ type: z.literal('json_object') }),
  z.strictObject({
    type: z.literal('json_schema'),
    name: z.string().min(1).max(64),
    schema: GrammarSchemaSchema,
    description: z.string().max(65_536).optional(),
    strict: z.boolean().nullable().optional(),
  }),
])
export type ResponsesTextFormat = z.infer<typeof ResponsesTextFormatSchema>

export const ResponsesRequestSchema = z.strictObject({
  model: z.string().min(1).max(512),
  input: textOr(z.string(), z.array(ResponsesInputItemSchema).min(1).max(1024)),
  instructions: z.string().nullable().optional(),
  max_output_tokens: z.int().min(1).max(MAX_TOKENS_LIMIT).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z
    .strictObject({
      include_obfuscation: only(z.literal(false), 'obfuscation is not supported: set it to false').optional(),
    })
    .nullable()
    .optional(),
  tools: z.array(ResponsesToolSchema).max(128).optional(),
  tool_choice: ResponsesToolChoiceSchema.optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  text: z.strictObject({ format: ResponsesTextFormatSchema.optional() }).optional(),
  /** Echoed on the response, as OpenAI does. */
  metadata: z.record(z.string().max(64), z.string().max(512)).nullable().optional(),
  /** Passed on as the request's user. */
  user: z.string().max(256).optional(),
  /** Accepted like Anthropic's cache hint: a worker reuses a cached prompt prefix by itself. */
  prompt_cache_key: z.string().max(256).optional(),
  store: only(z.union([z.literal(false), z.null()]), NO_STATE).optional(),
  previous_response_id: only(z.null(), NO_STATE).optional(),
  conversation: only(z.null(), NO_STATE).optional(),
  background: only(
    z.union([z.literal(false), z.null()]),
    'background responses are not supported',
  ).optional(),
  /**
   * `reasoning.encrypted_content` is honoured: reasoning items carry it, and there are none. Any
   * other extra output (log probabilities, …) is not produced.
   */
  include: z
    .array(z.literal('reasoning.encrypted_content', { error: 'rbee has no such output to include' }))
    .max(1)
    .nullable()
    .optional(),
  /**
   * No reasoning is run: `effort: "none"` (or none given) is honoured, and a `summary` has nothing
   * to summarize; any other effort asks for reasoning.
   */
  reasoning: z
    .strictObject({
      effort: z
        .literal('none', { error: 'reasoning is not supported: rbee runs none (only "none")' })
        .nullable()
        .optional(),
      summary: z.enum(['auto', 'concise', 'detailed']).nullable().optional(),
      generate_summary: z.enum(['auto', 'concise', 'detailed']).nullable().optional(),
    })
    .nullable()
    .optional(),
  /** Codex's client identification (thread and turn ids): accepted; rbee keeps no per-client state. */
  client_metadata: z.record(z.string().max(256), z.string().max(16_384)).optional(),
  truncation: only(
    z.union([z.literal('disabled'), z.null()]),
    'truncation "auto" is not supported: a prompt that does not fit the context is refused',
  ).optional(),
  service_tier: z.enum(['auto', 'default']).nullable().optional(),
})
export type ResponsesRequest = z.infer<typeof ResponsesRequestSchema>

export const ResponsesUsageSchema = z.object({
  input_tokens: z.int().min(0),
  input_tokens_details: z.object({ cached_tokens: z.int().min(0) }),
  output_tokens: z.int().min(0),
  output_tokens_details: z.object({ reasoning_tokens: z.int().min(0) }),
  total_tokens: z.int().min(0),
})
export type ResponsesUsage = z.infer<typeof ResponsesUsageSchema>

const OutputTextPartSchema = z.object({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.never()),
  logprobs: z.array(z.never()),
})

const ItemStatusSchema = z.enum(['in_progress', 'completed', 'incomplete'])

export const ResponsesOutputItemSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('message'),
    id: z.string(),
    status: ItemStatusSchema,
    role: z.literal('assistant'),
    content: z.array(OutputTextPartSchema),
  }),
  z.object({
    type: z.literal('function_call'),
    id: z.string(),
    status: ItemStatusSchema,
    call_id: z.string(),
    name: z.string(),
    arguments: z.string(),
  }),
])
export type ResponsesOutputItem = z.infer<typeof ResponsesOutputItemSchema>

export const ResponsesResponseSchema = z.object({
  id: z.string(),
  object: z.literal('response'),
  created_at: z.int(),
  status: z.enum(['in_progress', 'completed', 'incomplete', 'failed']),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  incomplete_details: z.object({ reason: z.literal('max_output_tokens') }).nullable(),
  model: z.string(),
  output: z.array(ResponsesOutputItemSchema),
  instructions: z.string().nullable(),
  max_output_tokens: z.int().nullable(),
  temperature: z.number().nullable(),
  top_p: z.number().nullable(),
  tools: z.array(ResponsesFunctionToolSchema),
  tool_choice: ResponsesToolChoiceSchema,
  parallel_tool_calls: z.boolean(),
  text: z.object({ format: ResponsesTextFormatSchema }),
  truncation: z.literal('disabled'),
  store: z.literal(false),
  background: z.literal(false),
  previous_response_id: z.null(),
  reasoning: z.null(),
  metadata: z.record(z.string(), z.string()),
  user: z.string().nullable(),
  usage: ResponsesUsageSchema.nullable(),
  /** rbee's extension (as on OpenAI answers): how long the prompt and generation took. */
  timings: TimingsSchema.optional(),
})
export type ResponsesResponse = z.infer<typeof ResponsesResponseSchema>

/** What a Responses stream carries, by event `type` (each also has `sequence_number`). */
export const RESPONSES_EVENT_TYPES = [
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.content_part.added',
  'response.output_text.delta',
  'response.output_text.done',
  'response.content_part.done',
  'response.function_call_arguments.delta',
  'response.function_call_arguments.done',
  'response.output_item.done',
  'response.completed',
  'response.incomplete',
  'response.failed',
  'error',
] as const
export type ResponsesEventType = (typeof RESPONSES_EVENT_TYPES)[number]

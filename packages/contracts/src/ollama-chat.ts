import { z } from 'zod'
import { TimestampSchema } from './common.js'
import { OllamaKeepAliveSchema, OllamaModelNameSchema, OllamaOptionsSchema } from './ollama.js'
import { ToolChoiceSchema } from './openai-tools.js'

// Ollama's generating endpoints, `POST /api/chat` and `POST /api/generate`
// (https://github.com/ollama/ollama/blob/main/docs/api.md). Field names are Ollama's; requests are
// strict, and a field rbee knows but cannot honour passes only when it asks for nothing.

/** A field that passes only when it asks for nothing (`off`, or null, or absent). */
const onlyOff = <T extends z.ZodType>(schema: T, off: (v: z.output<T>) => boolean, message: string) =>
  schema
    .nullable()
    .optional()
    .superRefine((v, ctx) => {
      if (v != null && !off(v)) ctx.addIssue({ code: 'custom', message })
    })

const NO_VISION = 'images are not supported: rbee workers have no vision'
const NO_THINKING = 'thinking is not supported: rbee serves no reasoning models'
const NO_LOGPROBS = 'log probabilities are not supported'

/**
 * `format`: `"json"` (any JSON value, as an object), a JSON schema the answer follows, or `""`
 * (free text). The schema is checked where the request becomes a chat request.
 */
export const OllamaFormatSchema = z.union([
  z.enum(['', 'json'], { error: 'must be "json" or a JSON schema object' }),
  z.record(z.string(), z.unknown()),
])
export type OllamaFormat = z.infer<typeof OllamaFormatSchema>

/** A tool call as Ollama writes it: the arguments are a JSON object, not JSON text. */
export const OllamaToolCallSchema = z.strictObject({
  /** Newer Ollama versions name each call; rbee pairs results by it when given. */
  id: z.string().min(1).max(256).optional(),
  function: z.strictObject({
    /** Its place among the calls of one answer (informational). */
    index: z.int().min(0).max(1024).optional(),
    name: z.string().min(1).max(64),
    arguments: z.record(z.string(), z.unknown()),
  }),
})
export type OllamaToolCall = z.infer<typeof OllamaToolCallSchema>

export const OllamaChatMessageSchema = z.strictObject({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string().max(4_000_000).default(''),
  images: onlyOff(z.array(z.string()), (v) => v.length === 0, NO_VISION),
  thinking: onlyOff(z.string(), (v) => v === '', NO_THINKING),
  tool_calls: z.array(OllamaToolCallSchema).max(128).optional(),
  /** On a `tool` message: the function whose call this answers (pairs it with that call). */
  tool_name: z.string().min(1).max(64).optional(),
})
export type OllamaChatMessage = z.infer<typeof OllamaChatMessageSchema>

/** A function tool, as OpenAI's chat API takes it (its parameters are checked there). */
export const OllamaToolSchema = z.strictObject({
  type: z.literal('function', { error: 'only function tools are supported' }),
  function: z.strictObject({
    name: z.string().min(1).max(64),
    description: z.string().max(100_000).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
})
export type OllamaTool = z.infer<typeof OllamaToolSchema>

/** What `/api/chat` and `/api/generate` share. */
const generating = {
  model: OllamaModelNameSchema,
  /** NDJSON lines as the answer is generated, or one JSON object at the end. @default true */
  stream: z.boolean().nullish(),
  format: OllamaFormatSchema.nullish(),
  keep_alive: OllamaKeepAliveSchema.nullish(),
  options: OllamaOptionsSchema.nullish(),
  think: onlyOff(z.union([z.boolean(), z.enum(['high', 'medium', 'low'])]), (v) => v === false, NO_THINKING),
  logprobs: onlyOff(z.boolean(), (v) => !v, NO_LOGPROBS),
  top_logprobs: onlyOff(z.int().min(0).max(20), (v) => v === 0, NO_LOGPROBS),
}

/** `POST /api/chat`. No messages: the model is loaded (or unloaded, with `keep_alive: 0`) and nothing generated. */
export const OllamaChatRequestSchema = z.strictObject({
  ...generating,
  messages: z.array(OllamaChatMessageSchema).max(1024).nullish(),
  tools: z.array(OllamaToolSchema).max(128).nullish(),
  /**
   * rbee's addition (Ollama has none: its model always chooses): OpenAI's `tool_choice`, so a
   * client can require a call or name the function. @default "auto"
   */
  tool_choice: ToolChoiceSchema.nullish(),
})
export type OllamaChatRequest = z.infer<typeof OllamaChatRequestSchema>

/** `POST /api/generate`. An empty prompt loads the model (or unloads it, with `keep_alive: 0`). */
export const OllamaGenerateRequestSchema = z.strictObject({
  ...generating,
  prompt: z.string().max(4_000_000).nullish(),
  /** A system prompt before the prompt (the model's chat template is applied). */
  system: z.string().max(4_000_000).nullish(),
  suffix: onlyOff(z.string(), (v) => v === '', 'suffix (fill in the middle) is not supported'),
  template: onlyOff(
    z.string(),
    (v) => v === '',
    "a template is not supported: rbee applies the model's own chat template",
  ),
  raw: onlyOff(
    z.boolean(),
    (v) => !v,
    "raw prompts are not supported here: rbee applies the model's chat template; send a raw prompt to /v1/completions",
  ),
  context: onlyOff(
    z.array(z.int()).max(1_048_576),
    (v) => v.length === 0,
    'context is not supported: rbee keeps no state between requests; send the conversation to /api/chat',
  ),
  images: onlyOff(z.array(z.string()), (v) => v.length === 0, NO_VISION),
  width: onlyOff(z.int(), () => false, 'image generation is not supported'),
  height: onlyOff(z.int(), () => false, 'image generation is not supported'),
  steps: onlyOff(z.int(), () => false, 'image generation is not supported'),
})
export type OllamaGenerateRequest = z.infer<typeof OllamaGenerateRequestSchema>

/** Why a generation ended: its end (`stop`), `num_predict` (`length`), or a load / unload request. */
export const OllamaDoneReasonSchema = z.enum(['stop', 'length', 'load', 'unload'])
export type OllamaDoneReason = z.infer<typeof OllamaDoneReasonSchema>

/** The figures of a finished answer; durations are nanoseconds, as Ollama sends them. */
export const OllamaDoneFieldsSchema = z.object({
  total_duration: z.int().min(0),
  load_duration: z.int().min(0),
  prompt_eval_count: z.int().min(0),
  prompt_eval_duration: z.int().min(0),
  eval_count: z.int().min(0),
  eval_duration: z.int().min(0),
})
export type OllamaDoneFields = z.infer<typeof OllamaDoneFieldsSchema>

export const OllamaAnswerMessageSchema = z.object({
  role: z.literal('assistant'),
  content: z.string(),
  tool_calls: z.array(OllamaToolCallSchema).optional(),
})

/** One line of a streamed chat (`done: false`), or its last line / whole answer (`done: true`). */
export const OllamaChatResponseSchema = z
  .object({
    model: z.string(),
    created_at: TimestampSchema,
    message: OllamaAnswerMessageSchema,
    done: z.boolean(),
    done_reason: OllamaDoneReasonSchema.optional(),
  })
  .extend(OllamaDoneFieldsSchema.partial().shape)
export type OllamaChatResponse = z.infer<typeof OllamaChatResponseSchema>

/** One line of a streamed generation (`done: false`), or its last line / whole answer (`done: true`). */
export const OllamaGenerateResponseSchema = z
  .object({
    model: z.string(),
    created_at: TimestampSchema,
    response: z.string(),
    done: z.boolean(),
    done_reason: OllamaDoneReasonSchema.optional(),
  })
  .extend(OllamaDoneFieldsSchema.partial().shape)
export type OllamaGenerateResponse = z.infer<typeof OllamaGenerateResponseSchema>

import { z } from 'zod'

// OpenAI's function-tool shapes on chat completions, as OpenAI documents them. They are the
// internal shape every API dialect (Anthropic Messages, Responses) translates its tools into.

/** A tool or function name as OpenAI allows it. */
export const ToolNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-zA-Z0-9_-]+$/, 'must be letters, digits, _ or - (at most 64)')

/** A JSON Schema object (bounded by the body limit; its features are checked where it is used). */
export const JsonSchemaObjectSchema = z.record(z.string(), z.unknown())

export const ChatToolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: ToolNameSchema,
    description: z.string().max(65_536).optional(),
    parameters: JsonSchemaObjectSchema.optional(),
    strict: z.boolean().nullable().optional(),
  }),
})
export type ChatTool = z.infer<typeof ChatToolSchema>

export const ChatToolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: ToolNameSchema }) }),
])
export type ChatToolChoice = z.infer<typeof ChatToolChoiceSchema>

/** A call the model made, in an answer or in an assistant message of the history. */
export const ChatToolCallSchema = z.object({
  id: z.string().min(1).max(256),
  type: z.literal('function'),
  function: z.object({ name: ToolNameSchema, arguments: z.string() }),
})
export type ChatToolCall = z.infer<typeof ChatToolCallSchema>

/** A piece of a call in a stream: the first piece of a call has its `id` and name. */
export const ChatToolCallDeltaSchema = z.object({
  index: z.int().min(0),
  id: z.string().optional(),
  type: z.literal('function').optional(),
  function: z.object({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
})
export type ChatToolCallDelta = z.infer<typeof ChatToolCallDeltaSchema>

/** `response_format`: plain text, any JSON object, or JSON that validates against a schema. */
export const ResponseFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().min(1).max(64),
      description: z.string().max(65_536).optional(),
      schema: JsonSchemaObjectSchema.optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
])
export type ResponseFormat = z.infer<typeof ResponseFormatSchema>

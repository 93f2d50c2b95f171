import { z } from 'zod'
import { jsonNestsDeeperThan, MAX_JSON_DEPTH } from './json-depth.js'
import { ANY_JSON_OBJECT, type GrammarJsonSchema, normalizeJsonSchema } from './json-schema-subset.js'

// OpenAI's tool calling and structured output, as rbee serves them: tools are functions whose
// arguments are generated under a grammar built from their JSON schema, and `response_format`
// puts the whole answer under one. Schemas are checked here, where a request enters (queen and
// worker alike), and arrive parsed in normal form (see json-schema-subset.ts).

/** A function name as OpenAI allows it (also what node-llama-cpp's call grammar can write). */
export const FunctionNameSchema = z
  .string()
  .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, underscores or dashes')

/** Most tools one request may declare (OpenAI's limit). */
export const MAX_TOOLS = 128

/**
 * A JSON schema checked against the subset rbee turns into a grammar; parses to its normal form.
 * Refused keywords are issues at their path inside the schema.
 */
export const GrammarSchemaSchema = z.unknown().transform((value, ctx): GrammarJsonSchema => {
  const r = normalizeJsonSchema(value)
  if (r.ok) return r.schema
  for (const issue of r.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path })
  return z.NEVER
})

/**
 * A value that is either a string (checked by `text`) or something else (checked by `other`):
 * unlike a union, an issue deep inside `other` keeps its own path and message.
 */
export function textOr<T extends z.ZodType, O extends z.ZodType>(text: T, other: O) {
  return z.unknown().transform((v, ctx): z.output<T> | z.output<O> => {
    const r = (typeof v === 'string' ? text : other).safeParse(v)
    if (r.success) return r.data
    for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: issue.path } as never)
    return z.NEVER
  })
}

/** A field rbee refuses with `message` unless it is absent or `null`. */
export const refusedUnlessNull = (message: string) =>
  z.unknown().superRefine((v, ctx) => {
    if (v !== null && v !== undefined) ctx.addIssue({ code: 'custom', message })
  })

/** A function tool. `strict` is accepted either way: the grammar always holds arguments to the schema. */
export const FunctionToolSchema = z.strictObject({
  type: z.literal('function'),
  function: z.strictObject({
    name: FunctionNameSchema,
    description: z.string().max(100_000).optional(),
    /** Normal form; absent means the function takes no arguments (`{}` is written). */
    parameters: GrammarSchemaSchema.optional(),
    strict: z.boolean().nullable().optional(),
  }),
})
export type FunctionTool = z.infer<typeof FunctionToolSchema>

/**
 * An error map for a discriminated union: a discriminator value rbee knows but refuses gets
 * `refused[value]` as its message (the others zod's own).
 */
export function refusedKinds(key: string, refused: Record<string, string>) {
  return {
    error: (iss: { code?: string; input?: unknown }): string | undefined => {
      const input = iss.input
      if (iss.code !== 'invalid_union' || typeof input !== 'object' || input === null) return undefined
      const kind = (input as Record<string, unknown>)[key]
      return typeof kind === 'string' && Object.hasOwn(refused, kind) ? refused[kind] : undefined
    },
  }
}

const CUSTOM_TOOLS = { custom: 'custom tools are not supported: use function tools' }

export const ToolSchema = z.discriminatedUnion(
  'type',
  [FunctionToolSchema],
  refusedKinds('type', CUSTOM_TOOLS),
)

const NamedFunctionSchema = z.strictObject({
  type: z.literal('function'),
  function: z.strictObject({ name: FunctionNameSchema }),
})

/**
 * `tool_choice`: `none`, `auto`, `required`, one named function, or `allowed_tools` (a subset the
 * model may call, in `auto` or `required` mode).
 */
export const ToolChoiceSchema = textOr(
  z.enum(['none', 'auto', 'required']),
  z.discriminatedUnion(
    'type',
    [
      NamedFunctionSchema,
      z.strictObject({
        type: z.literal('allowed_tools'),
        allowed_tools: z.strictObject({
          mode: z.enum(['auto', 'required']),
          tools: z.array(NamedFunctionSchema).min(1).max(MAX_TOOLS),
        }),
      }),
    ],
    refusedKinds('type', CUSTOM_TOOLS),
  ),
)
export type ToolChoice = z.infer<typeof ToolChoiceSchema>

/** `response_format`: text (the default), any JSON object, or JSON under a schema. */
export const ResponseFormatSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text') }),
  z.strictObject({ type: z.literal('json_object') }),
  z.strictObject({
    type: z.literal('json_schema'),
    json_schema: z
      .strictObject({
        name: FunctionNameSchema,
        description: z.string().max(100_000).optional(),
        /** Normal form; absent means any JSON object. */
        schema: GrammarSchemaSchema.optional(),
        strict: z.boolean().nullable().optional(),
      })
      .transform((j) => ({ ...j, schema: j.schema ?? ANY_JSON_OBJECT })),
  }),
])
export type ResponseFormat = z.infer<typeof ResponseFormatSchema>

/** A tool call as the assistant made it, in a conversation's history. */
export const ToolCallSchema = z.strictObject({
  id: z.string().min(1).max(256),
  type: z.literal('function'),
  function: z.strictObject({
    name: FunctionNameSchema,
    /** JSON text, as the model wrote it (the template renders it as JSON again). */
    arguments: z
      .string()
      .max(1_000_000)
      .refine(
        (s) => {
          // Bounded before it is parsed: the template stringifies it again, recursively.
          if (jsonNestsDeeperThan(s)) return false
          try {
            JSON.parse(s)
            return true
          } catch {
            return false
          }
        },
        { message: `must be JSON text nesting at most ${MAX_JSON_DEPTH} levels` },
      ),
  }),
})
export type ToolCall = z.infer<typeof ToolCallSchema>

/** A tool call in an answer: `arguments` is JSON text valid for the function's schema. */
export const ToolCallOutSchema = z.object({
  id: z.string(),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
})

/** A piece of a streamed tool call: the first has id, type and name, the others argument text. */
export const ToolCallDeltaSchema = z.object({
  index: z.int().min(0),
  id: z.string().optional(),
  type: z.literal('function').optional(),
  function: z.object({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
})

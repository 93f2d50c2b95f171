import { RbeeError } from '@rbee/common'
import type { GrammarJsonSchema } from '@rbee/contracts'
import type { GenerationRequest, GenerationResult } from '../engine.js'
import {
  describeViolation,
  findViolation,
  OUTPUT_CHECK_ATTEMPTS,
  type OutputViolation,
  validatorOf,
} from './output-check.js'
import { grammarHoldsSchema } from './schema-grammar.js'

// Generation under a JSON schema whose output is checked before it is returned. Where the grammar
// holds every keyword, the output streams as it is generated and the check is a guard. Where it
// does not (multipleOf, uniqueItems, …), each attempt's text and tool calls are held back until
// the attempt validates; one that does not is generated again with another seed, up to
// OUTPUT_CHECK_ATTEMPTS times, and then the request fails with RBEE_OUTPUT_CONSTRAINT.

/** The schemas a request's output must meet: the answer's, and each callable tool's by name. */
function schemasOf(req: GenerationRequest): {
  format?: GrammarJsonSchema
  tools: Map<string, GrammarJsonSchema>
} {
  const input = req.input
  const tools = new Map<string, GrammarJsonSchema>()
  if (input.kind !== 'chat') return { tools }
  if (input.tools !== undefined && input.tools.mode !== 'none')
    for (const t of input.tools.tools) if (t.parameters !== undefined) tools.set(t.name, t.parameters)
  return { ...(input.format === undefined ? {} : { format: input.format }), tools }
}

/** The first way a result breaks its schemas, in words, or undefined. */
function violationOf(
  result: GenerationResult,
  schemas: ReturnType<typeof schemasOf>,
): { violation: OutputViolation; where: string } | undefined {
  for (const [i, call] of result.toolCalls.entries()) {
    const schema = schemas.tools.get(call.name)
    const violation = schema === undefined ? undefined : findViolation(schema, call.arguments)
    if (violation !== undefined) return { violation, where: `tool call ${i} (${call.name}) arguments` }
  }
  // An answer cut short (length, cancel) is not whole JSON and says so by its stop reason.
  if (schemas.format !== undefined && (result.stopReason === 'stop' || result.stopReason === 'eos')) {
    const violation = findViolation(schemas.format, result.text)
    if (violation !== undefined) return { violation, where: 'the answer' }
  }
  return undefined
}

/**
 * Runs `once` for `req` and returns a result whose output meets the request's schemas.
 * @param written - whether rbee's grammars of bounds, patterns and formats are in use.
 * @throws RbeeError `RBEE_OUTPUT_CONSTRAINT` naming the keyword, path and value of the last attempt.
 */
export async function generateWithinSchema(
  once: (req: GenerationRequest) => Promise<GenerationResult>,
  req: GenerationRequest,
  written: boolean,
): Promise<GenerationResult> {
  const schemas = schemasOf(req)
  const all = [...(schemas.format === undefined ? [] : [schemas.format]), ...schemas.tools.values()]
  if (all.length === 0) return once(req)
  if (schemas.format !== undefined) validatorOf(schemas.format, 'response_format')
  for (const [name, s] of schemas.tools) validatorOf(s, `tools.${name}.parameters`)
  const fail = (found: NonNullable<ReturnType<typeof violationOf>>, attempts: number): RbeeError =>
    new RbeeError(
      'RBEE_OUTPUT_CONSTRAINT',
      `${describeViolation(found.violation, found.where)} after ${attempts} attempt${attempts === 1 ? '' : 's'}`,
      { details: { keyword: found.violation.keyword, path: found.violation.path, attempts } },
    )
  if (all.every((s) => grammarHoldsSchema(s, written))) {
    const result = await once(req)
    const found = violationOf(result, schemas)
    if (found !== undefined) throw fail(found, 1)
    return result
  }
  // Greedy sampling writes the same output again: one attempt is all there is.
  const attempts = req.sampling.temperature === 0 ? 1 : OUTPUT_CHECK_ATTEMPTS
  // Every attempt's tokens and time count, so the rate reported (and the liveness the queen
  // derives its stall bounds from) is that of all the work done.
  let tokensOut = 0
  let generationMs = 0
  let promptMs = 0
  let last: NonNullable<ReturnType<typeof violationOf>> | undefined
  for (let attempt = 0; attempt < attempts; attempt++) {
    const held: Array<() => void> = []
    const seed = req.sampling.seed === undefined ? undefined : req.sampling.seed + attempt
    const result = await once({
      ...req,
      sampling: { ...req.sampling, seed },
      ...(attempt === 0 || req.onStart === undefined ? {} : { onStart: undefined }),
      onText: (text) => held.push(() => req.onText(text)),
      onToolCall: (event) => held.push(() => req.onToolCall?.(event)),
    })
    tokensOut += result.tokensOut
    generationMs += result.generationMs
    promptMs += result.promptMs
    last = result.stopReason === 'cancelled' ? undefined : violationOf(result, schemas)
    if (last === undefined) {
      for (const emit of held) emit()
      return { ...result, tokensOut, promptMs, generationMs }
    }
  }
  throw fail(last!, attempts)
}

import { randomUUID } from 'node:crypto'
import {
  type ChatModelFunctions,
  ChatWrapper,
  type ChatWrapperGenerateContextStateOptions,
  type ChatWrapperGeneratedContextState,
  type ChatWrapperSettings,
  type LlamaChatResponseFunctionCallParamsChunk,
  LlamaText,
  type Tokenizer,
} from 'node-llama-cpp'
import type { GeneratedToolCall, ToolCallEvent, ToolSpec, ToolUse } from './engine.js'
import { toGbnfSchema } from './json-grammar.js'

// Tool calling on node-llama-cpp's function calling: the model's chat wrapper (its own template's
// syntax) documents the tools and frames each call, and node-llama-cpp generates the function
// name and then the arguments under grammars (the arguments' from the tool's JSON schema), so a
// call always names a declared tool and its arguments always parse and fit the schema. What this
// module adds: the tool choices (node-llama-cpp has only "may call"), the streamed pieces of each
// call, and how much context the calls' own syntax takes.

/**
 * Most tool calls in one answer when parallel calls are allowed. node-llama-cpp decides after
 * each call, from one free token, whether another follows; a model that never ends the section
 * (the noise test model) would otherwise call until its tokens run out.
 */
export const MAX_PARALLEL_TOOL_CALLS = 16

/** node-llama-cpp's function definitions for tools (all of them, or those named in `only`). */
export function toFunctions(tools: readonly ToolSpec[], only?: readonly string[]): ChatModelFunctions {
  return Object.fromEntries(
    tools
      .filter((t) => only === undefined || only.includes(t.name))
      .map((t) => [
        t.name,
        {
          ...(t.description === undefined ? {} : { description: t.description }),
          ...(t.parameters === undefined ? {} : { params: toGbnfSchema(t.parameters) }),
        },
      ]),
  )
}

/**
 * A request's chat wrapper: the model's own, showing the model every declared tool whichever the
 * grammar lets it call (LlamaChat documents only the functions it is given), and, when a call is
 * required, starting the answer inside a function call (node-llama-cpp's "initially engaged"
 * function calling, which some wrappers use for models that always answer with calls).
 */
export class ToolChoiceChatWrapper extends ChatWrapper {
  readonly wrapperName: string
  override readonly settings: ChatWrapperSettings
  readonly #inner: ChatWrapper
  readonly #documented: ChatModelFunctions
  readonly #required: boolean

  constructor(inner: ChatWrapper, documented: ChatModelFunctions, required: boolean) {
    super()
    this.#inner = inner
    this.wrapperName = inner.wrapperName
    this.settings = inner.settings
    this.#documented = documented
    this.#required = required
  }

  override generateContextState(
    options: ChatWrapperGenerateContextStateOptions,
  ): ChatWrapperGeneratedContextState {
    const state = this.#inner.generateContextState({
      ...options,
      availableFunctions: options.availableFunctions === undefined ? undefined : this.#documented,
    })
    if (!this.#required) return state
    return {
      contextText: state.contextText,
      stopGenerationTriggers: state.stopGenerationTriggers,
      ...(state.ignoreStartText === undefined ? {} : { ignoreStartText: state.ignoreStartText }),
      functionCall: { initiallyEngaged: true, disengageInitiallyEngaged: [] },
    }
  }
}

/** How one chat uses its tools, in node-llama-cpp's terms. */
export interface ToolPlan {
  /** The chat wrapper to generate with. */
  wrapper: ChatWrapper
  /** The functions the model may call (LlamaChat's `functions`); undefined when it may call none. */
  functions: ChatModelFunctions | undefined
  /** Most calls in the answer, before the context's room is counted. */
  maxCalls: number
}

/** The plan for a chat's tools (`use` undefined: no tools). */
export function planTools(base: ChatWrapper, use: ToolUse | undefined): ToolPlan {
  if (use === undefined || use.mode === 'none' || use.tools.length === 0)
    return { wrapper: base, functions: undefined, maxCalls: 0 }
  const documented = toFunctions(use.tools)
  const functions = use.allowed === undefined ? documented : toFunctions(use.tools, use.allowed)
  const required = use.mode === 'required'
  const wrapper =
    required || functions !== documented ? new ToolChoiceChatWrapper(base, documented, required) : base
  return { wrapper, functions, maxCalls: use.parallel ? MAX_PARALLEL_TOOL_CALLS : 1 }
}

/**
 * Tokens each call takes that the model does not sample (node-llama-cpp puts the wrapper's call
 * prefix, parameter prefix, suffix and the text between calls into the context itself), plus a
 * margin: its `maxTokens` does not count them, so the room for them is kept apart.
 */
export function callSyntaxTokens(settings: ChatWrapperSettings, tokenizer: Tokenizer): number {
  const f = settings.functions
  const text = LlamaText([
    f.call.prefix,
    f.call.paramsPrefix,
    f.call.suffix,
    f.parallelism?.call.betweenCalls ?? '',
    f.parallelism?.call.sectionPrefix ?? '',
  ])
  return text.tokenize(tokenizer).length + 4
}

interface CallState {
  id: string
  name: string
  /** The arguments' text so far. */
  args: string
  /** Line breaks not passed on yet (see `paramsChunk`). */
  held: string
}

/**
 * Turns node-llama-cpp's function-call callbacks into the pieces a client streams: a `start`
 * (id, name) when a call begins, then `arguments` text; and keeps the calls for the whole answer,
 * whose arguments are exactly the streamed text put together.
 */
export class ToolCallStream {
  readonly #emit: (event: ToolCallEvent) => void
  readonly #onTokens: (count: number) => void
  readonly #tokenizer: Tokenizer
  readonly #calls: CallState[] = []
  #done = 0

  /**
   * @param emit - receives each piece, in order.
   * @param onTokens - told of the tokens the model generated for the calls.
   */
  constructor(emit: (event: ToolCallEvent) => void, onTokens: (count: number) => void, tokenizer: Tokenizer) {
    this.#emit = emit
    this.#onTokens = onTokens
    this.#tokenizer = tokenizer
  }

  #open(index: number, name: string): CallState {
    let call = this.#calls[index]
    if (call === undefined) {
      call = { id: `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`, name, args: '', held: '' }
      this.#calls[index] = call
      // The name was generated before the first piece of arguments: its tokens, and the line break
      // that ends it in node-llama-cpp's name grammar.
      this.#onTokens(this.#tokenizer(name, false, 'trimLeadingSpace').length + 1)
      this.#emit({ type: 'start', index, id: call.id, name })
    }
    return call
  }

  /** LlamaChat's `onFunctionCallParamsChunk`. */
  readonly paramsChunk = (chunk: LlamaChatResponseFunctionCallParamsChunk): void => {
    const call = this.#open(chunk.callIndex, chunk.functionName)
    this.#onTokens(1)
    // node-llama-cpp's arguments grammar ends with four line breaks (its stop trigger), which are
    // not part of the JSON: line breaks are held until more text follows them.
    const text = call.held + chunk.paramsChunk
    const kept = text.replace(/\n+$/, '')
    call.held = text.slice(kept.length)
    if (kept === '') return
    call.args += kept
    this.#emit({ type: 'arguments', index: chunk.callIndex, text: kept })
  }

  /** LlamaChat's `onFunctionCall`: a call is complete. */
  readonly called = (call: { functionName: string; params: unknown }): void => {
    const index = this.#done++
    const state = this.#open(index, call.functionName)
    if (state.args === '') {
      // A function without parameters: node-llama-cpp generates no arguments.
      state.args = JSON.stringify(call.params ?? {})
      this.#emit({ type: 'arguments', index, text: state.args })
    }
  }

  /** The complete calls, in order. */
  get calls(): GeneratedToolCall[] {
    return this.#calls.slice(0, this.#done).map((c) => ({ id: c.id, name: c.name, arguments: c.args }))
  }
}

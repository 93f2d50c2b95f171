import { randomUUID } from 'node:crypto'
import { openAiErrorBody, ROUTE_ACCESS, validationError } from '@rbee/common'
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  ChatCompletionRequestSchema,
  type Completion,
  CompletionRequestSchema,
  EmbeddingRequestSchema,
  type EmbeddingResponse,
  type StopReason,
  type Usage,
} from '@rbee/contracts'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GenerationInput, GenerationResult } from '../engine/engine.js'
import { resolveSampling } from '../engine/sampling.js'
import { withDimensions } from '../engine/vector-dimensions.js'
import type { Worker } from '../worker.js'
import { generateWhole, type StreamHooks, type StreamWire, streamGeneration } from './generation-stream.js'
import { chatFinishReason, chatInput, chatMessage, toolCallDelta } from './openai-chat.js'
import { RequestSignal } from './request-signal.js'
import { timingsOf } from './timings.js'

const finishReason = (r: StopReason): 'stop' | 'length' => (r === 'length' ? 'length' : 'stop')
const usageOf = (r: GenerationResult): Usage => ({
  prompt_tokens: r.promptTokens,
  completion_tokens: r.tokensOut,
  total_tokens: r.promptTokens + r.tokensOut,
})
const now = (): number => Math.floor(Date.now() / 1000)

/** OpenAI-compatible routes, so a worker can also be used directly by any OpenAI client. */
export function registerOpenAiRoutes(app: FastifyInstance, worker: Worker): void {
  app.get('/v1/models', ROUTE_ACCESS.node, async () => ({
    object: 'list',
    data: [{ id: worker.modelRef, object: 'model', created: now(), owned_by: 'rbee', loaded: true }],
  }))

  app.post('/v1/chat/completions', ROUTE_ACCESS.node, async (req, reply) => {
    const parsed = ChatCompletionRequestSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    return serveChat(worker, req, reply, parsed.data)
  })

  app.post('/v1/completions', ROUTE_ACCESS.node, async (req, reply) => {
    const parsed = CompletionRequestSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    const body = parsed.data
    const sampling = resolveSampling(body, worker.engine().contextSize)
    const prompt = typeof body.prompt === 'string' ? body.prompt : body.prompt[0]!
    const input: GenerationInput = { kind: 'completion', prompt }
    const id = `cmpl-${randomUUID()}`
    const base = { id, object: 'text_completion' as const, created: now(), model: worker.modelRef }
    if (body.stream) {
      await streamGeneration(
        worker,
        req,
        reply,
        { input, sampling },
        {
          onStart: (sse) => {
            if (body.echo)
              sse.send({
                data: { ...base, choices: [{ index: 0, text: prompt, finish_reason: null, logprobs: null }] },
              })
          },
          onText: (sse, text) => {
            const c: Completion = {
              ...base,
              choices: [{ index: 0, text, finish_reason: null, logprobs: null }],
            }
            sse.send({ data: c })
          },
          onEnd: (sse, r) => {
            const c: Completion = {
              ...base,
              choices: [{ index: 0, text: '', finish_reason: finishReason(r.stopReason), logprobs: null }],
              ...(body.stream_options?.include_usage ? { usage: usageOf(r) } : {}),
              timings: timingsOf(r),
            }
            sse.send({ data: c })
            sse.send({ data: '[DONE]' })
          },
          onError: (sse, e) => sse.send({ data: openAiErrorBody(e) }),
        },
        { timeoutS: body.timeout ?? undefined },
      )
      return
    }
    const r = await generateWhole(worker, req, reply, { input, sampling }, body.timeout ?? undefined)
    const out: Completion = {
      ...base,
      choices: [
        {
          index: 0,
          text: (body.echo ? prompt : '') + r.text,
          finish_reason: finishReason(r.stopReason),
          logprobs: null,
        },
      ],
      usage: usageOf(r),
      timings: timingsOf(r),
    }
    return out
  })

  app.post('/v1/embeddings', ROUTE_ACCESS.node, async (req, reply) => {
    const parsed = EmbeddingRequestSchema.safeParse(req.body)
    if (!parsed.success) throw validationError(parsed.error)
    const body = parsed.data
    const inputs = typeof body.input === 'string' ? [body.input] : body.input
    const embedded = await new RequestSignal(req, reply, body.timeout ?? undefined).run((signal) =>
      worker.track(signal, (s) => worker.engine().embed(inputs, s)),
    )
    const { tokens } = embedded
    const vectors = withDimensions(embedded.vectors, body.dimensions ?? undefined)
    const out: EmbeddingResponse = {
      object: 'list',
      model: worker.modelRef,
      data: vectors.map((v, index) => ({
        object: 'embedding',
        index,
        embedding:
          body.encoding_format === 'base64' ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v,
      })),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    }
    return out
  })
}

/** A chat turn answered in another API's shape (see dialect-routes.ts). */
export interface ChatDialect {
  /** Translates the stream's frames. */
  frames: NonNullable<StreamHooks['frames']>
  /** Translates a whole answer. */
  whole: (c: ChatCompletion, r: GenerationResult) => unknown
  /** The stream's format when the API's is not SSE. */
  wire?: StreamWire | undefined
}

/**
 * Runs a chat completion request and answers it, streamed or whole, as OpenAI's chat API does,
 * or through `dialect` in another API's shape.
 */
export async function serveChat(
  worker: Worker,
  req: FastifyRequest,
  reply: FastifyReply,
  body: ChatCompletionRequest,
  dialect?: ChatDialect,
): Promise<unknown> {
  const field = body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens'
  const sampling = resolveSampling(
    { ...body, max_tokens: body.max_completion_tokens ?? body.max_tokens },
    worker.engine().contextSize,
    field,
  )
  const input = chatInput(body)
  const id = `chatcmpl-${randomUUID()}`
  const base = { id, object: 'chat.completion.chunk' as const, created: now(), model: worker.modelRef }
  if (body.stream) {
    await streamGeneration(
      worker,
      req,
      reply,
      { input, sampling },
      {
        frames: dialect?.frames,
        onStart: (sse) => {
          const c: ChatCompletionChunk = {
            ...base,
            choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
          }
          sse.send({ data: c })
        },
        onText: (sse, text) => {
          // node-llama-cpp ends a turn of tool calls with an empty text chunk.
          if (text === '') return
          const c: ChatCompletionChunk = {
            ...base,
            choices: [{ index: 0, delta: { content: text }, finish_reason: null }],
          }
          sse.send({ data: c })
        },
        onToolCall: (sse, event) => {
          const c: ChatCompletionChunk = {
            ...base,
            choices: [{ index: 0, delta: { tool_calls: toolCallDelta(event) }, finish_reason: null }],
          }
          sse.send({ data: c })
        },
        onEnd: (sse, r) => {
          const c: ChatCompletionChunk = {
            ...base,
            choices: [{ index: 0, delta: {}, finish_reason: chatFinishReason(r) }],
            timings: timingsOf(r),
          }
          sse.send({ data: c })
          if (body.stream_options?.include_usage)
            sse.send({ data: { ...base, choices: [], usage: usageOf(r) } })
          sse.send({ data: '[DONE]' })
        },
        onError: (sse, e) => sse.send({ data: openAiErrorBody(e) }),
      },
      { timeoutS: body.timeout ?? undefined, wire: dialect?.wire },
    )
    return
  }
  const r = await generateWhole(worker, req, reply, { input, sampling }, body.timeout ?? undefined)
  const out: ChatCompletion = {
    id,
    object: 'chat.completion',
    created: base.created,
    model: worker.modelRef,
    choices: [{ index: 0, message: chatMessage(r), finish_reason: chatFinishReason(r) }],
    usage: usageOf(r),
    timings: timingsOf(r),
  }
  return dialect ? dialect.whole(out, r) : out
}

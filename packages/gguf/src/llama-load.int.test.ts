import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Llama, LlamaContext, LlamaModel, Token } from 'node-llama-cpp'
import { ensureBuiltinModel } from './builtin-model.js'
import { type GgufHeader, readGgufHeader } from './gguf-reader.js'
import { TOKEN_TYPE } from './llama-vocab.js'
import { scratchDir } from './scratch-dir.js'

// A dev-only check tool: imported dynamically so the package itself never depends on it.
const nlc = await import('node-llama-cpp')

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/

describe('node-llama-cpp 3.21.1 with the generated tiny model', { timeout: 120_000 }, () => {
  let llama: Llama
  let model: LlamaModel
  let context: LlamaContext
  let header: GgufHeader

  before(async () => {
    const path = await ensureBuiltinModel(await scratchDir('llama'))
    header = await readGgufHeader(path)
    llama = await nlc.getLlama({ gpu: false })
    model = await llama.loadModel({ modelPath: path })
    // one thread: deterministic, and never oversubscribes a small CI box (llama.cpp's spinning
    // threads slow down 10x or more when they outnumber free cores)
    context = await model.createContext({ contextSize: 2048, threads: 1 })
  })

  after(async () => {
    await context?.dispose()
    await model?.dispose()
    await llama?.dispose()
  })

  const tokenTypes = (): readonly unknown[] => {
    const types = header.metadata.get('tokenizer.ggml.token_type')
    assert.ok(Array.isArray(types))
    return types
  }

  async function complete(
    prompt: string,
    options: { maxTokens: number; temperature: number; seed: number; fullVocab?: boolean },
  ) {
    const sequence = context.getSequence()
    try {
      const completion = new nlc.LlamaCompletion({ contextSequence: sequence })
      const tokens: Token[] = []
      const { response, metadata } = await completion.generateCompletionWithMeta(prompt, {
        maxTokens: options.maxTokens,
        temperature: options.temperature,
        seed: options.seed,
        ...(options.fullVocab ? { topK: 0, topP: 1, minP: 0 } : {}),
        onToken: (chunk) => tokens.push(...chunk),
      })
      return { text: response, tokens, stopReason: metadata.stopReason }
    } finally {
      sequence.dispose()
    }
  }

  for (const temperature of [1, 2]) {
    test(`it generates exactly 64 tokens of printable ASCII at temperature ${temperature}, the same for the same seed`, async () => {
      const first = await complete('Once upon a time', { maxTokens: 64, temperature, seed: 1234 })
      assert.equal(first.stopReason, 'maxTokens')
      assert.equal(first.tokens.length, 64)
      assert.match(first.text, PRINTABLE_ASCII)
      const again = await complete('Once upon a time', { maxTokens: 64, temperature, seed: 1234 })
      assert.equal(again.text, first.text)
      const other = await complete('Once upon a time', { maxTokens: 64, temperature, seed: 99 })
      assert.notEqual(other.text, first.text)
    })
  }

  test('sampling the whole vocabulary at temperature 2 never picks a byte, control or end-of-text token', async () => {
    const types = tokenTypes()
    const { tokens, text, stopReason } = await complete('The', {
      maxTokens: 1000,
      temperature: 2,
      seed: 7,
      fullVocab: true,
    })
    assert.equal(stopReason, 'maxTokens')
    assert.equal(tokens.length, 1000)
    assert.deepEqual(
      tokens.filter((t) => types[t] !== TOKEN_TYPE.normal),
      [],
    )
    assert.match(text, PRINTABLE_ASCII)
  })

  test('any text tokenizes and detokenizes back, using merges and byte fallback', () => {
    const tokens = header.metadata.get('tokenizer.ggml.tokens')
    assert.ok(Array.isArray(tokens))
    const text = 'Hello the world: héllo 🐝\n\tend'
    assert.equal(model.detokenize(model.tokenize(text)), text)
    assert.deepEqual(
      model.tokenize('the'),
      [tokens.indexOf('\u2581the')],
      'SPM merges apply, with the space prefix',
    )
    assert.deepEqual(
      model.tokenize('é'),
      ['\u2581', '<0xC3>', '<0xA9>'].map((t) => tokens.indexOf(t)),
      'non-ASCII goes through byte tokens',
    )
    assert.deepEqual(model.tokenize('<|im_start|>', true), [tokens.indexOf('<|im_start|>')])
  })

  test('a chat through the model’s own template yields printable ASCII until maxTokens, and its tool-call syntax is read from it', async () => {
    const template = header.metadata.get('tokenizer.chat_template')
    assert.equal(typeof template, 'string')
    const resolved = nlc.resolveChatWrapper(model)
    // The template's tools make it more than plain ChatML: node-llama-cpp renders it itself and
    // takes the function-call syntax (Hermes/Qwen 2.5 style) from it.
    assert.equal(resolved.wrapperName, 'JinjaTemplate')
    assert.match(
      nlc.LlamaText(resolved.settings.functions.call.prefix).toString(),
      /^<tool_call>\n\{"name": "$/,
    )
    const plain = [
      { type: 'user' as const, text: 'Hi' },
      { type: 'model' as const, response: [] },
    ]
    assert.deepEqual(
      resolved.generateContextState({ chatHistory: plain }).contextText.tokenize(model.tokenizer),
      new nlc.ChatMLChatWrapper()
        .generateContextState({ chatHistory: plain })
        .contextText.tokenize(model.tokenizer),
      'a chat without tools is tokenized exactly as plain ChatML',
    )
    const wrappers = [
      { expectedName: 'JinjaTemplate', chatWrapper: 'auto' as const },
      {
        expectedName: 'JinjaTemplate',
        chatWrapper: new nlc.JinjaTemplateChatWrapper({ template: String(template) }),
      },
    ]
    for (const { expectedName, chatWrapper } of wrappers) {
      const sequence = context.getSequence()
      const session = new nlc.LlamaChatSession({ contextSequence: sequence, chatWrapper })
      try {
        assert.equal(session.chatWrapper.wrapperName, expectedName)
        const answer = await session.promptWithMeta('What is the capital of France?', {
          maxTokens: 48,
          temperature: 1,
          seed: 3,
        })
        assert.equal(answer.stopReason, 'maxTokens')
        assert.match(answer.responseText, PRINTABLE_ASCII)
        const rendered = session.chatWrapper
          .generateContextState({ chatHistory: session.getChatHistory() })
          .contextText.toString()
        assert.ok(
          rendered.includes(
            '<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n',
          ),
          rendered,
        )
      } finally {
        session.dispose()
        sequence.dispose()
      }
    }
  })
})

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RbeeError } from '@rbee/common'
import type { ModelEntry } from '@rbee/contracts'
import { catalogEntry } from '@rbee/testing'
import type { FleetModels } from './fleet-models.js'
import { pullReference, resolveOllamaModel } from './model-names.js'

function fleet(entries: Array<Partial<ModelEntry> & { id: string }>, workerOnly: string[] = []): FleetModels {
  return {
    catalog: new Map(entries.map((e) => [e.id, { ...catalogEntry(e.id, 100), ...e }])),
    workerOnly: new Set(workerOnly),
  }
}

const models = fleet(
  [
    { id: 'tiny' },
    { id: 'qwen:7b' },
    {
      id: 'qwen2.5-0.5b-instruct-q4_k_m',
      source: 'hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q4_k_m.gguf',
      quantization: 'Q4_K_M',
    },
    {
      id: 'qwen2.5-0.5b-instruct-q8_0',
      source: 'hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q8_0.gguf',
      quantization: 'Q8_0',
    },
    { id: 'phi-3', source: 'hf:microsoft/Phi-3-GGUF:phi-3.gguf' },
  ],
  ['hand-started'],
)

test('Ollama names resolve to catalog ids by the documented rules, and the rest stay as sent', () => {
  const cases: Array<[string, string]> = [
    ['tiny', 'tiny'],
    ['qwen:7b', 'qwen:7b'],
    ['hand-started', 'hand-started'],
    ['tiny:latest', 'tiny'],
    ['hand-started:latest', 'hand-started'],
    ['qwen2.5-0.5b-instruct:q4_k_m', 'qwen2.5-0.5b-instruct-q4_k_m'],
    ['Qwen2.5-0.5B-Instruct:Q8_0', 'qwen2.5-0.5b-instruct-q8_0'],
    ['hf.co/microsoft/Phi-3-GGUF', 'phi-3'],
    ['hf.co/microsoft/Phi-3-GGUF:latest', 'phi-3'],
    ['https://huggingface.co/microsoft/Phi-3-GGUF', 'phi-3'],
    ['hf.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M', 'qwen2.5-0.5b-instruct-q4_k_m'],
    ['hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q8_0.gguf', 'qwen2.5-0.5b-instruct-q8_0'],
    ['llama3.2', 'llama3.2'],
    ['llama3.2:1b', 'llama3.2:1b'],
    ['hf.co/org/unknown', 'hf.co/org/unknown'],
  ]
  for (const [name, id] of cases) assert.equal(resolveOllamaModel(name, models), id, name)
})

test('a name that fits several models is refused with their ids, not guessed', () => {
  assert.throws(
    () => resolveOllamaModel('hf.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF', models),
    (e: unknown) =>
      e instanceof RbeeError &&
      e.status === 400 &&
      e.message.includes('qwen2.5-0.5b-instruct-q4_k_m, qwen2.5-0.5b-instruct-q8_0'),
  )
})

test('a pull takes catalog models and Hugging Face names, and refuses what it cannot fetch by name', () => {
  assert.equal(pullReference('tiny:latest', models), 'tiny')
  assert.equal(pullReference('hf.co/rbee/tiny-rerank-GGUF', models), 'hf:rbee/tiny-rerank-GGUF')
  assert.equal(pullReference('hf.co/rbee/r:latest', models), 'hf:rbee/r')
  assert.equal(pullReference('hf.co/rbee/r:model.Q4_K_M.gguf', models), 'hf:rbee/r:model.Q4_K_M.gguf')
  assert.equal(pullReference('hf:rbee/r', models), 'hf:rbee/r')
  const refused = (name: string, text: RegExp): void => {
    assert.throws(
      () => pullReference(name, models),
      (e: unknown) =>
        e instanceof RbeeError &&
        e.status === 400 &&
        text.test(e.message) &&
        (e.details as { issues: Array<{ path: string }> }).issues[0]?.path === 'model',
      name,
    )
  }
  refused('llama3.2', /rbee pulls from Hugging Face only/)
  refused('hf.co/rbee/r:Q4_K_M', /tag Q4_K_M is not supported: name the file/)
  refused('hf.co/rbee/r:../../x.gguf', /not a Hugging Face model name/)
})

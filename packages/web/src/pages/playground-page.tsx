import { ChatCompletionChunkSchema, ModelListSchema, OpenAiErrorSchema, type Timings } from '@rbee/contracts'
import { useEffect, useRef, useState } from 'preact/hooks'
import { api, apiJson } from '../api/session'
import { readSse } from '../api/sse'
import type { FleetStore } from '../fleet/fleet-store'
import { num } from '../ui/format'
import { TextField } from '../ui/text-field'

interface Message {
  role: 'user' | 'assistant'
  content: string
}

interface Served {
  ttftMs: number | null
  totalMs: number
  tokens: number
  timings: Timings | null
  worker: string | null
  hive: string | null
  ending: 'done' | 'stopped' | 'error'
}

/** Chat with any model through the queen's OpenAI API, streamed, with sampling and Stop. */
export function PlaygroundPage(props: { store: FleetStore }) {
  const [models, setModels] = useState<string[]>([])
  const [model, setModel] = useState('')
  const [temperature, setTemperature] = useState('0.7')
  const [topP, setTopP] = useState('0.95')
  const [maxTokens, setMaxTokens] = useState('256')
  const [seed, setSeed] = useState('')
  const [messages, setMessages] = useState<Message[]>([])
  const [draft, setDraft] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [served, setServed] = useState<Served | null>(null)
  const running = useRef<AbortController | null>(null)
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    apiJson('/v1/models', ModelListSchema)
      .then((list) => {
        const ids = list.data.map((m) => m.id)
        setModels(ids)
        setModel((m) => m || ids[0] || '')
      })
      .catch((err: Error) => setError(`Could not list models: ${err.message}`))
    return () => running.current?.abort()
  }, [])

  const send = async (e: Event) => {
    e.preventDefault()
    // One answer at a time (Ctrl+Enter too): Stop must reach every generation this page started.
    if (busy || running.current || !draft.trim() || !model) return
    const history: Message[] = [...messages, { role: 'user', content: draft }]
    setMessages([...history, { role: 'assistant', content: '' }])
    setDraft('')
    setError(null)
    setServed(null)
    const ac = new AbortController()
    running.current = ac
    setBusy(true)
    const started = performance.now()
    let ttftMs: number | null = null
    let text = ''
    let tokens = 0
    let timings: Timings | null = null
    let worker: string | null = null
    let ending: Served['ending'] = 'done'
    try {
      const body = {
        model,
        messages: history,
        stream: true,
        temperature: Number(temperature),
        top_p: Number(topP),
        max_tokens: Number(maxTokens),
        ...(seed.trim() ? { seed: Number(seed) } : {}),
      }
      const res = await api('/v1/chat/completions', {
        method: 'POST',
        body: JSON.stringify(body),
        signal: ac.signal,
      })
      worker = res.headers.get('x-rbee-worker')
      for await (const m of readSse(res.body!)) {
        if (m.data === '[DONE]') break
        const json: unknown = JSON.parse(m.data)
        const failed = OpenAiErrorSchema.safeParse(json)
        if (failed.success) throw new Error(failed.data.error.message)
        const chunk = ChatCompletionChunkSchema.parse(json)
        const delta = chunk.choices[0]?.delta.content ?? ''
        if (delta) {
          ttftMs ??= performance.now() - started
          tokens++
          text += delta
          setMessages([...history, { role: 'assistant', content: text }])
        }
        if (chunk.timings) timings = chunk.timings
      }
    } catch (err) {
      if (ac.signal.aborted) ending = 'stopped'
      else {
        ending = 'error'
        setError((err as Error).message)
      }
    } finally {
      running.current = null
      setBusy(false)
    }
    const hive = worker
      ? ([...props.store.view.hives.values()].find((h) => h.workers.has(worker!))?.id ?? null)
      : null
    setServed({ ttftMs, totalMs: performance.now() - started, tokens, timings, worker, hive, ending })
  }

  const field = (label: string, value: string, set: (v: string) => void, attrs: Record<string, string>) => (
    <TextField label={label} type="number" value={value} onValue={set} attrs={attrs} />
  )

  return (
    <main>
      <h1>Playground</h1>
      <form onSubmit={send} class="card">
        <div class="form-row">
          <label>
            Model
            <select value={model} onChange={(e) => setModel((e.target as HTMLSelectElement).value)}>
              {models.map((m) => (
                <option value={m}>{m}</option>
              ))}
            </select>
          </label>
          {field('Temperature', temperature, setTemperature, { min: '0', max: '2', step: '0.05' })}
          {field('Top p', topP, setTopP, { min: '0.01', max: '1', step: '0.01' })}
          {field('Max tokens', maxTokens, setMaxTokens, { min: '1', max: '131072', step: '1' })}
          {field('Seed', seed, setSeed, { min: '0', step: '1', placeholder: 'random' })}
        </div>
        <section class="chat" aria-live="polite" aria-label="Conversation">
          {messages.map((m, i) => (
            <div class={`msg msg-${m.role}`} data-role={m.role} key={i}>
              {m.content || (busy && i === messages.length - 1 ? '…' : '')}
            </div>
          ))}
        </section>
        <label for="prompt" class="prompt-label">
          Message
        </label>
        <textarea
          id="prompt"
          rows={3}
          value={draft}
          onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void send(e)
          }}
        />
        <div class="form-row">
          <button type="submit" disabled={busy || !model || !draft.trim()}>
            Send
          </button>
          <button type="button" class="danger" disabled={!busy} onClick={() => running.current?.abort()}>
            Stop
          </button>
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={() => {
              setMessages([])
              setServed(null)
            }}
          >
            Clear
          </button>
        </div>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {served && <ServedLine s={served} />}
      </form>
    </main>
  )
}

function ServedLine(props: { s: Served }) {
  const s = props.s
  const t = s.timings
  return (
    <p class="timings" data-testid="timings">
      {s.ending === 'stopped' ? 'Stopped' : s.ending === 'error' ? 'Failed' : 'Done'} · time to first token{' '}
      {s.ttftMs === null ? '–' : `${Math.round(s.ttftMs)} ms`} · {s.tokens} chunks in {Math.round(s.totalMs)}{' '}
      ms
      {t &&
        ` · ${num(t.tokens_per_s)} tok/s · prompt ${t.prompt_tokens} tokens in ${Math.round(t.prompt_ms)} ms · queued ${Math.round(t.queue_ms)} ms`}
      {s.worker && ` · worker ${s.worker}`}
      {s.hive && ` on hive ${s.hive}`}
    </p>
  )
}

import { QueenInfoSchema } from '@rbee/contracts'
import { useState } from 'preact/hooks'
import { ApiError, apiJson } from './api/session'

/** Asks for the queen's API key once; a key the queen refuses is not kept. */
export function KeyPrompt(props: { refused: string | null; onKey: (key: string) => void }) {
  const [key, setKey] = useState('')
  const [error, setError] = useState<string | null>(props.refused)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await apiJson('/v1/info', QueenInfoSchema, {}, key.trim())
      props.onKey(key.trim())
    } catch (err) {
      setError(
        err instanceof ApiError && (err.status === 401 || err.status === 403)
          ? `The queen refused this key: ${err.message}`
          : `Could not reach the queen: ${(err as Error).message}`,
      )
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class="key-prompt">
      <form onSubmit={submit} class="card">
        <h1>rbee</h1>
        <p>This queen wants an API key. It is kept in this browser tab only (session storage).</p>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          required
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || key.trim() === ''}>
          Sign in
        </button>
      </form>
    </main>
  )
}

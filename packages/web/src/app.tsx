import { type QueenInfo, QueenInfoSchema } from '@rbee/contracts'
import { useEffect, useMemo, useState } from 'preact/hooks'
import { type FeedState, followFleet } from './api/fleet-feed'
import { ApiError, apiJson, currentApiKey, setKey } from './api/session'
import { FleetStore } from './fleet/fleet-store'
import { KeyPrompt } from './key-prompt'
import { ActivityPage } from './pages/activity-page'
import { FleetPage } from './pages/fleet-page'
import { ModelsPage } from './pages/models-page'
import { PlaygroundPage } from './pages/playground-page'
import { navigate, PAGES, usePath } from './router'
import { installTestHook } from './test-hook'

type Gate =
  | { state: 'checking' }
  | { state: 'key'; refused: string | null }
  | { state: 'in'; info: QueenInfo }
  | { state: 'down'; why: string }

export function App() {
  const [gate, setGate] = useState<Gate>({ state: 'checking' })
  const check = async () => {
    try {
      setGate({ state: 'in', info: await apiJson('/v1/info', QueenInfoSchema) })
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        const hadKey = currentApiKey() !== null
        setKey(null)
        setGate({ state: 'key', refused: hadKey ? `The queen refused the saved key: ${err.message}` : null })
      } else setGate({ state: 'down', why: (err as Error).message })
    }
  }
  useEffect(() => void check(), [])
  if (gate.state === 'checking') return <main class="center">Connecting to the queen…</main>
  if (gate.state === 'down')
    return (
      <main class="center">
        <p role="alert">The queen does not answer: {gate.why}</p>
        <button type="button" onClick={() => void check()}>
          Try again
        </button>
      </main>
    )
  if (gate.state === 'key')
    return (
      <KeyPrompt
        refused={gate.refused}
        onKey={(key) => {
          setKey(key)
          void check()
        }}
      />
    )
  return (
    <Shell
      info={gate.info}
      onSignOut={() => {
        setKey(null)
        setGate({ state: 'key', refused: null })
      }}
      onRefused={(why) => {
        setKey(null)
        setGate({ state: 'key', refused: `The queen refused the key: ${why}` })
      }}
    />
  )
}

function Shell(props: { info: QueenInfo; onSignOut: () => void; onRefused: (why: string) => void }) {
  const path = usePath()
  const store = useMemo(() => new FleetStore(), [])
  const [feed, setFeed] = useState<FeedState>({ status: 'connecting' })
  const [bad, setBad] = useState<string | null>(null)
  useEffect(() => installTestHook(store), [store])
  useEffect(
    () =>
      followFleet({
        onEvent: (ev) => store.apply(ev),
        onBadEvent: (why) => setBad(why),
        onState: setFeed,
        onRefused: props.onRefused,
      }),
    [store],
  )
  return (
    <>
      <header class="top">
        <a
          class="brand"
          href="/"
          onClick={(e) => {
            e.preventDefault()
            navigate('/')
          }}
        >
          rbee
        </a>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a
              href={p.path}
              aria-current={p.path === path ? 'page' : undefined}
              onClick={(e) => {
                e.preventDefault()
                navigate(p.path)
              }}
            >
              {p.title}
            </a>
          ))}
        </nav>
        <span class={`feed feed-${feed.status}`} role="status">
          {feed.status === 'live'
            ? 'live'
            : feed.status === 'connecting'
              ? 'connecting…'
              : `reconnecting: ${feed.reason}`}
        </span>
        {props.info.auth.api_keys && (
          <button type="button" class="link" onClick={props.onSignOut}>
            Forget key
          </button>
        )}
      </header>
      {bad && (
        <p class="error" role="alert">
          An event from the queen could not be read ({bad}).
        </p>
      )}
      {path === '/' && <FleetPage store={store} />}
      {path === '/ui/models' && <ModelsPage store={store} />}
      {path === '/ui/playground' && <PlaygroundPage store={store} />}
      {path === '/ui/activity' && <ActivityPage />}
    </>
  )
}

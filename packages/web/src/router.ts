// History-API routing: the queen answers index.html for `/` and every `/ui/…` path.
import { useEffect, useState } from 'preact/hooks'

export const PAGES = [
  { path: '/', title: 'Fleet' },
  { path: '/ui/models', title: 'Models' },
  { path: '/ui/playground', title: 'Playground' },
  { path: '/ui/activity', title: 'Activity' },
] as const

export type PagePath = (typeof PAGES)[number]['path']

function current(): PagePath {
  const p = location.pathname.replace(/\/+$/, '') || '/'
  return PAGES.find((x) => x.path === p)?.path ?? '/'
}

export function navigate(path: PagePath): void {
  if (location.pathname === path) return
  history.pushState(null, '', path)
  dispatchEvent(new PopStateEvent('popstate'))
}

export function usePath(): PagePath {
  const [path, setPath] = useState(current)
  useEffect(() => {
    const on = () => setPath(current())
    addEventListener('popstate', on)
    return () => removeEventListener('popstate', on)
  }, [])
  return path
}

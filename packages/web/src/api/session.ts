// The user's API key (kept in this tab's sessionStorage only, never localStorage or a cookie) and
// the one fetch every call to the queen goes through.
import { ErrorBodySchema, OpenAiErrorSchema } from '@rbee/contracts'

const KEY_ITEM = 'rbee.api_key'

/** The key this tab was given, or null. */
export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_ITEM)
  } catch {
    return null
  }
}

/** Keeps (or with null forgets) the key for this tab's session. */
export function storeKey(key: string | null): void {
  try {
    if (key === null) sessionStorage.removeItem(KEY_ITEM)
    else sessionStorage.setItem(KEY_ITEM, key)
  } catch {
    // A browser that refuses storage (private mode quotas): the key lasts until reload.
  }
}

let currentKey: string | null = storedKey()

export function setKey(key: string | null): void {
  currentKey = key
  storeKey(key)
}

export function currentApiKey(): string | null {
  return currentKey
}

/** A refusal or failure the queen answered, with its stable code when it gave one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** Reads a failed answer's error body (rbee's or OpenAI's shape) into an ApiError. */
export async function apiError(res: Response): Promise<ApiError> {
  const text = (await res.text().catch(() => '')).slice(0, 64 * 1024)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return new ApiError(res.status, `HTTP_${res.status}`, text.trim() || `HTTP ${res.status}`)
  }
  const ours = ErrorBodySchema.safeParse(body)
  if (ours.success) return new ApiError(res.status, ours.data.error.code, ours.data.error.message)
  const openai = OpenAiErrorSchema.safeParse(body)
  if (openai.success) {
    const e = openai.data.error
    return new ApiError(res.status, e.code ?? e.type, e.message)
  }
  return new ApiError(res.status, `HTTP_${res.status}`, `HTTP ${res.status}`)
}

/** fetch against the queen (same origin) with the user's key; a non-2xx answer throws ApiError. */
export async function api(path: string, init: RequestInit = {}, key = currentKey): Promise<Response> {
  const headers = new Headers(init.headers)
  if (key) headers.set('authorization', `Bearer ${key}`)
  if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json')
  const res = await fetch(path, { ...init, headers })
  if (!res.ok) throw await apiError(res)
  return res
}

/** GET/POST JSON, parsed with the contract schema. */
export async function apiJson<T>(
  path: string,
  schema: { parse: (v: unknown) => T },
  init: RequestInit = {},
  key = currentKey,
): Promise<T> {
  const res = await api(path, init, key)
  return schema.parse(await res.json())
}

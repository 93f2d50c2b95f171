import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { errorMessage, RbeeError } from '@rbee/common'
import { PriorityTextSchema } from '@rbee/contracts'

/** What the queen keeps to, per model (see `parseModelsConf`). */
export interface ModelPolicy {
  /** Never stopped to make room nor for idleness; `minReplicas` kept up. */
  pin: boolean
  /** Workers the idle TTL and eviction never go below (a pinned model: at least 1). */
  minReplicas: number
  /** Most workers the queen runs at once (scale-out stops there); undefined: the queen's bound. */
  maxReplicas: number | undefined
  /** Idle time before a worker is stopped (0: never); undefined: the queen's idle TTL. */
  ttlMs: number | undefined
  /** Priority of the model's requests that name none, and of its workers when room is made. */
  priority: number
}

/** Per model id (`*`: every model without a block of its own), what models.conf says. */
export type ModelsConf = ReadonlyMap<string, ModelPolicy>

export const DEFAULT_MODEL_POLICY: Readonly<ModelPolicy> = Object.freeze({
  pin: false,
  minReplicas: 0,
  maxReplicas: undefined,
  ttlMs: undefined,
  priority: 0,
})

/** Keys a block takes, spelled `min_replicas` or `MinReplicas` (case and underscores ignored). */
const KEYS = ['pin', 'minreplicas', 'maxreplicas', 'ttl', 'priority'] as const
type Key = (typeof KEYS)[number]
const NAMES: Record<Key, string> = {
  pin: 'pin',
  minreplicas: 'min_replicas',
  maxreplicas: 'max_replicas',
  ttl: 'ttl',
  priority: 'priority',
}
const MAX_REPLICAS = 1000
const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
/** Longest TTL: 30 days, well inside what a timer holds. */
const MAX_TTL_MS = 30 * 86_400_000
const MAX_LINES = 10_000

/** `models.conf` beside `hives.conf`. */
export function defaultModelsConfPath(hivesConf: string): string {
  return join(dirname(hivesConf), 'models.conf')
}

function fail(source: string, line: number, message: string): RbeeError {
  return new RbeeError('RBEE_CONFIG', `${source}:${line}: ${message}`)
}

function parseValue(key: Key, value: string, at: (m: string) => RbeeError): Partial<ModelPolicy> {
  switch (key) {
    case 'pin': {
      const v = value.toLowerCase()
      if (['yes', 'true', 'on'].includes(v)) return { pin: true }
      if (['no', 'false', 'off'].includes(v)) return { pin: false }
      throw at('pin must be yes or no')
    }
    case 'minreplicas':
    case 'maxreplicas': {
      const n = /^\d{1,4}$/.test(value) ? Number(value) : Number.NaN
      const min = key === 'maxreplicas' ? 1 : 0
      if (!(n >= min && n <= MAX_REPLICAS)) {
        throw at(`${NAMES[key]} must be an integer from ${min} to ${MAX_REPLICAS}`)
      }
      return key === 'minreplicas' ? { minReplicas: n } : { maxReplicas: n }
    }
    case 'ttl': {
      const m = /^(\d{1,10})(ms|s|m|h)?$/.exec(value)
      const ms = m ? Number(m[1]) * UNITS_MS[m[2] ?? 's']! : Number.NaN
      if (!(ms >= 0 && ms <= MAX_TTL_MS)) {
        throw at('ttl must be a duration like 90s, 10m, 2h or 500ms (0: never stopped; at most 30 days)')
      }
      return { ttlMs: ms }
    }
    case 'priority': {
      const p = PriorityTextSchema.safeParse(value)
      if (!p.success) throw at(`priority ${p.error.issues[0]?.message ?? 'is invalid'}`)
      return { priority: p.data }
    }
  }
}

/**
 * Parses `models.conf`, in the style of hives.conf: a `Model <id>` line starts a block (`Model *`:
 * the policy of every model without a block; a model's own block does not inherit from it, and
 * it may not set `pin` or `min_replicas`), each following `key value` (or `key=value`) line sets
 * one thing of it:
 *
 * ```
 * Model llama-3.1-8b
 *     pin yes            # never stopped to make room, never for idleness
 *     min_replicas 1     # at least this many workers (a pinned model: at least 1)
 *     max_replicas 4     # scale-out stops here
 *     ttl 30m            # idle time before it is stopped (0: never)
 *     priority high      # low, normal, high or -100..100
 * ```
 * @throws RbeeError `RBEE_CONFIG` naming the file, the line and the problem.
 */
export function parseModelsConf(text: string, source = 'models.conf'): ModelsConf {
  const out = new Map<string, ModelPolicy>()
  const lines = text.split(/\r?\n/)
  if (lines.length > MAX_LINES) throw fail(source, MAX_LINES + 1, `more than ${MAX_LINES} lines`)
  let current: { id: string; policy: ModelPolicy; line: number } | undefined
  const close = (): void => {
    if (!current) return
    const p = current.policy
    if (p.pin && p.minReplicas === 0) p.minReplicas = 1
    if (p.maxReplicas !== undefined && p.minReplicas > p.maxReplicas) {
      throw fail(source, current.line, `Model ${current.id}: min_replicas is above max_replicas`)
    }
    out.set(current.id, p)
  }
  lines.forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim()
    if (line === '') return
    const at = (m: string): RbeeError => fail(source, i + 1, m)
    // `=` first: `ttl = 30m` is one separator, not a space, an `=` and a space.
    const words = line.split(/\s*=\s*|\s+/)
    if (words.length !== 2) throw at(`expected "key value", got "${line.slice(0, 80)}"`)
    const [keyword, value] = words as [string, string]
    const key = keyword.toLowerCase().replaceAll('_', '')
    if (key === 'model') {
      close()
      if (value.length > 256 || !/^[\w.:/@*+-]+$/.test(value))
        throw at(`"${value.slice(0, 80)}" is no model id`)
      if (out.has(value)) throw at(`Model ${value} has a block already`)
      current = { id: value, policy: { ...DEFAULT_MODEL_POLICY }, line: i + 1 }
      return
    }
    if (!(KEYS as readonly string[]).includes(key)) {
      throw at(`unknown key "${keyword}" (known: Model, ${KEYS.map((k) => NAMES[k]).join(', ')})`)
    }
    if (!current) throw at(`${keyword} before any "Model <id>" line`)
    if (current.id === '*' && (key === 'pin' || key === 'minreplicas')) {
      throw at(`${keyword} in "Model *" would keep every model up and unevictable; set it per model`)
    }
    Object.assign(current.policy, parseValue(key as Key, value, at))
  })
  close()
  return out
}

/** What `conf` says of `model`: its block, else the `*` block, else the defaults. */
export function modelPolicy(conf: ModelsConf, model: string): ModelPolicy {
  return conf.get(model) ?? conf.get('*') ?? DEFAULT_MODEL_POLICY
}

/**
 * Reads and parses models.conf; a missing file means no policies (unless `required`, as on a
 * reload that had one: a deleted file must not unpin every model).
 * @throws RbeeError `RBEE_CONFIG` naming the file (and line) and the problem.
 */
export async function loadModelsConf(path: string, required = false): Promise<ModelsConf> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return new Map()
    throw new RbeeError('RBEE_CONFIG', `cannot read ${path}: ${errorMessage(err)}`, { cause: err })
  }
  return parseModelsConf(text, path)
}

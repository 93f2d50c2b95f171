import { RbeeError, refusedField } from '@rbee/common'
import { HfRefSchema } from '@rbee/contracts'
import type { FleetModels } from './fleet-models.js'

/** `hf.co/org/repo[:tag]` (Ollama's name for a Hugging Face model), with or without a scheme. */
const HF_CO = /^(?:https?:\/\/)?(?:hf\.co|huggingface\.co)\/([^/:\s]+)\/([^/:\s]+)(?::([^\s]+))?$/
/** `hf:org/repo[:file]`, rbee's own name for the same. */
const HF_REF = /^hf:([^/:\s]+)\/([^/:\s]+)(?::([^\s]+))?$/

interface HfName {
  org: string
  repo: string
  /** The tag (`latest`, a quantization, a file name); undefined when none was given. */
  tag: string | undefined
}

function hfName(name: string): HfName | undefined {
  const m = HF_CO.exec(name) ?? HF_REF.exec(name)
  return m ? { org: m[1]!, repo: m[2]!, tag: m[3] } : undefined
}

function ambiguous(name: string, ids: string[]): RbeeError {
  return new RbeeError(
    'RBEE_BAD_REQUEST',
    `model ${name} could be any of ${ids.sort().join(', ')}: name one of them by its catalog id`,
    { details: { issues: [{ path: 'model', message: 'ambiguous' }] } },
  )
}

/**
 * The catalog id an Ollama client means by `name`, by the first rule that applies:
 * 1. a catalog id (or a model a worker serves) is itself;
 * 2. `id:latest` is `id`;
 * 3. `name:tag` is the catalog id `name-tag`, case aside (a downloaded file's id:
 *    `qwen2.5-0.5b-instruct:q4_k_m` is `qwen2.5-0.5b-instruct-q4_k_m`);
 * 4. `hf.co/org/repo[:tag]` (or `hf:org/repo[:file]`) is the model downloaded from that repo; with
 *    a tag other than `latest`, the one whose file is the tag or has it as its quantization.
 * Any other name is returned as it is, so the request fails as for any unknown model (404).
 * @throws RbeeError `RBEE_BAD_REQUEST` when a rule finds more than one model.
 */
export function resolveOllamaModel(name: string, fleet: FleetModels): string {
  const known = (id: string): boolean => fleet.catalog.has(id) || fleet.workerOnly.has(id)
  if (known(name)) return name
  const hf = hfName(name)
  if (hf) {
    const tag = hf.tag === 'latest' ? undefined : hf.tag?.toLowerCase()
    const prefix = `hf:${hf.org}/${hf.repo}:`.toLowerCase()
    const matches = [...fleet.catalog.values()].filter((m) => {
      const source = m.source.toLowerCase()
      if (!source.startsWith(prefix)) return false
      const file = source.slice(prefix.length)
      return tag === undefined || file === tag || m.quantization.toLowerCase() === tag
    })
    if (matches.length > 1)
      throw ambiguous(
        name,
        matches.map((m) => m.id),
      )
    return matches[0]?.id ?? name
  }
  const colon = name.lastIndexOf(':')
  if (colon <= 0) return name
  const base = name.slice(0, colon)
  const tag = name.slice(colon + 1)
  if (tag === 'latest' && known(base)) return base
  const dashed = `${base}-${tag}`.toLowerCase()
  const matches = [...fleet.catalog.keys(), ...fleet.workerOnly].filter((id) => id.toLowerCase() === dashed)
  if (matches.length > 1) throw ambiguous(name, matches)
  return matches[0] ?? name
}

/**
 * What `/api/pull` asks a hive to download for `name`: a model already in the catalog (the hive
 * then has nothing to do), or a Hugging Face reference: `hf.co/org/repo` (the best quantization),
 * `hf.co/org/repo:file.gguf`, or rbee's `hf:org/repo[:file.gguf]`.
 * @throws RbeeError `RBEE_VALIDATION` naming `model` for anything else (rbee does not pull from
 *   Ollama's registry), and for a quantization tag (name the file instead).
 */
export function pullReference(name: string, fleet: FleetModels): string {
  const resolved = resolveOllamaModel(name, fleet)
  if (fleet.catalog.has(resolved)) return resolved
  const hf = hfName(name)
  if (!hf) {
    throw refusedField(
      'model',
      `${name} is not in the catalog, and rbee pulls from Hugging Face only: name it hf.co/org/repo[:file.gguf] (or hf:org/repo[:file.gguf])`,
    )
  }
  const { org, repo, tag } = hf
  if (tag !== undefined && tag !== 'latest' && !tag.toLowerCase().endsWith('.gguf')) {
    throw refusedField(
      'model',
      `tag ${tag} is not supported: name the file (hf.co/${org}/${repo}:file.gguf), or no tag for the best quantization`,
    )
  }
  const ref = tag === undefined || tag === 'latest' ? `hf:${org}/${repo}` : `hf:${org}/${repo}:${tag}`
  const parsed = HfRefSchema.safeParse(ref)
  if (!parsed.success)
    throw refusedField(
      'model',
      `${name} is not a Hugging Face model name: ${parsed.error.issues[0]?.message}`,
    )
  return parsed.data
}

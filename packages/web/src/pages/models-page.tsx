import { type ModelEntry, ModelListResultSchema, type Narration, type Operation } from '@rbee/contracts'
import { useEffect, useRef, useState } from 'preact/hooks'
import { cancelJob, type JobResult, payloadOf, runJob } from '../api/jobs'
import type { FleetStore } from '../fleet/fleet-store'
import { useFleet } from '../fleet/use-fleet'
import { DataTable } from '../ui/data-table'
import { bytes, mb, seconds } from '../ui/format'
import { Meter } from '../ui/meter'
import { DownloadForm, ImportForm, SpawnForm } from './model-forms'
import { nextTransfer, type TransferView } from './transfer-rate'

/** One job started from this page, as it goes. */
interface Run {
  title: string
  jobId: string | null
  narration: Narration[]
  transfer: TransferView | null
  outcome: JobResult['outcome'] | 'refused' | null
  message: string | null
}

/** Each hive's catalog; download (with progress and cancel), import, remove; spawn and stop workers. */
export function ModelsPage(props: { store: FleetStore }) {
  const fleet = useFleet(props.store)
  const hives = [...fleet.hives.values()]
  const [hiveId, setHiveId] = useState<string>('')
  const hive = fleet.hives.get(hiveId) ?? hives.find((h) => h.online) ?? hives[0]
  const [catalog, setCatalog] = useState<ModelEntry[] | null>(null)
  const [catalogError, setCatalogError] = useState<string | null>(null)
  const [runs, setRuns] = useState<Run[]>([])
  const mounted = useRef(true)
  useEffect(
    () => () => {
      mounted.current = false
    },
    [],
  )

  const refresh = async (id: string | undefined) => {
    if (!id) return
    try {
      const r = await runJob({ operation: 'model_list', hive_id: id })
      if (r.outcome !== 'done') throw new Error(r.message ?? r.outcome)
      if (mounted.current) {
        setCatalog(payloadOf(r, 'model_list', ModelListResultSchema).models)
        setCatalogError(null)
      }
    } catch (err) {
      if (mounted.current) setCatalogError((err as Error).message)
    }
  }
  useEffect(() => void refresh(hive?.id), [hive?.id])

  /** Runs an operation as a visible job on this page; refreshes the catalog after it. */
  const start = async (title: string, op: Operation) => {
    const index = runs.length
    let run: Run = { title, jobId: null, narration: [], transfer: null, outcome: null, message: null }
    const update = (patch: Partial<Run>) => {
      run = { ...run, ...patch }
      if (mounted.current) setRuns((rs) => rs.map((r, i) => (i === index ? run : r)))
    }
    setRuns((rs) => [...rs, run])
    try {
      const result = await runJob(op, {
        onStart: (jobId) => update({ jobId }),
        onNarration: (n) =>
          update({
            narration: [...run.narration.slice(-49), n],
            transfer: n.transfer ? nextTransfer(run.transfer, n.transfer, Date.now()) : run.transfer,
          }),
      })
      update({ outcome: result.outcome, message: result.message })
    } catch (err) {
      update({ outcome: 'refused', message: (err as Error).message })
    }
    await refresh(hive?.id)
  }

  /** A small button that starts `op` as a job; its accessible name says what it acts on (`Stop w-1-…`). */
  const act = (label: string, target: string, op: Operation) => (
    <button
      type="button"
      class="secondary"
      aria-label={`${label} ${target}`}
      onClick={() => void start(`${label.toLowerCase()} ${target}`, op)}
    >
      {label}
    </button>
  )

  if (!hive)
    return (
      <main>
        <h1>Models</h1>
        <p>No hive has reported yet.</p>
      </main>
    )
  const gpus = hive.devices.filter((d) => d.type === 'gpu')
  return (
    <main>
      <h1>Models</h1>
      <div class="form-row">
        <label>
          Hive
          <select value={hive.id} onChange={(e) => setHiveId((e.target as HTMLSelectElement).value)}>
            {hives.map((h) => (
              <option value={h.id}>
                {h.id}
                {h.online ? '' : ' (offline)'}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div class="grid2">
        <section class="card" aria-labelledby="catalog-title">
          <h2 id="catalog-title">Catalog of {hive.id}</h2>
          {catalogError && (
            <p class="error" role="alert">
              {catalogError}
            </p>
          )}
          {catalog === null ? (
            <p class="muted">Loading…</p>
          ) : (
            <DataTable columns={['Model', 'Size', 'Quant', 'Context', 'Memory / worker', '']}>
              {catalog.map((m) => (
                <tr data-model={m.id}>
                  <td>
                    <strong>{m.id}</strong>
                    <div class="muted">{m.source}</div>
                    {!m.available && <div class="error">{m.unavailable_reason ?? 'unavailable'}</div>}
                  </td>
                  <td>{bytes(m.size_bytes)}</td>
                  <td>{m.quantization}</td>
                  <td>{m.context_length}</td>
                  <td>~{mb(m.memory_estimate_mb)}</td>
                  <td>
                    {!m.builtin &&
                      act('Remove', m.id, { operation: 'model_delete', hive_id: hive.id, model: m.id })}
                  </td>
                </tr>
              ))}
            </DataTable>
          )}
          <SpawnForm
            models={catalog ?? []}
            gpus={gpus.map((d) => d.id)}
            onSpawn={(op) => void start(`spawn ${op.model}`, { ...op, hive_id: hive.id })}
          />
          <h3>Workers</h3>
          {hive.workers.size === 0 ? (
            <p class="muted">No workers.</p>
          ) : (
            <ul class="plain">
              {[...hive.workers.values()].map((w) => (
                <li data-worker={w.id}>
                  <code>{w.id}</code> {w.model_id} on {w.device} ({w.status}, {w.slots_total} slots){' '}
                  {act('Stop', w.id, { operation: 'worker_stop', hive_id: hive.id, worker_id: w.id })}
                </li>
              ))}
            </ul>
          )}
        </section>
        <section class="card" aria-labelledby="get-title">
          <h2 id="get-title">Add a model to {hive.id}</h2>
          <DownloadForm
            onDownload={(model) =>
              void start(`download ${model}`, { operation: 'model_download', hive_id: hive.id, model })
            }
          />
          <ImportForm
            onImport={(path, id) =>
              void start(`import ${path}`, {
                operation: 'model_import',
                hive_id: hive.id,
                path,
                ...(id ? { id } : {}),
              })
            }
          />
        </section>
      </div>
      {runs.length > 0 && (
        <section class="card jobs" aria-label="Jobs started here">
          <h2>Jobs</h2>
          {[...runs].reverse().map((r) => (
            <RunView run={r} />
          ))}
        </section>
      )}
    </main>
  )
}

function RunView(props: { run: Run }) {
  const r = props.run
  const t = r.transfer
  const last = r.narration.at(-1)
  return (
    <article class="run" data-job={r.jobId ?? ''}>
      <header class="form-row">
        <strong>{r.title}</strong>
        <span class={`badge badge-${r.outcome ?? 'busy'}`}>{r.outcome ?? 'running'}</span>
        {r.outcome === null && r.jobId && (
          <button type="button" class="danger" onClick={() => cancelJob(r.jobId!).catch(() => {})}>
            Cancel
          </button>
        )}
      </header>
      {t && (
        <Meter
          kind="progress"
          label={`${r.title} progress`}
          value={t.completed}
          max={t.total ?? t.completed}
          text={`${bytes(t.completed)}${t.total === null ? '' : ` / ${bytes(t.total)}`}${t.bytesPerS ? ` · ${bytes(t.bytesPerS)}/s` : ''}${t.etaS !== null && r.outcome === null ? ` · ${seconds(t.etaS)} left` : ''}`}
        />
      )}
      {r.message && (
        <p class={r.outcome === 'done' ? 'muted' : 'error'} role={r.outcome === 'done' ? undefined : 'alert'}>
          {r.message}
        </p>
      )}
      {last && <p class="muted">{last.human}</p>}
      {r.narration.length > 1 && (
        <details>
          <summary>Narration ({r.narration.length})</summary>
          <ol class="narration">
            {r.narration.map((n) => (
              <li>{n.human}</li>
            ))}
          </ol>
        </details>
      )}
    </article>
  )
}

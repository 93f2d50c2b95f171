import { type BackendRequest, BackendRequestSchema, type ModelEntry, type OperationOf } from '@rbee/contracts'
import { useState } from 'preact/hooks'
import { RowForm, TextField } from '../ui/text-field'

/** Spawn a worker with the CLI's choices: model, backend, device, slots. */
export function SpawnForm(props: {
  models: ModelEntry[]
  gpus: string[]
  onSpawn: (op: OperationOf<'worker_spawn'>) => void
}) {
  const [model, setModel] = useState('')
  const [backend, setBackend] = useState<BackendRequest>('auto')
  const [device, setDevice] = useState('')
  const [slots, setSlots] = useState('')
  const chosen = model || props.models[0]?.id || ''
  return (
    <RowForm
      name="Spawn a worker"
      onSubmit={() =>
        chosen &&
        props.onSpawn({
          operation: 'worker_spawn',
          model: chosen,
          worker: backend,
          ...(device === '' ? {} : { device: Number(device) }),
          ...(slots === '' ? {} : { slots: Number(slots) }),
        })
      }
    >
      <label>
        Model to spawn
        <select value={chosen} onChange={(e) => setModel((e.target as HTMLSelectElement).value)}>
          {props.models
            .filter((m) => m.available)
            .map((m) => (
              <option value={m.id}>{m.id}</option>
            ))}
        </select>
      </label>
      <label>
        Backend
        <select
          value={backend}
          onChange={(e) => setBackend(BackendRequestSchema.parse((e.target as HTMLSelectElement).value))}
        >
          {BackendRequestSchema.options.map((b) => (
            <option value={b}>{b}</option>
          ))}
        </select>
      </label>
      <label>
        Device
        <select value={device} onChange={(e) => setDevice((e.target as HTMLSelectElement).value)}>
          <option value="">the hive picks</option>
          {props.gpus.map((id) => (
            <option value={id.split(':')[1]}>{id}</option>
          ))}
        </select>
      </label>
      <TextField
        label="Slots"
        type="number"
        value={slots}
        onValue={setSlots}
        attrs={{ min: 1, max: 64, placeholder: 'default' }}
      />
      <button type="submit" disabled={!chosen}>
        Spawn
      </button>
    </RowForm>
  )
}

/** Download `hf:org/repo[:file.gguf]` to the hive. */
export function DownloadForm(props: { onDownload: (model: string) => void }) {
  const [ref, setRef] = useState('')
  return (
    <RowForm name="Download a model" onSubmit={() => ref.trim() && props.onDownload(ref.trim())}>
      <TextField
        label="Download from the hub"
        value={ref}
        onValue={setRef}
        attrs={{ size: 34, placeholder: 'hf:org/repo[:file.gguf]', pattern: 'hf:.+', required: true }}
      />
      <button type="submit">Download</button>
    </RowForm>
  )
}

/** Import a .gguf that is on the hive's machine (within the folders it imports from). */
export function ImportForm(props: { onImport: (path: string, id: string) => void }) {
  const [path, setPath] = useState('')
  const [id, setId] = useState('')
  return (
    <RowForm name="Import a model" onSubmit={() => path.trim() && props.onImport(path.trim(), id.trim())}>
      <TextField
        label="Import a .gguf on the hive"
        value={path}
        onValue={setPath}
        attrs={{ size: 28, placeholder: '/path/on/the/hive/model.gguf', required: true }}
      />
      <TextField label="As id (optional)" value={id} onValue={setId} attrs={{ size: 12 }} />
      <button type="submit">Import</button>
    </RowForm>
  )
}

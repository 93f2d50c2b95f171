import type { Device, WorkerRecord } from '@rbee/contracts'
import { Component } from 'preact'
import { useMemo } from 'preact/hooks'
import { fleetCounts, type HiveView } from '../fleet/fleet-state'
import type { FleetStore } from '../fleet/fleet-store'
import { useFleet } from '../fleet/use-fleet'
import { DataTable } from '../ui/data-table'
import { mb, num } from '../ui/format'
import { Meter } from '../ui/meter'

/** Every hive with its devices and workers, live from the queen's stream. */
export function FleetPage(props: { store: FleetStore }) {
  const view = useFleet(props.store)
  const hives = [...view.hives.values()]
  // Counted from the hives drawn below, so the line and the cards never disagree.
  const s = useMemo(() => fleetCounts(hives), [view.hives])
  return (
    <main>
      <h1>Fleet</h1>
      <p class="summary">
        {s.hives_online}/{s.hives_total} hives online · {s.workers_ready} ready, {s.workers_busy} busy of{' '}
        {s.workers_total} workers
      </p>
      {hives.length === 0 && (
        <p>
          No hive has reported yet. Start one with <code>rbee-hive --queen-url …</code>.
        </p>
      )}
      <div class="hives">
        {hives.map((h) => (
          <HiveCard key={h.id} hive={h} />
        ))}
      </div>
    </main>
  )
}

/** One hive; redraws only when its own view changed (the store shares unchanged hives). */
class HiveCard extends Component<{ hive: HiveView }> {
  override shouldComponentUpdate(next: { hive: HiveView }): boolean {
    return next.hive !== this.props.hive
  }

  override render() {
    const h = this.props.hive
    const state = !h.online ? 'offline' : h.suspect ? 'suspect' : 'online'
    return (
      <section class={`card hive hive-${state}`} aria-label={`hive ${h.id}`} data-hive={h.id}>
        <header>
          <h2>{h.id}</h2>
          <span class={`badge badge-${state}`}>{state}</span>
          {h.version && <span class="muted">v{h.version}</span>}
        </header>
        {h.error && <p class="error">{h.error}</p>}
        {h.note && <p class="note muted">{h.note}</p>}
        <ul class="devices">
          {h.devices.map((d) => (
            <DeviceRow key={d.id} device={d} workers={h.workers} />
          ))}
        </ul>
        {h.workers.size === 0 ? (
          <p class="muted">No workers.</p>
        ) : (
          <DataTable
            class="workers"
            columns={['Worker', 'Model', 'Device', 'Status', 'Slots', 'tok/s', 'Memory', 'CPU']}
          >
            {[...h.workers.values()].map((w) => (
              <WorkerRow key={w.id} w={w} />
            ))}
          </DataTable>
        )}
      </section>
    )
  }
}

function DeviceRow(props: { device: Device; workers: ReadonlyMap<string, WorkerRecord> }) {
  const d = props.device
  const used = Math.max(0, d.memory_total_mb - d.memory_free_mb)
  let util: number | null = null
  if (d.type === 'gpu') {
    const index = d.id.split(':')[1]
    const on = [...props.workers.values()].filter((w) =>
      w.device
        .split(':')[1]
        ?.split(',')
        .includes(index ?? ''),
    )
    util = on.length > 0 ? Math.max(...on.map((w) => w.gpu_util_pct)) : 0
  }
  return (
    <li class="device">
      <span class="device-name">
        {d.name}{' '}
        <span class="muted">
          ({d.id}, {d.backend})
        </span>
      </span>
      <Meter
        label={`${d.id} ${d.type === 'gpu' ? 'VRAM' : 'RAM'} used`}
        value={used}
        max={d.memory_total_mb}
        text={`${d.type === 'gpu' ? 'VRAM' : 'RAM'} ${mb(used)} / ${mb(d.memory_total_mb)}`}
      />
      {util !== null && <span class="muted">GPU {Math.round(util)}%</span>}
    </li>
  )
}

function WorkerRow(props: { w: WorkerRecord }) {
  const w = props.w
  return (
    <tr data-worker={w.id} data-pid={w.pid ?? undefined} class={`worker-${w.status}`}>
      <td>
        <code>{w.id}</code>
      </td>
      <td>{w.model_id}</td>
      <td>{w.device}</td>
      <td>
        <span class={`badge badge-${w.status}`}>{w.status}</span>
      </td>
      <td>
        <Meter
          label={`${w.id} slots busy`}
          value={w.slots_busy}
          max={w.slots_total}
          text={`${w.slots_busy}/${w.slots_total}`}
        />
      </td>
      <td>{num(w.liveness?.tokens_per_s)}</td>
      <td>{mb(w.rss_mb + w.vram_mb)}</td>
      <td>{Math.round(w.cpu_pct)}%</td>
    </tr>
  )
}

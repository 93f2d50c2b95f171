// The GPU check's figures as a markdown table (gpu-check.md), from the results it wrote as JSON.

const cell = (v) => (v === undefined || v === null ? '–' : String(v))

function throughputRows(label, tp) {
  if (!tp) return []
  return Object.entries(tp).map(
    ([c, r]) =>
      `| ${label} | ${c} | ${r.tok_per_s} | ${cell(r.x_one)}× | ${r.rounds.join(', ')} | ${r.ttft_max_ms} |`,
  )
}

function burstRow(label, b) {
  if (!b) return []
  return [`| ${label} | ${b.concurrency} | ${b.tok_per_s} | ${b.ttft_max_ms} | ${b.ttft_ms.join(', ')} |`]
}

/** The results (as check.mjs collects them) in markdown. */
export function markdown(r) {
  const lines = [`## GPU check, ${r.started.slice(0, 16).replace('T', ' ')} UTC`, '']
  const m = r.machine
  lines.push(
    `- Machine: ${m.cpus} × ${cell(m.cpu)}, ${m.memory_gb} GB, Node ${m.node}; GPU: ${cell(m.nvidia_smi)}`,
    `- llama.cpp GPU backend: ${r.probe?.gpu ? `${r.probe.gpu} (${r.probe.devices?.join(', ')}, ${r.probe.vram_total_mb} MB)` : `none (${cell(r.probe?.error)})`}`,
    `- rbee doctor: ${r.doctor?.skipped ? `skipped: ${r.doctor.skipped}` : r.doctor ? 'see gpu-check.json' : '–'}`,
    `- Model: ${r.model?.spec?.name} (${r.model?.spec?.embeddingLength} × ${r.model?.spec?.blockCount} layers, ${r.model?.spec?.weightType}, ${cell(r.model?.size_mb)} MB, generated in ${cell(r.model?.generate_s)} s); workers: ${r.options.slots} slots × ${r.options['ctx-size']} tokens`,
    `- Tokens per request: GPU ${r.options['gpu-tokens']}, CPU ${r.options['cpu-tokens']}; ~100-character prompts, each different`,
    `- Elapsed: ${r.elapsed_s} s`,
    '',
  )
  lines.push('### Goals', '', '| goal | target | measured | |', '|---|---|---|---|')
  for (const g of r.goals)
    lines.push(`| ${g.name} | ${g.target} | ${g.value} | ${g.pass ? 'pass' : 'FAIL'} |`)
  lines.push('')
  const g = r.gpu ?? {}
  if (g.skipped) lines.push(`GPU parts skipped: ${g.skipped}.`, '')
  if (g.spawned || g.respawned || g.cold) {
    lines.push('### GPU workers', '', '| worker | device | ready after | warm-up |', '|---|---|---|---|')
    if (g.cold)
      lines.push(`| cold (direct, --warmup off, empty caches) | ${g.backend} | ${g.cold.ready_s} s | off |`)
    if (g.spawned)
      lines.push(
        `| through the queen (${JSON.stringify(g.spawned.asked)}) | ${g.spawned.device} | ${g.spawned.spawn_s} s | ${cell(g.spawned.warmup_ms)} ms |`,
      )
    if (g.respawned)
      lines.push(
        `| second one, warm caches | ${g.respawned.device} | ${g.respawned.spawn_s} s | ${cell(g.respawned.warmup_ms)} ms |`,
      )
    lines.push('')
  }
  if (g.auto_failed) lines.push(`worker_spawn auto failed: ${g.auto_failed.error}`, '')
  const bursts = [
    ...(g.cold?.first_request
      ? [
          `| cold: one request first | 1 | ${g.cold.first_request.tok_per_s} | ${g.cold.first_request.ttft_ms} | ${g.cold.first_request.ttft_ms} |`,
        ]
      : []),
    ...burstRow('cold: then at once', g.cold?.burst_4),
    ...burstRow('cold: then at once', g.cold?.burst_16),
    ...burstRow('warmed up: the first requests after ready', g.first_burst_4),
    ...burstRow('warmed up: then at once', g.first_burst_16),
  ]
  if (bursts.length > 0) {
    lines.push(
      '### First requests on a new GPU worker',
      '',
      '| worker | at once | tokens/s together | slowest first token (ms) | first token (ms) |',
      '|---|---|---|---|---|',
      ...bursts,
      '',
    )
  }
  const tp = [
    ...throughputRows(`GPU (${g.spawned?.device ?? ''}, default threads)`, g.throughput),
    ...Object.entries(g.threads ?? {}).flatMap(([t, x]) => {
      const { warmup_ms, ...byConcurrency } = x
      return throughputRows(`GPU, --threads ${t}`, byConcurrency)
    }),
    ...throughputRows(`CPU (${r.cpu?.device ?? ''})`, r.cpu?.throughput),
  ]
  if (tp.length > 0) {
    lines.push(
      '### Aggregate tokens/s by concurrent requests',
      '',
      '| worker | concurrent | tokens/s | vs one | rounds | slowest first token (ms) |',
      '|---|---|---|---|---|---|',
      ...tp,
      '',
    )
  }
  lines.push('### Steps', '', '| step | outcome | s | |', '|---|---|---|---|')
  for (const s of r.steps)
    lines.push(`| ${s.name} | ${s.outcome} | ${cell(s.s)} | ${cell(s.error ?? s.reason)} |`)
  if (r.notes.length > 0) lines.push('', ...r.notes.map((n) => `- ${n}`))
  if (r.error) lines.push('', `Ended early: ${r.error}`)
  return `${lines.join('\n')}\n`
}

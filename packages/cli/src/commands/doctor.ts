import { RbeeError } from '@rbee/common/base'
import { type DoctorReport, DoctorReportSchema } from '@rbee/contracts'
import { boolFlag, type CommandSpec, type ParsedArgs, stringFlag, UsageError } from '../cli/args.js'
import { type CliContext, EXIT } from '../cli/context.js'
import { deviceLines } from '../cli/device-backends.js'
import { type Output, paint } from '../cli/output.js'
import { resolveSettings } from '../config/settings.js'
import type { Command } from './command.js'

const spec: CommandSpec = {
  name: 'doctor',
  summary:
    'Check this machine: its devices, which llama.cpp builds (CPU, CUDA, Vulkan, Metal) load, and what to install for the others.',
  usage: '[options]',
  description: `Does here, without a queen or a hive, what a hive does at start: lists NVIDIA GPUs with
nvidia-smi and runs llm-worker-rbee --probe-backends, which loads each llama.cpp build in a child
process and says, for each that does not load, why (the npm package, driver or runtime to install).
Exits 1 when no build loads at all. -v also shows node-llama-cpp's own words.`,
  json: true,
  flags: {
    'nvidia-smi': {
      type: 'string',
      value: 'PATH',
      env: 'RBEE_NVIDIA_SMI',
      description: 'nvidia-smi binary, or none (default: on PATH)',
    },
    'backend-probe': {
      type: 'string',
      value: 'PATH',
      env: 'RBEE_BACKEND_PROBE',
      description: "what probes the builds (default: the installed llm-worker-rbee's --probe-backends)",
    },
  },
  examples: ['rbee doctor', "rbee doctor --json | jq '.devices[] | {id, backend, backends}'"],
}

/** What `rbee doctor` prints for a report. */
export function renderDoctor(out: Pick<Output, 'color'>, r: DoctorReport, verbose = false): string {
  const c = out.color
  const p = r.backend_probe
  const smi = r.nvidia_smi
  const lines = [
    `${paint(c, 'bold', 'machine')}     ${r.hostname}: ${p.platform} ${p.arch}, node-llama-cpp ${p.node_llama_cpp} (probed in ${(p.duration_ms / 1000).toFixed(1)}s)`,
    `${paint(c, 'bold', 'nvidia-smi')}  ${
      !smi
        ? 'not found: NVIDIA GPUs are listed with it (it comes with the NVIDIA driver)'
        : smi.error
          ? paint(c, 'red', `${smi.path} failed: ${smi.error}`)
          : smi.path
    }`,
    '',
    paint(c, 'bold', 'DEVICES'),
    ...deviceLines(c, r.devices),
    '',
    paint(c, 'bold', 'LLAMA.CPP BUILDS'),
    ...p.backends.flatMap((b) => [
      `  ${b.backend.padEnd(7)}${
        b.usable
          ? paint(
              c,
              'green',
              `loads${b.devices.length > 0 ? `, sees ${b.devices.map((d) => d.name).join(', ')}` : ''}`,
            )
          : `${paint(c, 'red', 'not usable')}: ${b.reason ?? 'its build does not load'}`
      }`,
      ...(verbose && b.detail ? [paint(c, 'dim', `         node-llama-cpp: ${b.detail}`)] : []),
    ]),
  ]
  return `${lines.join('\n')}\n`
}

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const settings = resolveSettings(ctx, args)
  const smi = stringFlag(args, 'nvidia-smi') || undefined
  const probe = stringFlag(args, 'backend-probe') || undefined
  if (probe === 'none') throw new UsageError(spec.name, '--backend-probe none leaves nothing to check')
  const json = boolFlag(args, 'json')
  if (!json) ctx.out.stderr.write('loading each llama.cpp build in a child process to see which work here…\n')
  // Loaded only here: the hive's code is heavy for the other commands.
  const { machineReport } = await import('@rbee/hive')
  const report = DoctorReportSchema.parse(
    await machineReport({
      nvidiaSmi: smi === 'none' ? null : smi,
      backendProbe: probe,
      env: { ...ctx.env },
      signal: ctx.signal,
    }),
  )
  if (ctx.signal.aborted) return EXIT.interrupted
  ctx.out.stdout.write(
    json ? `${JSON.stringify(report, null, 2)}\n` : renderDoctor(ctx.out, report, settings.verbose),
  )
  if (!report.backend_probe.backends.some((b) => b.usable)) {
    throw new RbeeError(
      'RBEE_ENGINE',
      'no llama.cpp build loads on this machine, so no worker can run here: see the reasons above',
    )
  }
  return EXIT.ok
}

/** `rbee doctor`. */
export const doctorCommand: Command = { spec, run }

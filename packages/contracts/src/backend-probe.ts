import { z } from 'zod'
import { IdSchema } from './common.js'
import { BackendSupportSchema, DeviceSchema } from './hive.js'
import type { BackendSchema } from './worker.js'

/** One GPU as a llama.cpp build sees it. */
export const ProbedGpuSchema = z.object({
  /** What `--device` names for this build (`CUDA_VISIBLE_DEVICES` / `GGML_VK_VISIBLE_DEVICES`). */
  index: z.int().min(0).max(63),
  name: z.string().max(256),
  /** llama.cpp's own figures (`getVramState`); 0 when they could not be read per device. */
  memory_total_mb: z.int().min(0),
  memory_free_mb: z.int().min(0),
})
export type ProbedGpu = z.infer<typeof ProbedGpuSchema>

/** Whether one llama.cpp build loads on this machine, and the GPUs it sees there. */
export const BackendCheckSchema = BackendSupportSchema.extend({
  /** GPUs the build sees; empty for `cpu` and for a build that does not load. */
  devices: z.array(ProbedGpuSchema).max(64).default([]),
  /** What node-llama-cpp itself said, verbatim (for `rbee doctor` and logs). */
  detail: z.string().max(2000).optional(),
})
export type BackendCheck = z.infer<typeof BackendCheckSchema>

/**
 * What `llm-worker-rbee --probe-backends` prints as its last stdout line: every llama.cpp build
 * it tried (cpu, cuda, vulkan, metal, in that order) and whether it loads.
 */
export const BackendProbeSchema = z.object({
  type: z.literal('backend_probe'),
  /** `process.platform` and `process.arch` of the machine probed. */
  platform: z.string().min(1).max(32),
  arch: z.string().min(1).max(32),
  /** The node-llama-cpp version whose builds were tried. */
  node_llama_cpp: z.string().max(64),
  backends: z.array(BackendCheckSchema).max(8),
  duration_ms: z.number().min(0),
})
export type BackendProbe = z.infer<typeof BackendProbeSchema>

/**
 * Every line the probe prints on stdout: one `backend_checked` per build as soon as it is known
 * (so a probe that crashes on one build still tells what it found before), then the summary.
 */
export const BackendProbeLineSchema = z.discriminatedUnion('type', [
  BackendProbeSchema,
  BackendCheckSchema.extend({ type: z.literal('backend_checked') }),
])
export type BackendProbeLine = z.infer<typeof BackendProbeLineSchema>

/** The `hive_check` operation's data: the self-check, the devices and the backend probe. */
export const HiveCheckSchema = z.object({
  hive_id: IdSchema,
  version: z.string(),
  ok: z.boolean(),
  checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })),
  devices: z.array(DeviceSchema),
  workers: z.int().min(0),
  /** null when the hive does not probe (`--backend-probe none`). */
  backend_probe: BackendProbeSchema.nullable(),
})
export type HiveCheck = z.infer<typeof HiveCheckSchema>

/** `rbee doctor --json`: this machine's devices and backends, as a hive here would report them. */
export const DoctorReportSchema = z.object({
  hostname: z.string(),
  devices: z.array(DeviceSchema),
  backend_probe: BackendProbeSchema,
  /** The `nvidia-smi` NVIDIA GPUs were listed with and how that went; null when there is none. */
  nvidia_smi: z.object({ path: z.string(), error: z.string().nullable() }).nullable(),
})
export type DoctorReport = z.infer<typeof DoctorReportSchema>

/** The order the probe tries builds in, and the order `auto` prefers GPU backends in. */
export const BACKEND_ORDER = ['cuda', 'metal', 'vulkan', 'cpu'] as const satisfies readonly z.infer<
  typeof BackendSchema
>[]

// Which llama.cpp GPU backend loads here, with its devices: one JSON line on stdout. A process of
// its own (the check's child), so that a backend that crashes while loading takes only this one.
//
//   node bench/gpu/probe.mjs [auto|vulkan|cuda]
import { getLlama, LlamaLogLevel } from 'node-llama-cpp'

const gpu = process.argv[2] ?? 'auto'
try {
  const llama = await getLlama({ gpu, build: 'never', logLevel: LlamaLogLevel.error, logger: () => {} })
  const vram = await llama.getVramState()
  const devices = llama.gpu ? await llama.getGpuDeviceNames() : []
  console.log(JSON.stringify({ gpu: llama.gpu, devices, vram_total_mb: Math.round(vram.total / 2 ** 20) }))
  await llama.dispose()
} catch (err) {
  console.log(JSON.stringify({ gpu: false, error: `${err?.message ?? err}`.slice(0, 1500) }))
}

/**
 * What a worker may inherit from the hive's environment. A worker parses model files the hive
 * downloaded from anywhere, so it gets only what running Node and llama.cpp on this machine
 * needs: never `HF_TOKEN`, cloud keys or anything else the hive's shell happens to hold.
 */
const EXACT = new Set([
  // Process basics (Windows needs SystemRoot and friends to start Node at all).
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TMP',
  'TEMP',
  'SYSTEMROOT',
  'SystemRoot',
  'WINDIR',
  'COMSPEC',
  'PATHEXT',
  'USERPROFILE',
  'APPDATA',
  'LOCALAPPDATA',
  'XDG_RUNTIME_DIR',
  'XDG_CACHE_HOME',
  'XDG_CONFIG_HOME',
  'XDG_DATA_HOME',
  // Where the Vulkan loader also looks for GPU drivers (vulkan/icd.d under each).
  'XDG_DATA_DIRS',
  'XDG_CONFIG_DIRS',
  // Native libraries (CUDA, ROCm and Vulkan runtimes installed outside the system paths).
  'LD_LIBRARY_PATH',
  'DYLD_LIBRARY_PATH',
  'DYLD_FALLBACK_LIBRARY_PATH',
  // Node itself.
  'NODE_OPTIONS',
  'NODE_ENV',
  'NODE_EXTRA_CA_CERTS',
  'NODE_V8_COVERAGE',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'UV_THREADPOOL_SIZE',
  'UV_USE_IO_URING',
  // Container GPU selection.
  'NVIDIA_VISIBLE_DEVICES',
  'NVIDIA_DRIVER_CAPABILITIES',
  'GPU_DEVICE_ORDINAL',
  // The worker's one setting that follows the hive's (the others are the hive's own).
  'RBEE_LOG_LEVEL',
])

/** Locale, GPU runtimes (CUDA, ROCm/HIP, Vulkan, SYCL, OpenMP, NVIDIA's driver), ggml and node-llama-cpp. */
const PREFIXES = [
  'LC_',
  'CUDA_',
  'HIP_',
  'ROCR_',
  'ROCM_',
  'HSA_',
  'VK_',
  'MESA_',
  // NVIDIA's driver settings, e.g. its shader cache (__GL_SHADER_DISK_CACHE_PATH).
  '__GL_',
  'ONEAPI_',
  'SYCL_',
  'ZE_',
  'OMP_',
  'GOMP_',
  'GGML_',
  'LLAMA_',
  'NODE_LLAMA_CPP_',
]

/** Names that say they hold a secret are dropped even under an allowed prefix. */
const SECRET = /TOKEN|SECRET|PASSW|API_?KEY|CREDENTIAL|PRIVATE|AUTH/i

/** True when a worker may inherit the variable `name` from the hive. */
export function workerMayInherit(name: string): boolean {
  if (SECRET.test(name)) return false
  return EXACT.has(name) || PREFIXES.some((p) => name.startsWith(p))
}

/** The part of `base` a worker may inherit. */
export function inheritableEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(base)) if (v !== undefined && workerMayInherit(k)) env[k] = v
  return env
}

#!/usr/bin/env bash
# Builds the bundle the GPU check runs from on a Linux x64 machine with a GPU, no npm and no
# network (bench/gpu/run.sh unpacks and runs it there). Limit: 64 MiB in all.
#
#   bench/gpu/pack.sh [OUT_DIR]        (default: bench/out/gpu-bundle, which git ignores)
#
# OUT_DIR/node.xz        this machine's node binary (an official build: glibc >= 2.28)
# OUT_DIR/rbee.tar.xz    the built packages, bench/gpu and the production node_modules, less what
#                        the check does not load: @biomejs, typescript, openai, @types, the CUDA
#                        and ARM @node-llama-cpp binaries (the GPU runs Vulkan: CUDA's are ~540 MB),
#                        node-llama-cpp's llama.cpp source (gitRelease.bundle), better-sqlite3's
#                        sources and objects, tests, type declarations and source maps
# OUT_DIR/debs/          Debian's Vulkan loader and GL dispatch libraries (apt-get download), for
#                        a machine whose NVIDIA driver has no libvulkan.so.1 or libglvnd beside it
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$root/bench/out/gpu-bundle}" && cd "${1:-$root/bench/out/gpu-bundle}" && pwd)
threads=$(nproc)

echo "building (tsc -b) …"
(cd "$root" && npx tsc -b)

rm -rf "$out/debs" "$out/node.xz" "$out/rbee.tar.xz"
mkdir -p "$out/debs"

echo "packing the repo and its production node_modules …"
nm=node_modules
excludes=(
  --exclude="$nm/@biomejs" --exclude="$nm/typescript" --exclude="$nm/openai" --exclude="$nm/@types"
  --exclude="$nm/undici-types"
  --exclude="$nm/@node-llama-cpp/linux-x64-cuda" --exclude="$nm/@node-llama-cpp/linux-x64-cuda-ext"
  --exclude="$nm/@node-llama-cpp/linux-arm64" --exclude="$nm/@node-llama-cpp/linux-armv7l"
  --exclude="$nm/node-llama-cpp/llama/gitRelease.bundle"
  --exclude="$nm/better-sqlite3/deps" --exclude="$nm/better-sqlite3/src"
  --exclude="$nm/better-sqlite3/build/Release/obj.target" --exclude="$nm/better-sqlite3/build/Release/.deps"
  --exclude="$nm/better-sqlite3/build/Release/test_extension.node"
  --exclude='*.test.js' --exclude='*.d.ts' --exclude='*.d.mts' --exclude='*.d.cts' --exclude='*.map'
  --exclude='.tsbuildinfo' --exclude='test-support'
)
cd "$root"
# The packages as installed: package.json, dist, bin (the workspace links in node_modules/@rbee
# point at them).
parts=(package.json node_modules bench/gpu)
for p in packages/*/; do
  for f in package.json dist bin; do [ -e "$p$f" ] && parts+=("$p$f"); done
done
tar -cf - "${excludes[@]}" "${parts[@]}" | xz -9 -T"$threads" >"$out/rbee.tar.xz"

echo "compressing node ($(command -v node), $(node --version)) …"
xz -9 -T"$threads" -c "$(readlink -f "$(command -v node)")" >"$out/node.xz"

echo "downloading Debian's Vulkan loader and libglvnd …"
(cd "$out/debs" && apt-get download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2)

{
  echo "commit $(git -C "$root" rev-parse HEAD)$(git -C "$root" diff --quiet HEAD -- . || echo ' (with uncommitted changes)')"
  echo "node $(node --version)"
  echo "packed $(date -u +%FT%TZ)"
} >"$out/MANIFEST"

du -b "$out/node.xz" "$out/rbee.tar.xz" "$out/debs" | awk '{ printf "%8.1f MiB  %s\n", $1 / 1048576, $2 }'
total=$(du -cb "$out" | tail -1 | cut -f1)
awk -v t="$total" 'BEGIN { printf "%8.1f MiB  in all (limit 64 MiB)\n", t / 1048576 }'
if [ "$total" -gt $((64 * 1024 * 1024)) ]; then
  echo "the bundle is over 64 MiB" >&2
  exit 1
fi

#!/usr/bin/env bash
# Builds llama.cpp's own llama-server from the llama.cpp source that ships inside node-llama-cpp
# (node_modules/node-llama-cpp/llama/gitRelease.bundle), natively (-march=native, OpenMP), as the
# anchor for the worker benchmark. Cached under bench/.cache; never run in CI.
# About 15 minutes on 2 cores. Needs cmake and g++.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cache="$here/.cache"
src="$cache/llama.cpp"
bin="$cache/llama.cpp/build/bin/llama-server"
bundle="$root/node_modules/node-llama-cpp/llama/gitRelease.bundle"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
[ -f "$bundle" ] || { echo "missing $bundle: run npm ci first" >&2; exit 1; }
mkdir -p "$cache"
if [ ! -d "$src/.git" ]; then
  rm -rf "$src"
  git clone --quiet "$bundle" "$src"
fi
tag="$(node -e "console.log(require('$root/node_modules/node-llama-cpp/llama/llama.cpp.info.json').tag)")"
git -C "$src" checkout --quiet "$tag" 2>/dev/null || true
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON >&2
cmake --build "$src/build" --target llama-server -j "$(nproc)" >&2
echo "$bin"

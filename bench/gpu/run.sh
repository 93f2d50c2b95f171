#!/bin/sh
# Runs the GPU check from the bundle bench/gpu/pack.sh built, on a Linux x64 machine with a GPU,
# no npm and no network: unpacks node and the repo into a work dir, makes Vulkan loadable (the
# loader and libglvnd from the bundle's Debian packages where the system has none, the NVIDIA
# driver's ICD file found or written), then runs bench/gpu/check.mjs with the options given.
#
#   sh bench/gpu/run.sh BUNDLE_DIR [check.mjs options]
#
# Results go to $OUT when it is set (else bench/out/gpu-check of the unpacked repo).
# RBEE_GPU_WORK: where to unpack (default ${TMPDIR:-/tmp}/rbee-gpu; reused when the bundle is the same).
set -eu
[ $# -ge 1 ] || {
  echo "usage: $0 BUNDLE_DIR [check.mjs options]" >&2
  exit 2
}
bundle=$(cd "$1" && pwd)
shift
work=${RBEE_GPU_WORK:-${TMPDIR:-/tmp}/rbee-gpu}
mkdir -p "$work"
for tool in xz tar; do
  command -v "$tool" >/dev/null || {
    echo "run.sh needs $tool" >&2
    exit 1
  }
done

t0=$(date +%s)
if ! cmp -s "$bundle/MANIFEST" "$work/MANIFEST" 2>/dev/null; then
  rm -rf "$work/rbee" "$work/node" "$work/sysroot" "$work/libfill"
  xz -dc "$bundle/node.xz" >"$work/node.tmp" && chmod +x "$work/node.tmp" && mv "$work/node.tmp" "$work/node"
  mkdir -p "$work/rbee"
  xz -dc "$bundle/rbee.tar.xz" | tar -xf - -C "$work/rbee"
  cp "$bundle/MANIFEST" "$work/MANIFEST"
fi
echo "unpacked in $work ($(($(date +%s) - t0)) s): $("$work/node" --version), $(head -1 "$work/MANIFEST")"

# True when the dynamic linker finds library $1 without help.
has_lib() {
  if command -v ldconfig >/dev/null 2>&1 || [ -x /sbin/ldconfig ]; then
    { ldconfig -p 2>/dev/null || /sbin/ldconfig -p; } | grep -q "^[[:space:]]*$1 " && return 0
  fi
  for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/lib /lib; do
    [ -e "$d/$1" ] && return 0
  done
  return 1
}

# The Vulkan loader and libglvnd (which NVIDIA's libGLX_nvidia needs): the system's, else the
# bundle's, linked one by one into a directory put first on LD_LIBRARY_PATH.
if [ ! -d "$work/sysroot" ]; then
  mkdir -p "$work/sysroot"
  for deb in "$bundle"/debs/*.deb; do
    if command -v dpkg >/dev/null; then
      dpkg -x "$deb" "$work/sysroot"
    elif command -v ar >/dev/null; then
      (cd "$work/sysroot" && ar x "$deb" && tar -xf data.tar.* && rm -f data.tar.* control.tar.* debian-binary)
    else
      echo "neither dpkg nor ar here: $deb not unpacked" >&2
    fi
  done
fi
mkdir -p "$work/libfill"
filled=""
for lib in libvulkan.so.1 libGLdispatch.so.0 libGLX.so.0 libEGL.so.1 libGL.so.1 libOpenGL.so.0 libGLESv2.so.2; do
  if ! has_lib "$lib" && [ -e "$work/sysroot/usr/lib/x86_64-linux-gnu/$lib" ]; then
    ln -sf "$work/sysroot/usr/lib/x86_64-linux-gnu/$lib" "$work/libfill/$lib"
    filled="$filled $lib"
  fi
done
if [ -n "$filled" ]; then
  LD_LIBRARY_PATH="$work/libfill${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "from the bundle:$filled"
fi

# NVIDIA's Vulkan driver (libGLX_nvidia) where the linker does not find it on its own.
nvidia_lib=""
if ! has_lib libGLX_nvidia.so.0; then
  nvidia_lib=$(find /usr/local/nvidia /usr/lib /usr/lib64 /opt -maxdepth 5 -name 'libGLX_nvidia.so.0' 2>/dev/null | head -1 || true)
  if [ -n "$nvidia_lib" ]; then
    LD_LIBRARY_PATH="$(dirname "$nvidia_lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  else
    echo "libGLX_nvidia.so.0 not found: NVIDIA's Vulkan driver is not installed here (in a container: NVIDIA_DRIVER_CAPABILITIES needs graphics)" >&2
  fi
fi
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"

# The ICD file that tells the Vulkan loader where NVIDIA's driver is; only NVIDIA's, so a CPU
# Vulkan device (llvmpipe) never becomes device 0.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  icd=""
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
    /usr/local/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json \
    /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$f" ] && icd=$f && break
  done
  [ -n "$icd" ] || icd=$(find /usr /etc /opt -maxdepth 6 -name 'nvidia_icd*.json' 2>/dev/null | head -1 || true)
  if [ -z "$icd" ] && { [ -n "$nvidia_lib" ] || has_lib libGLX_nvidia.so.0; }; then
    icd="$work/nvidia_icd.json"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' \
      "${nvidia_lib:-libGLX_nvidia.so.0}" >"$icd"
    echo "no nvidia_icd.json on this machine: wrote $icd"
  fi
  if [ -n "$icd" ]; then
    export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
    echo "Vulkan driver: $icd"
  fi
fi

cd "$work/rbee"
exec "$work/node" bench/gpu/check.mjs "$@"

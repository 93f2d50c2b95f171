#!/usr/bin/env bash
# System packages the tests need (Debian): iproute2 for network-namespace hosts, openssh for the
# `rbee hive install` test, nginx for the proxy benchmark. Idempotent; silent when all are present.
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]} (run as root or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null

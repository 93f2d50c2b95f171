#!/usr/bin/env bash
# System packages the tests need (Debian): iproute2 for network-namespace test hosts, and
# openssh-server + openssh-client for the `rbee hive install` test against a real sshd, and
# chromium for the dashboard's browser tests (playwright-core drives it; no browser download).
# Idempotent; quiet when everything is present. (nginx, for bench/queen only: apt-get install nginx)
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
  echo "the tests that need them are skipped" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null

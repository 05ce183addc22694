#!/usr/bin/env bash
# The benchmark's BullMQ side needs a real Redis: Debian's redis-server package, installed once if missing.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-redis: redis-server is missing; install Debian's redis-server package (apt-get install redis-server)" >&2
  exit 1
fi
echo "install-redis: installing Debian's redis-server" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
# The benchmark starts its own Redis on a free port; the system service is not needed.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
redis-server --version >&2

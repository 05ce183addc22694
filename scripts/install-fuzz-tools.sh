#!/usr/bin/env bash
# Installs the pinned Schemathesis (the API fuzzer `npm test` runs) into a project-local venv of its own.
# Idempotent: does nothing when the pinned versions are already installed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${TEMPORAL_TOOLS_DIR:-$root/.tools}"
requirements="$root/scripts/fuzz-tools.txt"
venv="$tools_dir/fuzz-venv"
stamp="$tools_dir/fuzz-installed.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/schemathesis" ]]; then
  exit 0
fi

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "install-fuzz-tools: $python not found; Python 3.11+ is needed to install Schemathesis" >&2
  exit 1
fi

echo "install-fuzz-tools: installing the pinned Schemathesis into $venv" >&2
rm -rf "$venv"
mkdir -p "$tools_dir"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --only-binary=:all: --require-hashes -r "$requirements"
"$venv/bin/schemathesis" --version >&2
echo "$want" >"$stamp"

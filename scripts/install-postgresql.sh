#!/usr/bin/env bash
# PostgreSQL 15, the server src/process/postgres-server.ts runs on loopback (the tests' database, later the
# cluster's), from Debian's postgresql-15 package. Idempotent, and fast when installed: prints the server's bin dir
# (initdb and postgres live there, not on PATH) on stdout, and nothing else there.
# Pinned by major version, through the package name: a data folder initdb'd by 15 opens only under 15, while exact
# Debian versions (15.18-0+deb12u1) leave the mirrors as security updates replace them.
set -euo pipefail

major=15
package="postgresql-$major"
bin_dir="/usr/lib/postgresql/$major/bin"

installed() { [[ -x "$bin_dir/initdb" && -x "$bin_dir/postgres" && -x "$bin_dir/pg_ctl" ]]; }

if ! installed; then
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-postgresql: PostgreSQL $major is not installed ($bin_dir/initdb is missing); as root, run" \
      "\`bash scripts/setup.sh postgres\` (or \`apt-get install $package\`)" >&2
    exit 1
  fi
  echo "install-postgresql: installing Debian's $package" >&2
  # The package would otherwise create a "main" cluster and start it as a system service on port 5432; the project
  # starts its own servers, each with its own data folder and port. Read by pg_createcluster through the
  # include_dir line of postgresql-common's createcluster.conf; applies to later postgresql-* installs as well.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/transcription-service.conf
  apt_log="$(mktemp)"
  trap 'rm -f "$apt_log"' EXIT
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "$package"; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    echo "install-postgresql: apt-get could not install $package (Debian 12 \"bookworm\" has it; later releases" \
      "ship another major version, and need the PGDG apt repository for $major)" >&2
    exit 1
  fi
  if ! installed; then
    echo "install-postgresql: $package is installed but $bin_dir/initdb, postgres or pg_ctl is missing" >&2
    exit 1
  fi
fi

version="$("$bin_dir/postgres" --version)"
if [[ "$version" != *"(PostgreSQL) $major."* ]]; then
  echo "install-postgresql: $bin_dir/postgres reports \"$version\", expected PostgreSQL $major" >&2
  exit 1
fi
# As root the server runs as the postgres user (initdb and postgres refuse root), which the package creates.
if [[ "$(id -u)" == 0 ]] && ! id -u postgres >/dev/null 2>&1; then
  echo "install-postgresql: no postgres user, which the server runs as under root; reinstall $package" >&2
  exit 1
fi
echo "$bin_dir"

#!/usr/bin/env bash
# Builds the Temporal server release of deploy/temporal/release.env from its Go module, for `npm run cluster`:
#   <tools>/temporal-server/<version>/temporal-server      the server (`temporal-server start --service …`)
#   <tools>/temporal-server/<version>/temporal-sql-tool    its SQL schema tool, under the name the admin-tools image
#                                                          gives it, which deploy/temporal/setup-schema.sh calls
#   <tools>/temporal-server/<version>/schema/postgresql/v12   the module's schema files that tool applies
#   <tools>/temporal-ui-server/<version>/ui-server         the Web UI server (temporalio/ui-server), when it builds
# Idempotent: a version already built is not built again. A first build takes about 7 CPU-minutes (5 minutes on 2
# cores, 2.6 GB of memory at its peak) and 310 MB here; Go keeps 1.6 GB of modules and 2 GB of build cache besides.
#
# Verified by the Go toolchain: the module's zip is checked against Go's checksum database (sum.golang.org, reached
# through the module proxy's /sumdb/ endpoint when the database itself is not reachable), every dependency against
# the go.sum inside that zip, and the zip's hash must also equal the one pinned in release.env.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
release="$root/deploy/temporal/release.env"
# shellcheck source=../deploy/temporal/release.env
source "$release"
tools_dir="${TEMPORAL_TOOLS_DIR:-$root/.tools}"
server_module=go.temporal.io/server
ui_module=github.com/temporalio/ui-server/v2

say() { echo "install-temporal-server: $*" >&2; }
# Staging folders of builds under way, removed however the script ends.
staging_dirs=()
trap 'rm -rf "${staging_dirs[@]}"' EXIT

# The module's directory in the module cache, after checking that Go's verified hash of it is the pinned one.
download_verified() {
  local module="$1" version="$2" pinned_sum="$3" json sum dir
  if ! json="$(go mod download -json "$module@v$version" 2>&1)"; then
    say "go could not download $module@v$version:"
    echo "$json" >&2
    return 1
  fi
  sum="$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",*$/\1/p' <<<"$json")"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json")"
  if [[ "$sum" != "$pinned_sum" ]]; then
    say "$module@v$version has hash '$sum', but $release pins '$pinned_sum'"
    return 1
  fi
  echo "$dir"
}

# `go install` of each package into a staging folder, renamed into place once complete: a build cut short leaves
# nothing that looks installed.
build_server() {
  local install_dir="$tools_dir/temporal-server/$TEMPORAL_SERVER_VERSION" stamp want module_dir staging
  stamp="$install_dir/installed"
  want="$server_module v$TEMPORAL_SERVER_VERSION $TEMPORAL_SERVER_MODULE_SUM"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  say "building $server_module v$TEMPORAL_SERVER_VERSION into $install_dir (about 5 minutes on 2 cores)"
  module_dir="$(download_verified "$server_module" "$TEMPORAL_SERVER_VERSION" "$TEMPORAL_SERVER_MODULE_SUM")"
  mkdir -p "$(dirname "$install_dir")"
  staging="$(mktemp -d "$install_dir.build-XXXXXX")"
  staging_dirs+=("$staging")
  chmod 755 "$staging"
  GOBIN="$staging" go install -trimpath \
    "$server_module/cmd/server@v$TEMPORAL_SERVER_VERSION" "$server_module/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION"
  mv "$staging/server" "$staging/temporal-server"
  mv "$staging/sql" "$staging/temporal-sql-tool"
  # The versioned schema files setup-schema.sh applies, as the admin-tools image has them in /etc/temporal/schema.
  mkdir -p "$staging/schema/postgresql"
  cp -R "$module_dir/schema/postgresql/v12" "$staging/schema/postgresql/v12"
  chmod -R u+w "$staging/schema"
  echo "$want" >"$staging/installed"
  rm -rf "$install_dir"
  mv "$staging" "$install_dir"
}

# The Web UI is optional for the cluster: a failed build is reported and leaves the server installed.
build_ui_server() {
  local install_dir="$tools_dir/temporal-ui-server/$TEMPORAL_UI_VERSION" stamp want staging log
  stamp="$install_dir/installed"
  want="$ui_module v$TEMPORAL_UI_VERSION $TEMPORAL_UI_SERVER_MODULE_SUM"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  say "building $ui_module v$TEMPORAL_UI_VERSION into $install_dir"
  download_verified "$ui_module" "$TEMPORAL_UI_VERSION" "$TEMPORAL_UI_SERVER_MODULE_SUM" >/dev/null || return 1
  mkdir -p "$(dirname "$install_dir")"
  staging="$(mktemp -d "$install_dir.build-XXXXXX")"
  staging_dirs+=("$staging")
  chmod 755 "$staging"
  log="$staging/build.log"
  if ! GOBIN="$staging" go install -trimpath "$ui_module/cmd/server@v$TEMPORAL_UI_VERSION" >"$log" 2>&1; then
    cat "$log" >&2
    return 1
  fi
  mv "$staging/server" "$staging/ui-server"
  rm -f "$log"
  # The configuration template the temporalio/ui image renders from its environment (TEMPORAL_ADDRESS,
  # TEMPORAL_UI_PORT, TEMPORAL_CODEC_ENDPOINT, ...), so the cluster's UI reads the same variables as the compose's.
  mkdir -p "$staging/config"
  cp "$(download_verified "$ui_module" "$TEMPORAL_UI_VERSION" "$TEMPORAL_UI_SERVER_MODULE_SUM")/config/docker.yaml" \
    "$staging/config/docker.yaml"
  chmod u+w "$staging/config/docker.yaml"
  echo "$want" >"$staging/installed"
  rm -rf "$install_dir"
  mv "$staging" "$install_dir"
}

if ! command -v go >/dev/null 2>&1; then
  say "go not found; building Temporal $TEMPORAL_SERVER_VERSION needs Go (its go.mod names the minimum version)"
  exit 1
fi
if [[ "$(go env GOSUMDB)" == off ]]; then
  say "GOSUMDB=off: refusing to build without Go's checksum database"
  exit 1
fi
build_server
if ! build_ui_server; then
  say "the Web UI server $TEMPORAL_UI_VERSION did not build (above); \`npm run cluster\` runs without the UI"
fi

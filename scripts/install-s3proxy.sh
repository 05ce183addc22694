#!/usr/bin/env bash
# Installs s3proxy, the S3-compatible server that `npm run s3` and the tests run on loopback, from Maven Central into
# <tools>/s3proxy/s3proxy.jar, pinned by version and sha256 (this file is the one place they are pinned).
# Idempotent: does nothing when that version is already installed.
set -euo pipefail

version="4.1.0"
sha256="a4d025969aaf796616ed4b1e2491d87d455ce84bb28cb9db086b2e6aaa68b48d"
# Pinned too: without a version, `mvn dependency:copy` runs whichever plugin version the local Maven defaults to.
dependency_plugin="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${TEMPORAL_TOOLS_DIR:-$root/.tools}"
install_dir="$tools_dir/s3proxy"
jar="$install_dir/s3proxy.jar"
stamp="$install_dir/s3proxy.sha256"
want="$version $sha256"
if [[ -f "$jar" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then exit 0; fi

for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-s3proxy: $tool not found; s3proxy $version needs Java 17+ to run and Maven 3 to install" >&2
    exit 1
  fi
done

echo "install-s3proxy: installing s3proxy $version into $install_dir" >&2
mkdir -p "$install_dir"
download="$(mktemp -d "$install_dir/download.XXXXXX")"
trap 'rm -rf "$download"' EXIT
# Maven 3.8's console prints colour codes even with -q -B: its output is kept for a failure only, and shown plain.
if ! mvn -q -B "$dependency_plugin:copy" -Dartifact="org.gaul:s3proxy:$version:jar:jar-with-dependencies" \
  -DoutputDirectory="$download" >"$download/mvn.log" 2>&1; then
  sed 's/\x1b\[[0-9;]*m//g' "$download/mvn.log" >&2
  echo "install-s3proxy: mvn could not fetch org.gaul:s3proxy:$version from Maven Central" >&2
  exit 1
fi
downloaded="$download/s3proxy-$version-jar-with-dependencies.jar"
got="$(sha256sum "$downloaded" | cut -d' ' -f1)"
if [[ "$got" != "$sha256" ]]; then
  echo "install-s3proxy: $(basename "$downloaded") has sha256 $got, expected $sha256" >&2
  exit 1
fi
mv -f "$downloaded" "$jar"
echo "$want" >"$stamp"

#!/usr/bin/env bash
# Installs one of Debian's packages when the command it provides is missing:
#   install-debian-package.sh <command> <package> <who needs it>
set -euo pipefail
command_name="$1"
package="$2"
needed_by="$3"
if command -v "$command_name" >/dev/null 2>&1; then exit 0; fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-debian-package: $needed_by needs $command_name; install Debian's $package package (apt-get install $package)" >&2
  exit 1
fi
echo "install-debian-package: installing Debian's $package for $needed_by" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null

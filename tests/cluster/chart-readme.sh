#!/usr/bin/env bash
# Regenerates charts/sharded-scheduler/README.md from README.md.gotmpl, Chart.yaml and the
# `# --` comments of values.yaml with helm-docs (built by build-tools.sh). --check: only compare,
# exit 1 when README.md is out of date (tests/integration/chart-readme.test.ts runs it, and also
# fails on a value without a description).
#   bash tests/cluster/chart-readme.sh [--check]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
CACHE="${SHARDED_SCHEDULER_CACHE:-$HOME/.cache/sharded-scheduler}"
helm_docs="$CACHE/tools/helm-docs-$HELM_DOCS_VERSION/bin/helm-docs"
[ -x "$helm_docs" ] || bash "$here/build-tools.sh"
chart="$here/../../charts/sharded-scheduler"
args=(--chart-search-root "$chart" --sort-values-order file --log-level warning)
if [ "${1:-}" = "--check" ]; then
  "$helm_docs" "${args[@]}" --dry-run | diff -u "$chart/README.md" - \
    || { echo "chart-readme: charts/sharded-scheduler/README.md is out of date: bash tests/cluster/chart-readme.sh" >&2; exit 1; }
else
  "$helm_docs" "${args[@]}"
fi

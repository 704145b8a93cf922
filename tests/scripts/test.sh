#!/usr/bin/env bash
# The test command (npm test): lint, typecheck and unit tests of every package, then the
# integration suite against a real local control plane, then the demo, then the short chaos run
# (faults under load, judged by the invariant checker; its own cluster). Ends with
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# Node.js >= 24 first on PATH (installed when the machine's is older), before npm ci and every test.
# shellcheck source=node-env.sh
source tests/scripts/node-env.sh || exit 1
bash tests/scripts/bootstrap.sh || exit 1

rm -rf reports
status=0
npx turbo run build lint typecheck test || status=1
npm run --workspace tests test:integration || status=1
# The README's main command, as a newcomer runs it (its own cluster); each scene is a check.
npm run demo -- --plain --dir .cluster-demo-ci --report reports/demo.json || status=1
npm run test:chaos -- --short --seed 1 --report reports/chaos.json || status=1
node tests/scripts/summarize-reports.mjs reports || status=1
exit "$status"

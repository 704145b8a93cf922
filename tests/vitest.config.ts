import { defineConfig } from "vitest/config";

// Unit tests of the test tooling's pure parts (benchmark oracle, invariant checker, chaos plan, demo,
// simulation), of the local control plane's feature gates and kind config, of the local stack's reading of its members, of the chart (its dashboard against the code,
// its generated README, its alerts), of the tooling's command lines and of the toolchain the tests run on;
// no cluster.
export default defineConfig({
  test: {
    include: [
      "bench/**/*.test.ts",
      "chart/**/*.test.ts",
      "cluster/**/*.test.ts",
      "checker/**/*.test.ts",
      "chaos/**/*.test.ts",
      "demo/**/*.test.ts",
      "scripts/**/*.test.ts",
      "simulate/**/*.test.ts",
      "stack/**/*.test.ts",
      "support/**/*.test.ts",
    ],
    reporters: ["default", ["json", { outputFile: "../reports/unit-tests.json" }]],
  },
});

import { defineConfig } from "vitest/config";

// Unit tests of the test tooling's pure parts (benchmark oracle, invariant checker, chaos plan, demo) and of the chart's generated README; no cluster.
export default defineConfig({
  test: {
    include: [
      "bench/**/*.test.ts",
      "chart/**/*.test.ts",
      "checker/**/*.test.ts",
      "chaos/**/*.test.ts",
      "demo/**/*.test.ts",
    ],
    reporters: ["default", ["json", { outputFile: "../reports/unit-tests.json" }]],
  },
});

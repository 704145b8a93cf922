import { defineConfig } from "vitest/config";

// Unit tests of the test tooling's pure parts (the benchmark oracle); no cluster.
export default defineConfig({
  test: {
    include: ["bench/**/*.test.ts"],
    reporters: ["default", ["json", { outputFile: "../reports/unit-tests.json" }]],
  },
});

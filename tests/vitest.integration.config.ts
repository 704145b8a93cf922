import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["integration/**/*.test.ts"],
    globalSetup: ["support/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // One cluster is shared; files run one at a time so timing-sensitive tests do not starve each other.
    fileParallelism: false,
    reporters: ["default", ["json", { outputFile: "../reports/integration.json" }]],
  },
});

import { describe, expect, it } from "vitest";
import { runCoreSummaryBench } from "./core-summary.js";

describe("core-summary bench", () => {
  it("builds a summary after every batch of binds both ways, and they agree (or the run fails)", () => {
    const result = runCoreSummaryBench({ nodes: 40, pods: 100, bindsPerSummary: 30 });
    expect(result.results.map((r) => r.system)).toEqual(["kept", "fresh"]);
    // 30, 60, 90 and 100 pods bound.
    for (const cost of result.results) expect(cost.summaries).toBe(4);
    // Every node listed: 40 entries of at least their name.
    expect(result.bytes).toBeGreaterThan(40 * '{"name":"node-0"}'.length);
  });
});

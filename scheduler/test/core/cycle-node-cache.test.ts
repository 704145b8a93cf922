import { describe, expect, it } from "vitest";
import { SchedulingCore } from "../../src/core/index.js";
import { node, onlyPendingGroup, pod, snapshotOf } from "./fixtures.js";

describe("SchedulingCore owned-node cache", () => {
  it("sees nodes added after a cached cycle", () => {
    const cluster = snapshotOf([node("a", { cpu: "1" })], []);
    const core = new SchedulingCore(cluster);
    const big = onlyPendingGroup([pod("big", { cpu: "2" })]);
    expect(core.cycle([big], () => true, 0)[0]?.kind).not.toBe("bind");
    cluster.upsertNode(node("b", { cpu: "4" }));
    const decision = core.cycle([big], () => true, 0)[0];
    expect(decision?.kind).toBe("bind");
    expect(decision?.kind === "bind" && decision.placements[0]?.nodeName).toBe("b");
  });

  it("recomputes ownership when its version changes", () => {
    const cluster = snapshotOf([node("a", { cpu: "4" }), node("b", { cpu: "4" })], []);
    const core = new SchedulingCore(cluster);
    const first = core.cycle([onlyPendingGroup([pod("p", { cpu: "1" })])], (n) => n === "a", 1)[0];
    expect(first?.kind === "bind" && first.placements[0]?.nodeName).toBe("a");
    // A stale cache would still offer node a.
    const second = core.cycle([onlyPendingGroup([pod("q", { cpu: "1" })])], (n) => n === "b", 2)[0];
    expect(second?.kind === "bind" && second.placements[0]?.nodeName).toBe("b");
  });
});

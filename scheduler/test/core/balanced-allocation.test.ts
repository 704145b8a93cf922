/**
 * NodeResourcesBalancedAllocation (plugins/node-resources/balanced-allocation.ts), with
 * kube-scheduler's balanced_allocation_test.go numbers: (1 - |cpu fraction - memory fraction| / 2) × 100.
 */
import { describe, expect, it } from "vitest";
import { toPodInfo } from "../../src/core/build-info.js";
import { SchedulingCore } from "../../src/core/cycle.js";
import type { NodeInfo } from "../../src/core/model.js";
import {
  balancedAllocation,
  balancedScore,
} from "../../src/core/plugins/node-resources/balanced-allocation.js";
import { buildProfile } from "../../src/core/profile.js";
import { decisionFor, node, ownsAll, pendingGroupsOf, pod, snapshotOf } from "./fixtures.js";

const bestEffort = () => {
  const p = pod("be");
  return { ...p, spec: { ...p.spec, containers: [{ name: "main" }] } };
};

describe("NodeResourcesBalancedAllocation", () => {
  it("scores how evenly cpu and memory would be used", () => {
    // kube-scheduler's case "nothing scheduled, resources requested, differently sized nodes":
    // 3000m/10000 Mi of 4000m/10000 Mi → 0.75 and 0.5 → 87; of 6000m/10000 Mi → 0.5, 0.5 → 100.
    const cluster = snapshotOf([
      node("machine1", { cpu: 4, memory: "10000Mi" }),
      node("machine2", { cpu: 6, memory: "10000Mi" }),
    ]);
    const incoming = toPodInfo(pod("p", { cpu: 3, memory: "5000Mi" }));
    const score = (name: string) =>
      balancedAllocation.score(incoming, cluster.node(name) as NodeInfo, undefined as never);
    expect(score("machine1")).toBe(87);
    expect(score("machine2")).toBe(100);
    expect(balancedScore(1, 0)).toBe(50);
    // A resource the node has none of is left out: one fraction, no deviation.
    expect(balancedScore(0.3, undefined)).toBe(100);
  });

  it("caps fractions at 1 and counts the pods already there", () => {
    const cluster = snapshotOf(
      [node("n", { cpu: 4, memory: "8Gi" })],
      [pod("old", { nodeName: "n", cpu: 4, memory: "1Gi" })],
    );
    const incoming = toPodInfo(pod("p", { cpu: 1, memory: "1Gi" }));
    // cpu 5/4 → 1, memory 2/8 → 0.25: 100 × (1 - 0.375) = 62.
    expect(balancedAllocation.score(incoming, cluster.node("n") as NodeInfo, undefined as never)).toBe(62);
  });

  it("leaves best-effort pods out (kube-scheduler's PreScore Skip)", () => {
    expect(balancedAllocation.scoresPod?.(toPodInfo(bestEffort()))).toBe(false);
    expect(balancedAllocation.scoresPod?.(toPodInfo(pod("p")))).toBe(true);
  });

  it("is always on with weight 1 beside the resource score, and breaks its ties", () => {
    expect(
      buildProfile(snapshotOf([])).scores.map(({ plugin, weight }) => [plugin.name, weight]),
    ).toContainEqual(["NodeResourcesBalancedAllocation", 1]);
    // MostAllocated scores both nodes 50 for a 3-cpu/1Gi pod (75% + 25%, 50% + 50%), and alone
    // would take the first; balanced use (100 against 75) picks the other.
    const nodes = [node("lopsided", { cpu: 4, memory: "4Gi" }), node("even", { cpu: 6, memory: "2Gi" })];
    const decision = decisionFor(
      new SchedulingCore(snapshotOf(nodes)).cycle(
        pendingGroupsOf([pod("p", { cpu: 3, memory: "1Gi" })]),
        ownsAll,
      ),
      "p",
    );
    expect(decision.kind === "bind" && decision.placements.map((p) => p.nodeName)).toEqual(["even"]);
  });
});

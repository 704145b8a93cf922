/**
 * The reference plugin with cluster-wide state (plugins/max-per-zone/), turned on by config
 * alone: the shard's cycle and the coordinator's trial placement both honour it, because both
 * run buildProfile's plugins.
 */
import { describe, expect, it } from "vitest";
import { type CoreConfig, defaultCoreConfig, SchedulingCore } from "../../src/core/cycle.js";
import type { Placement } from "../../src/core/gang-placement.js";
import { buildProfile, type ProfileConfig } from "../../src/core/profile.js";
import { trialPlacement } from "../../src/core/trial-placement.js";
import { decisionFor, gang, node, ownsAll, pendingGroupsOf, pod, snapshotOf } from "./fixtures.js";

const zoneKey = "topology.kubernetes.io/zone";
const limited: ProfileConfig = {
  scoringStrategy: "MostAllocated",
  plugins: { MaxPerZone: { labelKey: "app", labelValue: "db", maxPerZone: 2 } },
};

/** Zone a has the fullest nodes, so packing puts everything there first; zone b is empty. */
const cluster = () => [
  node("a1", { cpu: 8, labels: { [zoneKey]: "a" } }),
  node("a2", { cpu: 8, labels: { [zoneKey]: "a" } }),
  node("b1", { cpu: 8, labels: { [zoneKey]: "b" } }),
];
const running = () => [pod("warm", { nodeName: "a1", cpu: 4 })];
const db = (name: string, size: number) => gang(name, size, { labels: { app: "db" } });

const zonesOf = (placements: readonly Placement[]) => placements.map((p) => p.nodeName.slice(0, 1)).sort();

describe("MaxPerZone", () => {
  it("is off by default: the gang packs into one zone", () => {
    const state = snapshotOf(cluster(), running());
    const decision = decisionFor(new SchedulingCore(state).cycle(pendingGroupsOf(db("g", 3)), ownsAll), "g");
    expect(decision.kind === "bind" && zonesOf(decision.placements)).toEqual(["a", "a", "a"]);
    expect(buildProfile(state).preFilters.map((p) => p.name)).toEqual([
      "UnsupportedConstraints",
      "PodTopologySpread",
    ]);
  });

  it("is honoured by the shard's cycle: a gang's members never exceed the limit in a zone", () => {
    const state = snapshotOf(cluster(), [
      ...running(),
      pod("db-old", { nodeName: "a2", labels: { app: "db" } }),
    ]);
    const config: CoreConfig = { ...defaultCoreConfig, ...limited };
    const core = new SchedulingCore(state, config);
    const decision = decisionFor(core.cycle(pendingGroupsOf(db("g", 3)), ownsAll), "g");
    expect(decision.kind).toBe("bind");
    // One db pod already runs in zone a: one more member fits there, the other two go to b.
    expect(decision.kind === "bind" && zonesOf(decision.placements)).toEqual(["a", "b", "b"]);
    // Pods without the label are not limited.
    const others = decisionFor(core.cycle(pendingGroupsOf(gang("web", 3)), ownsAll), "web");
    expect(others.kind).toBe("bind");
    // Every zone is at its limit now: the next labelled pod does not fit, and says why.
    const next = decisionFor(
      core.cycle(pendingGroupsOf([pod("db-next", { labels: { app: "db" } })]), ownsAll),
      "db-next",
    );
    expect(next.kind).toBe("unschedulable");
    expect(next.kind === "unschedulable" && next.unschedulablePlugins).toEqual(["MaxPerZone"]);
    expect(next.kind === "unschedulable" && next.message).toContain(
      "3 node(s) are in a zone that already runs 2 pod(s) labelled app",
    );
  });

  it("is honoured by the shard's preemption: evicting a labelled pod makes room under the limit", () => {
    const state = snapshotOf(
      [node("a1", { cpu: 8, labels: { [zoneKey]: "a" } })],
      [
        pod("db-low-1", { nodeName: "a1", labels: { app: "db" }, priority: 0 }),
        pod("db-low-2", { nodeName: "a1", labels: { app: "db" }, priority: 0 }),
      ],
    );
    const core = new SchedulingCore(state, { ...defaultCoreConfig, ...limited });
    const decision = decisionFor(
      core.cycle(pendingGroupsOf([pod("db-high", { labels: { app: "db" }, priority: 10 })]), ownsAll),
      "db-high",
    );
    expect(decision.kind).toBe("preempt");
    // One victim is enough: the limit is 2 and the preemptor is the second.
    expect(decision.kind === "preempt" && decision.plan.victims.length).toBe(1);
  });

  it("is honoured by the coordinator's trial placement", () => {
    const state = snapshotOf(cluster(), running());
    const zoneA = state.nodes.filter((n) => n.labels[zoneKey] === "a");
    const group = pendingGroupsOf(db("g", 3))[0];
    if (!group) throw new Error("no group");
    // Zone a alone has room for all three, but the limit lets only two in.
    expect(trialPlacement(state, zoneA, group)).toHaveLength(3);
    expect(trialPlacement(state, zoneA, group, undefined, limited)).toBeUndefined();
    const spread = trialPlacement(state, state.nodes, group, undefined, limited);
    expect(spread && zonesOf(spread)).toEqual(["a", "a", "b"]);
    // The trial leaves the state as it was.
    expect(state.nodes.map((n) => n.pods.size)).toEqual([1, 0, 0]);
  });
});

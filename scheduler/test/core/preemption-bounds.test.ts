/**
 * A preemption storm stays cheap: kube-scheduler's preemption workload (every node full with
 * low-priority pods, then high-priority pods that each need three victims on one node) costs
 * each preemptor a bounded number of filter calls, identical preemptors reuse what the first one
 * learned, and a cycle stops where the caller's budget says and hands back the rest.
 */
import { describe, expect, it } from "vitest";
import type { ClusterState } from "../../src/core/cluster-state.js";
import { type Decision, defaultCoreConfig, SchedulingCore } from "../../src/core/cycle.js";
import type { FilterPlugin } from "../../src/core/framework.js";
import type { PlacementContext } from "../../src/core/gang-placement.js";
import { type EvictionPlan, PreemptionMemo, planGangPreemption } from "../../src/core/preemption.js";
import {
  node,
  onlyPendingGroup,
  ownsAll,
  pendingGroupsOf,
  placementContext,
  pod,
  snapshotOf,
  threeSingleSlotNodes,
} from "./fixtures.js";

/**
 * Nodes of 4 cpu, each running four 1-cpu pods of priority 0. Pod names are scrambled so that no
 * order of names happens to list one node's pods together.
 */
function fullCluster(nodeCount: number): ClusterState {
  const total = nodeCount * 4;
  const nodes = Array.from({ length: nodeCount }, (_, i) => node(`n${i}`, { cpu: 4, memory: "16Gi" }));
  const running = Array.from({ length: total }, (_, k) =>
    pod(`low-${(k * 7919) % total}`, {
      cpu: 1,
      memory: "1Gi",
      priority: 0,
      nodeName: `n${Math.floor(k / 4)}`,
    }),
  );
  return snapshotOf(nodes, running);
}

/** A placement context whose filters count their calls. */
function countingContext(cluster: ClusterState): { ctx: PlacementContext; calls: () => number } {
  const ctx = placementContext(cluster);
  let calls = 0;
  const filters = ctx.profile.filters.map(
    (plugin): FilterPlugin => ({
      name: plugin.name,
      filter: (p, n, state) => {
        calls++;
        return plugin.filter(p, n, state);
      },
    }),
  );
  return { ctx: { ...ctx, profile: { ...ctx.profile, filters } }, calls: () => calls };
}

/** Plans for `count` preemptors of 3 cpu one after the other, reserving each one's node as a cycle does. */
function storm(cluster: ClusterState, count: number, memo?: PreemptionMemo) {
  const { ctx, calls } = countingContext(cluster);
  const filterCalls: number[] = [];
  const plans: EvictionPlan[] = [];
  for (let k = 0; k < count; k++) {
    const group = onlyPendingGroup([pod(`high-${k}`, { cpu: 3, memory: "3Gi", priority: 100 })]);
    const before = calls();
    const result = planGangPreemption(ctx, group, memo);
    filterCalls.push(calls() - before);
    if (!result.preempts) throw new Error(`high-${k}: ${result.reason}`);
    plans.push(result.plan);
    for (const { pod: member, nodeName } of result.plan.nominations)
      cluster.upsertPod({ ...member, nominatedNodeName: nodeName, priority: group.priority });
  }
  return { filterCalls, plans };
}

describe("the preemption search", () => {
  it("costs each preemptor of a storm a bounded sample of nodes, and evicts exactly what it needs", () => {
    const nodeCount = 1000;
    const { filterCalls, plans } = storm(fullCluster(nodeCount), 10);
    // kube-scheduler's bound: max(10 % of the nodes, 100) nodes offering victims, each tried with
    // its candidates gone and then given back one by one (every filter of the profile a try).
    const filters = placementContext(snapshotOf([])).profile.filters.length;
    for (const calls of filterCalls) expect(calls).toBeLessThan(100 * 6 * filters);
    const evicted = new Set<string>();
    for (const plan of plans) {
      const pods = plan.victims.flatMap((v) => v.pods);
      expect(pods).toHaveLength(3);
      const [nomination] = plan.nominations;
      for (const victim of pods) {
        expect(victim.nodeName).toBe(nomination?.nodeName);
        expect(evicted.has(victim.key)).toBe(false);
        evicted.add(victim.key);
      }
    }
  });

  it("lets identical preemptors of one cycle reuse what the first one learned", () => {
    const shared = storm(fullCluster(1000), 20, new PreemptionMemo());
    const [first = 0, ...rest] = shared.filterCalls;
    // The first looks at 100 nodes; the others only at the node the one before them took and
    // the next one along.
    for (const calls of rest) expect(calls).toBeLessThan(first / 10);
    const alone = storm(fullCluster(1000), 20);
    expect(shared.plans.map(nodesAndVictims)).toEqual(alone.plans.map(nodesAndVictims));
  });

  it("finds no plan without a trial when no node could hold the pod even emptied", () => {
    const cluster = fullCluster(200);
    const { ctx, calls } = countingContext(cluster);
    const memo = new PreemptionMemo();
    for (let k = 0; k < 5; k++) {
      const group = onlyPendingGroup([pod(`huge-${k}`, { cpu: 5, priority: 100 })]);
      const result = planGangPreemption(ctx, group, memo);
      expect(result.preempts).toBe(false);
    }
    expect(calls()).toBe(0);
  });
});

function nodesAndVictims(plan: EvictionPlan): unknown {
  return [plan.nominations.map((n) => n.nodeName), plan.victims.map((v) => v.id).sort()];
}

describe("a budgeted cycle", () => {
  const pods = () => [
    pod("a", { priority: 5 }),
    pod("b", { priority: 4 }),
    pod("c", { priority: 3 }),
    pod("d", { priority: 2 }),
  ];
  const summary = (decisions: readonly Decision[]) => decisions.map((d) => [d.group.name, d.kind]);

  it("stops when the budget says so and hands back the groups it did not reach, in queue order", () => {
    const core = new SchedulingCore(snapshotOf(threeSingleSlotNodes()), defaultCoreConfig);
    let asked = 0;
    const first = core.cycleUntil(pendingGroupsOf(pods()), ownsAll, undefined, () => ++asked >= 2);
    expect(summary(first.decisions)).toEqual([
      ["a", "bind"],
      ["b", "bind"],
    ]);
    expect(first.unreached.map((g) => g.key.name)).toEqual(["c", "d"]);
    // The rest, in a later call, decide as one unbudgeted cycle would have.
    const rest = core.cycleUntil(first.unreached, ownsAll, undefined, () => false);
    const whole = new SchedulingCore(snapshotOf(threeSingleSlotNodes()), defaultCoreConfig).cycle(
      pendingGroupsOf(pods()),
      ownsAll,
    );
    expect(summary([...first.decisions, ...rest.decisions])).toEqual(summary(whole));
  });

  it("decides at least one group even when the budget is spent from the start", () => {
    const core = new SchedulingCore(snapshotOf(threeSingleSlotNodes()), defaultCoreConfig);
    const { decisions, unreached } = core.cycleUntil(pendingGroupsOf(pods()), ownsAll, undefined, () => true);
    expect(summary(decisions)).toEqual([["a", "bind"]]);
    expect(unreached).toHaveLength(3);
  });
});
